"""Quarantine: remove a risky credential, only after an exact backup is stored and read back.

Steps, each recorded in the backup's state so that a crash at any point is completed (or
rolled back) by the next run:

    read live ─▶ save backup (read back, compared) ─▶ delete ─▶ state=removed
              ─▶ verify gone ─▶ state=verified ─▶ finding=quarantined ─▶ owners told how to restore

Guards: mode (off by default), the responder's own identities and exempt identities are never
touched, and at most ``max_per_hour`` removals happen per hour (counted in the action log).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from wifguard.config import QuarantineConfig
from wifguard.inventory.tenant import CredentialWriter
from wifguard.model import Credential, Finding, Identity, IdentityKind, Severity, TrustContext
from wifguard.store import BackupState, FindingStatus, QuarantineBackup, Store
from wifguard.store.models import utcnow

MAX_CREDENTIALS = 20
PAUSE_AFTER = "WIFGUARD_QUARANTINE_PAUSE_AFTER"  # test hook: pause after a step so a test can kill us
PAUSE_FILE = "WIFGUARD_QUARANTINE_PAUSE_FILE"


class RestoreError(RuntimeError):
    """Restore refused; the message says why."""


@dataclass(frozen=True)
class QuarantineOutcome:
    fingerprint: str
    rule_id: str
    identity: Mapping[str, str]
    credential: str
    status: str  # quarantined | dry-run | skipped | failed
    reason: str = ""
    backup_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "identity": dict(self.identity),
            "credential": self.credential,
            "status": self.status,
            "reason": self.reason,
            "backup_id": self.backup_id,
        }


def _pause(step: str) -> None:
    """Test hook: with PAUSE_AFTER=step, write PAUSE_FILE and wait to be killed."""
    if os.environ.get(PAUSE_AFTER) == step:
        marker = os.environ.get(PAUSE_FILE)
        if marker:
            with open(marker, "w", encoding="utf-8") as f:
                f.write(step)
        time.sleep(3600)


@dataclass
class Quarantiner:
    config: QuarantineConfig
    store: Store
    writer: CredentialWriter
    responder_ids: frozenset[str] = frozenset()
    actor: str = "wifguard"
    _protected: frozenset[str] = field(default=frozenset(), init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        ids = {*self.responder_ids, *self.config.responder_identities, *self.config.exempt_identities}
        self._protected = frozenset(i.lower() for i in ids if i)

    @property
    def mode(self) -> str:
        return self.config.mode

    def wants(self, f: Finding) -> bool:
        """Does this finding call for quarantine under the configuration?"""
        if self.config.mode == "off" or f.credential is None:
            return False
        if f.action == "quarantine" or f.rule_id.upper() in {r.upper() for r in self.config.rules}:
            return True
        return self.config.min_severity is not None and f.severity >= Severity(self.config.min_severity)

    def protected(self, identity: Identity) -> str | None:
        keys = {identity.id, identity.name, identity.app_id or "", identity.principal_id or ""}
        hit = {k.lower() for k in keys if k} & self._protected
        if not hit:
            return None
        if {k.lower() for k in (*self.responder_ids, *self.config.responder_identities)} & hit:
            return "the responder's own identity is never quarantined"
        return "identity is exempt from quarantine"

    async def _removals_last_hour(self) -> int:
        since = utcnow() - timedelta(hours=1)
        return len(await self.store.list_actions(since=since, kind="quarantine"))

    async def run(self, ctx: TrustContext, findings: Iterable[Finding]) -> list[QuarantineOutcome]:
        out: list[QuarantineOutcome] = []
        done: set[str] = set()
        for f in findings:
            if not self.wants(f) or f.credential is None:
                continue
            name = str(f.credential.get("name"))
            if name.lower() in done:
                continue  # one removal per credential, however many rules fired
            done.add(name.lower())
            out.append(await self.one(ctx, f))
        return out

    async def one(self, ctx: TrustContext, f: Finding) -> QuarantineOutcome:
        ident = ctx.identity
        name = str((f.credential or {}).get("name"))

        def outcome(status: str, reason: str, backup_id: str | None = None) -> QuarantineOutcome:
            return QuarantineOutcome(f.fingerprint, f.rule_id, ident.to_ref(), name, status, reason, backup_id)

        why = self.protected(ident)
        if why:
            await self.store.log_action("quarantine.skipped", name, {"identity": ident.to_ref(), "rule": f.rule_id,
                                                                      "reason": why}, self.actor)
            return outcome("skipped", why)
        if self.config.mode == "dry-run":
            await self.store.log_action("quarantine.dry-run", name, {
                "identity": ident.to_ref(), "rule": f.rule_id, "fingerprint": f.fingerprint,
                "credential": dict(f.credential or {}), "would": "back up and delete this credential"}, self.actor)
            return outcome("dry-run", "dry-run: would back up and remove the credential")
        # One removal at a time per worker, so that concurrent evaluations cannot all pass the
        # hourly check before any of them is logged.
        async with self._lock:
            if await self._removals_last_hour() >= self.config.max_per_hour:
                reason = f"hourly limit of {self.config.max_per_hour} removals reached"
                await self.store.log_action("quarantine.skipped", name, {"identity": ident.to_ref(),
                                                                          "rule": f.rule_id, "reason": reason},
                                            self.actor)
                return outcome("skipped", reason)
            try:
                return await self._remove(ctx, f, name, outcome)
            except Exception as exc:
                await self.store.log_action("quarantine.failed", name, {"identity": ident.to_ref(),
                                                                         "rule": f.rule_id, "error": str(exc)[:500]},
                                            self.actor)
                return outcome("failed", f"{type(exc).__name__}: {str(exc)[:300]}")

    async def _remove(self, ctx: TrustContext, f: Finding, name: str, outcome: Any) -> QuarantineOutcome:
        ident = ctx.identity
        live = await self.writer.read(ident, name)
        if live is None:
            return outcome("skipped", "credential no longer exists")
        cred = Credential.from_arm(live) if ident.kind is IdentityKind.MANAGED_IDENTITY else Credential.from_graph(live)
        text = json.dumps(live, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        backup = QuarantineBackup.from_live(ident, cred, f, actor=self.actor, credential_json=text)
        saved = await self.store.save_backup(backup)  # raises unless it reads back identical
        _pause("backup")
        await self.writer.delete(ident, live)
        _pause("delete")
        saved = await self.store.update_backup_state(saved.id, BackupState.REMOVED, saved.etag)
        return await self._verify(ident, saved, f.fingerprint, outcome)

    async def _verify(self, ident: Identity, backup: QuarantineBackup, fingerprint: str, outcome: Any
                      ) -> QuarantineOutcome:
        if await self.writer.read(ident, backup.credential_name) is not None:
            raise RuntimeError(f"credential {backup.credential_name!r} is still present after deletion")
        backup = await self.store.update_backup_state(backup.id, BackupState.VERIFIED, backup.etag)
        _pause("verify")
        try:
            await self.store.set_status(fingerprint, FindingStatus.QUARANTINED, actor=self.actor,
                                        note=f"backup {backup.id}")
        except Exception:
            pass  # the finding may not be recorded (e.g. replay without it); the backup is what matters
        await self.store.log_action("quarantine", backup.credential_name, {
            "identity": {"id": ident.id, "name": ident.name, "kind": ident.kind.value},
            "rule": backup.rule_id, "fingerprint": fingerprint, "backup": backup.id}, self.actor)
        return outcome("quarantined", f"removed; restore with `wifguard quarantine restore {backup.id}`", backup.id)

    async def resume(self) -> list[QuarantineOutcome]:
        """Finish or roll back removals interrupted by a crash."""
        out: list[QuarantineOutcome] = []
        for state in (BackupState.BACKED_UP, BackupState.REMOVED):
            for b in await self.store.list_backups(state=state):
                ident = _identity_of(b)
                present = await self.writer.read(ident, b.credential_name)

                def outcome(status: str, reason: str, backup_id: str | None = None, b: QuarantineBackup = b,
                            ident: Identity = ident) -> QuarantineOutcome:
                    return QuarantineOutcome(b.fingerprint, b.rule_id, ident.to_ref(), b.credential_name, status,
                                             reason, backup_id)

                if present is None:
                    if b.state is BackupState.BACKED_UP:
                        b = await self.store.update_backup_state(b.id, BackupState.REMOVED, b.etag,
                                                                 detail="deletion confirmed on resume")
                    out.append(await self._verify(ident, b, b.fingerprint, outcome))
                elif self.config.mode == "enforce" and self.protected(ident) is None:
                    await self.writer.delete(ident, present)
                    b = await self.store.update_backup_state(b.id, BackupState.REMOVED, b.etag,
                                                             detail="deletion completed on resume")
                    out.append(await self._verify(ident, b, b.fingerprint, outcome))
                else:
                    await self.store.update_backup_state(b.id, BackupState.ROLLED_BACK, b.etag,
                                                         detail="credential left in place (quarantine not enforced)")
                    await self.store.log_action("quarantine.rolled-back", b.credential_name, {"backup": b.id},
                                                self.actor)
                    out.append(outcome("skipped", "interrupted removal rolled back; credential intact", b.id))
        return out


def _identity_of(b: QuarantineBackup) -> Identity:
    kind = IdentityKind(b.identity_kind)
    ident_id = (b.identity_object_id if kind is IdentityKind.APPLICATION else b.identity_resource_id) or b.identity_id
    return Identity(ident_id, b.identity_name, kind)


def _comparable(c: Credential) -> tuple[Any, ...]:
    cme = c.claims_matching_expression
    return (c.name, c.issuer, c.subject, tuple(c.audiences), c.description or None,
            (cme.value, cme.language_version) if cme else None)


async def restore(store: Store, writer: CredentialWriter, backup_id: str, actor: str = "wifguard") -> dict[str, Any]:
    """Recreate a quarantined credential exactly; refuses with a clear reason when it cannot."""
    b = await store.get_backup(backup_id)
    if b is None:
        raise RestoreError(f"no quarantine backup with id {backup_id!r}")
    if b.state is BackupState.RESTORED:
        raise RestoreError(f"backup {backup_id} was already restored")
    if b.state is BackupState.ROLLED_BACK:
        raise RestoreError(f"backup {backup_id} was rolled back: the credential was never removed")
    ident = _identity_of(b)
    raw = b.credential
    cred = Credential.from_arm(raw) if b.credential_shape == "arm" else Credential.from_graph(raw)
    current = await writer.list(ident)
    if current is None:
        raise RestoreError(f"{ident.kind.value} {b.identity_name!r} ({ident.id}) no longer exists")
    existing = [Credential.from_arm(c) if b.credential_shape == "arm" else Credential.from_graph(c) for c in current]
    if len(existing) >= MAX_CREDENTIALS:
        raise RestoreError(f"{b.identity_name!r} already has {len(existing)} credentials (the limit is 20)")
    for c in existing:
        if c.name.lower() == cred.name.lower():
            raise RestoreError(f"{b.identity_name!r} already has a credential named {c.name!r}")
        if c.issuer == cred.issuer and c.subject is not None and c.subject == cred.subject:
            raise RestoreError(
                f"{b.identity_name!r} already trusts issuer {c.issuer!r} and subject {c.subject!r} "
                f"(credential {c.name!r})")
    await writer.create(ident, cred)
    back = await writer.read(ident, cred.name)
    if back is None:
        raise RestoreError("the credential was created but cannot be read back")
    again = Credential.from_arm(back) if b.credential_shape == "arm" else Credential.from_graph(back)
    if _comparable(again) != _comparable(cred):
        raise RestoreError(f"the recreated credential differs from the backup: {_comparable(again)} != {_comparable(cred)}")
    await store.update_backup_state(b.id, BackupState.RESTORED, b.etag, detail=f"restored by {actor}")
    try:
        await store.set_status(b.fingerprint, FindingStatus.OPEN, actor=actor, note=f"restored from {b.id}")
    except Exception:
        pass
    await store.log_action("restore", b.credential_name, {"backup": b.id, "identity": ident.to_ref()}, actor)
    return {"backup": b.id, "identity": ident.to_ref(), "credential": cred.to_graph(), "status": "restored"}
