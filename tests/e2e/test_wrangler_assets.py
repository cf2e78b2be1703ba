"""wrangler's [assets] routed as Cloudflare routes them: an asset that matches answers before
the worker (html_handling's 307s included), the worker gets the rest (run_worker_first: all,
or the paths its patterns name), not_found_handling's single-page-application and 404-page,
env.ASSETS.fetch under the same rules, and no path leading out of the directory."""

import http.client
import os

import pytest

from conftest import write_project

WORKER = '''
from urllib.parse import urlsplit
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlsplit(request.url).path
        if path.startswith("/binding/"):
            r = await self.env.ASSETS.fetch("https://assets.local/" + path[len("/binding/"):])
            body = await r.text()
            return Response(f"{r.status} {r.headers.get('location')} {body.strip()}")
        return Response(f"worker {request.method} {path}")
'''

FILES = {
    "public/index.html": "home page",
    "public/about.html": "about page",
    "public/docs/index.html": "docs index",
    "public/docs/404.html": "docs not found",
    "public/404.html": "site not found",
    "public/app.js": "console.log(1)",
    "public/api/static/a.txt": "static under api",
    "secret.txt": "TOP-SECRET-OUTSIDE",
    "src/entry.py": WORKER,
}


def project(d, assets: str, main=True):
    p = write_project(d, dict(FILES, **{"wrangler.toml": f'''
        name = "site"
        {'main = "src/entry.py"' if main else ""}
        compatibility_date = "2025-09-01"
        compatibility_flags = ["python_workers"]

        [assets]
        directory = "public"
        binding = "ASSETS"
        {assets}
        '''}))
    os.symlink("../secret.txt", p / "public" / "link-out.html")
    return p


def get(dev, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", dev.port, timeout=20)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        c.endheaders()
        r = c.getresponse()
        return r.status, r.getheader("location"), r.read().decode()
    finally:
        c.close()


@pytest.fixture
def dev_of(tmp_path, start_dev):
    projects = iter(range(1000))

    def start(assets="", main=True):
        return start_dev(project(tmp_path / f"p{next(projects)}", assets, main))
    return start


def test_assets_answer_first_and_the_worker_gets_the_rest(dev_of):
    dev = dev_of()
    assert get(dev, "/") == (200, None, "home page")
    assert get(dev, "/about") == (200, None, "about page")
    assert get(dev, "/about.html?x=1") == (307, "/about?x=1", "")
    assert get(dev, "/docs") == (307, "/docs/", "")
    assert get(dev, "/docs/") == (200, None, "docs index")
    assert get(dev, "/docs/index.html") == (307, "/docs/", "")
    assert get(dev, "/index.html") == (307, "/", "")
    assert get(dev, "/app.js")[::2] == (200, "console.log(1)")
    assert get(dev, "/nothing/here") == (200, None, "worker GET /nothing/here")
    assert get(dev, "/about", "POST") == (200, None, "worker POST /about")


def test_env_assets_fetch_follows_the_same_rules(dev_of):
    dev = dev_of()
    assert get(dev, "/binding/about")[2] == "200 None about page"
    assert get(dev, "/binding/about.html")[2] == "307 /about "
    assert get(dev, "/binding/missing")[2].startswith("404 None")


def test_force_and_drop_trailing_slash_and_none(dev_of):
    force = dev_of('html_handling = "force-trailing-slash"')
    assert get(force, "/about") == (307, "/about/", "")
    assert get(force, "/about/") == (200, None, "about page")
    drop = dev_of('html_handling = "drop-trailing-slash"')
    assert get(drop, "/docs/") == (307, "/docs", "")
    assert get(drop, "/docs") == (200, None, "docs index")
    none = dev_of('html_handling = "none"')
    assert get(none, "/about") == (200, None, "worker GET /about")
    assert get(none, "/about.html") == (200, None, "about page")


def test_not_found_handling_spa_and_404_page(dev_of):
    spa = dev_of('not_found_handling = "single-page-application"')
    assert get(spa, "/app/route/42") == (200, None, "home page")
    assert get(spa, "/app/route/42", "POST")[2] == "worker POST /app/route/42"
    page = dev_of('not_found_handling = "404-page"', main=False)
    assert get(page, "/docs/nope") == (404, None, "docs not found")
    assert get(page, "/else/where") == (404, None, "site not found")
    assert get(page, "/about") == (200, None, "about page")


def test_run_worker_first_all_or_by_pattern(dev_of):
    everything = dev_of("run_worker_first = true")
    assert get(everything, "/about") == (200, None, "worker GET /about")
    assert get(everything, "/binding/about")[2] == "200 None about page"
    some = dev_of('run_worker_first = ["/api/*", "!/api/static/*"]')
    assert get(some, "/api/static/a.txt") == (200, None, "static under api")
    assert get(some, "/api/users") == (200, None, "worker GET /api/users")
    assert get(some, "/about") == (200, None, "about page")


def test_assets_without_a_worker_are_404_when_nothing_matches(dev_of):
    dev = dev_of(main=False)
    assert get(dev, "/about") == (200, None, "about page")
    assert get(dev, "/missing")[0] == 404


ESCAPES = ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/docs/..%2f..%2fsecret.txt",
           "/link-out", "/link-out.html", "/%2e%2e%2fsecret", "//etc/passwd", "/docs/../../secret"]


def test_path_escapes_are_refused(dev_of):
    for dev in (dev_of(), dev_of(main=False), dev_of('not_found_handling = "404-page"')):
        for path in ESCAPES:
            status, _, body = get(dev, path)
            assert "TOP-SECRET" not in body and "root:" not in body, (path, status, body)
            assert status in (200, 400, 404), (path, status, body)
            assert status != 200 or body.startswith("worker "), (path, body)
        assert "TOP-SECRET" not in get(dev, "/binding/..%2fsecret.txt")[2]
