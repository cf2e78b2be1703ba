"""examples/r2, served as shipped: store, read (metadata, ranges, conditional requests),
list and delete objects through the example's HTTP front of an R2 bucket."""

import json
import shutil
import signal

from conftest import REPO, Server


def test_r2_example_stores_reads_lists_and_deletes(tmp_path):
    d = tmp_path / "r2"
    shutil.copytree(REPO / "examples" / "r2", d)
    s = Server(d / "config.capnp", tmp=tmp_path)
    try:
        text = b"hello from the r2 example\n" * 100
        status, _, body = s.request("PUT", "/docs/a.txt", body=text, headers={"content-type": "text/plain"})
        assert status == 200 and body.startswith(b"Put docs/a.txt successfully: 2600 bytes")
        s.request("PUT", "/docs/sub/b.bin", body=b"\x00\x01")
        status, headers, body = s.get("/docs/a.txt")
        assert status == 200 and body == text and headers["content-type"] == "text/plain"
        etag = headers["etag"]
        assert s.get("/docs/a.txt", headers={"if-none-match": etag})[0] == 304
        status, headers, body = s.get("/docs/a.txt", headers={"range": "bytes=6-9"})
        assert status == 206 and body == b"from" and headers["content-range"] == "bytes 6-9/2600"
        listed = json.loads(s.get("/?prefix=docs/&delimiter=/")[2])
        assert [o["key"] for o in listed["objects"]] == ["docs/a.txt"]
        assert listed["delimitedPrefixes"] == ["docs/sub/"]
        assert s.request("DELETE", "/docs/a.txt")[0] == 200
        assert s.get("/docs/a.txt")[0] == 404
        assert (d / "r2-data" / "r2.sqlite3").exists()
    finally:
        s.stop(signal.SIGKILL)
