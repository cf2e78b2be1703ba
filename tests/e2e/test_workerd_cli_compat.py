"""workerd's command-line flags that its own test runner passes (issue 15): --compat-date gives
a worker without compatibilityDate its date, and workerd's Python and autogate options are
accepted and said to be ignored."""

from conftest import Server, run_pyworkerd, worker_config

HELLO = '''
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("dated")
'''


def undated_worker(directory):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "worker.py").write_text(HELLO)
    text = worker_config(["worker.py"])
    text = "\n".join(line for line in text.splitlines() if "compatibilityDate" not in line)
    config = directory / "config.capnp"
    config.write_text(text + "\n")
    return config


def test_a_worker_without_a_date_is_refused_without_compat_date(tmp_path):
    config = undated_worker(tmp_path / "w")
    r = run_pyworkerd("serve", config, timeout=60)
    assert r.returncode == 1
    assert "Worker must specify compatibilityDate." in r.stderr


def test_compat_date_dates_a_worker_that_gives_none(tmp_path):
    config = undated_worker(tmp_path / "w")
    server = Server(config, ["--compat-date=2024-01-01"], tmp=tmp_path)
    try:
        status, _, body = server.get("/")
        assert (status, body) == (200, b"dated")
    finally:
        server.stop()


def test_compat_date_is_checked_like_the_config_s_date(tmp_path):
    config = undated_worker(tmp_path / "w")
    r = run_pyworkerd("serve", "--compat-date=2999-01-01", config, timeout=60)
    assert r.returncode == 1
    assert "Can't set compatibility date in the future" in r.stderr
    r = run_pyworkerd("serve", "--compat-date=yesterday", config, timeout=60)
    assert r.returncode == 1
    assert "--compat-date" in r.stderr and "YYYY-MM-DD" in r.stderr


def test_a_worker_s_own_date_wins_over_compat_date(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    (d / "worker.py").write_text(HELLO)
    config = d / "config.capnp"
    config.write_text(worker_config(["worker.py"], date="2999-01-01"))
    r = run_pyworkerd("serve", "--compat-date=2024-01-01", config, timeout=60)
    assert r.returncode == 1
    assert '"2999-01-01"' in r.stderr


def test_workerd_python_options_are_accepted_and_said_to_be_ignored(tmp_path):
    config = undated_worker(tmp_path / "w")
    ignored = ["--all-autogates", "--python-save-snapshot", "--python-save-baseline-snapshot",
               "--pyodide-bundle-disk-cache-dir", str(tmp_path), "--pyodide-package-disk-cache-dir",
               str(tmp_path), f"--python-snapshot-dir={tmp_path}", "--python-load-snapshot",
               "snapshot.bin"]
    server = Server(config, ["--compat-date=2024-01-01", *ignored], tmp=tmp_path)
    try:
        assert server.get("/")[0] == 200
        log = server.log()
        for name in ("all-autogates", "python-save-snapshot", "python-save-baseline-snapshot",
                     "pyodide-bundle-disk-cache-dir", "pyodide-package-disk-cache-dir",
                     "python-snapshot-dir", "python-load-snapshot"):
            assert f"--{name}: ignored" in log, name
    finally:
        server.stop()


def test_the_ignored_options_stay_out_of_the_help():
    r = run_pyworkerd("help", "serve")
    assert r.returncode == 0
    assert "--compat-date" in r.stdout
    assert "python-save-snapshot" not in r.stdout and "all-autogates" not in r.stdout
