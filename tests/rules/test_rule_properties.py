"""Property tests: the generic rules never crash on partial data and are deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nhiwarden.config import Config
from nhiwarden.model import Credential, Grant, Identity, Privilege
from nhiwarden.rules.engine import evaluate

from tests.rules.rules_builders import AS_OF, inventory

_KINDS = ["aws-access-key", "password", "gcp-sa-key", "azure-client-secret", "vault-token", "k8s-legacy-token"]
_ID_KINDS = ["aws-iam-user", "aws-iam-role", "azure-application", "gcp-service-account", "k8s-service-account"]

dates = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]),
    ),
)
sources = st.one_of(st.none(), st.sampled_from(["credential-report", "audit-log", "RoleLastUsed"]))


@st.composite
def credentials(draw: st.DrawFn, owner: str, index: int) -> Credential:
    kind = draw(st.sampled_from(_KINDS))
    return Credential(
        uid=f"{owner}:{kind}/{index}",
        kind=kind,
        id=f"id{index}",
        created_at=draw(dates),
        expires_at=draw(dates),
        last_used_at=draw(dates),
        last_used_source=draw(sources),
        last_used_tracking_since=draw(dates),
        enabled=draw(st.booleans()),
        static=draw(st.booleans()),
        interactive=draw(st.booleans()),
    )


grants = st.builds(
    Grant,
    privilege=st.sampled_from(list(Privilege)),
    source=st.sampled_from(["AdministratorAccess", "esc", "ro"]),
    source_kind=st.just("managed-policy"),
    via=st.one_of(st.none(), st.just("group/admins")),
    reason=st.just("because"),
    permissions=st.lists(st.sampled_from(["iam:*", "s3:GetObject"]), max_size=2),
    controls=st.lists(st.sampled_from(["CIS-K8S-5.1.2", "CIS-AWS-1.16"]), max_size=2),
)


@st.composite
def identities(draw: st.DrawFn, index: int) -> Identity:
    provider = draw(st.sampled_from(["aws", "gcp", "azure", "kubernetes", "vault"]))
    uid = f"{provider}:scope:id/{index}"
    n = draw(st.integers(min_value=0, max_value=4))
    return Identity(
        uid=uid,
        provider=provider,
        kind=draw(st.sampled_from(_ID_KINDS)),
        scope="scope",
        name=f"name{index}",
        created_at=draw(dates),
        last_used_at=draw(dates),
        last_used_source=draw(sources),
        last_used_tracking_since=draw(dates),
        enabled=draw(st.booleans()),
        system=draw(st.booleans()),
        owner=draw(st.one_of(st.none(), st.just(""), st.just("team-a"))),
        grants=draw(st.lists(grants, max_size=3)),
        credentials=[draw(credentials(uid, i)) for i in range(n)],
        attributes=draw(st.sampled_from([{}, {"non_human": True}, {"non_human": "yes"}])),
    )


@st.composite
def estates(draw: st.DrawFn) -> list[Identity]:
    n = draw(st.integers(min_value=0, max_value=4))
    return [draw(identities(i)) for i in range(n)]


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(estate=estates(), include_system=st.booleans(), shift=st.integers(min_value=-4000, max_value=4000))
def test_rules_never_crash_on_partial_data_and_are_deterministic(
    estate: list[Identity], include_system: bool, shift: int
) -> None:
    as_of = AS_OF + timedelta(days=shift)
    config = Config(include_system=include_system)
    first = evaluate(inventory(*estate), as_of=as_of, config=config)
    second = evaluate(inventory(*[i.model_copy(deep=True) for i in estate]), as_of=as_of, config=config)
    assert first == second
    for finding in first:
        assert finding.controls
        assert finding.message
        assert finding.id.startswith("nhw-")
    assert len({f.id for f in first}) == len(first)


@settings(max_examples=100, deadline=None, database=None)
@given(estate=estates())
def test_unknown_usage_never_gives_a_usage_verdict(estate: list[Identity]) -> None:
    for ident in estate:
        ident.last_used_source = None
        for cred in ident.credentials:
            cred.last_used_source = None
    findings = evaluate(inventory(*estate), as_of=AS_OF, config=Config(include_system=True))
    assert not [f for f in findings if f.rule_id in {"unused-credential", "dormant-identity"}]


@settings(max_examples=100, deadline=None, database=None)
@given(estate=estates())
def test_disabled_credentials_only_appear_as_expired(estate: list[Identity]) -> None:
    findings = evaluate(inventory(*estate), as_of=AS_OF, config=Config(include_system=True))
    disabled = {c.uid for i in estate for c in i.credentials if not c.enabled}
    for finding in findings:
        if finding.credential and finding.credential.uid in disabled:
            assert finding.rule_id == "credential-expired"


@settings(max_examples=100, deadline=None, database=None)
@given(estate=estates(), shift=st.integers(min_value=-2000, max_value=2000))
def test_a_dormant_identity_never_also_gets_unused_credential_findings(estate: list[Identity], shift: int) -> None:
    findings = evaluate(inventory(*estate), as_of=AS_OF + timedelta(days=shift), config=Config())
    dormant = {f.identity.uid for f in findings if f.rule_id == "dormant-identity"}
    unused = {f.identity.uid for f in findings if f.rule_id == "unused-credential"}
    assert not dormant & unused


@settings(max_examples=100, deadline=None, database=None)
@given(estate=estates())
def test_expired_credentials_get_only_the_expired_finding(estate: list[Identity]) -> None:
    findings = evaluate(inventory(*estate), as_of=AS_OF, config=Config(include_system=True))
    expired = {c.uid for i in estate for c in i.credentials if c.expires_at is not None and c.expires_at <= AS_OF}
    for finding in findings:
        if finding.credential and finding.credential.uid in expired:
            assert finding.rule_id == "credential-expired"
