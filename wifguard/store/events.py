"""The processed-events table: claims of trigger records (process, then commit) and their expiry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from wifguard.errors import StoreError as StoreError  # the old import path
from wifguard.store.base import (
    MAX_BATCH,
    Entity,
    StoreBase,
    _chunks,
    _dt,
    _etag,
    _is_retryable,
    fit_string,
)
from wifguard.store.entities import (
    as_utc,
    utcnow,
)
from wifguard.store.keys import encode_key


class EventsTable(StoreBase):
    """The ``Store`` methods of this table (``Store`` combines every table's)."""

    # -- processed events ------------------------------------------------------------------

    async def claim_event(
        self,
        source: str,
        event_id: str,
        *,
        ttl: timedelta = timedelta(days=3),
        now: datetime | None = None,
    ) -> bool:
        """True the first time (source, event_id) is seen; False for a re-delivery.

        An expired claim that was not purged yet counts as absent.
        """
        now = as_utc(now or utcnow())
        entity: Entity = {
            "PartitionKey": encode_key(source),
            "RowKey": encode_key(event_id),
            "source": fit_string(source),
            "event_id": fit_string(event_id),
            "claimed_at": now,
            "expires_at": now + ttl,
        }
        try:
            await self._events.create_entity(entity)
            return True
        except ResourceExistsError:
            pass
        try:
            prev = await self._events.get_entity(entity["PartitionKey"], entity["RowKey"])
        except ResourceNotFoundError:  # purged in between: try once more
            try:
                await self._events.create_entity(entity)
                return True
            except ResourceExistsError:
                return False
        expires = _dt(prev.get("expires_at"))
        if expires is None or expires > now:
            return False
        try:
            await self._events.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=_etag(prev),
                match_condition=MatchConditions.IfNotModified,
            )
            return True
        except HttpResponseError as exc:
            if _is_retryable(exc):
                return False
            raise

    async def claim_events(
        self,
        source: str,
        event_ids: Sequence[str],
        *,
        ttl: timedelta = timedelta(days=3),
        now: datetime | None = None,
    ) -> dict[str, bool]:
        """``claim_event`` for a batch: one insert transaction per 100 ids (all new is the common
        case); a chunk with any id seen before falls back to claiming its ids one by one."""
        now = as_utc(now or utcnow())
        ids = list(dict.fromkeys(event_ids))
        out: dict[str, bool] = {}
        pk = encode_key(source)
        for chunk in _chunks(ids, 100):
            ops: list[Any] = [("create", {
                "PartitionKey": pk, "RowKey": encode_key(i), "source": fit_string(source),
                "event_id": fit_string(i), "claimed_at": now, "expires_at": now + ttl,
            }) for i in chunk]
            try:
                await self._events.submit_transaction(ops)
            except (TableTransactionError, HttpResponseError):
                for i in chunk:
                    out[i] = await self.claim_event(source, i, ttl=ttl, now=now)
                continue
            out.update((i, True) for i in chunk)
        return out

    async def purge_expired_events(self, now: datetime | None = None) -> int:
        """Delete processed-event rows whose ``expires_at`` is past. Returns how many."""
        now = as_utc(now or utcnow())
        by_pk: dict[str, list[str]] = defaultdict(list)
        async for e in self._events.query_entities(
            "expires_at le @now", parameters={"now": now}, select=["PartitionKey", "RowKey"]
        ):
            by_pk[str(e["PartitionKey"])].append(str(e["RowKey"]))
        return await self._delete_rows(self._events, by_pk)

    @staticmethod
    async def _delete_rows(table: TableClient, by_pk: Mapping[str, Sequence[str]]) -> int:
        count = 0
        for pk, rks in by_pk.items():
            for chunk in _chunks(list(rks), MAX_BATCH):
                ops = [("delete", {"PartitionKey": pk, "RowKey": rk}) for rk in chunk]
                try:
                    await table.submit_transaction(ops)
                    count += len(chunk)
                except TableTransactionError:
                    for rk in chunk:  # one of them vanished meanwhile: delete one by one
                        try:
                            await table.delete_entity(pk, rk)
                            count += 1
                        except ResourceNotFoundError:
                            pass
        return count

