"""The notify step: tell an identity's owner, through a webhook, what will happen and when.

Two payload shapes: generic JSON (the finding, the owner, the next stage and its date) and a
Slack-compatible ``{"text": ..., "blocks": [...]}``. A webhook URL is itself often a secret (Slack
hook URLs are), so a plan may name it as ``env:VARIABLE`` and the URL is read only at apply time; the
URL is registered with ``nhiwarden.redact`` either way and never appears in errors or the journal.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from nhiwarden.redact import redact, register_secret

from .actions import Action, Context, StepError, action


def resolve_url(ctx: Context, spec: str) -> str:
    if spec.startswith("env:"):
        url = ctx.env.get(spec[4:], "")
        if not url:
            raise StepError(f"webhook: environment variable {spec[4:]} is not set")
    else:
        url = spec
    register_secret(url)
    return url


def payload(params: dict[str, Any], next_date: str) -> dict[str, Any]:
    finding = params["finding"]
    owner = params.get("owner") or "unknown owner"
    summary = (
        f"nhiwarden: {finding['identity_name']} ({finding['identity_uid']}) — {finding['rule_id']}: "
        f"{finding.get('message', '')}. Next stage: {params['next_stage']} not before {next_date}. Owner: {owner}."
    )
    if params.get("format") == "slack":
        return {
            "text": summary,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*nhiwarden* — `{finding['rule_id']}`"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
            ],
        }
    return {
        "source": "nhiwarden",
        "event": "offboarding-notice",
        "plan_id": params.get("plan_id"),
        "finding": finding,
        "owner": params.get("owner"),
        "next_stage": params["next_stage"],
        "next_stage_date": next_date,
        "text": summary,
    }


@action
class Webhook(Action):
    name = "notify.webhook"

    def run(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        url = resolve_url(ctx, params["url"])
        next_date = (ctx.now + timedelta(days=float(params["next_stage_in_days"]))).date().isoformat()
        body = payload(params, next_date)
        try:
            resp = httpx.post(url, json=body, timeout=15.0)
        except httpx.HTTPError as exc:
            raise StepError(f"webhook: {redact(exc)}") from None
        if resp.status_code >= 300:
            raise StepError(f"webhook answered HTTP {resp.status_code}")
        return {"status": resp.status_code, "next_stage_date": next_date}

    def rollback(self, ctx: Context, params: dict[str, Any], outputs: dict[str, Any]) -> None:
        return None  # a message cannot be recalled; nothing else changed
