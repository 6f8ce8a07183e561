"""The credential trail: when each credential of an identity was last added and removed.

Table ``{prefix}trail``: PartitionKey = encoded identity id (lower-cased), RowKey = encoded
credential name (lower-cased; names are unique per identity and immutable). Properties
``added_at`` / ``removed_at`` (the audit records' activity times) and the original names. WIF703
(added and removed within N minutes) reads it; events arrive unordered, so either side may be
written first and the lifetime is computed whenever both are known.
"""

from __future__ import annotations

from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from wifguard.store.keys import encode_key


class CredentialTrail:
    def __init__(self, tables: TableServiceClient, prefix: str) -> None:
        self.table_name = f"{prefix}trail"
        self._tables = tables
        self._table: TableClient = tables.get_table_client(self.table_name)

    async def ensure(self) -> None:
        await self._tables.create_table_if_not_exists(self.table_name)

    async def close(self) -> None:
        await self._table.close()

    async def note(self, identity_id: str, credential_name: str, what: str, when: datetime
                   ) -> tuple[datetime | None, datetime | None]:
        """Record an addition or removal (the latest of each wins); return (added_at, removed_at)."""
        if what not in ("added", "removed"):
            raise ValueError(f"trail: {what!r} is neither 'added' nor 'removed'")
        pk, rk = encode_key(identity_id.lower()), encode_key(credential_name.lower())
        try:
            prev = await self._table.get_entity(pk, rk)
        except ResourceNotFoundError:
            prev = None
        field = f"{what}_at"
        current = prev.get(field) if prev is not None else None
        if not isinstance(current, datetime) or when > current:
            await self._table.upsert_entity({"PartitionKey": pk, "RowKey": rk, "identity_id": identity_id,
                                             "credential_name": credential_name, field: when},
                                            mode=UpdateMode.MERGE)
            current = when
        other = prev.get("removed_at" if what == "added" else "added_at") if prev is not None else None
        other = other if isinstance(other, datetime) else None
        return (current, other) if what == "added" else (other, current)
