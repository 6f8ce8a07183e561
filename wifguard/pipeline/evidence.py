"""Evidence that outlives the identity: evaluating a credential as the event carries it.

Events are hints and the pipeline re-reads the identity live. When that read finds nothing (the
app registration was deleted, the event's target id is redacted, or the credential was added and
removed before the event was handled — a known way to use a backdoor and hide it), the event's
copy is the only evidence left. This module builds a :class:`TrustContext` from the payload
alone — the identity as the event names it, the credential as the event shows it, no role
assignments and no owners (no privilege facts are claimed) — and marks the findings made from it
``evidence: event``. They are recorded like change findings: a later live evaluation never
resolves them.

It also keeps the audit trail of credential additions and removals (per identity and credential
name) that WIF703 reads: an added credential removed within N minutes.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from wifguard.domain.model import (
    Change,
    ChangeKind,
    Credential,
    Finding,
    Identity,
    IdentityKind,
    TrustContext,
)

log = logging.getLogger(__name__)

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: Change kinds whose payload carries a credential that grants access.
_GRANTING = frozenset({ChangeKind.CREDENTIAL_ADDED, ChangeKind.CREDENTIAL_CHANGED, ChangeKind.CREDENTIAL_WRITTEN})
EVIDENCE_EVENT = "event"
#: Key of the WIF703 fact in a change's evidence (minutes between addition and removal).
LIFETIME_KEY = "credentialLifetimeMinutes"


def is_object_id(value: str | None) -> bool:
    """Graph object ids are GUIDs; anything else (a redacted ``[REMOVED]``) cannot be read."""
    return bool(value) and bool(_GUID_RE.match(value or ""))


def evidence_credentials(changes: Iterable[Change], live: TrustContext | None) -> list[tuple[Change, Credential]]:
    """Credentials an event added or changed that the live read does not show (any more)."""
    live_names = {c.name.lower() for c in live.credentials} if live is not None else set()
    out: list[tuple[Change, Credential]] = []
    seen: set[tuple[str, str]] = set()
    for ch in changes:
        cred = ch.new_credential
        if ch.kind not in _GRANTING or cred is None:
            continue
        key = (ch.event_id, cred.name.lower())  # once per record: a batch's records may come together
        if key[1] in live_names or key in seen:
            continue
        seen.add(key)
        out.append((ch, cred))
    return out


def evidence_context(change: Change, credentials: Sequence[Credential], live: TrustContext | None) -> TrustContext:
    """The identity and credentials as the event shows them: no roles, owners unknown."""
    if live is not None:
        ident = live.identity
    else:
        ident_id = change.identity_id or f"event:{change.event_id}"
        kind = change.identity_kind or IdentityKind.APPLICATION
        target_type = str(change.evidence.get("targetType") or "")
        subtype = "agentIdentityBlueprint" if target_type.lower() == "agentidentityblueprint" else None
        ident = Identity(ident_id, change.identity_name or ident_id, kind, subtype=subtype)
    return TrustContext(ident, tuple(credentials), (), None, {}, change.tenant_id)


def mark(findings: Iterable[Finding], change: Change, why: str) -> list[Finding]:
    """Findings made from the event's copy, marked so (``evidence: event``) with where it came from."""
    detail: dict[str, Any] = {"basis": EVIDENCE_EVENT, "why": why, "source": change.source,
                              "event_id": change.event_id}
    if change.time:
        detail["time"] = change.time
    for key in ("activity", "correlationId", "targetType"):
        if key in change.evidence:
            detail[key] = change.evidence[key]
    return [dataclasses.replace(f, evidence=detail) for f in findings]


def is_event_evidence(stored_evidence: Any) -> bool:
    """True for a stored finding that was made from an event's copy (never resolved by a live read)."""
    return isinstance(stored_evidence, Mapping) and stored_evidence.get("basis") == EVIDENCE_EVENT


# -- the add/remove trail (WIF703) ------------------------------------------------------------------

def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # Audit times carry 7 fractional digits; fromisoformat takes at most 6.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def trail_event(change: Change) -> tuple[str, str, datetime] | None:
    """(``added``|``removed``, credential name, time) when a change belongs in the trail."""
    if change.kind in (ChangeKind.CREDENTIAL_ADDED, ChangeKind.CREDENTIAL_REMOVED):
        cred = change.new_credential or change.old_credential
        when = _parse_time(change.time)
        if cred is not None and when is not None and change.identity_id:
            return ("added" if change.kind is ChangeKind.CREDENTIAL_ADDED else "removed", cred.name, when)
    return None


def lifetime_minutes(added: datetime | None, removed: datetime | None) -> float | None:
    if added is None or removed is None or removed < added:
        return None
    return (removed - added).total_seconds() / 60.0


def with_lifetime(change: Change, minutes: float | None) -> Change:
    if minutes is None:
        return change
    return dataclasses.replace(change, evidence={**change.evidence, LIFETIME_KEY: round(minutes, 2)})
