# Tests of what the Durable Object stub and the object's driver exchange, in-process (no C
# side): the fetch event's head (pyworkerd.durable_objects.fetch_head / parse_fetch_head), the
# ids a namespace remembers (IdFactory's cache), the RPC value codec's shared encoder and
# decoder, and the arity of bound methods (runtime._positional_count) that each event uses.
# Run: /usr/bin/python3.11 -m pytest tests/python/test_do_wire.py
from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from pyworkerd.bindings import JsDict, python_from_rpc, python_to_rpc  # noqa: E402
from pyworkerd.durable_objects import (DurableObjectNamespace, IdFactory, fetch_head,  # noqa: E402
                                       parse_fetch_head)
from pyworkerd.runtime import _positional_count  # noqa: E402


def test_fetch_head_round_trips_method_url_and_headers_in_any_script():
    headers = [("host", "counter.example"), ("x-name", "Zoë ☃"), ("x-empty", "")]
    head = fetch_head("POST", "https://counter.example/ä?q=1", headers)
    assert b"\n" not in head
    assert parse_fetch_head(head) == ("POST", "https://counter.example/ä?q=1", headers)


def test_fetch_head_without_headers():
    assert parse_fetch_head(fetch_head("GET", "https://x/", [])) == ("GET", "https://x/", [])


def test_fetch_head_percent_encodes_nul_and_newline_in_the_url():
    method, url, headers = parse_fetch_head(fetch_head("GET", "https://x/a\nb\0c", [("a", "b")]))
    assert (method, url, headers) == ("GET", "https://x/a%0Ab%00c", [("a", "b")])


def test_id_from_name_is_the_same_from_the_cache_and_fresh():
    cached = DurableObjectNamespace("N", "Counter", "counters")
    first = cached.idFromName("a").toString()
    assert cached.idFromName("a").toString() == first
    assert DurableObjectNamespace("M", "Counter", "counters").idFromName("a").toString() == first
    assert cached.idFromName("a").name == "a"
    assert cached.get(cached.idFromName("a")).id.toString() == first


def test_id_cache_is_bounded_and_still_checks_other_namespaces(monkeypatch):
    monkeypatch.setattr(IdFactory, "CACHE", 4)
    ns = DurableObjectNamespace("N", "Counter", "counters")
    ids = [ns.idFromName(str(i)).toString() for i in range(10)]
    assert len(ns._ids._names) <= 4
    assert [ns.idFromName(str(i)).toString() for i in range(10)] == ids
    other = DurableObjectNamespace("O", "Other", "others")
    with pytest.raises(TypeError, match="not valid for this namespace"):
        other.get(ns.idFromName("0"))
    with pytest.raises(TypeError, match="not valid for this namespace"):
        other.get(ns.idFromName("0"))      # a second time: not remembered as checked


def test_id_from_string_takes_upper_case_once_checked_and_refuses_names():
    ns = DurableObjectNamespace("N", "Counter", "counters")
    hex_id = ns.idFromName("a").toString()
    for _ in range(2):
        assert ns.idFromString(hex_id.upper()).toString() == hex_id
    with pytest.raises(TypeError, match="64 hex digits"):
        ns.idFromString("a")       # a name that was used is still no id


def test_rpc_values_round_trip_with_one_shared_codec():
    value = [1, "a", b"\x00\xff", {"k": [1, 2]}, datetime.datetime(2020, 1, 1), None, 2.5]
    back = python_from_rpc(python_to_rpc(value))
    assert back == value and isinstance(back[3], JsDict)
    assert python_from_rpc(python_to_rpc("x").decode()) == "x"   # str accepted too
    with pytest.raises(TypeError, match="Cannot pass an object of type object"):
        python_to_rpc(object())


class _Methods:
    def one(self, request): ...

    def none(self): ...

    def any(self, *args): ...

    @classmethod
    def two(cls, a, b): ...


@pytest.mark.parametrize("name, count", [("one", 1), ("none", 0), ("any", -1), ("two", 2)])
def test_positional_count_of_bound_methods(name, count):
    assert _positional_count(getattr(_Methods(), name)) == count
