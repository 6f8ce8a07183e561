"""Event claims with leases: process first, commit after.

A record is *claimed* before it is processed (``state = claimed``, ``lease_until`` = now + a
short lease) and marked ``done`` only once its effects (findings recorded, notifications in the
outbox, quarantine steps) are durable, or ``parked`` once it is parked. A re-delivered record is
a duplicate only when it is ``done``; a claim that is not done (the worker was killed, the
batch failed, the store went away) is processed again. A re-delivery never waits on a live
lease: the platform re-delivers only when it gave up on the earlier attempt, and processing is
idempotent (findings by fingerprint, notifications by their outbox id), so waiting could only
lose the record. The lease says who worked on it until when, and lets the planner report
claims that were abandoned.

The key is the event id *and* a digest of the record's content, so two different records that
share an id (audit records without ``properties.id`` fall back to ``correlationId#index``)
are both processed, and the exact same record is still one.

Rows live in the store's ``{prefix}events`` table: PartitionKey = encoded source, RowKey =
:attr:`EventKey.row`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from wifguard.store.entities import as_utc, utcnow
from wifguard.store.keys import encode_key

if TYPE_CHECKING:
    from wifguard.store.store import Store

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_TTL = timedelta(days=3)
_CHUNK = 100  # entities per transaction
_READ_CONCURRENCY = 16


def content_digest(raw: bytes | str | None) -> str:
    """sha256 (hex) of a record's content: of its canonical JSON (keys sorted, no whitespace) when
    it is JSON, so the same record re-serialised by a forwarder is still the same record; else of
    its exact bytes."""
    import orjson

    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else (raw or b"")
    try:
        data = orjson.dumps(orjson.loads(data), option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONDecodeError, TypeError):
        pass
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class EventKey:
    """The dedup key of one record: its source, its id and the digest of its content."""

    source: str
    event_id: str
    digest: str

    @classmethod
    def of(cls, source: str, event_id: str, raw: bytes | str | None) -> EventKey:
        return cls(source, event_id, content_digest(raw))

    @property
    def row(self) -> str:
        """A table-safe, fixed-length key (also the parked row's id, so parking is idempotent)."""
        h = hashlib.sha256(f"{self.source}\n{self.event_id}\n{self.digest}".encode("utf-8", "surrogatepass"))
        return "k" + h.hexdigest()[:40]


class ClaimState(StrEnum):
    CLAIMED = "claimed"
    DONE = "done"
    PARKED = "parked"


class Claim(StrEnum):
    """What a claim attempt found."""

    FRESH = "fresh"  # first time seen: process it
    RETAKEN = "retaken"  # claimed or parked before but never done: process it again
    DONE = "done"  # already processed: a duplicate
    BUSY = "busy"  # another worker took it over at the same instant: it is being processed


class EventLedger:
    """Claims, leases and completion marks over the store's events table."""

    def __init__(self, store: Store, *, lease: timedelta = DEFAULT_LEASE, ttl: timedelta = DEFAULT_TTL,
                 owner: str = "") -> None:
        self._table = store._events  # the store owns (and closes) the client
        self.lease = lease
        self.ttl = ttl
        self.owner = owner

    def _entity(self, key: EventKey, state: ClaimState, now: datetime, attempts: int = 1) -> dict[str, Any]:
        from wifguard.store.store import fit_string

        return {
            "PartitionKey": encode_key(key.source),
            "RowKey": key.row,
            "source": fit_string(key.source),
            "event_id": fit_string(key.event_id),
            "digest": key.digest,
            "state": state.value,
            "owner": self.owner,
            "claimed_at": now,
            "lease_until": now + self.lease,
            "expires_at": now + self.ttl,
            "attempts": attempts,
        }

    async def claim(self, keys: Sequence[EventKey], *, now: datetime | None = None) -> dict[EventKey, Claim]:
        """Claim records for processing: one insert transaction per 100 keys of a source (all new
        is the common case); a chunk holding a key seen before is claimed key by key."""
        from azure.core.exceptions import HttpResponseError
        from azure.data.tables import TableTransactionError

        now = as_utc(now or utcnow())
        out: dict[EventKey, Claim] = {}
        by_source: dict[str, list[EventKey]] = {}
        for k in dict.fromkeys(keys):
            by_source.setdefault(k.source, []).append(k)
        sem = asyncio.Semaphore(_READ_CONCURRENCY)

        async def one(k: EventKey) -> None:
            async with sem:
                out[k] = await self._claim_one(k, now)

        for chunk in (ks[i:i + _CHUNK] for ks in by_source.values() for i in range(0, len(ks), _CHUNK)):
            try:
                await self._table.submit_transaction([("create", self._entity(k, ClaimState.CLAIMED, now))
                                                      for k in chunk])
            except (TableTransactionError, HttpResponseError) as exc:
                if getattr(exc, "status_code", None) not in (409, 400, 404) and \
                        str(getattr(exc, "error_code", "")) != "EntityAlreadyExists":
                    raise
                await asyncio.gather(*(one(k) for k in chunk))
                continue
            out.update((k, Claim.FRESH) for k in chunk)
        return out

    async def _claim_one(self, key: EventKey, now: datetime) -> Claim:
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        entity = self._entity(key, ClaimState.CLAIMED, now)
        for _ in range(3):
            try:
                await self._table.create_entity(entity)
                return Claim.FRESH
            except ResourceExistsError:
                pass
            try:
                prev = await self._table.get_entity(entity["PartitionKey"], entity["RowKey"])
            except ResourceNotFoundError:
                continue  # purged in between
            if prev.get("state") == ClaimState.DONE.value:
                return Claim.DONE
            retake = self._entity(key, ClaimState.CLAIMED, now, attempts=int(prev.get("attempts") or 1) + 1)
            try:
                await self._table.update_entity(retake, mode=UpdateMode.REPLACE, etag=prev.metadata.get("etag"),
                                                match_condition=MatchConditions.IfNotModified)
            except HttpResponseError as exc:
                if exc.status_code in (409, 412):
                    return Claim.BUSY  # someone else retook it this very moment
                raise
            lease = prev.get("lease_until")
            log.info("event %s: retaking a claim that was not done (state %s, lease until %s)",
                     key.event_id, prev.get("state"), lease)
            return Claim.RETAKEN
        return Claim.BUSY

    async def settle(self, done: Iterable[EventKey] = (), parked: Iterable[EventKey] = (), *,
                     now: datetime | None = None) -> None:
        """Mark records done (effects durable) or parked (their bytes are in the parked table)."""
        from azure.data.tables import UpdateMode

        now = as_utc(now or utcnow())
        ops: dict[str, list[tuple[Any, ...]]] = {}
        for state, keys in ((ClaimState.DONE, done), (ClaimState.PARKED, parked)):
            for k in keys:
                pk = encode_key(k.source)
                e = {"PartitionKey": pk, "RowKey": k.row, "state": state.value,
                     "settled_at": now, "expires_at": now + self.ttl}
                ops.setdefault(pk, []).append(("upsert", e, {"mode": UpdateMode.MERGE}))
        for items in ops.values():
            for i in range(0, len(items), _CHUNK):
                await self._table.submit_transaction(items[i:i + _CHUNK])

    async def state(self, key: EventKey) -> str | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            e = await self._table.get_entity(encode_key(key.source), key.row)
        except ResourceNotFoundError:
            return None
        return str(e.get("state") or "")

    async def abandoned(self, *, now: datetime | None = None) -> int:
        """Claims whose lease ran out without being done or parked (reported by the planner)."""
        now = as_utc(now or utcnow())
        n = 0
        async for _ in self._table.query_entities("state eq @s and lease_until lt @now",
                                                  parameters={"s": ClaimState.CLAIMED.value, "now": now},
                                                  select=["RowKey"]):
            n += 1
        return n
