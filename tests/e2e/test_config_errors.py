"""End-to-end: `pyworkerd serve <bad config>` exits 1 with workerd's message on stderr, and
--help / --version print to stdout and exit 0. The binary comes from $PYWORKERD_BIN."""

import os
import subprocess
import time
from pathlib import Path

import pytest

BIN = os.environ.get("PYWORKERD_BIN", str(Path(__file__).resolve().parents[2] / "build" / "pyworkerd"))

HEAD = 'using Workerd = import "/workerd/workerd.capnp";\n'

WORKER_PY = """from workers import WorkerEntrypoint, Response


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")
"""


def seed_config(worker_fields: str = "", config_fields: str = "", date: str = "2024-01-01",
                flags: str = '"python_workers"', service: str = "main") -> str:
    return (
        HEAD
        + "const config :Workerd.Config = (\n"
        + '  services = [ (name = "main", worker = .pythonWorker) ],\n'
        + f'  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "{service}") ],\n'
        + config_fields
        + ");\n"
        + "const pythonWorker :Workerd.Worker = (\n"
        + '  modules = [ (name = "worker.py", pythonModule = embed "worker.py") ],\n'
        + f'  compatibilityDate = "{date}",\n'
        + f"  compatibilityFlags = [{flags}],\n"
        + worker_fields
        + ");\n"
    )


def serve(tmp_path: Path, config: str, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "worker.py").write_text(WORKER_PY)
    path = tmp_path / "config.capnp"
    path.write_text(config)
    return subprocess.run([BIN, "serve", str(path), *args], capture_output=True, text=True,
                          timeout=30)


def assert_fails(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert message in result.stderr, result.stderr


def test_syntax_error_names_file_line_and_column(tmp_path):
    config = HEAD + 'const config :Workerd.Config = (\n  services = [ (name = "main" worker = .w) ]);\n'
    result = serve(tmp_path, config)
    assert_fails(result, f"{tmp_path}/config.capnp:3:")
    assert "Parse error" in result.stderr
    assert "does not declare an ID" not in result.stderr


def test_unknown_service_in_socket(tmp_path):
    result = serve(tmp_path, seed_config(service="nope"))
    assert_fails(result, 'Socket "http" refers to a service "nope", but no such service is defined.')


def test_missing_module_file(tmp_path):
    config = seed_config().replace('embed "worker.py"', 'embed "missing.py"')
    result = serve(tmp_path, config)
    assert_fails(result, "Couldn't read file for embed: missing.py")
    assert f"{tmp_path}/config.capnp:7:57-69: " in result.stderr


def test_unsupported_field(tmp_path):
    result = serve(tmp_path, seed_config(worker_fields='  bindings = [(name = "Q", queue = "main")],\n'))
    assert_fails(result, 'service main: not supported by pyworkerd: worker.bindings["Q"].queue')


def test_kv_namespace_naming_no_service(tmp_path):
    result = serve(tmp_path, seed_config(worker_fields='  bindings = [(name = "KV", kvNamespace = "nope")],\n'))
    assert_fails(result, 'config.capnp:10: service main: Worker "main"\'s binding "KV" refers to a '
                         'service "nope", but no such service is defined.')


def test_kv_namespace_naming_a_network_service_is_not_supported(tmp_path):
    result = serve(tmp_path, seed_config(worker_fields='  bindings = [(name = "KV", kvNamespace = "internet")],\n'))
    assert_fails(result, 'worker.bindings["KV"].kvNamespace naming service "internet", which is a network service')


def test_global_outbound_naming_no_service(tmp_path):
    result = serve(tmp_path, seed_config(worker_fields='  globalOutbound = "nope",\n'))
    assert_fails(result, 'Worker "main"\'s globalOutbound refers to a service "nope", but no such service is defined.')


def test_unsupported_top_level_field(tmp_path):
    result = serve(tmp_path, seed_config(config_fields='  v8Flags = ["--expose-gc"],\n'))
    assert_fails(result, "not supported by pyworkerd: v8Flags")


def test_no_config_constant(tmp_path):
    result = serve(tmp_path, HEAD + 'const x :Text = "hi";\n')
    assert_fails(result, "The config file does not define any top-level constants of type 'Config'.")


def test_several_config_constants(tmp_path):
    config = HEAD + "const a :Workerd.Config = ();\nconst b :Workerd.Config = ();\n"
    result = serve(tmp_path, config)
    assert_fails(result, "The config file defines multiple top-level constants of type 'Config', so "
                         "you must specify which one to use. The options are: a, b")


def test_bad_constant_name(tmp_path):
    result = serve(tmp_path, seed_config(), "nope")
    assert_fails(result, "No such constant is defined in the config file.")
    result = serve(tmp_path, seed_config(), "pythonWorker")
    assert_fails(result, "Constant is not of type 'Config'.")


def test_future_compatibility_date(tmp_path):
    result = serve(tmp_path, seed_config(date="2999-01-01"))
    assert_fails(result, "service main: Can't set compatibility date in the future: \"2999-01-01\".")


def test_invalid_compatibility_date(tmp_path):
    result = serve(tmp_path, seed_config(date="2024-13-45"))
    assert_fails(result, "service main: Invalid compatibility date: 2024-13-45")


def test_missing_python_workers_flag(tmp_path):
    result = serve(tmp_path, seed_config(flags='"experimental"'))
    assert_fails(result, "service main: The python_workers compatibility flag is required to use Python.")


def test_unknown_compatibility_flag_names_its_line(tmp_path):
    result = serve(tmp_path, seed_config(flags='"python_workers", "python_workerz"'))
    assert_fails(result, f"{tmp_path}/config.capnp:9: service main: No such compatibility flag: python_workerz")


def test_bad_socket_override(tmp_path):
    result = serve(tmp_path, seed_config(), "-s", "http")
    assert_fails(result, "Expected <name>=<value>")
    assert "Try 'pyworkerd serve --help' for more information." in result.stderr


def test_override_for_unknown_socket(tmp_path):
    result = serve(tmp_path, seed_config(), "-s", "admin=127.0.0.1:0")
    assert_fails(result, 'Config did not define any socket named "admin" to match the override '
                         "provided on the command line.")


def test_config_file_not_found(tmp_path):
    result = subprocess.run([BIN, "serve", str(tmp_path / "nope.capnp")], capture_output=True,
                            text=True, timeout=30)
    assert_fails(result, f"{tmp_path}/nope.capnp: No such file.")


def test_missing_config_argument():
    result = subprocess.run([BIN, "serve"], capture_output=True, text=True, timeout=30)
    assert_fails(result, "pyworkerd serve: missing argument <config-file>\n"
                         "Try 'pyworkerd serve --help' for more information.")


def test_unknown_option():
    result = subprocess.run([BIN, "serve", "--frobnicate", "c.capnp"], capture_output=True,
                            text=True, timeout=30)
    assert_fails(result, "pyworkerd serve: --frobnicate: unrecognized option")


@pytest.mark.parametrize("args", [["--version"], ["serve", "--version"]])
def test_version(args):
    result = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout.strip() == "pyworkerd 0.1.0"


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["help", "serve"]])
def test_help(args):
    result = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "Usage: pyworkerd" in result.stdout
    if "serve" in args:
        assert "--socket-addr" in result.stdout


# ---- configs that Debian's capnp 0.9.2 mishandles: each is one clear line, exit 1, quickly ----

def serve_bytes(tmp_path: Path, config: bytes, *args: str, env=None, timeout=30):
    """serve with the config's exact bytes; returns (result, seconds it took)."""
    (tmp_path / "worker.py").write_text(WORKER_PY)
    path = tmp_path / "config.capnp"
    path.write_bytes(config)
    start = time.monotonic()
    result = subprocess.run([BIN, "serve", str(path), *args], capture_output=True, timeout=timeout,
                            env=env, stdin=subprocess.DEVNULL)
    return result, time.monotonic() - start


def assert_one_clean_line(result, seconds: float, where: str, sentence: str) -> str:
    """Exit 1, one line on stderr naming `where` (file:line), containing `sentence`, with no
    kj crash report, stack or traceback, within a few seconds."""
    err = result.stderr.decode("utf-8", "replace") if isinstance(result.stderr, bytes) else result.stderr
    assert result.returncode == 1, (result.returncode, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(where), err
    assert sentence in lines[0], err
    assert len(lines[0]) < 600, err
    for noise in ("kj/", "stack:", "***", "Traceback", "Uncaught"):
        assert noise not in err, err
    assert seconds < 10, seconds
    return lines[0]


def test_embed_leaving_the_config_directory_is_refused_at_its_line(tmp_path):
    # capnp 0.9.2 itself crashed on "../" above its starting directory (a kj exception), and
    # pyworkerd then reported a wrong error at a wrong line
    sub = tmp_path / "sub"
    sub.mkdir()
    (tmp_path / "x.py").write_text(WORKER_PY)
    (sub / "worker.py").write_text(WORKER_PY)
    (sub / "config.capnp").write_text(seed_config().replace('embed "worker.py"', 'embed "../x.py"'))
    start = time.monotonic()
    result = subprocess.run([BIN, "serve", "config.capnp"], capture_output=True, text=True,
                            timeout=30, cwd=sub, stdin=subprocess.DEVNULL)
    assert_one_clean_line(result, time.monotonic() - start, "config.capnp:7:57: ",
                          'embed "../x.py" is outside the config\'s directory')


def test_embed_of_an_absolute_path_outside_the_config_is_refused(tmp_path):
    config = seed_config().replace('embed "worker.py"', 'embed "/etc/passwd"').encode()
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:7:57: ",
                          'embed "/etc/passwd" is outside the config\'s directory')


def test_embed_through_a_symlink_leaving_the_config_directory_is_refused(tmp_path):
    (tmp_path / "link.py").symlink_to("/etc/passwd")
    config = seed_config().replace('embed "worker.py"', 'embed "link.py"').encode()
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:7:57: ", "is outside the config's directory")


def test_embed_inside_the_tree_through_dot_dot_still_works(serve, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "worker.py").write_text(WORKER_PY)
    config = tmp_path / "config.capnp"
    config.write_text(seed_config().replace('embed "worker.py"', 'embed "sub/../worker.py"'))
    server = serve(config)
    assert server.get()[2] == b"ok"


def test_embed_of_a_directory_is_one_line_not_a_kj_exception(tmp_path):
    (tmp_path / "adir").mkdir()
    config = seed_config().replace('embed "worker.py"', 'embed "adir"').encode()
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:7:57: ",
                          'embed "adir" names a directory, not a file.')


def test_embed_of_a_fifo_fails_at_once_instead_of_hanging(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    config = seed_config().replace('embed "worker.py"', 'embed "fifo"').encode()
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:7:57: ",
                          'embed "fifo" is not a regular file')


def test_an_import_of_a_fifo_fails_too(tmp_path):
    os.mkfifo(tmp_path / "other.capnp")
    config = seed_config().replace(HEAD, HEAD + 'using Other = import "other.capnp";\n').encode()
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:2:22: ",
                          'import "other.capnp" is not a regular file')


def test_an_embed_in_an_imported_file_is_checked_too(tmp_path):
    (tmp_path / "other.capnp").write_text('const secret :Text = embed "/etc/passwd";\n')
    config = seed_config().replace(HEAD, HEAD + 'using Other = import "other.capnp";\n').encode()
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/other.capnp:1:28: ",
                          'embed "/etc/passwd" is outside the config\'s directory')


def fake_capnp(tmp_path: Path, script: str) -> dict:
    """An environment whose PATH finds a `capnp` that runs `script` (sh) instead."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    capnp = bindir / "capnp"
    capnp.write_text("#!/bin/sh\n" + script)
    capnp.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}


def test_a_capnp_that_makes_no_progress_is_killed_within_seconds(tmp_path):
    # the backstop behind the FIFO check: capnp blocked on anything is stopped, by its pid
    env = fake_capnp(tmp_path, f'echo $$ > {tmp_path}/capnp.pid\nexec sleep 120\n')
    result, took = serve_bytes(tmp_path, seed_config().encode(), env=env)
    line = assert_one_clean_line(result, took, f"{tmp_path}/config.capnp: ",
                                 "capnp made no progress for 5 seconds")
    assert "FIFO" in line
    pid = int((tmp_path / "capnp.pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_capnp_crash_is_reported_as_one_line_without_its_stack(tmp_path):
    env = fake_capnp(tmp_path, 'echo "*** Received signal #11: Segmentation fault" >&2\n'
                               'echo "stack: 7f13f0104286 7f13f010696f" >&2\nkill -SEGV $$\n')
    result, took = serve_bytes(tmp_path, seed_config().encode(), env=env)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp: ",
                          "the Cap'n Proto compiler crashed (Segmentation fault)")


def test_a_capnp_exception_is_reported_as_one_line(tmp_path):
    env = fake_capnp(tmp_path, 'echo "*** Uncaught exception ***" >&2\n'
                               'echo "kj/filesystem-disk-unix.c++:353: failed: mmap: No such device" >&2\n'
                               'echo "stack: 7fcf7e959c9d 55b66fcb1380" >&2\nexit 1\n')
    result, took = serve_bytes(tmp_path, seed_config().encode(), env=env)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp: ",
                          "the Cap'n Proto compiler failed: mmap: No such device")


def test_deep_nesting_is_refused_before_capnp_could_crash(tmp_path):
    config = seed_config().encode() + b"const deep :Int32 = " + b"(" * 5000 + b"1" + b")" * 5000 + b";\n"
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:11:",
                          "brackets are nested more than 64 deep")


def test_a_socket_address_that_cannot_parse_names_its_line(tmp_path):
    config = seed_config().replace('"127.0.0.1:0"', '"[::1]:80x"').encode()
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:4: ",
                          'Socket "http" has an invalid address "[::1]:80x"')


def test_a_socket_address_given_on_the_command_line_is_checked_too(tmp_path):
    result, took = serve_bytes(tmp_path, seed_config().encode(), "-s", "http=999.1.1.1:80")
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:4: ",
                          'invalid address "999.1.1.1:80", given on the command line')


def test_a_nul_escape_in_a_name_is_named_as_such(tmp_path):
    config = seed_config().replace('(name = "main", worker', '(name = "ma\\x00in", worker').encode()
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:3:",
                          "a text value contains a NUL character")


def test_a_raw_nul_byte_in_the_file_is_named_as_such(tmp_path):
    config = seed_config().replace('(name = "main", worker', '(name = "ma\0in", worker').encode()
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:3:", "the file contains a NUL byte")


def test_bad_utf8_in_a_name_is_named_as_such(tmp_path):
    config = seed_config().encode().replace(b'(name = "main", worker', b'(name = "ma\xff\xfein", worker')
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:3:", "the file is not valid UTF-8 (byte 0xFF)")


def test_an_escape_making_bad_utf8_is_named_as_such(tmp_path):
    config = seed_config().replace('(name = "main", worker', '(name = "ma\\xffin", worker').encode()
    result, took = serve_bytes(tmp_path, config)
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:3:", "a text value is not valid UTF-8")


def test_a_huge_identifier_gives_a_short_line(tmp_path):
    config = seed_config().replace(".pythonWorker", "." + "b" * 1_000_000).encode()
    result, took = serve_bytes(tmp_path, config)
    line = assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:3:",
                                 "a name or number 1000000 characters long")
    assert len(line) < 300


def disk_config(path: str) -> str:
    return seed_config(worker_fields='  bindings = [(name = "KV", kvNamespace = "kv")],\n').replace(
        '  services = [ (name = "main", worker = .pythonWorker) ],\n',
        '  services = [ (name = "main", worker = .pythonWorker),\n'
        f'               (name = "kv", disk = (path = "{path}", writable = true)) ],\n')


@pytest.mark.parametrize("path", ["../outside", "kv/../../outside", "./../../etc"])
def test_a_disk_path_climbing_out_of_the_persist_dir_is_refused(tmp_path, path):
    result, took = serve_bytes(tmp_path, disk_config(path).encode(), "--persist-dir", str(tmp_path))
    assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:4: service kv: ",
                          f'disk path "{path}" climbs out of the directory it is relative to')
    assert not (tmp_path.parent / "outside").exists()


def test_a_disk_path_staying_inside_is_accepted(serve, tmp_path):
    (tmp_path / "worker.py").write_text(WORKER_PY)
    config = tmp_path / "config.capnp"
    config.write_text(disk_config("kv/../kv-data"))
    server = serve(config, "--persist-dir", str(tmp_path / "state"))
    assert server.get()[2] == b"ok"


def test_a_huge_name_string_gives_a_short_line(tmp_path):
    config = seed_config().replace('(name = "main", worker', '(name = "' + "n" * 1_000_000 + '", worker').encode()
    result, took = serve_bytes(tmp_path, config)
    line = assert_one_clean_line(result, took, f"{tmp_path}/config.capnp:3: ",
                                 "a service name 1000000 characters long; names have at most 256.")
    assert len(line) < 300
