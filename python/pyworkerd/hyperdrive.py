# The Hyperdrive binding (template and isolate processes): workerd's
# `hyperdrive = (designator, database, user, password, scheme)` as the object a Worker reads
# its database's connection details from — env.DB.connectionString, host, port, user,
# password, database — as on Cloudflare. The designator's external service is where the
# host's sockets connect (host/binding_socket.c lets the worker reach that address whatever
# its globalOutbound rules say: the config named it). Layer 2.
"""env.DB for a hyperdrive binding: connection details of a database."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

__all__ = ["Hyperdrive"]


class Hyperdrive:
    """Cloudflare's Hyperdrive binding: where and as whom to connect to a database."""

    __slots__ = ("host", "port", "user", "password", "database", "scheme")

    def __init__(self, value: str) -> None:
        fields: dict[str, Any] = json.loads(value)
        self.host: str = fields["host"]
        self.port: int = int(fields["port"])
        self.user: str = fields.get("user", "")
        self.password: str = fields.get("password", "")
        self.database: str = fields.get("database", "")
        self.scheme: str = fields.get("scheme") or "postgresql"

    @property
    def connectionString(self) -> str:  # noqa: N802 (Cloudflare's name)
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{auth}@{host}:{self.port}/{quote(self.database, safe='')}"

    connection_string = connectionString

    def __repr__(self) -> str:
        return f"<Hyperdrive {self.scheme}://{self.host}:{self.port}/{self.database}>"
