"""A third-party provider, installed only through its entry point: nhiwarden's code does not know it.

It reads its "estate" from a JSON file, so CLI tests can drive every exit code without a server.
A scope with "fail" raises ScopeError; a scope with "missing" is partial.
"""

from __future__ import annotations

import json
from pathlib import Path

from nhiwarden.errors import ScopeError
from nhiwarden.model import Identity, Scope, ScopeResult
from nhiwarden.providers import CallLog, Provider, ProviderSettings
from pydantic import Field


class ExampleSettings(ProviderSettings):
    estate: str = Field(description="Path of the JSON estate to read.")


class ExampleProvider(Provider):
    name = "example"
    title = "Example plugin"
    Settings = ExampleSettings

    def _estate(self) -> dict:
        assert isinstance(self.settings, ExampleSettings)
        return json.loads(Path(self.settings.estate).read_text())

    def scopes(self) -> list[Scope]:
        return [Scope(provider=self.name, id=s["id"]) for s in self._estate()["scopes"]]

    def discover(self, scope: Scope, result: ScopeResult) -> None:
        calls = CallLog(result)
        data = next(s for s in self._estate()["scopes"] if s["id"] == scope.id)
        calls("ListIdentities")
        if data.get("fail"):
            raise ScopeError(data["fail"], kind="permission")
        for signal in data.get("missing", []):
            result.mark_partial(signal)
        result.identities.extend(Identity.model_validate(i) for i in data.get("identities", []))
