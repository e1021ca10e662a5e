"""The shipped read-only scanner policy, optionally extended to child namespaces.

A policy in the root namespace reaches a child namespace only through paths prefixed with that
namespace (``team-a/auth/token/accessors``). ``scanner_policy(namespace_depth=2)`` repeats every path
with ``+/`` and ``+/+/`` in front, so one root-namespace token can scan two levels of namespaces:

    python -m nhiwarden.providers.vault.scanner_policy --namespace-depth 2 > nhiwarden-scanner.hcl

Pure text rendering; never talks to Vault.
"""

from __future__ import annotations

import argparse
import re
from importlib import resources

_PATH = re.compile(r'^path "([^"]+)" \{(.*?)^\}', re.S | re.M)


def base_policy() -> str:
    policy = resources.files("nhiwarden.providers.vault") / "policy" / "nhiwarden-scanner.hcl"
    return policy.read_text(encoding="utf-8")


def scanner_policy(namespace_depth: int = 0) -> str:
    """The scanner policy, plus copies of each path for namespaces up to ``namespace_depth`` deep."""
    text = base_policy()
    if namespace_depth <= 0:
        return text
    stanzas = _PATH.findall(text)
    parts = [text.rstrip("\n"), "", f"# Child namespaces, up to {namespace_depth} level(s) deep."]
    for depth in range(1, namespace_depth + 1):
        prefix = "+/" * depth
        parts.extend(f'path "{prefix}{path}" {{{body}}}' for path, body in stanzas)
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="Print the nhiwarden read-only Vault/OpenBao scanner policy.")
    parser.add_argument("--namespace-depth", type=int, default=0, help="child-namespace levels to cover")
    args = parser.parse_args()
    print(scanner_policy(args.namespace_depth), end="")


if __name__ == "__main__":
    main()
