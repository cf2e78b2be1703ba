"""Cloudflare's `_redirects` and `_headers` files in a wrangler project's assets directory:
every rule form of each (statuses, splats, placeholders, the query, 200 rewrites, static rules
first; headers set, merged, removed, by path and by host), applied to the assets' answers and
not to the worker's, through env.ASSETS.fetch too; neither file served; a bad line stops
`pyworkerd dev` with file:line; an edit is read again by the running dev server."""

import socket
import subprocess
import time

import pytest

from conftest import BIN, request_on, wait_for, write_project

WORKER = '''
from urllib.parse import urlsplit
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlsplit(request.url).path
        if path.startswith("/binding/"):
            r = await self.env.ASSETS.fetch("https://assets.local/" + path[len("/binding/"):])
            seen = ",".join(f"{k}={v}" for k, v in sorted(r.headers.items()) if k.startswith("x-"))
            return Response(f"{r.status} {r.headers.get('location')} {seen}")
        return Response(f"worker {path}", headers={"x-from": "worker"})
'''

REDIRECTS = '''
    # statuses
    /moved /about 301
    /found /about
    /see-other /about 303
    /temporary /about 307
    /permanent /about 308
    /with-query /about?from=rule 301
    /away https://example.com/landing 302
    /index-exists /about 301
    /exact /static-wins 301
    # a rewrite: /about (about.html) answers at /team, with no redirect
    /team /about 200
    /team-html /about.html 200
    /gone /missing.html 200
    /exact/* /dynamic-loses 301
    /blog/* /news/:splat 301
    /users/:id/:tab /profile/:tab?user=:id 302
    /docs/* /docs/ 200
    /raw/* /:splat 200
'''

HEADERS = '''
    /*
      X-Site: demo
      Cache-Control: no-cache
    /about
      X-Page: about
    /static/*
      Cache-Control: public, max-age=31536000
      X-Site: static
      ! Last-Modified
    /movies/:title
      X-Movie: watching :title
    https://:sub.example.test/*
      X-Sub: :sub :splat
    /docs/*
      ! X-Site
'''

FILES = {
    "public/index.html": "home page",
    "public/about.html": "about page",
    "public/index-exists.html": "an asset shadowed by a rule",
    "public/static/app.js": "console.log(1)",
    "public/movies/Up.html": "Up",
    "public/docs/index.html": "docs index",
    "public/_redirects": REDIRECTS,
    "public/_headers": HEADERS,
    "src/entry.py": WORKER,
    "secret.txt": "TOP-SECRET-OUTSIDE",
}


def project(d, files=None, main=True):
    return write_project(d, dict(FILES, **(files or {}), **{"wrangler.toml": f'''
        name = "site"
        {'main = "src/entry.py"' if main else ""}
        compatibility_date = "2025-09-01"
        compatibility_flags = ["python_workers"]

        [assets]
        directory = "public"
        binding = "ASSETS"
        '''}))


def get(dev, path, method="GET", headers=None):
    status, h, body = request_on(dev.port, method, path, headers=headers, timeout=20)
    return status, h, body.decode()


@pytest.fixture
def dev_of(tmp_path, start_dev):
    projects = iter(range(1000))

    def start(files=None, main=True):
        return start_dev(project(tmp_path / f"p{next(projects)}", files, main))
    return start


def test_redirects_answer_with_each_status_and_keep_the_query(dev_of):
    dev = dev_of()
    for path, status in [("/moved", 301), ("/found", 302), ("/see-other", 303),
                         ("/temporary", 307), ("/permanent", 308)]:
        s, h, _ = get(dev, path + "?q=1")
        assert (s, h["location"]) == (status, "/about?q=1"), path
    s, h, _ = get(dev, "/with-query?q=1")
    assert (s, h["location"]) == (301, "/about?from=rule")      # the destination's own query wins
    s, h, _ = get(dev, "/away?q=1")
    assert (s, h["location"]) == (302, "https://example.com/landing?q=1")
    s, h, _ = get(dev, "/moved", method="HEAD")
    assert (s, h["location"]) == (301, "/about")


def test_a_rule_wins_over_an_asset_and_static_rules_over_dynamic_ones(dev_of):
    dev = dev_of()
    s, h, _ = get(dev, "/index-exists")
    assert (s, h["location"]) == (301, "/about")
    s, h, _ = get(dev, "/exact")
    assert (s, h["location"]) == (301, "/static-wins")
    s, h, _ = get(dev, "/exact/more")
    assert (s, h["location"]) == (301, "/dynamic-loses")


def test_splats_and_placeholders_fill_the_destination(dev_of):
    dev = dev_of()
    s, h, _ = get(dev, "/blog/2024/05/hello?x=y")
    assert (s, h["location"]) == (301, "/news/2024/05/hello?x=y")
    s, h, _ = get(dev, "/users/42/settings")
    assert (s, h["location"]) == (302, "/profile/settings?user=42")
    s, _, body = get(dev, "/users/42")                             # one segment short: no rule
    assert (s, body) == (200, "worker /users/42")


def test_a_200_rule_serves_another_asset_at_the_same_url(dev_of):
    dev = dev_of()
    s, h, body = get(dev, "/team")
    assert (s, body, h["location"]) == (200, "about page", None)
    assert h["content-type"].startswith("text/html")
    # as on Cloudflare, html_handling applies to the rewritten path: /about.html is at /about
    s, h, _ = get(dev, "/team-html")
    assert (s, h["location"]) == (307, "/about")
    s, _, body = get(dev, "/docs/anything/below")
    assert (s, body) == (200, "docs index")
    s, _, body = get(dev, "/gone")         # the rewrite names no asset: 404, not the worker
    assert s == 404 and "worker" not in body


def test_a_200_rule_cannot_lead_out_of_the_directory(dev_of):
    dev = dev_of()
    assert get(dev, "/raw/about")[:1] + (get(dev, "/raw/about")[2],) == (200, "about page")
    for path in ("/raw/..%2fsecret.txt", "/raw/../secret.txt", "/raw/%2e%2e/secret.txt",
                 "/raw/..%5csecret.txt", "/raw//..//secret.txt", "/raw/%2e%2e%2fsecret.txt"):
        status, _, body = get(dev, path)
        assert "TOP-SECRET" not in body and status in (200, 307, 404), (path, status, body)


def test_headers_rules_apply_to_assets_merged_in_file_order(dev_of):
    dev = dev_of()
    s, h, _ = get(dev, "/about")
    assert s == 200 and h["x-site"] == "demo" and h["x-page"] == "about"
    assert h["cache-control"] == "no-cache" and h["etag"] and h["last-modified"]
    s, h, _ = get(dev, "/static/app.js")
    assert h["cache-control"] == "no-cache, public, max-age=31536000"    # joined with ", "
    assert h["x-site"] == "demo, static" and h["last-modified"] is None  # "! Last-Modified"
    assert h["etag"] and h["content-type"].startswith("text/javascript")
    s, h, _ = get(dev, "/docs/")
    assert s == 200 and h["x-site"] is None and h["cache-control"] == "no-cache"  # "! X-Site"
    s, h, _ = get(dev, "/movies/Up")
    assert (s, h["x-movie"]) == (200, "watching Up")


def test_headers_rules_match_the_host_and_ignore_its_port(dev_of):
    dev = dev_of()
    s, h, _ = get(dev, "/about", headers={"Host": f"blog.example.test:{dev.port}"})
    assert (s, h["x-sub"]) == (200, "blog about")
    s, h, _ = get(dev, "/about", headers={"Host": "a.b.example.test"})
    assert h["x-sub"] is None


def test_headers_apply_to_redirects_and_not_found_but_never_to_the_worker(dev_of):
    dev = dev_of()
    s, h, _ = get(dev, "/moved")
    assert (s, h["x-site"]) == (301, "demo")
    s, h, _ = get(dev, "/gone")
    assert (s, h["x-site"]) == (404, "demo")
    s, h, body = get(dev, "/api/thing")
    assert (s, body, h["x-from"], h["x-site"]) == (200, "worker /api/thing", "worker", None)


def test_env_assets_fetch_follows_both_files(dev_of):
    dev = dev_of()
    assert get(dev, "/binding/moved")[2] == "301 /about x-site=demo"
    assert get(dev, "/binding/about")[2] == "200 None x-page=about,x-site=demo"
    # a rewrite's headers are those of the URL asked for (/team), not of the asset (/about)
    assert get(dev, "/binding/team")[2] == "200 None x-site=demo"


def test_neither_file_is_served(dev_of):
    dev = dev_of()
    for name in ("/_redirects", "/_headers"):
        s, _, body = get(dev, name)                    # not an asset: the worker's to answer
        assert (s, body) == (200, f"worker {name}")
    alone = dev_of(main=False)                         # assets only: 404, as on Cloudflare
    for name in ("/_redirects", "/_headers"):
        s, _, body = get(alone, name)
        assert s == 404 and "_redirects" not in body and "X-Site" not in body
    assert get(alone, "/moved")[0] == 301 and get(alone, "/about")[1]["x-page"] == "about"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_error(tmp_path, files) -> str:
    """What `pyworkerd dev` prints when it refuses to start the project."""
    d = project(tmp_path / f"bad{time.monotonic_ns()}", files)
    r = subprocess.run([BIN, "dev", "--port", str(free_port()), "--threads", "1"], cwd=d,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, r
    return r.stdout + r.stderr


@pytest.mark.parametrize("text, line, words", [
    ("/a /b\n/only-one\n", 2, 'expected "source destination [status]"'),
    ("/a /b 418\n", 1, "the status 418 is none of 200, 301, 302 (the default), 303, 307, 308"),
    ("/a b\n", 1, "the destination b is neither a path"),
    ("/a https://example.com/ 200\n", 1, "a 200 rule rewrites to an asset of this site"),
    ("https://example.com/a /b\n", 1, "is not a path"),
    ("/*/x/* /b\n", 1, "more than one '*'"),
    ("/:id/:id /b\n", 1, "placeholder :id used twice"),
    ("# ok\n/* /index.html\n", 2, "this rule loops"),
    ("/" + "a" * 1000 + " /b\n", 1, "longer than 1,000 characters"),
    ("".join(f"/s{i} /d\n" for i in range(2001)), 2001, "more than 2,000 static rules"),
    ("".join(f"/d{i}/* /d\n" for i in range(101)), 101, "more than 100 dynamic rules"),
])
def test_a_bad_redirects_line_stops_dev_with_its_file_and_line(tmp_path, text, line, words):
    out = start_error(tmp_path, {"public/_redirects": text})
    assert f"public/_redirects:{line}: " in out and words in out, out


@pytest.mark.parametrize("text, line, words", [
    ("X-A: b\n", 1, "a header comes before any URL pattern"),
    ("/a\n  words only\n", 2, 'expected "Name: value" or "! Name"'),
    ("/a\n  Bad Name: v\n", 2, "a header name cannot hold spaces"),
    ("/a\n  X-A:\n", 2, "no header value"),
    ("/a\n/b\n  X: y\n", 1, "no headers under /a"),
    ("http://example.com/a\n  X: y\n", 1, "a URL pattern is a path"),
    ("https://example.com:8443/a\n  X: y\n", 1, "a port in a URL pattern is not supported"),
    ("/a\n  X: " + "v" * 2000 + "\n", 2, "longer than 2,000 characters"),
    ("".join(f"/r{i}\n  X: y\n" for i in range(101)), 201, "more than 100 rules"),
])
def test_a_bad_headers_line_stops_dev_with_its_file_and_line(tmp_path, text, line, words):
    out = start_error(tmp_path, {"public/_headers": text})
    assert f"public/_headers:{line}: " in out and words in out, out


def test_dev_reads_both_files_again_when_they_change(dev_of):
    dev = dev_of()
    assert get(dev, "/moved")[1]["location"] == "/about"
    write_project(dev.project, {"public/_redirects": "/moved /elsewhere 308\n",
                                "public/_headers": "/about\n  X-Page: edited\n"})
    started = time.monotonic()
    wait_for(lambda: get(dev, "/moved")[1]["location"] == "/elsewhere", timeout=5,
             what="the edited _redirects", server=dev)
    assert time.monotonic() - started < 1.0
    assert get(dev, "/moved")[0] == 308 and get(dev, "/about")[1]["x-page"] == "edited"
    assert get(dev, "/found")[0] == 404 or get(dev, "/found")[1]["location"] is None
    # a broken edit is reported and the rules in use stay
    write_project(dev.project, {"public/_redirects": "/moved\n"})
    time.sleep(0.05)
    assert get(dev, "/moved")[1]["location"] == "/elsewhere"
    dev.wait_log('public/_redirects:1: expected "source destination [status]"')
    (dev.project / "public" / "_redirects").unlink()
    wait_for(lambda: get(dev, "/moved")[0] == 200, timeout=5, what="no _redirects", server=dev)
