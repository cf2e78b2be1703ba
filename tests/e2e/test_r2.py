"""R2 buckets (`r2Bucket` bindings on a writable disk service): every method and option of
Cloudflare's R2 Workers API from Python — put/get/head/delete/list, metadata, checksums,
ranged and conditional gets and puts, list pagination with a delimiter, multipart uploads —
R2's limits and errors in its words, sync handlers, bodies streamed both ways (a 200 MiB
object with the host's RSS watched), durability across kill -9, and the config's checks."""

import hashlib
import json
import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN, Server, run_pyworkerd

UNDER_ASAN = "build-asan" in BIN

CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w),
              (name = "files", disk = (path = "r2-data", writable = {writable})){extra}],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [{bindings}],
);
"""

# POST / runs its body as the body of an async function with `b` = env.BUCKET; the result
# is answered as JSON (a Response is returned as it is), an exception as {"error": ...}.
WORKER = '''
import datetime, hashlib, json, textwrap
from workers import WorkerEntrypoint, Response
from js import Headers

def info(o):
    if o is None:
        return None
    d = {k: getattr(o, k) for k in ("key", "version", "size", "etag", "httpEtag", "storageClass")}
    d["uploaded"] = o.uploaded.isoformat()
    d["httpMetadata"] = o.httpMetadata
    d["customMetadata"] = o.customMetadata
    d["checksums"] = o.checksums.toJSON()
    d["range"] = o.range
    d["hasBody"] = hasattr(o, "body")
    return d

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        ns = {"b": self.env.BUCKET, "Response": Response, "Headers": Headers, "info": info,
              "datetime": datetime, "hashlib": hashlib, "json": json}
        exec("async def snippet():\\n" + textwrap.indent(await request.text(), "    "), ns)
        try:
            out = await ns["snippet"]()
        except Exception as e:
            out = {"error": type(e).__name__, "name": getattr(e, "name", None),
                   "message": getattr(e, "message", str(e))}
        if isinstance(out, Response):
            return out
        return Response(json.dumps(out, default=str))
'''


def write(d: Path, worker=WORKER, writable="true", bindings='(name = "BUCKET", r2Bucket = "files")',
          extra="") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "worker.py").write_text(textwrap.dedent(worker))
    (d / "config.capnp").write_text(CONFIG.format(writable=writable, bindings=bindings, extra=extra))
    return d / "config.capnp"


@pytest.fixture
def bucket(tmp_path):
    """A running server; bucket(snippet) runs the snippet and returns its JSON result."""
    server = Server(write(tmp_path / "w"), tmp=tmp_path)

    def run(snippet, timeout=60.0):
        status, _, body = server.request("POST", "/", body=textwrap.dedent(snippet).encode(), timeout=timeout)
        assert status == 200, body
        out = json.loads(body)
        if isinstance(out, dict) and "error" in out:
            print("snippet failed:", out)
        return out

    run.server = server
    run.dir = tmp_path / "w"
    yield run
    server.stop(signal.SIGKILL)


def r2_error(out, code):
    assert out["error"] == "JsException" and out["name"] == "Error", out
    assert out["message"].endswith(f" ({code})"), out
    return out["message"]


# ---------------------------------------------------------------- put, get, head, delete


def test_put_returns_the_object_and_get_reads_it_as_text_bytes_and_json(bucket):
    out = bucket('''
        o = await b.put("t/text", "Hello from R2 binding!")
        g = await b.get("t/text")
        used_before = g.bodyUsed
        text = await g.text()
        await b.put("t/json", json.dumps({"n": [1, 2]}), {"httpMetadata": {"contentType": "application/json"}})
        j = await (await b.get("t/json")).json()
        await b.put("t/bytes", b"\\x00\\x01\\xff")
        raw = await (await b.get("t/bytes")).arrayBuffer()
        return {"put": info(o), "text": text, "used": [used_before, g["bodyUsed"]], "json": j,
                "raw": list(raw), "kind": type(raw).__name__}
    ''')
    o = out["put"]
    assert o["key"] == "t/text" and o["size"] == 22 and not o["hasBody"]
    assert o["etag"] == hashlib.md5(b"Hello from R2 binding!").hexdigest()
    assert o["httpEtag"] == f'"{o["etag"]}"' and len(o["version"]) == 32
    assert o["checksums"] == {"md5": o["etag"]} and o["storageClass"] == "Standard"
    assert abs(time.time() - time.mktime(time.strptime(o["uploaded"][:19], "%Y-%m-%dT%H:%M:%S")) + time.timezone) < 60
    assert out["text"] == "Hello from R2 binding!" and out["used"] == [False, True]
    assert out["json"] == {"n": [1, 2]} and out["raw"] == [0, 1, 255] and out["kind"] == "bytes"


def test_a_body_is_read_once(bucket):
    out = bucket('''
        await b.put("once", "x")
        g = await b.get("once")
        await g.text()
        return await g.text()
    ''')
    assert out["error"] == "TypeError" and "Body has already been used" in out["message"]


def test_metadata_head_and_write_http_metadata(bucket):
    out = bucket('''
        expiry = datetime.datetime(2030, 1, 2, 3, 4, 5)
        await b.put("m", "metadata test", httpMetadata={"contentType": "text/plain",
            "contentLanguage": "en-US", "contentDisposition": "inline", "contentEncoding": "identity",
            "cacheControl": "max-age=3600", "cacheExpiry": expiry}, customMetadata={"author": "me", "v": "1.0"})
        h = await b.head("m")
        headers = Headers.new()
        h.writeHttpMetadata(headers)
        await b.put("from-headers", "x", httpMetadata=Headers.new({"content-type": "image/png", "cache-control": "no-store"}))
        h2 = await b.head("from-headers")
        await b.put("none-opts", "value", None)
        return {"head": info(h), "headers": dict(headers.items()), "h2": h2.httpMetadata,
                "none": await (await b.get("none-opts")).text(), "missing": await b.head("nope")}
    ''')
    h = out["head"]
    assert h["httpMetadata"]["contentType"] == "text/plain" and h["httpMetadata"]["cacheControl"] == "max-age=3600"
    assert h["httpMetadata"]["contentLanguage"] == "en-US" and h["customMetadata"] == {"author": "me", "v": "1.0"}
    assert h["httpMetadata"]["cacheExpiry"].startswith("2030-01-02 03:04:05")
    assert out["headers"] == {"content-type": "text/plain", "content-language": "en-US",
                              "content-disposition": "inline", "content-encoding": "identity",
                              "cache-control": "max-age=3600", "expires": "Wed, 02 Jan 2030 03:04:05 GMT"}
    assert out["h2"] == {"contentType": "image/png", "cacheControl": "no-store"}
    assert out["none"] == "value" and out["missing"] is None


def test_empty_values_overwrites_and_deletes(bucket):
    out = bucket('''
        e = await b.put("empty", None)
        e2 = await (await b.get("empty")).text()
        await b.put("k", "version1")
        first = await (await b.get("k")).text()
        await b.put("k", "version2")
        second = await (await b.get("k")).text()
        for i in range(3):
            await b.put(f"d/{i}", "x")
        await b.delete("k")
        await b.delete(["d/0", "d/1", "d/2", "never-there"])
        await b.delete([])
        left = [o.key for o in (await b.list()).objects]
        return {"empty": [e.size, e2], "versions": [first, second], "left": left,
                "get_missing": await b.get("k")}
    ''')
    assert out == {"empty": [0, ""], "versions": ["version1", "version2"], "left": ["empty"],
                   "get_missing": None}


def test_checksums_are_checked(bucket):
    good = hashlib.sha256(b"payload").hexdigest()
    out = bucket(f'''
        ok = await b.put("c", "payload", sha256="{good}")
        md5 = await b.put("c2", "payload", md5=hashlib.md5(b"payload").digest())
        try:
            await b.put("c3", "payload", md5="0" * 32)
        except Exception as e:
            bad = e.message
        try:
            await b.put("c4", "payload", md5="0" * 32, sha1="0" * 40)
        except TypeError as e:
            two = str(e)
        try:
            await b.put("c5", "payload", sha256="abc")
        except TypeError as e:
            short = str(e)
        return {{"ok": ok.checksums.toJSON(), "md5": md5.etag, "bad": bad, "two": two, "short": short,
                "stored": await b.head("c3")}}
    ''')
    assert out["ok"] == {"md5": hashlib.md5(b"payload").hexdigest(), "sha256": good}
    assert out["md5"] == hashlib.md5(b"payload").hexdigest()
    assert out["bad"] == "put: The MD5 checksum you specified did not match what we received. (10037)"
    assert out["two"] == "You cannot specify multiple hashing algorithms."
    assert out["short"] == "SHA-256 is 64 hex characters, not 3"
    assert out["stored"] is None


def test_limits_in_cloudflares_words(bucket):
    out = bucket('''
        res = {}
        for name, call in [("long_key", lambda: b.put("k" * 1025, "x")),
                           ("empty_key", lambda: b.get("")),
                           ("nul_key", lambda: b.get("a\\x00b")),
                           ("metadata", lambda: b.put("m", "x", customMetadata={"k": "v" * 2048})),
                           ("limit0", lambda: b.list(limit=0)),
                           ("limit1001", lambda: b.list(limit=1001))]:
            try:
                await call()
                res[name] = "no error"
            except Exception as e:
                res[name] = e.message
        try:
            await b.get("k", range={"offset": -1})
        except Exception as e:
            res["negative"] = [e.name, e.message]
        try:
            await b.list(include=["nope"])
        except Exception as e:
            res["include"] = [e.name, e.message]
        res["at_limit"] = (await b.put("k" * 1024, "x")).size
        return res
    ''')
    assert out["long_key"] == "put: The specified object name is not valid. (10020)"
    assert out["empty_key"] == "get: The specified object name is not valid. (10020)"
    assert out["nul_key"] == "get: The specified object name is not valid. (10020)"  # once freed a job twice
    assert out["metadata"] == "put: Your metadata headers exceed the maximum allowed metadata size. (10012)"
    assert out["limit0"] == out["limit1001"] == "list: MaxKeys params must be positive integer <= 1000. (10022)"
    assert out["negative"] == ["RangeError", "Invalid range. Starting offset (-1) must be greater than or equal to 0."]
    assert out["include"] == ["RangeError", "Unsupported include value nope"]
    assert out["at_limit"] == 1


# ---------------------------------------------------------------- ranges and conditions


def test_ranged_gets(bucket):
    out = bucket('''
        await b.put("r", "0123456789ABCDEF")
        async def read(**kw):
            g = await b.get("r", **kw)
            return [await g.text(), g.range]
        res = {"offset_length": await read(range={"offset": 4, "length": 6}),
               "offset": await read(range={"offset": 10}),
               "length": await read(range={"length": 3}),
               "suffix": await read(range={"suffix": 4}),
               "suffix_over": await read(range={"suffix": 100}),
               "clamped": await read(range={"offset": 14, "length": 100}),
               "header": await read(range=Headers.new({"range": "bytes=2-5"})),
               "header_open": await read(range=Headers.new({"range": "bytes=12-"})),
               "header_suffix": await read(range=Headers.new({"range": "bytes=-2"})),
               "header_many": await read(range=Headers.new({"range": "bytes=0-1,4-5"}))}
        try:
            await b.get("r", range={"offset": 17})
        except Exception as e:
            res["beyond"] = e.message
        try:
            await b.get("r", range={"suffix": 2, "offset": 1})
        except TypeError as e:
            res["suffix_offset"] = str(e)
        return res
    ''')
    assert out["offset_length"] == ["456789", {"offset": 4, "length": 6}]
    assert out["offset"] == ["ABCDEF", {"offset": 10, "length": 6}]
    assert out["length"][0] == "012" and out["suffix"][0] == "CDEF"
    assert out["suffix_over"][0] == "0123456789ABCDEF" and out["clamped"][0] == "EF"
    assert out["header"][0] == "2345" and out["header_open"][0] == "CDEF" and out["header_suffix"][0] == "EF"
    assert out["header_many"][0] == "0123456789ABCDEF"
    assert out["beyond"] == "get: The requested range is not satisfiable (10039)"
    assert out["suffix_offset"] == "Suffix is incompatible with offset."


def test_conditional_gets_give_the_object_without_its_body_when_they_fail(bucket):
    out = bucket('''
        o = await b.put("c", "conditional")
        etag = o.etag
        past, future = datetime.datetime(2000, 1, 1), datetime.datetime(2100, 1, 1)
        async def get(cond):
            g = await b.get("c", onlyIf=cond)
            return "body:" + await g.text() if hasattr(g, "body") else "object:" + g.etag
        res = {"match": await get({"etagMatches": etag}),
               "match_fails": await get({"etagMatches": "nope"}),
               "wildcard": await get({"etagMatches": "*"}),
               "none_match": await get({"etagDoesNotMatch": etag}),
               "none_match_ok": await get({"etagDoesNotMatch": "nope"}),
               "after_past": await get({"uploadedAfter": past}),
               "after_future": await get({"uploadedAfter": future}),
               "before_future": await get({"uploadedBefore": future}),
               "before_past": await get({"uploadedBefore": past}),
               "if_none_match": await get(Headers.new({"if-none-match": o.httpEtag})),
               "if_none_match_weak": await get(Headers.new({"if-none-match": f'W/"{etag}", "x"'})),
               "if_match": await get(Headers.new({"if-match": f'"x", {o.httpEtag}'})),
               "if_modified_since": await get(Headers.new({"if-modified-since": "Sat, 01 Jan 2100 00:00:00 GMT"})),
               "missing": await b.get("nope", onlyIf={"etagMatches": etag})}
        try:
            await b.get("c", onlyIf={"etagMatches": o.httpEtag})
        except TypeError as e:
            res["quoted"] = str(e)
        return res | {"etag": etag}
    ''')
    body, obj = "body:conditional", "object:" + out["etag"]
    assert out["match"] == body and out["match_fails"] == obj and out["wildcard"] == body
    assert out["none_match"] == obj and out["none_match_ok"] == body
    assert out["after_past"] == body and out["after_future"] == obj
    assert out["before_future"] == body and out["before_past"] == obj
    assert out["if_none_match"] == obj and out["if_none_match_weak"] == obj and out["if_match"] == body
    assert out["if_modified_since"] == obj and out["missing"] is None
    assert out["quoted"] == f'Conditional ETag should not be wrapped in quotes ("{out["etag"]}").'


def test_conditional_puts_store_nothing_when_they_fail(bucket):
    out = bucket('''
        o = await b.put("p", "one")
        failed = await b.put("p", "two", onlyIf={"etagMatches": "nope"})
        kept = await (await b.get("p")).text()
        ok = await b.put("p", "three", onlyIf={"etagMatches": o.etag})
        create_only = await b.put("p", "four", onlyIf=Headers.new({"if-none-match": "*"}))
        new = await b.put("fresh", "five", onlyIf=Headers.new({"if-none-match": "*"}))
        return [failed, kept, ok.size, create_only, new.size, await (await b.get("p")).text()]
    ''')
    assert out == [None, "one", 5, None, 4, "three"]


# ---------------------------------------------------------------- list


def test_list_prefix_limit_cursor_start_after_and_include(bucket):
    out = bucket('''
        for i in range(5):
            await b.put(f"page/{i:03d}", f"v{i}", httpMetadata={"contentType": "text/plain"},
                        customMetadata={"i": str(i)})
        await b.put("other", "x")
        p1 = await b.list(prefix="page/", limit=2)
        p2 = await b.list({"prefix": "page/", "limit": 2, "cursor": p1["cursor"]})
        p3 = await b.list(prefix="page/", limit=2, cursor=p2.cursor)
        after = await b.list(prefix="page/", startAfter="page/002")
        bare = (await b.list(prefix="page/", limit=1)).objects[0]
        full = (await b.list(prefix="page/", limit=1, include=["httpMetadata", "customMetadata"])).objects[0]
        try:
            bare.writeHttpMetadata({})
        except TypeError as e:
            unknown = str(e)
        return {"pages": [[o.key for o in p.objects] for p in (p1, p2, p3)],
                "truncated": [p1.truncated, p2.truncated, p3.truncated], "p3_cursor": p3.get("cursor"),
                "after": [o.key for o in after.objects], "all": [o.key for o in (await b.list(None)).objects],
                "bare": [bare.httpMetadata, bare.customMetadata], "full": [full.httpMetadata, full.customMetadata],
                "unknown": unknown}
    ''')
    assert out["pages"] == [["page/000", "page/001"], ["page/002", "page/003"], ["page/004"]]
    assert out["truncated"] == [True, True, False] and out["p3_cursor"] is None
    assert out["after"] == ["page/003", "page/004"]
    assert out["all"] == ["other", "page/000", "page/001", "page/002", "page/003", "page/004"]
    assert out["bare"] == [None, None]
    assert out["full"] == [{"contentType": "text/plain"}, {"i": "0"}]
    assert out["unknown"].startswith("HTTP metadata unknown for key `page/000`.")


def test_list_pagination_with_a_delimiter(bucket):
    out = bucket('''
        for key in ["d/dir1/f1", "d/dir1/f2", "d/dir1/sub/f3", "d/dir2/f1", "d/root1", "d/dir3/f",
                    "d/root2", "e/x"]:
            await b.put(key, "x")
        pages, cursor = [], None
        while True:
            r = await b.list(prefix="d/", delimiter="/", limit=2, cursor=cursor)
            pages.append([[o.key for o in r.objects], r.delimitedPrefixes, r.truncated])
            if not r.truncated:
                break
            cursor = r.cursor
        one = await b.list(prefix="d/", delimiter="/")
        top = await b.list(delimiter="/")
        return {"pages": pages, "one": [[o.key for o in one.objects], one.delimitedPrefixes],
                "top": [[o.key for o in top.objects], top.delimitedPrefixes]}
    ''')
    keys = [k for page in out["pages"] for k in page[0]]
    prefixes = [p for page in out["pages"] for p in page[1]]
    assert keys == ["d/root1", "d/root2"] and prefixes == ["d/dir1/", "d/dir2/", "d/dir3/"]
    assert all(len(p[0]) + len(p[1]) <= 2 for p in out["pages"]) and len(out["pages"]) == 3
    assert [p[2] for p in out["pages"]] == [True, True, False]
    assert out["one"] == [["d/root1", "d/root2"], ["d/dir1/", "d/dir2/", "d/dir3/"]]
    assert out["top"] == [[], ["d/", "e/"]]


# ---------------------------------------------------------------- multipart


def test_multipart_upload_complete_read_and_abort(bucket):
    out = bucket('''
        five = 5 * 1024 * 1024
        up = await b.createMultipartUpload("mp", customMetadata={"uploadType": "multipart_test"},
                                           httpMetadata={"contentType": "text/plain"})
        p1 = await up.uploadPart(1, "A" * five)
        p2 = await up.uploadPart(2, "B" * 512)
        again = b.resumeMultipartUpload("mp", up["uploadId"])
        obj = await again.complete([p1, p2])
        g = await b.get("mp")
        text = await g.text()
        across = await (await b.get("mp", range={"offset": five - 2, "length": 4})).text()
        try:
            await up.uploadPart(3, "late")
        except Exception as e:
            late = e.message
        ab = await b.createMultipartUpload("gone")
        await ab.uploadPart(1, "data to be aborted")
        await ab.abort()
        await ab.abort()
        return {"upload": [up.key, len(up.uploadId) > 0], "parts": [p1["partNumber"], p2.partNumber, len(p1.etag) > 0],
                "obj": info(obj), "size_ok": len(text) == five + 512, "ok": text == "A" * five + "B" * 512,
                "across": across, "late": late, "aborted": await b.head("gone"),
                "listed": [o.key for o in (await b.list()).objects]}
    ''')
    assert out["upload"] == ["mp", True] and out["parts"] == [1, 2, True]
    o = out["obj"]
    a, b_ = hashlib.md5(b"A" * 5 * 1024 * 1024).digest(), hashlib.md5(b"B" * 512).digest()
    assert o["etag"] == hashlib.md5(a + b_).hexdigest() + "-2" and o["size"] == 5 * 1024 * 1024 + 512
    assert o["customMetadata"] == {"uploadType": "multipart_test"} and o["httpMetadata"] == {"contentType": "text/plain"}
    assert out["size_ok"] and out["ok"] and out["across"] == "AABB"
    assert out["late"] == "uploadPart: The specified multipart upload does not exist. (10024)"
    assert out["aborted"] is None and out["listed"] == ["mp"]


def test_multipart_errors(bucket):
    out = bucket('''
        res = {}
        up = await b.createMultipartUpload("e")
        small = await up.uploadPart(1, "tiny")
        last = await up.uploadPart(2, "end")
        for name, call in [("wrong_etag", lambda: up.complete([{"partNumber": 1, "etag": "nope"}])),
                           ("small_part", lambda: up.complete([small, last])),
                           ("no_upload", lambda: b.resumeMultipartUpload("e", "f" * 32).uploadPart(1, "x"))]:
            try:
                await call()
                res[name] = "no error"
            except Exception as e:
                res[name] = e.message
        try:
            await up.uploadPart(0, "x")
        except TypeError as e:
            res["number"] = str(e)
        res["single"] = (await up.complete([small])).size
        return res
    ''')
    assert out["wrong_etag"] == "completeMultipartUpload: One or more of the specified parts could not be found. (10025)"
    assert out["small_part"] == ("completeMultipartUpload: Your proposed upload is smaller than the minimum "
                                 "allowed object size. (10011)")
    assert out["no_upload"] == "uploadPart: The specified multipart upload does not exist. (10024)"
    assert out["number"] == "Part number must be between 1 and 10000 (inclusive). Actual value was: 0"
    assert out["single"] == 4


# ---------------------------------------------------------------- streams


def test_streams_both_ways(bucket):
    out = bucket('''
        async def gen():
            for i in range(40):
                yield bytes([i]) * 100_000
        o = await b.put("s", gen())
        parts = [len(c) async for c in (await b.get("s")).body]
        copy = await b.put("s2", (await b.get("s")).body)
        return {"size": o.size, "chunks": len(parts), "total": sum(parts), "copy": copy.etag == o.etag,
                "sync_iter": (await b.put("s3", [b"ab", "cd", bytearray(b"ef")])).size}
    ''')
    assert out["size"] == out["total"] == 4_000_000 and out["chunks"] >= 4
    assert out["copy"] and out["sync_iter"] == 6


def test_body_direct_to_response_and_a_stream_that_fails(bucket):
    data = os.urandom(3 * 1024 * 1024 + 17)
    bucket(f'''
        await b.put("blob", bytes.fromhex("{data.hex()}"))
    ''')
    status, headers, body = bucket.server.request("POST", "/", body=b'''
obj = await b.get("blob")
h = Headers.new()
obj.writeHttpMetadata(h)
h.set("etag", obj.httpEtag)
return Response(obj.body, headers=h)
''')
    assert status == 200 and body == data and headers["etag"] == '"' + hashlib.md5(data).hexdigest() + '"'
    out = bucket('''
        async def broken():
            yield b"x" * 2_000_000
            raise ValueError("the source failed")
        try:
            await b.put("broken", broken())
        except ValueError as e:
            failed = str(e)
        text = await Response((await b.get("blob", range={"length": 5})).body).bytes()
        return [failed, await b.head("broken"), len(text)]
    ''')
    assert out == ["the source failed", None, 5]
    assert not list((bucket.dir / "r2-data" / "r2-blobs").glob("*/*.tmp"))


def test_unread_bodies_are_closed(bucket):
    out = bucket('''
        await b.put("big", b"z" * 3_000_000)
        for i in range(100):
            g = await b.get("big")      # never read: dropped, its host stream closed
            del g
        g = await b.get("big")
        return len(await g.bytes())
    ''')
    assert out == 3_000_000


def test_sync_handler(tmp_path):
    worker = '''
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                b = self.env.BUCKET
                o = b.put("sync", b"s" * 2_500_000, customMetadata={"m": "1"})
                g = b.get("sync")
                data = g.bytes()
                chunks = [len(c) for c in b.get("sync").body]
                up = b.createMultipartUpload("smp")
                p = up.uploadPart(1, "only part")
                done = up.complete([p])
                listed = [x.key for x in b.list().objects]
                b.delete("smp")
                return Response(repr([o.size, len(data), sum(chunks), done.size, listed, b.head("smp"),
                                      b.head("sync").customMetadata["m"]]))
    '''
    s = Server(write(tmp_path / "w", worker=worker), tmp=tmp_path)
    try:
        status, _, body = s.get("/", timeout=60)
        assert status == 200, body
        assert body == b"[2500000, 2500000, 2500000, 9, ['smp', 'sync'], None, '1']"
    finally:
        s.stop(signal.SIGKILL)


# ---------------------------------------------------------------- storage


def test_keys_never_become_paths_and_objects_survive_kill_9(tmp_path):
    config = write(tmp_path / "w")
    s = Server(config, tmp=tmp_path)
    snippet = b'''
for key in ["../../escape", "/abs", "a/../../b", "x\\\\y", "\xe2\x98\x83"]:
    await b.put(key, key)
await b.put("big", b"q" * 4_000_000)
return "stored"
'''
    try:
        assert s.request("POST", "/", body=snippet)[2] == b'"stored"'
    finally:
        s.stop(signal.SIGKILL)      # acknowledged: on the disk, whatever happens next
    data = tmp_path / "w" / "r2-data"
    names = sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file())
    assert all(n.startswith(("r2.sqlite3", "r2-blobs/")) for n in names), names
    assert not (tmp_path / "escape").exists() and not (tmp_path / "b").exists()
    # what an interrupted write leaves is swept at the next start
    (data / "r2-blobs" / "ab").mkdir(exist_ok=True)
    (data / "r2-blobs" / "ab" / ("ab" * 16 + ".tmp")).write_bytes(b"partial")
    (data / "r2-blobs" / "ab" / ("ab" * 16)).write_bytes(b"orphan")
    s = Server(config, tmp=tmp_path)
    try:
        out = json.loads(s.request("POST", "/", body=b'''
keys = [o.key for o in (await b.list()).objects]
texts = [await (await b.get(k)).text() for k in keys if k != "big"]
return [keys, texts, len(await (await b.get("big")).bytes())]
''')[2])
        assert sorted(out[0]) == sorted(["../../escape", "/abs", "a/../../b", "x\\y", "\u2603", "big"])
        assert sorted(out[1]) == sorted(["../../escape", "/abs", "a/../../b", "x\\y", "\u2603"])
        assert out[2] == 4_000_000
        # exactly the two planted files are gone (real blobs have random names and may start with "ab")
        assert not (data / "r2-blobs" / "ab" / ("ab" * 16 + ".tmp")).exists()
        assert not (data / "r2-blobs" / "ab" / ("ab" * 16)).exists()
    finally:
        s.stop(signal.SIGKILL)


def test_persist_dir_memory_keeps_nothing(tmp_path):
    config = write(tmp_path / "w")
    for round_ in range(2):
        s = Server(config, ["--persist-dir=:memory:"], tmp=tmp_path)
        try:
            out = json.loads(s.request("POST", "/", body=b'''
before = await b.head("k")
await b.put("k", b"m" * 2_000_000)
return [before is None, len(await (await b.get("k")).bytes())]
''')[2])
            assert out == [True, 2_000_000]
        finally:
            s.stop()
    assert not (tmp_path / "w" / "r2-data").exists()


def _rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_a_200_mib_object_streams_through_the_host_in_bounded_memory(tmp_path, monkeypatch):
    if UNDER_ASAN:  # freed memory would wait in ASan's quarantine (256 MiB) and count as RSS
        saved = os.environ.get("ASAN_OPTIONS")
        monkeypatch.setenv("ASAN_OPTIONS", (saved + ":" if saved else "") + "quarantine_size_mb=1")
    s = Server(write(tmp_path / "w"), tmp=tmp_path)
    try:
        assert s.request("POST", "/", body=b'await b.put("warm", "x")\nreturn 1')[0] == 200
        idle = _rss_kib(s.proc.pid)
        peak = [idle]
        done = threading.Event()

        def watch():
            while not done.is_set():
                peak[0] = max(peak[0], _rss_kib(s.proc.pid))
                time.sleep(0.01)

        threading.Thread(target=watch, daemon=True).start()
        out = json.loads(s.request("POST", "/", timeout=300, body=b'''
async def source():
    for i in range(200):
        yield bytes([i]) * (1024 * 1024)
o = await b.put("huge", source())
return [o.size, o.etag]
''')[2])
        expected = hashlib.md5()
        for i in range(200):
            expected.update(bytes([i]) * (1024 * 1024))
        assert out == [200 * 1024 * 1024, expected.hexdigest()]
        c = s.conn(timeout=300)
        c.request("POST", "/", body=b'obj = await b.get("huge")\nreturn Response(obj.body)')
        r = c.getresponse()
        got, size = hashlib.md5(), 0
        while chunk := r.read(1 << 20):
            got.update(chunk)
            size += len(chunk)
        c.close()
        done.set()
        assert size == 200 * 1024 * 1024 and got.hexdigest() == expected.hexdigest()
        print(f"host RSS: idle {idle // 1024} MiB, peak {peak[0] // 1024} MiB")
        assert peak[0] - idle < 64 * 1024, f"host RSS grew {(peak[0] - idle) // 1024} MiB"
    finally:
        s.stop(signal.SIGKILL)


# ---------------------------------------------------------------- config


@pytest.mark.parametrize("writable,bindings,extra,message", [
    ("false", '(name = "BUCKET", r2Bucket = "files")', "",
     'worker.bindings["BUCKET"].r2Bucket names disk service "files", which is not writable: add writable = true'),
    ("true", '(name = "BUCKET", r2Bucket = "nowhere")', "",
     'refers to a service "nowhere", but no such service is defined.'),
    ("true", '(name = "BUCKET", r2Bucket = "net")', ', (name = "net", network = (allow = ["public"]))',
     'not supported by pyworkerd: worker.bindings["BUCKET"].r2Bucket naming service "net", which is not a disk service'),
    ("true", '(name = "BUCKET", r2Bucket = (name = "files", entrypoint = "X"))', "",
     'worker.bindings["BUCKET"].r2Bucket.entrypoint'),
])
def test_config_errors_name_the_file_line_and_field(tmp_path, writable, bindings, extra, message):
    config = write(tmp_path, writable=writable, bindings=bindings, extra=extra)
    r = run_pyworkerd("serve", config, "-s", "http=127.0.0.1:1", cwd=tmp_path)
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert "config.capnp:" in r.stderr
