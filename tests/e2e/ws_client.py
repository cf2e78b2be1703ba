"""A small RFC 6455 client for the tests (the socket module only): the opening handshake,
frames of any kind (fragments, pings, bad ones on purpose), masking, and reading frames and
whole messages back."""

import base64
import hashlib
import os
import socket
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0


class Refused(Exception):
    """The server answered the handshake with something else than 101."""

    def __init__(self, status, head, body):
        super().__init__(f"handshake answered {status}: {body[:200]!r}")
        self.status, self.head, self.body = status, head, body


class WSClient:
    def __init__(self, port, path="/", headers=None, timeout=10.0, host="127.0.0.1", sock=None):
        self.sock = sock or socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {}
        for line in header_lines:
            if line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        if self.status != 101:
            length = int(self.headers.get("content-length", "0"))
            body = self._read_exact(length)
            self.sock.close()
            raise Refused(self.status, self.headers, body)
        expected = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert self.headers["sec-websocket-accept"] == expected, self.headers

    def _read_until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send_frame(self, opcode, payload=b"", fin=True, mask=True, rsv=0, raw_len=None):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload) if raw_len is None else raw_len
        head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
        mbit = 0x80 if mask else 0
        if n < 126:
            head += bytes([mbit | n])
        elif n < 65536:
            head += bytes([mbit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([mbit | 127]) + struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            head += key
            payload = bytes(b ^ key[i & 3] for i, b in enumerate(payload)) if len(payload) < 4096 \
                else _mask_fast(payload, key)
        self.sock.sendall(head + payload)

    def send_text(self, text):
        self.send_frame(TEXT, text.encode())

    def send_bytes(self, data):
        self.send_frame(BINARY, data)

    def ping(self, data=b""):
        self.send_frame(PING, data)

    def close(self, code=1000, reason=""):
        self.send_frame(CLOSE, struct.pack("!H", code) + reason.encode() if code is not None else b"")

    def recv_frame(self):
        """(fin, opcode, payload); raises ConnectionError at the end of the stream."""
        b0, b1 = self._read_exact(2)
        assert not b1 & 0x80, "a server must not mask its frames"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self._read_exact(n)

    def recv(self):
        """The next message or control frame: (opcode, data), text decoded; a close is
        (CLOSE, (code, reason))."""
        parts, first = [], None
        while True:
            fin, op, payload = self.recv_frame()
            if op >= 8:
                if op == CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    return CLOSE, (code, payload[2:].decode())
                return op, payload
            first = op if first is None else first
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                return first, data.decode() if first == TEXT else data

    def recv_message(self):
        """The next message, skipping pongs."""
        while True:
            op, data = self.recv()
            if op != PONG:
                return op, data

    def at_eof(self, timeout=5.0):
        """Whether the server closed the TCP connection (reads until the end)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def abort(self):
        self.sock.close()


def _mask_fast(payload, key):
    n = len(payload)
    mask = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
