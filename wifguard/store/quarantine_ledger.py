"""The quarantine ledger: what every worker must agree on before a credential is touched.

One table, ``{prefix}quarantine``, two kinds of rows, every write guarded by its ETag so that
any number of Function instances (and people running the CLI) see one truth:

``PartitionKey = "!limit"``, ``RowKey = YYYYMMDDHH`` (UTC)
    the hour window's removal counter. A removal is *claimed* here (count + 1, ETag-guarded)
    before anything is deleted; when the count has reached ``max_per_hour`` the claim is
    refused. A claim is spent even if the removal then fails: the limit errs on the safe side.

``PartitionKey = encode_key(identity id, lower-cased)``, ``RowKey = encode_key(credential name, lower-cased)``
    one row per credential that quarantine or restore has dealt with:

    * a **lease** (``lease_owner``, ``lease_until``): the worker quarantining the credential now;
      others skip it. A crashed worker's lease simply expires.
    * a **state**: ``quarantined`` (removed, verified backup ``backup_id``), ``readded`` (it came
      back after quarantine and that was reported), ``exempted`` (a person restored it and
      accepted the risk until ``expires_at``), or empty.

The rows of one identity are one partition: the pipeline reads them with one query per
evaluated identity (re-adds, exemptions).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from wifguard.errors import Conflict, StoreError
from wifguard.store.entities import as_utc, utcnow
from wifguard.store.keys import encode_key

log = logging.getLogger(__name__)

LIMIT_PARTITION = "!limit"
#: attempts of an ETag loop; many workers may contend for one hour row
MAX_ATTEMPTS = 200
LEASE_TTL = timedelta(minutes=5)


class LedgerConflict(Conflict, StoreError):
    """The row kept changing under us (or someone else holds it)."""


STATES = ("", "quarantined", "readded", "exempted")


@dataclass(frozen=True)
class CredentialState:
    """What the ledger knows of one credential of one identity."""

    identity_id: str
    credential_name: str
    state: str = ""
    issuer: str | None = None
    subject: str | None = None
    backup_id: str | None = None
    fingerprints: tuple[str, ...] = ()
    reason: str | None = None
    by: str | None = None
    at: datetime | None = None
    expires_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    etag: str | None = field(default=None, compare=False)

    def exempt(self, now: datetime | None = None) -> bool:
        """An exemption a person recorded (restore) and that has not expired."""
        now = as_utc(now or utcnow())
        return self.state == "exempted" and (self.expires_at is None or self.expires_at > now)

    def expired_exemption(self, now: datetime | None = None) -> bool:
        now = as_utc(now or utcnow())
        return self.state == "exempted" and self.expires_at is not None and self.expires_at <= now

    def leased(self, now: datetime | None = None) -> bool:
        now = as_utc(now or utcnow())
        return bool(self.lease_owner) and self.lease_until is not None and self.lease_until > now

    def same_trust(self, name: str, issuer: str | None, subject: str | None) -> bool:
        """The same credential: the same name, or the same (issuer, subject) pair."""
        if name.lower() == self.credential_name.lower():
            return True
        return bool(subject) and issuer == self.issuer and subject == self.subject

    def covers(self, name: str, issuer: str | None, subject: str | None) -> bool:
        """An exemption covers exactly the credential that was restored (name, issuer, subject)."""
        return (name.lower() == self.credential_name.lower() and issuer == self.issuer
                and (subject or None) == (self.subject or None))

    def to_dict(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return as_utc(v).isoformat().replace("+00:00", "Z") if v else None

        return {"identity_id": self.identity_id, "credential_name": self.credential_name, "state": self.state,
                "issuer": self.issuer, "subject": self.subject, "backup_id": self.backup_id,
                "fingerprints": list(self.fingerprints), "reason": self.reason, "by": self.by, "at": iso(self.at),
                "expires_at": iso(self.expires_at)}


def _dt(v: Any) -> datetime | None:
    if v is None or v == "":
        return None
    if isinstance(v, str):
        v = datetime.fromisoformat(v.replace("Z", "+00:00"))
    if isinstance(v, datetime):
        u = as_utc(v)
        return datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=u.tzinfo)
    return None


def _etag(e: Any) -> str | None:
    meta = getattr(e, "metadata", None)
    return str(meta.get("etag")) if isinstance(meta, Mapping) and meta.get("etag") else None


def _state_of(e: Mapping[str, Any]) -> CredentialState:
    try:
        fps = tuple(json.loads(str(e.get("fingerprints") or "[]")))
    except ValueError:
        fps = ()
    return CredentialState(
        identity_id=str(e.get("identity_id") or ""), credential_name=str(e.get("credential_name") or ""),
        state=str(e.get("state") or ""), issuer=e.get("issuer"), subject=e.get("subject"),
        backup_id=e.get("backup_id"), fingerprints=fps, reason=e.get("reason"), by=e.get("by"),
        at=_dt(e.get("at")), expires_at=_dt(e.get("expires_at")), lease_owner=e.get("lease_owner") or None,
        lease_until=_dt(e.get("lease_until")), etag=_etag(e))


def _entity_of(pk: str, rk: str, s: CredentialState) -> dict[str, Any]:
    return {
        "PartitionKey": pk, "RowKey": rk, "identity_id": s.identity_id, "credential_name": s.credential_name,
        "state": s.state, "issuer": s.issuer, "subject": s.subject, "backup_id": s.backup_id,
        "fingerprints": json.dumps(list(s.fingerprints)), "reason": (s.reason or "")[:4000] or None,
        "by": (s.by or "")[:1000] or None, "at": s.at, "expires_at": s.expires_at,
        "lease_owner": s.lease_owner or "", "lease_until": s.lease_until,
    }


def _retryable(exc: HttpResponseError) -> bool:
    return exc.status_code in (404, 409, 412)


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(min(0.25, 0.005 * (2 ** min(attempt, 8))) * (0.5 + random.random()))


class QuarantineLedger:
    """ETag-guarded rows shared by every worker (see the module docstring)."""

    def __init__(self, table: TableClient) -> None:
        self._t = table

    async def close(self) -> None:
        await self._t.close()

    @staticmethod
    def keys(identity_id: str, credential_name: str) -> tuple[str, str]:
        return encode_key(identity_id.lower()), encode_key(credential_name.lower())

    # -- the tenant-wide hourly limit --------------------------------------------------------

    async def claim_removal(self, max_per_hour: int, *, now: datetime | None = None) -> int | None:
        """Take one removal slot of the current hour window; ``None`` when the window is full."""
        if max_per_hour <= 0:
            return None
        now = as_utc(now or utcnow())
        rk = f"{now:%Y%m%d%H}"
        for attempt in range(MAX_ATTEMPTS):
            try:
                e = await self._t.get_entity(LIMIT_PARTITION, rk)
            except ResourceNotFoundError:
                try:
                    await self._t.create_entity({"PartitionKey": LIMIT_PARTITION, "RowKey": rk, "count": 1,
                                                 "window_start": now.replace(minute=0, second=0, microsecond=0)})
                    return 1
                except ResourceExistsError:
                    continue  # another worker created it first: read it and try again
            count = int(e.get("count") or 0)
            if count >= max_per_hour:
                return None
            try:
                await self._t.update_entity({"PartitionKey": LIMIT_PARTITION, "RowKey": rk, "count": count + 1},
                                            mode=UpdateMode.MERGE, etag=_etag(e),
                                            match_condition=MatchConditions.IfNotModified)
                return count + 1
            except HttpResponseError as exc:
                if not _retryable(exc):
                    raise
                await _backoff(attempt)
        raise LedgerConflict(f"could not claim a removal slot after {MAX_ATTEMPTS} concurrent attempts")

    async def removals_this_hour(self, *, now: datetime | None = None) -> int:
        now = as_utc(now or utcnow())
        try:
            e = await self._t.get_entity(LIMIT_PARTITION, f"{now:%Y%m%d%H}")
        except ResourceNotFoundError:
            return 0
        return int(e.get("count") or 0)

    # -- per-credential rows -------------------------------------------------------------------

    async def get(self, identity_id: str, credential_name: str) -> CredentialState | None:
        pk, rk = self.keys(identity_id, credential_name)
        try:
            return _state_of(await self._t.get_entity(pk, rk))
        except ResourceNotFoundError:
            return None

    async def states(self, identity_id: str) -> list[CredentialState]:
        """Every row of one identity (one partition query)."""
        pk = encode_key(identity_id.lower())
        try:
            return [_state_of(e) async for e in self._t.query_entities("PartitionKey eq @pk",
                                                                       parameters={"pk": pk})]
        except ResourceNotFoundError:
            return []  # the table itself is missing: nothing was ever quarantined

    async def update(self, identity_id: str, credential_name: str,
                     change: Callable[[CredentialState], CredentialState | None]) -> CredentialState | None:
        """Read-modify-write one row with its ETag (created when absent). ``change`` returns the
        new value, or ``None`` to leave the row untouched (then ``None`` is returned)."""
        pk, rk = self.keys(identity_id, credential_name)
        for attempt in range(MAX_ATTEMPTS):
            try:
                e: Any = await self._t.get_entity(pk, rk)
                cur = _state_of(e)
            except ResourceNotFoundError:
                e, cur = None, CredentialState(identity_id, credential_name)
            new = change(cur)
            if new is None:
                return None
            entity = _entity_of(pk, rk, new)
            try:
                if e is None:
                    meta = await self._t.create_entity(entity)
                else:
                    meta = await self._t.update_entity(entity, mode=UpdateMode.REPLACE, etag=_etag(e),
                                                       match_condition=MatchConditions.IfNotModified)
            except (ResourceExistsError, HttpResponseError) as exc:
                if isinstance(exc, HttpResponseError) and not isinstance(exc, ResourceExistsError) \
                        and not _retryable(exc):
                    raise
                await _backoff(attempt)
                continue
            return replace(new, etag=str((meta or {}).get("etag") or "") or None)
        raise LedgerConflict(f"{credential_name}: the ledger row kept changing ({MAX_ATTEMPTS} attempts)")

    async def lease(self, identity_id: str, credential_name: str, owner: str, *,
                    ttl: timedelta = LEASE_TTL, now: datetime | None = None) -> CredentialState | None:
        """Hold the credential for ``owner``; ``None`` when another worker holds it."""
        now = as_utc(now or utcnow())

        def take(cur: CredentialState) -> CredentialState | None:
            if cur.leased(now) and cur.lease_owner != owner:
                return None
            return replace(cur, lease_owner=owner, lease_until=now + ttl)

        return await self.update(identity_id, credential_name, take)

    async def release(self, identity_id: str, credential_name: str, owner: str, **fields: Any) -> None:
        """Give the lease back, setting ``fields`` (e.g. the new state) in the same write."""

        def give(cur: CredentialState) -> CredentialState | None:
            if cur.lease_owner != owner and not fields:
                return None
            keep_lease = cur.lease_owner != owner
            out = replace(cur, **fields)
            return out if keep_lease else replace(out, lease_owner=None, lease_until=None)

        await self.update(identity_id, credential_name, give)
