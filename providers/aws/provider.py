"""The AWS provider class: scopes (accounts), discover (bulk IAM reads), resolve (key ids), doctor.

Owns the order of calls and how failures become ScopeError / partial results. Read-only: it never
calls a mutating IAM API (GenerateCredentialReport only asks IAM to build its read-only report).
boto3 is imported lazily (inside ``session``), so importing this module stays cheap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from nhiwarden.errors import ScopeError
from nhiwarden.model import Credential, Identity, Scope, ScopeResult
from nhiwarden.providers import CallLog, DoctorCheck, Provider, ProviderSettings
from nhiwarden.providers.aws import errors
from nhiwarden.providers.aws.permissions import PERMISSIONS
from nhiwarden.providers.aws.settings import AwsSettings
from nhiwarden.redact import register_secret


class AwsProvider(Provider):
    """IAM users, access keys, console passwords and roles of one or more AWS accounts."""

    name: ClassVar[str] = "aws"
    title: ClassVar[str] = "Amazon Web Services (IAM)"
    Settings: ClassVar[type[ProviderSettings]] = AwsSettings
    permissions = PERMISSIONS

    def __init__(self, settings: Any = None, *, as_of: datetime) -> None:
        super().__init__(settings, as_of=as_of)
        # Injectable: tests pass a recorder so retries and report polling never really wait.
        self.sleep: Callable[[float], None] = time.sleep
        self._lock = threading.Lock()
        # The raw authorization details of an account are its largest transient: read a few at a time.
        self._reads = threading.BoundedSemaphore(self.aws_settings.parallel_reads)
        self._caller: tuple[str, str] | None = None
        self._sessions: dict[str, Any] = {}
        self._policy_cache: Any = None
        # Calls made before any scope exists (GetCallerIdentity, ListAccounts); added once to the
        # caller's own scope so every request the scan sends is counted somewhere.
        self._setup = ScopeResult(provider="aws", scope="*")
        self._setup_merged = False

    @property
    def aws_settings(self) -> AwsSettings:
        assert isinstance(self.settings, AwsSettings)
        return self.settings

    # -- scopes ---------------------------------------------------------------------------------

    def _caller_identity(self, calls: CallLog | None = None) -> tuple[str, str]:
        from nhiwarden.providers.aws.session import base_session, make_client

        with self._lock:
            if self._caller is not None:
                return self._caller
        session = base_session(self.aws_settings)
        creds = session.get_credentials()
        if creds is not None:
            frozen = creds.get_frozen_credentials()
            register_secret(frozen.secret_key)
            register_secret(frozen.token)
        sts = make_client(session, "sts", self.aws_settings, calls or CallLog(self._setup))
        try:
            ident = self._retry(lambda: sts.get_caller_identity())
        except Exception as exc:
            raise errors.scope_error(exc, "sts:GetCallerIdentity") from None
        caller = (str(ident["Account"]), str(ident["Arn"]))
        with self._lock:
            self._caller = caller
        return caller

    def scopes(self) -> list[Scope]:
        from nhiwarden.providers.aws import accounts
        from nhiwarden.providers.aws.session import base_session, make_client

        account, arn = self._caller_identity()
        listed: list[tuple[str, str | None]] = []
        if self.aws_settings.organization:
            org = make_client(base_session(self.aws_settings), "organizations", self.aws_settings, CallLog(self._setup))
            try:
                listed = self._retry(lambda: accounts.organization_accounts(org))
            except Exception as exc:
                raise errors.scope_error(exc, "organizations:ListAccounts") from None
            if self.aws_settings.accounts:
                listed = [(a, n) for a, n in listed if a in self.aws_settings.accounts]
        return accounts.make_scopes(self.aws_settings, account, arn, listed)

    # -- sessions -------------------------------------------------------------------------------

    def _retry(self, fn: Callable[[], Any]) -> Any:
        from nhiwarden.retry import RetryPolicy

        policy = RetryPolicy(attempts=self.aws_settings.max_attempts, sleep=self.sleep)
        return policy.call(fn, retryable=errors.is_retryable, retry_after=errors.retry_after)

    def _session_for(self, scope: Scope, calls: CallLog) -> Any:
        """A boto3 Session for the scope's account: the caller's own, or AssumeRole into role_name."""
        from nhiwarden.providers.aws.session import assume_role, base_session

        with self._lock:
            cached = self._sessions.get(scope.id)
        if cached is not None:
            return cached
        session = base_session(self.aws_settings)
        role_arn = scope.params.get("role_arn")
        if role_arn:
            try:
                session = assume_role(session, self.aws_settings, role_arn, calls, sleep=self.sleep)
            except Exception as exc:
                raise errors.scope_error(exc, f"sts:AssumeRole {role_arn}", scope.id) from None
        with self._lock:
            self._sessions[scope.id] = session
        return session

    def _account(self, scope: Scope, result: ScopeResult) -> Any:
        from nhiwarden.providers.aws.session import AccountSession

        calls = CallLog(result)
        session = self._session_for(scope, calls)
        return AccountSession(session, self.aws_settings, calls, account_id=scope.id, sleep=self.sleep)

    def _managed_cache(self) -> Any:
        from nhiwarden.providers.aws.authorization import ManagedPolicyCache

        with self._lock:
            if self._policy_cache is None:
                self._policy_cache = ManagedPolicyCache()
            return self._policy_cache

    # -- discover -------------------------------------------------------------------------------

    def discover(self, scope: Scope, result: ScopeResult) -> None:
        """Credential report + authorization details (+ AWS-managed policies) -> identities of one account."""
        from nhiwarden.providers.aws import authorization, identities

        account = scope.id
        self._merge_setup_calls(scope, result)
        aws = self._account(scope, result)
        state = self._start_report(aws, result)  # IAM builds it while the account is read
        with self._reads:
            try:
                details = authorization.fetch(aws, self.aws_settings.page_size)
            except Exception as exc:
                raise errors.scope_error(exc, "iam:GetAccountAuthorizationDetails", account) from None
            managed = self._managed_policies(aws, details, result)
            report = self._finish_report(aws, state, result)
            owner_tags = self.aws_settings.owner_tags
            found: list[Identity] = [
                identities.build_user(account, u, details, managed, report, owner_tags) for u in details.users
            ]
            found += [
                identities.build_role(account, r, details, managed, self.as_of, owner_tags) for r in details.roles
            ]
        result.identities = found
        result.identity_count = len(found)
        result.credential_count = sum(len(i.credentials) for i in found)
        result.attributes["account_id"] = account
        result.attributes["authorization_details_pages"] = details.pages
        if aws.retries:
            result.attributes["retries"] = aws.retries
        if report is not None:
            self._record_report(report, details, result)

    _NO_REPORT = "access keys and console passwords are not listed"

    def _start_report(self, aws: Any, result: ScopeResult) -> str | None:
        from nhiwarden.providers.aws import credential_report

        try:
            return credential_report.start(aws)
        except Exception as exc:
            if not errors.is_denied(exc):
                raise errors.scope_error(exc, "iam:GenerateCredentialReport", aws.account_id) from None
            result.mark_partial(f"credential-report: {errors.describe(exc)}; {self._NO_REPORT}")
            return None

    def _finish_report(self, aws: Any, state: str | None, result: ScopeResult) -> Any:
        from nhiwarden.providers.aws import credential_report

        if state is None:
            return None
        try:
            return credential_report.fetch(aws, state, self.sleep)
        except credential_report.ReportNotReady as exc:
            result.mark_partial(f"credential-report: {exc}; {self._NO_REPORT}")
        except Exception as exc:
            if not errors.is_denied(exc):
                raise errors.scope_error(exc, "iam:GetCredentialReport", aws.account_id) from None
            result.mark_partial(f"credential-report: {errors.describe(exc)}; {self._NO_REPORT}")
        return None

    @staticmethod
    def _record_report(report: Any, details: Any, result: ScopeResult) -> None:
        """GeneratedTime as scope evidence; users newer than the report have unknown usage."""
        generated = report.generated_at.isoformat() if report.generated_at else None
        result.attributes["credential_report_generated_at"] = generated
        result.attributes["credential_report_note"] = (
            "IAM reuses a credential report for up to 4 hours: changes after generated_at are not seen"
        )
        missing = sorted(u["UserName"] for u in details.users if u["UserName"] not in report.rows)
        if missing:
            shown = ", ".join(missing[:5]) + ("..." if len(missing) > 5 else "")
            result.mark_partial(
                f"credential-report: {len(missing)} user(s) created after the report was generated ({shown}): "
                "usage unknown"
            )

    def _merge_setup_calls(self, scope: Scope, result: ScopeResult) -> None:
        with self._lock:
            caller = self._caller[0] if self._caller else None
            if self._setup_merged or scope.id != caller:
                return
            self._setup_merged = True
            setup = dict(self._setup.api_calls)
        for action, n in setup.items():  # already sent (and rate-limited): only add them to the counts
            result.api_calls[action] = result.api_calls.get(action, 0) + n

    def _managed_policies(self, aws: Any, details: Any, result: ScopeResult) -> dict[str, Any]:
        from nhiwarden.providers.aws.authorization import is_aws_managed

        cache = self._managed_cache()
        docs: dict[str, Any] = {}
        for arn in sorted(details.attached_arns()):
            if not is_aws_managed(arn):
                continue
            try:
                docs[arn] = cache.get(aws, arn)
            except Exception as exc:
                if errors.is_denied(exc) or errors.error_code(exc) == "NoSuchEntity":
                    result.mark_partial(f"managed-policy {arn}: {errors.describe(exc)}; judged by name only")
                    continue
                raise errors.scope_error(exc, "iam:GetPolicy", aws.account_id) from None
        return docs

    # -- resolve --------------------------------------------------------------------------------

    def resolve(self, scope: Scope, result: ScopeResult, credentials: list[Credential]) -> None:
        """Name flagged keys by AccessKeyId: one ListAccessKeys per user, per-key data when ambiguous."""
        from nhiwarden.providers.aws import identities, keys

        wanted = {c.uid for c in credentials if c.provisional and c.kind == "aws-access-key"}
        if not wanted:
            return
        users = [
            i for i in result.identities if i.kind == "aws-iam-user" and any(c.uid in wanted for c in i.credentials)
        ]
        if not users:
            return
        aws = self._account(scope, result)
        for identity in users:
            provisional = [c for c in identity.credentials if c.provisional and c.kind == "aws-access-key"]
            try:
                precise = keys.resolve_user(aws, scope.id, identity.name, provisional)
            except Exception as exc:
                result.mark_partial(
                    f"access-key-ids: {identity.name}: {errors.describe(exc)}; keys still named by report slot"
                )
                continue
            kept = [c for c in identity.credentials if not (c.provisional and c.kind == "aws-access-key")]
            identity.credentials = kept + precise
            identities.summarize_usage(identity)
        result.credential_count = sum(len(i.credentials) for i in result.identities)

    # -- doctor ---------------------------------------------------------------------------------

    def doctor(self, scope: Scope) -> list[DoctorCheck]:
        from nhiwarden.providers.aws.doctor import run_checks

        result = ScopeResult(provider=self.name, scope=scope.id)
        try:
            self._caller_identity()
            aws = self._account(scope, result)
        except ScopeError as exc:
            role_arn = scope.params.get("role_arn")
            if role_arn and "sts:AssumeRole" in exc.reason:
                detail = (
                    f"cannot assume {role_arn}: {exc.reason}. Grant sts:AssumeRole on it to the caller and make "
                    "the role's trust policy trust the caller's account"
                )
                return [DoctorCheck(scope=scope.id, check="sts:AssumeRole", ok=False, detail=detail)]
            return [DoctorCheck(scope=scope.id, check="credentials", ok=False, detail=exc.reason)]
        return run_checks(aws, scope, self.aws_settings)

    def close(self) -> None:
        with self._lock:
            self._sessions.clear()
