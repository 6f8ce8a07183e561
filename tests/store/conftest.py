"""A real Azurite for the store tests (one per session), a fresh table prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from wifguard.azurite import Azurite, run_azurite
from wifguard.domain.model import Finding, Severity, fingerprint
from wifguard.store import Store


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with run_azurite() as inst:
        yield inst


@pytest.fixture
def prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
async def store(azurite: Azurite, prefix: str) -> AsyncIterator[Store]:
    s = Store.from_connection_string(azurite.connection_string, prefix=prefix)
    await s.ensure()
    try:
        yield s
    finally:
        await s.close()


class FindingFactory:
    """Builds engine-shaped findings with real fingerprints."""

    def __call__(
        self,
        identity_id: str,
        *,
        rule_id: str = "WIF-001",
        credential: str | None = "deploy",
        role_assignment: str | None = None,
        severity: Severity = Severity.HIGH,
        identity_name: str = "payments-app",
        kind: str = "application",
        subject: str = "repo:contoso/payments:pull_request",
        evidence: dict[str, object] | None = None,
        action: str = "notify",
    ) -> Finding:
        cred = (
            {"name": credential, "issuer": "https://token.actions.githubusercontent.com", "subject": subject}
            if credential is not None
            else None
        )
        ra = (
            {"id": role_assignment, "role": "Owner", "scope": "/subscriptions/0000"}
            if role_assignment is not None
            else None
        )
        return Finding(
            rule_id=rule_id,
            severity=severity,
            title=f"{rule_id} on {credential or role_assignment or 'identity'}",
            message=f"Credential {credential!r} trusts {subject!r}.",
            identity={"id": identity_id, "name": identity_name, "kind": kind},
            remediation="Restrict the subject to a protected environment.",
            fingerprint=fingerprint(rule_id, identity_id, cred, role_assignment),
            credential=cred,
            role_assignment=ra,
            action=action,
            category="subject",
            evidence=evidence or {"subject": subject},
        )


@pytest.fixture
def make_finding() -> FindingFactory:
    return FindingFactory()
