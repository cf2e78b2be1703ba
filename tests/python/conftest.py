"""Shared fixtures of the in-process SDK tests: these load workers in pytest's own process, so
what the runtime patches for an isolate is put back after each test."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from pyworkerd import host_socket  # noqa: E402


@pytest.fixture(autouse=True)
def _stdlib_sockets_back():
    """The stdlib's sockets again after a test whose worker put the host's in their place
    (else later tests in the same run, e2e ones included, could not bind a socket)."""
    yield
    host_socket.uninstall()
