"""Cache of outside providers' answers on Azure Table Storage: ``{prefix}external``.

Rows:
- answers: PartitionKey = provider (``github``), RowKey = ``encode_key(host|kind|name)``; the answer
  as JSON, ``expires_at`` (existence changes slowly: a TTL of hours). Only definite answers
  (exists / missing) are cached; an ``unknown`` is asked again next time.
- first-seen ids: PartitionKey = ``{provider}-firstseen``, RowKey as above; the ids a name-based
  subject's repository had when wifguard first saw it (never overwritten), so that a later
  re-registration under the same name is noticed (WIF213).

A read failure raises: the caller treats it as no cached answer (and asks the provider), never as
"missing".
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from wifguard.sources.external.base import Answer, Target
from wifguard.store.keys import encode_key

POINT_READS_UP_TO = 40  # above this many keys, read the provider's partition in one query
MAX_BATCH = 100


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ExternalCache:
    """Create with ``from_connection_string`` (or a ``TableServiceClient``), ``await ensure()``, reuse."""

    def __init__(self, tables: TableServiceClient, *, prefix: str = "wifguard", owned: bool = True) -> None:
        self.table_name = f"{prefix}external"
        self._tables = tables
        self._owned = owned
        self._table: TableClient = tables.get_table_client(self.table_name)
        self.reads = 0
        self.writes = 0

    @classmethod
    def from_connection_string(cls, conn: str, *, prefix: str = "wifguard") -> ExternalCache:
        from wifguard.store.store import Store, table_service

        return cls(table_service(Store.normalize_connection_string(conn)), prefix=prefix)

    async def ensure(self) -> ExternalCache:
        await self._tables.create_table_if_not_exists(self.table_name)
        return self

    async def close(self) -> None:
        await self._table.close()
        if self._owned:
            await self._tables.close()

    aclose = close  # the old name: callers use close() (Azure SDK naming)

    # -- answers -------------------------------------------------------------------------------
    async def get_many(self, targets: Sequence[Target], now: datetime | None = None) -> dict[str, Answer]:
        now = now or _now()
        wanted = {(t.provider, encode_key(t.key)): t.key for t in targets}
        rows: list[Mapping[str, Any]] = []
        if len(wanted) <= POINT_READS_UP_TO:
            async def one(pk: str, rk: str) -> Mapping[str, Any] | None:
                try:
                    return await self._table.get_entity(pk, rk)
                except ResourceNotFoundError:
                    return None
            got = await asyncio.gather(*(one(pk, rk) for pk, rk in wanted))
            self.reads += len(wanted)
            rows = [g for g in got if g is not None]
        else:
            for provider in sorted({pk for pk, _ in wanted}):
                stamp = now.isoformat()
                flt = "PartitionKey eq @pk and expires_at gt @now"
                async for e in self._table.query_entities(flt, parameters={"pk": provider, "now": stamp}):
                    rows.append(e)
                self.reads += 1
        out: dict[str, Answer] = {}
        for row in rows:
            key = wanted.get((row["PartitionKey"], row["RowKey"]))
            if key is None:
                continue
            expires = datetime.fromisoformat(str(row.get("expires_at")))
            if expires <= now:
                continue
            out[key] = Answer.from_json(json.loads(row["answer"]), cached=True)
        return out

    async def put_many(self, items: Sequence[tuple[Target, Answer, float]], now: datetime | None = None) -> None:
        now = now or _now()
        by_pk: dict[str, list[dict[str, Any]]] = {}
        for t, a, ttl_hours in items:
            by_pk.setdefault(t.provider, []).append({
                "PartitionKey": t.provider, "RowKey": encode_key(t.key), "key": t.key, "state": a.state.value,
                "answer": json.dumps(a.to_json(), ensure_ascii=False, sort_keys=True),
                "expires_at": (now + timedelta(hours=ttl_hours)).isoformat(), "checked_at": a.checked_at})
        for entities in by_pk.values():
            unique = list({e["RowKey"]: e for e in entities}.values())
            for i in range(0, len(unique), MAX_BATCH):
                chunk = unique[i:i + MAX_BATCH]
                await self._table.submit_transaction([("upsert", e, {"mode": UpdateMode.REPLACE}) for e in chunk])
                self.writes += 1

    # -- first-seen ids ------------------------------------------------------------------------
    async def first_seen(self, targets: Sequence[Target], current: Mapping[str, Mapping[str, Any]]
                         ) -> dict[str, dict[str, Any]]:
        """The ids recorded when each target was first seen; records ``current`` for new ones."""
        out: dict[str, dict[str, Any]] = {}
        stamp = _now().replace(microsecond=0).isoformat()

        async def one(t: Target) -> None:
            pk, rk = f"{t.provider}-firstseen", encode_key(t.key)
            try:
                e = await self._table.get_entity(pk, rk)
                out[t.key] = {"id": e.get("id"), "owner_id": e.get("owner_id"), "at": e.get("first_seen")}
                return
            except ResourceNotFoundError:
                pass
            cur = current.get(t.key) or {}
            if not cur.get("id"):
                return
            try:
                await self._table.create_entity({"PartitionKey": pk, "RowKey": rk, "key": t.key,
                                                 "id": str(cur.get("id")), "owner_id": str(cur.get("owner_id") or ""),
                                                 "first_seen": stamp})
            except ResourceExistsError:
                pass  # another worker recorded it first: theirs stands

        await asyncio.gather(*(one(t) for t in {t.key: t for t in targets}.values()))
        return out
