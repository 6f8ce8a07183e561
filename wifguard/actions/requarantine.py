"""What the quarantine ledger says about an identity's live credentials, applied before recording.

Two things the rule engine cannot know, because they live in the store:

* **Re-adds.** A live credential that is the same one (same name, or same issuer and subject)
  as one quarantine removed and verified gone has been re-created by someone. The first worker
  to see it (an ETag-guarded ``quarantined → readded`` move in the ledger) evaluates the change
  rules again with ``change.readded_after_quarantine`` set, so WIF704 fires with the actor and
  time of the event (a sweep has neither: "an unknown actor", now); the quarantined findings of
  that credential are resolved, so that recording reopens them (a new occurrence, owners told)
  and quarantine removes the credential again, within the hourly limit, with a new backup.
* **Restore exemptions.** Findings about a credential a person restored are recorded as
  exempted until the exemption expires; then they reopen and the owners are told.

Confirming a re-add takes a direct read of the credential: a context read just before another
worker removed it must not look like a re-add.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wifguard.catalogue.engine import Engine
from wifguard.domain.model import Change, ChangeKind, Credential, Finding, TrustContext
from wifguard.sources.inventory.tenant import CredentialWriter
from wifguard.store import FindingStatus, Store
from wifguard.store.entities import utcnow
from wifguard.store.quarantine_ledger import CredentialState

log = logging.getLogger(__name__)

_CREDENTIAL_KINDS = {ChangeKind.CREDENTIAL_ADDED, ChangeKind.CREDENTIAL_CHANGED, ChangeKind.CREDENTIAL_WRITTEN}
CHANGE_ONLY = frozenset({"change"})


@dataclass(frozen=True)
class Readd:
    credential: str
    backup_id: str
    actor: str
    time: str
    event_id: str
    reopened: tuple[str, ...]


@dataclass
class Review:
    findings: list[Finding]
    exempted: list[Finding] = field(default_factory=list)
    readds: list[Readd] = field(default_factory=list)


def actor_label(change: Change | None) -> str:
    a = change.actor if change else None
    if a is None:
        return "unknown actor (found by sweep)" if change is None or change.source == "sweep" else "unknown actor"
    return a.user_principal_name or a.display_name or a.app_id or a.id or "unknown actor"


def _same(c: Credential, name: str, issuer: str | None, subject: str | None) -> bool:
    return c.name.lower() == name.lower() and c.issuer == issuer and (c.subject or None) == (subject or None)


class QuarantineGuard:
    def __init__(self, store: Store, writer: CredentialWriter, engine: Engine, actor: str = "wifguard") -> None:
        self.store = store
        self.writer = writer
        self.engine = engine
        self.actor = actor

    async def review(self, ctx: TrustContext, findings: Sequence[Finding], changes: Sequence[Change] = ()
                     ) -> Review:
        """Exempted findings split off, re-adds reported (a failed ledger read raises: fail closed)."""
        out = Review(list(findings))
        if not ctx.credentials and not findings:
            return out
        rows = await self.store.ledger.states(ctx.identity.id)
        if not rows:
            return out
        now = utcnow()
        await self._exemptions(ctx, rows, out, now)
        for row in rows:
            if row.state == "quarantined":
                await self._readd(ctx, row, changes, out)
        return out

    async def _exemptions(self, ctx: TrustContext, rows: list[CredentialState], out: Review, now: Any) -> None:
        active = [r for r in rows if r.exempt(now)]
        if active:
            keep: list[Finding] = []
            for f in out.findings:
                c = f.credential
                if c is not None and any(r.covers(str(c.get("name") or ""), c.get("issuer"), c.get("subject"))
                                         for r in active):
                    out.exempted.append(f)
                else:
                    keep.append(f)
            out.findings = keep
        for r in rows:
            if not r.expired_exemption(now):
                continue
            # Reported once (ETag): from now on recording reopens its findings and owners are told.
            def end(cur: CredentialState, r: CredentialState = r) -> CredentialState | None:
                if cur.state != "exempted" or cur.expires_at != r.expires_at:
                    return None
                return dataclasses.replace(cur, state="", at=now)

            won = await self.store.ledger.update(ctx.identity.id, r.credential_name, end)
            if won is not None:
                await self.store.log_action("exemption.expired", r.credential_name, {
                    "identity": ctx.identity.to_ref(), "backup": r.backup_id, "reason": r.reason,
                    "restored_by": r.by, "expired_at": r.expires_at.isoformat() if r.expires_at else None},
                    self.actor)

    async def _readd(self, ctx: TrustContext, row: CredentialState, changes: Sequence[Change], out: Review) -> None:
        live = next((c for c in ctx.credentials if row.same_trust(c.name, c.issuer, c.subject)), None)
        if live is None:
            return
        if await self.writer.read(ctx.identity, live.name) is None:
            return  # a stale context: the credential is gone
        change = next((c for c in changes if c.kind in _CREDENTIAL_KINDS and _about(c, live)), None)
        label = actor_label(change) if change is not None else actor_label(None)
        when = (change.time if change is not None else None) or utcnow().isoformat().replace("+00:00", "Z")
        def claim(cur: CredentialState) -> CredentialState | None:
            if cur.state != "quarantined" or cur.backup_id != row.backup_id:
                return None
            return dataclasses.replace(cur, state="readded", by=label, at=utcnow())

        won = await self.store.ledger.update(ctx.identity.id, row.credential_name, claim)
        if won is None:
            return  # another worker reported this re-add
        base = change or Change("sweep", f"readd:{row.backup_id}", ChangeKind.CREDENTIAL_ADDED,
                                identity_kind=ctx.identity.kind, identity_id=ctx.identity.id,
                                credential_name=live.name, new_credential=live, time=when)
        ev = self.engine.evaluate(ctx, change=dataclasses.replace(base, quarantined_backup=row.backup_id),
                                  targets=CHANGE_ONLY)
        seen = {f.fingerprint for f in out.findings}
        out.findings += [f for f in ev.findings if f.fingerprint not in seen]
        out.exempted += [f for f, _ in ev.exempted]
        note = f"re-added after quarantine (backup {row.backup_id}) by {label} at {when}"
        reopened: list[str] = []
        for fp in row.fingerprints:
            rec = await self.store.get(fp, identity_id=ctx.identity.id)
            if rec is None or rec.status not in (FindingStatus.QUARANTINED, FindingStatus.RESOLVED):
                continue
            if not _same(live, rec.credential_name or "", rec.credential_issuer, rec.credential_subject):
                continue  # a different credential with the same trust: its own finding is new
            if rec.status is FindingStatus.QUARANTINED:
                # Resolved now, so that recording reopens it: a new occurrence and a notification.
                await self.store.set_status(fp, FindingStatus.RESOLVED, actor=label, note=note)
            reopened.append(fp)  # (a sweep may have resolved it already: recording reopens it too)
        event_id = change.event_id if change is not None else base.event_id
        await self.store.log_action("quarantine.readded", live.name, {
            "identity": ctx.identity.to_ref(), "backup": row.backup_id, "actor": label, "time": when,
            "event": event_id, "reopened": reopened}, label)
        out.readds.append(Readd(live.name, row.backup_id or "", label, when, event_id, tuple(reopened)))

    async def after_record(self, review: Review) -> None:
        """The reopened findings say who re-added the credential, and when."""
        for r in review.readds:
            note = f"re-added after quarantine (backup {r.backup_id}) by {r.actor} at {r.time}"
            for fp in r.reopened:
                await self.store.set_status(fp, FindingStatus.OPEN, actor=r.actor, note=note)


def _about(change: Change, live: Credential) -> bool:
    cred = change.new_credential
    if cred is not None:
        return cred.name.lower() == live.name.lower() or (
            cred.issuer == live.issuer and bool(cred.subject) and cred.subject == live.subject)
    return (change.credential_name or "").lower() == live.name.lower()
