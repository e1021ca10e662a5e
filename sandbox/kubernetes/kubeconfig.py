"""Write a kubeconfig that points contexts at fake apiservers (or at a closed port, to test outages).

Owns only the file format. The tokens written are the fake servers' own bearer tokens; the file is
created with mode 0600 like ``kubectl`` does.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class KubeContext:
    name: str
    server: str
    token: str
    cluster: str | None = None
    namespace: str = "default"
    ca_pem: bytes | None = None  # the server's CA, for HTTPS servers


def _cluster(c: KubeContext) -> dict[str, str]:
    entry = {"server": c.server}
    if c.ca_pem:
        entry["certificate-authority-data"] = base64.b64encode(c.ca_pem).decode()
    return entry


def write_kubeconfig(path: Path, contexts: list[KubeContext], current: str | None = None) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": current or (contexts[0].name if contexts else ""),
        "clusters": [{"name": c.cluster or c.name, "cluster": _cluster(c)} for c in contexts],
        "users": [{"name": f"{c.name}-scanner", "user": {"token": c.token}} for c in contexts],
        "contexts": [
            {
                "name": c.name,
                "context": {"cluster": c.cluster or c.name, "user": f"{c.name}-scanner", "namespace": c.namespace},
            }
            for c in contexts
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False)
    return path
