"""`pyworkerd dev --local-protocol https`: a self-signed certificate for localhost.

Run by the wrangler translator (a child of the host process). Made once with the openssl
command-line tool (an EC P-256 key, valid 30 days, for localhost and 127.0.0.1) under the
project's .wrangler/local-cert/, and made again when it is missing or expires within a day.
"""
from __future__ import annotations

import os
import subprocess

from wr_modules import Embed


def _fresh(cert: str) -> bool:
    r = subprocess.run(["openssl", "x509", "-checkend", "86400", "-noout", "-in", cert],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def keypair(project: str) -> dict:
    """{"privateKey": Embed, "certificateChain": Embed}; raises OSError when openssl fails."""
    d = os.path.join(project, ".wrangler", "local-cert")
    key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    if not (os.path.isfile(key) and os.path.isfile(cert) and _fresh(cert)):
        os.makedirs(d, exist_ok=True)
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
                            "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=DNS:localhost,IP:127.0.0.1",
                            "-keyout", key, "-out", cert],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise OSError(f"openssl could not make a certificate: {r.stderr.strip()}")
        os.chmod(key, 0o600)
    return {"privateKey": Embed(key), "certificateChain": Embed(cert)}
