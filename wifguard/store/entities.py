"""Values the findings store reads and writes. Pure Python: importing this module loads no SDK."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from wifguard.domain.model import Credential, Finding, Identity, IdentityKind, Severity


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """A timezone-aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat().replace("+00:00", "Z") if value is not None else None


class FindingStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    EXEMPTED = "exempted"
    QUARANTINED = "quarantined"

    @classmethod
    def parse(cls, value: str | FindingStatus) -> FindingStatus:
        if isinstance(value, FindingStatus):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown status {value!r} (expected one of: {names})") from None


#: statuses of a finding that is still there (not resolved)
ACTIVE_STATUSES = frozenset({FindingStatus.OPEN, FindingStatus.QUARANTINED, FindingStatus.EXEMPTED})


@dataclass(frozen=True, slots=True)
class EvaluationScope:
    """What one evaluation looked at, so that ``record`` knows which absent findings are gone.

    A stored finding of the identity that is *not* produced again is resolved only when the scope
    covers it:

    * ``rule_ids``: only these rules ran (``None``: all rules);
    * ``credential_names`` / ``role_assignment_ids``: only findings about these objects were
      evaluated (both ``None``: every object of the identity). A finding about both a credential
      and a role assignment is covered when either matches;
    * ``identity_level``: with an object restriction, whether findings about neither a
      credential nor a role assignment (e.g. "no owner") were evaluated too;
    * ``resolve=False``: resolve nothing (e.g. a partial evaluation from an event payload).
    """

    rule_ids: frozenset[str] | None = None
    credential_names: frozenset[str] | None = None
    role_assignment_ids: frozenset[str] | None = None
    identity_level: bool = True
    resolve: bool = True

    @classmethod
    def whole_identity(cls, rule_ids: Iterable[str] | None = None) -> EvaluationScope:
        return cls(rule_ids=_upper_set(rule_ids))

    @classmethod
    def credentials(cls, *names: str, rule_ids: Iterable[str] | None = None) -> EvaluationScope:
        return cls(rule_ids=_upper_set(rule_ids), credential_names=frozenset(names),
                   role_assignment_ids=frozenset(), identity_level=False)

    @classmethod
    def role_assignments(cls, *ids: str, rule_ids: Iterable[str] | None = None) -> EvaluationScope:
        return cls(rule_ids=_upper_set(rule_ids), credential_names=frozenset(),
                   role_assignment_ids=frozenset(i.lower() for i in ids), identity_level=False)

    @classmethod
    def nothing(cls) -> EvaluationScope:
        return cls(resolve=False)

    def covers(self, rule_id: str, credential_name: str | None, role_assignment_id: str | None) -> bool:
        if not self.resolve:
            return False
        if self.rule_ids is not None and rule_id.upper() not in {r.upper() for r in self.rule_ids}:
            return False
        if self.credential_names is None and self.role_assignment_ids is None:
            return True
        if credential_name is None and role_assignment_id is None:
            return self.identity_level
        if credential_name is not None and credential_name in (self.credential_names or ()):
            return True
        ra_ids = {r.lower() for r in (self.role_assignment_ids or ())}
        return role_assignment_id is not None and role_assignment_id.lower() in ra_ids


def _upper_set(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(v.upper() for v in values)


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """One row of the findings table."""

    fingerprint: str
    status: FindingStatus
    rule_id: str
    severity: Severity
    title: str
    message: str
    identity_id: str
    identity_name: str
    identity_kind: str
    remediation: str
    action: str
    first_seen: datetime
    last_seen: datetime
    occurrences: int
    category: str = ""
    credential_name: str | None = None
    credential_issuer: str | None = None
    credential_subject: str | None = None
    role_assignment_id: str | None = None
    role_assignment_role: str | None = None
    role_assignment_scope: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    evidence_truncated: bool = False
    resolved_at: datetime | None = None
    notified_at: datetime | None = None
    notify_pending: bool = False
    notify_attempts: int = 0
    last_notify_error: str | None = None
    status_changed_at: datetime | None = None
    status_by: str | None = None
    status_note: str | None = None
    partition_key: str = ""
    etag: str | None = None

    @property
    def identity(self) -> dict[str, str]:
        return {"id": self.identity_id, "name": self.identity_name, "kind": self.identity_kind}

    @property
    def credential(self) -> dict[str, str | None] | None:
        if self.credential_name is None:
            return None
        return {
            "name": self.credential_name,
            "issuer": self.credential_issuer,
            "subject": self.credential_subject,
        }

    @property
    def role_assignment(self) -> dict[str, str] | None:
        if self.role_assignment_id is None:
            return None
        return {
            "id": self.role_assignment_id,
            "role": self.role_assignment_role or "",
            "scope": self.role_assignment_scope or "",
        }

    def to_finding(self) -> Finding:
        """The finding as the engine produced it (for notifiers working from the store)."""
        return Finding(
            rule_id=self.rule_id,
            severity=self.severity,
            title=self.title,
            message=self.message,
            identity=self.identity,
            remediation=self.remediation,
            fingerprint=self.fingerprint,
            credential=self.credential,
            role_assignment=self.role_assignment,
            action=self.action,
            category=self.category,
            evidence=dict(self.evidence),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the catalogue's finding fields plus the store's bookkeeping."""
        return {
            "fingerprint": self.fingerprint,
            "status": self.status.value,
            "rule_id": self.rule_id,
            "severity": self.severity.label,
            "title": self.title,
            "message": self.message,
            "identity": self.identity,
            "credential": self.credential,
            "role_assignment": self.role_assignment,
            "remediation": self.remediation,
            "action": self.action,
            "category": self.category,
            "evidence": dict(self.evidence),
            "evidence_truncated": self.evidence_truncated,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "resolved_at": _iso(self.resolved_at),
            "occurrences": self.occurrences,
            "notified_at": _iso(self.notified_at),
            "notify_pending": self.notify_pending,
            "notify_attempts": self.notify_attempts,
            "last_notify_error": self.last_notify_error,
            "status_changed_at": _iso(self.status_changed_at),
            "status_by": self.status_by,
            "status_note": self.status_note,
        }


@dataclass(slots=True)
class RecordResult:
    """What one ``record`` call changed. ``reopened`` findings count as new for notification."""

    new: list[FindingRecord] = field(default_factory=list)
    updated: list[FindingRecord] = field(default_factory=list)
    reopened: list[FindingRecord] = field(default_factory=list)
    resolved: list[FindingRecord] = field(default_factory=list)
    exempted: list[FindingRecord] = field(default_factory=list)

    @property
    def to_notify(self) -> list[FindingRecord]:
        return [*self.new, *self.reopened]

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "updated": len(self.updated),
            "reopened": len(self.reopened),
            "resolved": len(self.resolved),
            "exempted": len(self.exempted),
        }


class BackupState(StrEnum):
    BACKED_UP = "backed_up"
    REMOVED = "removed"
    VERIFIED = "verified"
    RESTORING = "restoring"  # a restore claimed it (ETag); back to verified if the restore fails
    RESTORED = "restored"
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True, slots=True)
class QuarantineBackup:
    """A credential exactly as read live, stored before quarantine removes it.

    ``credential_json`` is the JSON text of the raw object; the store keeps it byte for byte.
    For applications ``identity_object_id`` is the Graph object id; for user-assigned managed
    identities ``identity_resource_id`` is the ARM resource id.
    """

    id: str
    fingerprint: str
    rule_id: str
    identity_kind: str
    identity_id: str
    identity_name: str
    credential_name: str
    credential_json: str
    created_at: datetime
    actor: str
    state: BackupState = BackupState.BACKED_UP
    identity_object_id: str | None = None
    identity_resource_id: str | None = None
    credential_shape: str = "graph"  # graph | arm | audit
    updated_at: datetime | None = None
    detail: str | None = None
    etag: str | None = None

    @property
    def credential(self) -> dict[str, Any]:
        value = json.loads(self.credential_json)
        if not isinstance(value, dict):
            raise ValueError("backup credential_json is not a JSON object")
        return value

    @staticmethod
    def new_id(now: datetime | None = None) -> str:
        ts = as_utc(now or utcnow())
        return f"qb-{ts:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}"

    @classmethod
    def from_live(
        cls,
        identity: Identity,
        credential: Credential,
        finding: Finding,
        *,
        actor: str,
        credential_json: str | None = None,
        now: datetime | None = None,
    ) -> QuarantineBackup:
        """Build a backup from live objects; pass ``credential_json`` when the raw body text is known."""
        created = as_utc(now or utcnow())
        text = credential_json if credential_json is not None else json.dumps(
            dict(credential.raw), ensure_ascii=False, separators=(",", ":")
        )
        is_app = identity.kind is IdentityKind.APPLICATION
        return cls(
            id=cls.new_id(created),
            fingerprint=finding.fingerprint,
            rule_id=finding.rule_id,
            identity_kind=identity.kind.value,
            identity_id=identity.id,
            identity_name=identity.name,
            credential_name=credential.name,
            credential_json=text,
            created_at=created,
            actor=actor,
            identity_object_id=identity.id if is_app else None,
            identity_resource_id=None if is_app else identity.id,
            credential_shape=credential.shape,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "state": self.state.value,
            "identity": {
                "kind": self.identity_kind,
                "id": self.identity_id,
                "name": self.identity_name,
                "object_id": self.identity_object_id,
                "resource_id": self.identity_resource_id,
            },
            "credential_name": self.credential_name,
            "credential_shape": self.credential_shape,
            "credential": self.credential,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "actor": self.actor,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class RejectedPayload:
    """A payload that could not be processed, with its reason and its raw body.

    ``raw`` is ``None`` when the body lives in a blob and was not loaded
    (``Store.read_rejected_body`` loads it).
    """

    id: str
    source: str
    reason: str
    received_at: datetime
    size: int
    sha256: str
    kind: str  # bytes | str
    event_id: str | None = None
    raw: bytes | str | None = None
    blob_container: str | None = None
    blob_name: str | None = None
    # re-drive bookkeeping (see wifguard.pipeline.redrive): how often it was tried, whether retrying
    # can help (an outage) or not (malformed), and whether it is still waiting
    attempts: int = 1
    transient: bool = False
    state: str = "parked"  # parked | done | discarded
    last_attempt_at: datetime | None = None
    note: str | None = None

    @property
    def in_blob(self) -> bool:
        return self.blob_name is not None

    def to_dict(self) -> dict[str, Any]:
        body = self.raw.decode("utf-8", "replace") if isinstance(self.raw, bytes) else self.raw
        return {
            "id": self.id,
            "source": self.source,
            "reason": self.reason,
            "event_id": self.event_id,
            "received_at": _iso(self.received_at),
            "size": self.size,
            "sha256": self.sha256,
            "kind": self.kind,
            "blob": f"{self.blob_container}/{self.blob_name}" if self.blob_name else None,
            "attempts": self.attempts,
            "transient": self.transient,
            "state": self.state,
            "last_attempt_at": _iso(self.last_attempt_at),
            "note": self.note,
            "body": body,
        }


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One entry of the append-only action log."""

    id: str
    time: datetime
    kind: str
    target: str
    detail: Mapping[str, Any]
    actor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": _iso(self.time),
            "kind": self.kind,
            "target": self.target,
            "detail": dict(self.detail),
            "actor": self.actor,
        }
