"""Quarantine: remove a risky credential, only after an exact backup is stored and read back.

Steps, each recorded in the backup's state so that a crash at any point is completed (or
rolled back) by the next run:

    lease the credential ─▶ read live ─▶ claim an hourly slot ─▶ save backup (read back, compared)
        ─▶ delete ─▶ state=removed ─▶ verify gone ─▶ state=verified ─▶ ledger: quarantined
        ─▶ finding=quarantined ─▶ owners told how to restore

Guards, all held in the store so that they hold across any number of workers
(``wifguard.store.quarantine_ledger``): mode (off by default); the responder's own identities and exempt
identities are never touched; a per-credential lease (two workers never quarantine the same
credential); a tenant-wide ETag-guarded counter per hour window (``max_per_hour``), claimed
before anything is deleted; and restore exemptions (a person restored the credential and
accepted the risk until a date).

Restore recreates the credential exactly and records that exemption; concurrent restores of
one backup: the first claims the backup (ETag), the other gets ``RestoreConflict``.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from wifguard.config import QuarantineConfig
from wifguard.domain.model import Credential, Finding, Identity, IdentityKind, Severity, TrustContext
from wifguard.errors import Conflict, NotFound, QuarantineRefused, WifguardError
from wifguard.sources.inventory.tenant import CredentialWriter
from wifguard.store import BackupState, FindingStatus, QuarantineBackup, Store
from wifguard.store.entities import as_utc, utcnow

log = logging.getLogger(__name__)

MAX_CREDENTIALS = 20
PAUSE_AFTER = "WIFGUARD_QUARANTINE_PAUSE_AFTER"  # test hook: pause after a step so a test can kill us
PAUSE_FILE = "WIFGUARD_QUARANTINE_PAUSE_FILE"
DEFAULT_EXEMPTION_DAYS = 30
MAX_EXEMPTION_DAYS = 365
REASON_MIN, REASON_MAX = 3, 500
#: ``status_by`` of findings a restore exempted: not sticky, they reopen when the exemption ends
EXEMPTION_ACTOR = "exemption"


class RestoreError(QuarantineRefused, RuntimeError):
    """Restore refused; the message says why (HTTP 409, CLI exit 2)."""

    public = "restore refused"


class RestoreNotFound(NotFound, RestoreError):
    """No such backup (HTTP 404, CLI exit 2)."""

    public = "no such backup"


class RestoreConflict(Conflict, RestoreError):
    """Someone else restored it, is restoring it, or the credential is back (HTTP 409, CLI exit 2)."""

    public = "conflict"
    transient = False  # retrying the same restore meets the same state


class RemovalNotVerified(WifguardError, RuntimeError):
    """The credential was deleted but still reads back; the backup stays, ``resume`` verifies again."""

    transient = True


def validate_reason(reason: str | None) -> str:
    """A restore's reason: why the risk is accepted. Required, printable, 3-500 characters."""
    text = (reason or "").strip()
    if not (REASON_MIN <= len(text) <= REASON_MAX):
        raise ValueError(f"reason must be {REASON_MIN}-{REASON_MAX} characters")
    if any(ord(ch) < 32 and ch not in "\t" for ch in text):
        raise ValueError("reason must not contain control characters")
    return text


def validate_expiry_days(days: int | None) -> int:
    d = DEFAULT_EXEMPTION_DAYS if days is None else days
    if not (1 <= d <= MAX_EXEMPTION_DAYS):
        raise ValueError(f"expiry must be 1-{MAX_EXEMPTION_DAYS} days")
    return d


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
    _owner: str = field(default="", init=False)

    def __post_init__(self) -> None:
        ids = {*self.responder_ids, *self.config.responder_identities, *self.config.exempt_identities}
        self._protected = frozenset(i.lower() for i in ids if i)
        # Lease owner: this worker (process) and this Quarantiner, never shared.
        self._owner = f"{self.actor}:{os.getpid()}:{uuid.uuid4().hex[:12]}"

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

    async def run(self, ctx: TrustContext, findings: Iterable[Finding]) -> list[QuarantineOutcome]:
        by_name: dict[str, list[Finding]] = {}
        for f in findings:
            if self.wants(f) and f.credential is not None:
                # one removal per credential, however many rules fired
                by_name.setdefault(str(f.credential.get("name")).lower(), []).append(f)
        return [await self.one(ctx, fs[0], [x.fingerprint for x in fs]) for fs in by_name.values()]

    async def _log(self, kind: str, name: str, detail: Mapping[str, Any]) -> None:
        await self.store.log_action(kind, name, detail, self.actor)

    async def one(self, ctx: TrustContext, f: Finding, fingerprints: Iterable[str] = ()) -> QuarantineOutcome:
        ident = ctx.identity
        name = str((f.credential or {}).get("name"))
        fps = tuple(dict.fromkeys([f.fingerprint, *fingerprints]))

        def outcome(status: str, reason: str, backup_id: str | None = None) -> QuarantineOutcome:
            return QuarantineOutcome(f.fingerprint, f.rule_id, ident.to_ref(), name, status, reason, backup_id)

        async def skipped(reason: str) -> QuarantineOutcome:
            await self._log("quarantine.skipped", name, {"identity": ident.to_ref(), "rule": f.rule_id,
                                                          "reason": reason})
            return outcome("skipped", reason)

        why = self.protected(ident)
        if why:
            return await skipped(why)
        ledger = self.store.ledger
        if self.config.mode == "dry-run":
            row = await ledger.get(ident.id, name)
            if row is not None and row.exempt() and row.covers(name, (f.credential or {}).get("issuer"),
                                                                (f.credential or {}).get("subject")):
                return await skipped(_exempt_reason(row))
            await self._log("quarantine.dry-run", name, {
                "identity": ident.to_ref(), "rule": f.rule_id, "fingerprint": f.fingerprint,
                "credential": dict(f.credential or {}), "would": "back up and delete this credential"})
            return outcome("dry-run", "dry-run: would back up and remove the credential")
        try:
            # A cheap read first: once the window is full nothing else needs the store (the
            # claim below is still what decides).
            if await ledger.removals_this_hour() >= self.config.max_per_hour:
                return await skipped(f"hourly limit of {self.config.max_per_hour} removals reached")
            lease = await ledger.lease(ident.id, name, self._owner)
        except Exception as exc:  # fail closed: without the lease nothing is touched
            return await self._failed(ident, f, name, exc, outcome)
        if lease is None:
            return await skipped("another worker is quarantining this credential")
        try:
            cred = f.credential or {}
            if lease.exempt() and lease.covers(name, cred.get("issuer"), cred.get("subject")):
                return await skipped(_exempt_reason(lease))
            return await self._remove(ctx, f, name, fps, outcome, skipped)
        except Exception as exc:
            return await self._failed(ident, f, name, exc, outcome)
        finally:
            try:
                await ledger.release(ident.id, name, self._owner)
            except Exception as exc:  # the lease expires on its own
                log.warning("quarantine: could not release the lease on %s: %s", name, type(exc).__name__)

    async def _failed(self, ident: Identity, f: Finding, name: str, exc: Exception, outcome: Any
                      ) -> QuarantineOutcome:
        try:
            await self._log("quarantine.failed", name, {"identity": ident.to_ref(), "rule": f.rule_id,
                                                        "error": str(exc)[:500]})
        except Exception:
            log.warning("quarantine: could not log the failure on %s", name)
        return outcome("failed", f"{type(exc).__name__}: {str(exc)[:300]}")

    async def _remove(self, ctx: TrustContext, f: Finding, name: str, fps: tuple[str, ...], outcome: Any,
                      skipped: Any) -> QuarantineOutcome:
        ident = ctx.identity
        live = await self.writer.read(ident, name)
        if live is None:
            return outcome("skipped", "credential no longer exists")
        # The slot is claimed only for a credential that exists, and before anything is deleted.
        if await self.store.ledger.claim_removal(self.config.max_per_hour) is None:
            return await skipped(f"hourly limit of {self.config.max_per_hour} removals reached")
        cred = Credential.from_arm(live) if ident.kind is IdentityKind.MANAGED_IDENTITY else Credential.from_graph(live)
        text = json.dumps(live, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        backup = QuarantineBackup.from_live(ident, cred, f, actor=self.actor, credential_json=text)
        saved = await self.store.save_backup(backup)  # raises unless it reads back identical
        _pause("backup")
        await self.writer.delete(ident, live)
        _pause("delete")
        saved = await self.store.update_backup_state(saved.id, BackupState.REMOVED, saved.etag)
        return await self._verify(ident, saved, fps, outcome, cred)

    async def _verify(self, ident: Identity, backup: QuarantineBackup, fps: tuple[str, ...], outcome: Any,
                      cred: Credential | None = None) -> QuarantineOutcome:
        if await self.writer.read(ident, backup.credential_name) is not None:
            raise RemovalNotVerified(f"credential {backup.credential_name!r} is still present after deletion",
                                     where=f"{ident.name} ({ident.id})")
        backup = await self.store.update_backup_state(backup.id, BackupState.VERIFIED, backup.etag)
        _pause("verify")
        if cred is None:
            raw = backup.credential
            cred = Credential.from_arm(raw) if backup.credential_shape == "arm" else Credential.from_graph(raw)
        await self.store.ledger.release(
            ident.id, backup.credential_name, self._owner, state="quarantined", backup_id=backup.id,
            fingerprints=fps, issuer=cred.issuer, subject=cred.subject, by=self.actor, at=utcnow(),
            reason=None, expires_at=None)
        for fp in fps:
            try:
                await self.store.set_status(fp, FindingStatus.QUARANTINED, actor=self.actor,
                                            note=f"backup {backup.id}")
            except KeyError:
                pass  # the finding may not be recorded (e.g. replay without it); the backup is what matters
        await self._log("quarantine", backup.credential_name, {
            "identity": {"id": ident.id, "name": ident.name, "kind": ident.kind.value},
            "rule": backup.rule_id, "fingerprint": fps[0] if fps else backup.fingerprint, "backup": backup.id})
        return outcome("quarantined", f"removed; restore with `wifguard quarantine restore {backup.id} "
                                      f"--reason TEXT`", backup.id)

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
                    out.append(await self._verify(ident, b, (b.fingerprint,), outcome))
                elif self.config.mode == "enforce" and self.protected(ident) is None:
                    # Its hourly slot was claimed before the backup was written.
                    await self.writer.delete(ident, present)
                    b = await self.store.update_backup_state(b.id, BackupState.REMOVED, b.etag,
                                                             detail="deletion completed on resume")
                    out.append(await self._verify(ident, b, (b.fingerprint,), outcome))
                else:
                    await self.store.update_backup_state(b.id, BackupState.ROLLED_BACK, b.etag,
                                                         detail="credential left in place (quarantine not enforced)")
                    await self.store.log_action("quarantine.rolled-back", b.credential_name, {"backup": b.id},
                                                self.actor)
                    out.append(outcome("skipped", "interrupted removal rolled back; credential intact", b.id))
        return out


def _exempt_reason(row: Any) -> str:
    until = f"{as_utc(row.expires_at):%Y-%m-%d}" if row.expires_at else "no expiry"
    return f"exempted: restored by {row.by or 'someone'} ({row.reason or 'no reason'}), until {until}"


def _identity_of(b: QuarantineBackup) -> Identity:
    kind = IdentityKind(b.identity_kind)
    ident_id = (b.identity_object_id if kind is IdentityKind.APPLICATION else b.identity_resource_id) or b.identity_id
    return Identity(ident_id, b.identity_name, kind)


def _comparable(c: Credential) -> tuple[Any, ...]:
    cme = c.claims_matching_expression
    return (c.name, c.issuer, c.subject, tuple(c.audiences), c.description or None,
            (cme.value, cme.language_version) if cme else None)


async def restore(store: Store, writer: CredentialWriter, backup_id: str, *, reason: str,
                  actor: str = "wifguard", expires_days: int | None = None,
                  caller: Mapping[str, Any] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Recreate a quarantined credential exactly and record that a person accepted the risk.

    The exemption (reason, restorer, expiry; default 30 days) is written to the ledger *before*
    the credential is recreated, so the restore's own audit record and later sweeps find it and
    leave the credential alone until it expires. Raises ``RestoreNotFound``, ``RestoreConflict``
    (another restore won, or the credential is back) or ``RestoreError`` (refused).
    """
    text = validate_reason(reason)
    days = validate_expiry_days(expires_days)
    now = as_utc(now or utcnow())
    b = await store.get_backup(backup_id)
    if b is None:
        raise RestoreNotFound(f"no quarantine backup with id {backup_id!r}")
    if b.state is BackupState.RESTORED:
        raise RestoreConflict(f"backup {backup_id} was already restored")
    if b.state is BackupState.RESTORING:
        raise RestoreConflict(f"backup {backup_id} is being restored by someone else")
    if b.state is BackupState.ROLLED_BACK:
        raise RestoreError(f"backup {backup_id} was rolled back: the credential was never removed")
    if b.state is not BackupState.VERIFIED:
        raise RestoreConflict(f"backup {backup_id} is {b.state.value}: its quarantine has not finished")
    # Claim the backup: of two concurrent restores exactly one moves it on from this ETag.
    from wifguard.store import ConcurrencyError

    try:
        claimed = await store.update_backup_state(b.id, BackupState.RESTORING, b.etag, detail=f"restoring by {actor}")
    except ConcurrencyError:
        raise RestoreConflict(f"backup {backup_id} is being restored by someone else") from None
    try:
        out = await _recreate(store, writer, claimed, text, days, actor, caller or {}, now)
    except BaseException:
        # Give the backup back so that a later restore can try again.
        try:
            fresh = await store.get_backup(b.id)
            if fresh is not None and fresh.state is BackupState.RESTORING:
                await store.update_backup_state(b.id, BackupState.VERIFIED, fresh.etag, detail="restore failed")
        except Exception:
            log.warning("restore: could not release backup %s", b.id)
        raise
    return out


async def _recreate(store: Store, writer: CredentialWriter, b: QuarantineBackup, reason: str, days: int,
                    actor: str, caller: Mapping[str, Any], now: datetime) -> dict[str, Any]:
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
            raise RestoreConflict(f"{b.identity_name!r} already has a credential named {c.name!r}")
        if c.issuer == cred.issuer and c.subject is not None and c.subject == cred.subject:
            raise RestoreConflict(
                f"{b.identity_name!r} already trusts issuer {c.issuer!r} and subject {c.subject!r} "
                f"(credential {c.name!r})")
    # The findings about this very credential (name, issuer, subject) are what the risk covers.
    about = [r for r in await store.query(identity=ident.id)
             if (r.credential_name or "").lower() == cred.name.lower() and r.credential_issuer == cred.issuer
             and (r.credential_subject or None) == (cred.subject or None)]
    fps = tuple(dict.fromkeys([b.fingerprint, *(r.fingerprint for r in about)]))
    expires = now + timedelta(days=days)
    ledger = store.ledger
    before = await ledger.get(ident.id, cred.name)
    await ledger.update(ident.id, cred.name, lambda cur: cur.__class__(
        identity_id=ident.id, credential_name=cred.name, state="exempted", issuer=cred.issuer,
        subject=cred.subject, backup_id=b.id, fingerprints=fps, reason=reason, by=actor, at=now,
        expires_at=expires, lease_owner=cur.lease_owner, lease_until=cur.lease_until))
    try:
        await writer.create(ident, cred)
    except Exception as exc:
        await _undo_exemption(store, ident.id, cred.name, before)
        status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
        if status == 409:
            raise RestoreConflict(f"{b.identity_name!r}: the credential {cred.name!r} was created meanwhile "
                                  "(another restore, or a person)") from None
        raise
    back = await writer.read(ident, cred.name)
    if back is None:
        raise RestoreError("the credential was created but cannot be read back")
    again = Credential.from_arm(back) if b.credential_shape == "arm" else Credential.from_graph(back)
    if _comparable(again) != _comparable(cred):
        raise RestoreError(f"the recreated credential differs from the backup: {_comparable(again)} != {_comparable(cred)}")
    await store.update_backup_state(b.id, BackupState.RESTORED, b.etag, detail=f"restored by {actor}: {reason}")
    note = f"restored from {b.id} by {actor}: {reason} (risk accepted until {expires:%Y-%m-%d})"
    for fp in fps:
        try:
            await store.set_status(fp, FindingStatus.EXEMPTED, actor=EXEMPTION_ACTOR, note=note)
        except KeyError:
            pass
    detail = {"backup": b.id, "identity": ident.to_ref(), "reason": reason, "expires_at": expires.isoformat(),
              "fingerprints": list(fps), "caller": dict(caller)}
    await store.log_action("restore", b.credential_name, detail, actor)
    return {"backup": b.id, "identity": ident.to_ref(), "credential": cred.to_graph(), "status": "restored",
            "exemption": {"reason": reason, "by": actor, "expires_at": expires.isoformat().replace("+00:00", "Z"),
                          "fingerprints": list(fps)}}


async def _undo_exemption(store: Store, identity_id: str, name: str, before: Any) -> None:
    try:
        if before is None:
            await store.ledger.update(identity_id, name, lambda cur: cur.__class__(identity_id, name))
        else:
            await store.ledger.update(identity_id, name, lambda cur: before)
    except Exception:
        log.warning("restore: could not undo the exemption of %s", name)
