"""End-to-end: `pyworkerd serve <bad config>` exits 1 with workerd's message on stderr, and
--help / --version print to stdout and exit 0. The binary comes from $PYWORKERD_BIN."""

import os
import subprocess
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
