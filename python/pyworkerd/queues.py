# Cloudflare Queues in a Python Worker (template and isolates): the producer binding
# (`env.MY_QUEUE.send(...)`, `sendBatch([...])`), and what a consumer's queue() handler gets
# (a MessageBatch of Messages whose ack()/retry() are collected into workerd's queue event
# result, which the host reads; host/queue_answer.h). A message's body is encoded here for
# its content type, "json", "text", "bytes" or "v8" (Python values with bytes and datetimes,
# as structured clone keeps them), and decoded only when the consumer reads it.
# Invariant: nothing here sends anything for the consumer side: acks and retries are
# answered with the batch, once its handler has finished.
"""Queues: the producer binding and the consumer's MessageBatch."""

from __future__ import annotations

import datetime
import json
import struct
from collections.abc import Iterable
from typing import Any

from pyworkerd import bindings, rpc
from pyworkerd import log as _log

CONTENT_TYPES = {"json": b"j", "text": b"t", "bytes": b"b", "v8": b"v"}
JSON_MESSAGES_DATE = "2024-03-18"
"""From this compatibility date (flag queues_json_messages) a message without a contentType is
sent as JSON; before it, as a structured clone ("v8")."""

_PACK = struct.Struct("<cII")
_JSON = json.JSONEncoder(separators=(",", ":"))


def json_by_default(compat_date: str, flags: Iterable[str]) -> bool:
    """Whether send() without a contentType sends JSON (workerd's queues_json_messages)."""
    flags = set(flags)
    if "no_queues_json_messages" in flags:
        return False
    return "queues_json_messages" in flags or compat_date >= JSON_MESSAGES_DATE


def _js_type(value: Any) -> str:
    """What JavaScript's typeof says of the value this one becomes."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def _content_type(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in CONTENT_TYPES:
        raise TypeError(f"Unsupported queue message content type: {value}")
    return value.lower()


def encode_body(body: Any, content_type: str) -> bytes:
    """The bytes of `body` for its content type; TypeError when it does not fit."""
    if content_type == "text":
        if not isinstance(body, str):
            raise TypeError('Content Type "text" requires a value of type string, but received: '
                            f"{_js_type(body)}")
        return body.encode()
    if content_type == "bytes":
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError('Content Type "bytes" requires a value of type ArrayBufferView, but '
                            f"received: {_js_type(body)}")
        return bytes(body)
    if content_type == "json":
        try:
            return _JSON.encode(body).encode()
        except (TypeError, ValueError) as exc:
            raise TypeError(f"Queue message body is not JSON: {exc}") from None
    return bindings.python_to_rpc(body)


_DELAY_UNSET = 0xFFFFFFFF        # the host applies the binding's delivery_delay


def _delay(value: Any) -> int:
    if value is None:
        return _DELAY_UNSET
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"delaySeconds must be a number, not {type(value).__name__}")
    if value < 0:
        raise TypeError("delaySeconds must not be negative")
    return int(value)


def _options(options: Any, kwargs: dict[str, Any], what: str) -> dict[str, Any]:
    if options is None:
        return dict(kwargs)
    if not isinstance(options, dict):
        raise TypeError(f"Queue {what}() options must be a dict or None, not {type(options).__name__}")
    return {**options, **kwargs}


def _nothing(fields: list[bytes]) -> None:
    return None


class Queue:
    """A Queue producer binding (`queue = "NAME"`): send() and sendBatch().

    Both are awaitable in async code and return once the host has stored the messages.
    """

    __slots__ = ("_name", "_json_default")

    def __init__(self, name: str, json_default: bool = True) -> None:
        self._name = name
        self._json_default = json_default

    def _default_type(self) -> str:
        return "json" if self._json_default else "v8"

    def _pack(self, body: Any, options: dict[str, Any], default_delay: Any = None) -> bytes:
        """One message as the host reads it; `options` its contentType and delaySeconds
        (else `default_delay`)."""
        content_type = options.get("contentType")
        kind = _content_type(content_type) if content_type is not None else self._default_type()
        data = encode_body(body, kind)
        return _PACK.pack(CONTENT_TYPES[kind], _delay(options.get("delaySeconds", default_delay)),
                          len(data)) + data

    def send(self, body: Any, options: Any = None, /, **kwargs: Any) -> Any:
        """Send one message; options contentType ("json", "text", "bytes", "v8") and
        delaySeconds (0 to 86400)."""
        packed = self._pack(body, _options(options, kwargs, "send"))
        return rpc.call(_nothing, "queue.send", self._name, packed)

    def sendBatch(self, messages: Iterable[Any], options: Any = None, /, **kwargs: Any) -> Any:
        """Send up to 100 messages at once, each {"body", "contentType"?, "delaySeconds"?};
        options delaySeconds is the default delay of the batch."""
        opts = _options(options, kwargs, "sendBatch")
        default_delay = opts.get("delaySeconds")
        parts = []
        for message in messages:
            if not isinstance(message, dict):
                raise TypeError("sendBatch() takes a list of {\"body\": ..., \"contentType\": ..., "
                                "\"delaySeconds\": ...} dicts")
            if "body" not in message:
                raise TypeError("Message body cannot be undefined")
            inner = message.get("options") or {}      # miniflare's older {"body", "options"}
            parts.append(self._pack(message["body"], {**inner, **message}, default_delay))
        if not parts:
            raise TypeError("sendBatch() requires at least one message")
        return rpc.call(_nothing, "queue.send_batch", self._name, b"".join(parts))

    send_batch = sendBatch

    def __repr__(self) -> str:
        return f"Queue({self._name!r})"


# ---------------------------------------------------------------- the consumer's side


def _no_effect(call: str, earlier: str, msg_id: str | None = None) -> None:
    """workerd's warning that `call` (on message `msg_id`, or on the batch) is ignored after
    `earlier`."""
    on, on_a = (f" on message {msg_id}", " on a message") if msg_id is not None else ("", "")
    _log.log(f"Received a call to {call}{on} after {earlier} was already called. "
             f"Calling {call}{on_a} after calling {earlier} has no effect.")


class QueueEventResult:
    """What the batch's handler decided, as workerd records it (its warnings included)."""

    __slots__ = ("ack_all", "retry_all", "retry_delay", "acks", "retries")

    def __init__(self) -> None:
        self.ack_all = False
        self.retry_all = False
        self.retry_delay: int | None = None
        self.acks: dict[str, None] = {}
        self.retries: dict[str, int | None] = {}

    def ack(self, msg_id: str) -> None:
        if self.ack_all:
            return
        earlier = "retryAll()" if self.retry_all else "retry()" if msg_id in self.retries else None
        if earlier:
            _no_effect("ack()", earlier, msg_id)
        else:
            self.acks[msg_id] = None

    def retry(self, msg_id: str, delay: int | None) -> None:
        if self.retry_all:
            return
        earlier = "ackAll()" if self.ack_all else "ack()" if msg_id in self.acks else None
        if earlier:
            _no_effect("retry()", earlier, msg_id)
        else:
            self.retries[msg_id] = delay

    def set_ack_all(self) -> None:
        if self.retry_all:
            _no_effect("ackAll()", "retryAll()")
        else:
            self.ack_all = True

    def set_retry_all(self, delay: int | None) -> None:
        if self.ack_all:
            _no_effect("retryAll()", "ackAll()")
        else:
            self.retry_all = True
            self.retry_delay = delay

    def to_json(self, outcome: str) -> bytes:
        """workerd's FetcherQueueResult: what the host settles the batch by."""
        batch: dict[str, Any] = {"retry": self.retry_all}
        if self.retry_delay is not None:
            batch["delaySeconds"] = self.retry_delay
        retries = [{"msgId": i} if d is None else {"msgId": i, "delaySeconds": d}
                   for i, d in self.retries.items()]
        return json.dumps({"outcome": outcome, "ackAll": self.ack_all, "retryBatch": batch,
                           "explicitAcks": list(self.acks), "retryMessages": retries},
                          separators=(",", ":")).encode()


def _retry_delay(options: Any, kwargs: dict[str, Any]) -> int | None:
    opts = _options(options, kwargs, "retry")
    value = opts.get("delaySeconds")
    return None if value is None else _delay(value)


def _decode(raw: bytes, content_type: str) -> Any:
    if content_type == "text":
        return raw.decode("utf-8", "replace")
    if content_type == "bytes":
        return bytes(raw)
    if content_type == "v8":
        return bindings.python_from_rpc(raw)
    return json.loads(raw, object_hook=bindings.JsDict)


TYPE_NAMES = {"j": "json", "t": "text", "b": "bytes", "v": "v8"}


class Message:
    """One message of a batch: `id`, `timestamp` (a datetime, UTC), `body`, `attempts`
    (1 on the first delivery), `ack()` and `retry(delaySeconds=)`."""

    __slots__ = ("id", "attempts", "_ms", "_raw", "_type", "_body", "_decoded", "_result")

    def __init__(self, msg_id: str, ms: int, attempts: int, kind: str, raw: bytes,
                 result: QueueEventResult) -> None:
        self.id = msg_id
        self.attempts = attempts
        self._ms = ms
        self._raw = raw
        self._type = TYPE_NAMES.get(kind, "json")
        self._decoded = False
        self._body: Any = None
        self._result = result

    @property
    def timestamp(self) -> datetime.datetime:
        """When the message was sent (a naive datetime in UTC, as Pyodide converts a Date)."""
        return datetime.datetime.fromtimestamp(self._ms / 1000, datetime.timezone.utc).replace(tzinfo=None)

    @property
    def body(self) -> Any:
        """The message as it was sent (decoded on first use)."""
        if not self._decoded:
            self._body = _decode(self._raw, self._type)
            self._decoded = True
        return self._body

    def ack(self) -> None:
        """Mark this message delivered: it is not retried, even if the handler then fails."""
        self._result.ack(self.id)

    def retry(self, options: Any = None, /, **kwargs: Any) -> None:
        """Deliver this message again (after delaySeconds, else the consumer's retry_delay)."""
        self._result.retry(self.id, _retry_delay(options, kwargs))

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, attempts={self.attempts})"


class MessageBatch:
    """The batch a queue() handler gets: `queue` (the queue's name), `messages`,
    `ackAll()` and `retryAll(delaySeconds=)`."""

    __slots__ = ("queue", "messages", "_result")

    def __init__(self, queue: str, messages: list[Message], result: QueueEventResult) -> None:
        self.queue = queue
        self.messages = messages
        self._result = result

    def ackAll(self) -> None:
        """Mark every message delivered."""
        self._result.set_ack_all()

    def retryAll(self, options: Any = None, /, **kwargs: Any) -> None:
        """Deliver every message not acknowledged again (after delaySeconds)."""
        self._result.set_retry_all(_retry_delay(options, kwargs))

    ack_all = ackAll
    retry_all = retryAll

    def __repr__(self) -> str:
        return f"MessageBatch(queue={self.queue!r}, messages={len(self.messages)})"


def decode_batch(payload: bytes) -> tuple[MessageBatch, QueueEventResult]:
    """A delivered batch (host/queues.c): one line of JSON describing the messages column by
    column ({"queue", "ids", "timestamps", "attempts", "types", "sizes"}), then the bodies."""
    head, _, bodies = payload.partition(b"\n")
    info = json.loads(head)
    result = QueueEventResult()
    messages = []
    offset = 0
    for msg_id, ms, attempts, kind, size in zip(info["ids"], info["timestamps"], info["attempts"],
                                                info["types"], info["sizes"]):
        messages.append(Message(msg_id, ms, attempts, kind, bodies[offset:offset + size], result))
        offset += size
    return MessageBatch(str(info["queue"]), messages, result), result

