"""The consumer-side output of a migration: the snippet that makes the workload use federation.

Writes the generated snippet (GitHub Actions step, GitLab job, ServiceAccount annotation, Vault login)
to a file when the plan names one, and always returns the public names it points at. Snippets carry
role ARNs, provider names and role ids only, never a secret.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from . import Action, Context, action


@action
class ConsumerConfig(Action):
    name = "migrate.consumer-config"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        snippet = str(params["snippet"])
        # placeholders for names only known once earlier steps ran (e.g. a created trust anchor's ARN)
        for placeholder, value in sorted((params.get("substitute") or {}).items()):
            snippet = snippet.replace(str(placeholder), str(value))
        out: dict[str, Any] = {
            "target": params.get("target"),
            "snippet_sha256": hashlib.sha256(snippet.encode()).hexdigest(),
        }
        if params.get("substitute"):
            out["names"] = {str(k): str(v) for k, v in sorted(params["substitute"].items())}
        if params.get("path"):
            path = Path(str(params["path"]))
            out["written"] = not path.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(snippet, encoding="utf-8")
            out["path"] = str(path)
        return out

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        if outputs.get("written") and outputs.get("path"):
            Path(str(outputs["path"])).unlink(missing_ok=True)


@action
class Note(Action):
    """A plan step that changes nothing and says why (e.g. an engine the server does not have)."""

    name = "migrate.note"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        return {"note": str(params.get("note") or "")}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None
