"""examples/wrangler-site (static assets with _redirects and _headers, an API in Python)
under `pyworkerd dev`, as shipped."""

import json
import shutil

from conftest import REPO


def test_wrangler_site_example(tmp_path, start_dev):
    d = tmp_path / "wrangler-site"
    shutil.copytree(REPO / "examples" / "wrangler-site", d, ignore=shutil.ignore_patterns(".wrangler"))
    dev = start_dev(d)
    status, h, body = dev.get("/")
    assert status == 200 and b"<h1>Home</h1>" in body
    assert h["x-content-type-options"] == "nosniff" and h["etag"]
    for path, status, location in [("/home", 301, "/"), ("/about-us?x=1", 301, "/about?x=1"),
                                   ("/twitter", 302, "https://twitter.com/cloudflare"),
                                   ("/blog/2024/hello", 301, "/posts/2024/hello"),
                                   ("/team/ada", 302, "/about?member=ada")]:
        s, h, _ = dev.get(path)
        assert (s, h["location"]) == (status, location), path
    s, h, body = dev.get("/manual/install")
    assert s == 200 and b"<h1>Docs</h1>" in body
    s, h, _ = dev.get("/css/site.css")
    assert h["cache-control"] == "public, max-age=31536000, immutable"
    s, h, _ = dev.get("/docs/")
    assert (s, h["x-frame-options"], h["etag"]) == (200, "SAMEORIGIN", None)
    s, h, body = dev.get("/nowhere")
    assert s == 404 and b"This page is not here" in body
    for name in ("/_redirects", "/_headers"):
        assert dev.get(name)[0] == 404
    s, h, body = dev.get("/api/time")
    assert s == 200 and "utc" in json.loads(body) and h["x-content-type-options"] is None
    dev.stop()
