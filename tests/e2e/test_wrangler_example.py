"""examples/wrangler-project (KV, D1, a Durable Object, a queue, a cron trigger) under
`pyworkerd dev`, as shipped."""

import json
import shutil
import time

from conftest import REPO


def test_wrangler_project_example(tmp_path, start_dev):
    d = tmp_path / "wrangler-project"
    shutil.copytree(REPO / "examples" / "wrangler-project", d, ignore=shutil.ignore_patterns(".wrangler"))
    dev = start_dev(d, "--test-scheduled")
    assert json.loads(dev.text("/")) == {"title": "Guestbook", "visits": 1, "entries": []}
    status, _, body = dev.request("POST", "/sign?name=ada")
    assert (status, body) == (202, b"queued\n")
    deadline = time.monotonic() + 15
    while True:
        page = json.loads(dev.text("/"))
        if page["entries"] == ["ada"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert page["entries"] == ["ada"] and page["visits"] >= 2, dev.log()
    assert dev.text("/summary") == "no summary yet\n"
    dev.text("/__scheduled?cron=0+*+*+*+*")
    assert dev.text("/summary") == "1 entries at 0 * * * *\n"
    for name in ("env.CACHE (guestbook-cache)", "env.DB (guestbook)", "env.VISITS (Visits)",
                 "env.SIGNATURES (signatures)", f"Ready on http://localhost:{dev.port}"):
        assert name in dev.log()
    dev.stop()
    assert (d / ".wrangler" / "state" / "v3" / "d1" / "guestbook-db").is_dir()
