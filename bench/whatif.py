"""EXPERIMENT, not the shipped code: ``nhiwarden`` with three proposed changes applied, to
measure what they would buy. ``python -m bench.whatif scan ...`` takes the same arguments as
``nhiwarden``; ``bench.run --whatif`` uses it. The results table labels these runs "what-if".

1. Analyse each policy document once, not once per identity it is attached to: the analysis of one
   (policy, via) pair does not depend on the identity. ``ReadOnlyAccess`` alone has thousands of
   action patterns, and matching them for every attached identity dominated the scan's CPU.
2. One botocore data loader for every boto3 Session: the provider makes one Session per account
   (AssumeRole), and each Session otherwise parses and keeps its own copy of the IAM and STS service
   models (about 11 MB and 0.1 s of CPU per account).
3. Resolve flagged keys' ids (one ``ListAccessKeys`` per flagged user) for all scopes concurrently,
   with the scan's worker count, instead of one scope after another (``core/scanner.py``): at 10,000
   identities that is 4,236 sequential round trips otherwise.
Never imported by nhiwarden itself.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any


def _memoize_policy_analysis() -> None:
    from nhiwarden.providers.aws import privilege

    original = privilege.analyse_policy
    cache: dict[tuple[Any, ...], Any] = {}
    lock = threading.Lock()

    def analyse_policy(policy: Any) -> Any:
        document = policy.arn or json.dumps(policy.document, sort_keys=True)
        key = (policy.kind, policy.name, policy.via, document)
        with lock:
            hit = cache.get(key)
        if hit is None:
            hit = original(policy)
            with lock:
                cache[key] = hit
        grant, found = hit
        # Grants are mutated later (deny notes): hand out copies; the allowed-action summary is read-only.
        return (grant.model_copy(deep=True) if grant is not None else None), found

    privilege.analyse_policy = analyse_policy


def _share_botocore_loader() -> None:
    import boto3
    import botocore.session

    shared = botocore.session.get_session().get_component("data_loader")
    original_init = boto3.Session.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._session.register_component("data_loader", shared)

    setattr(boto3.Session, "__init__", init)  # noqa: B010 - replaced on purpose, see the docstring


def _resolve_concurrently(workers: int = 8) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from nhiwarden import scanner

    def resolve_provisional(providers: Any, scopes: Any, results: Any, findings: Any) -> bool:
        flagged = {f.credential.uid for f in findings if f.credential is not None}
        listing_ids = {f.identity.uid for f in findings if f.rule_id in scanner._LISTS_CREDENTIALS}
        by_key = {(p.name, s.id): (p, s) for p, s in scopes}
        jobs = []
        for result in results:
            if result.status == "error":
                continue
            pending = [
                c
                for i in result.identities
                for c in i.credentials
                if c.provisional and (c.uid in flagged or i.uid in listing_ids)
            ]
            if pending:
                jobs.append((result, pending))

        def one(job: Any) -> None:
            result, pending = job
            provider, scope = by_key[(result.provider, result.scope)]
            try:
                provider.resolve(scope, result, pending)
            except Exception as exc:
                result.mark_partial(f"credential ids: could not resolve ({scanner._reason(exc)})")
            result.credential_count = sum(len(i.credentials) for i in result.identities)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, jobs))
        return bool(jobs)

    scanner._resolve_provisional = resolve_provisional


def main() -> int:
    _memoize_policy_analysis()
    _share_botocore_loader()
    _resolve_concurrently()
    from nhiwarden.cli.app import main as cli

    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
