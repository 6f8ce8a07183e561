"""The parked (rejected) payloads table: each record's own bytes, reason and re-drive state."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from wifguard.errors import StoreError as StoreError  # the old import path
from wifguard.store.base import (
    MAX_BINARY_BYTES,
    MAX_STRING_UNITS,
    Entity,
    StoreBase,
    _dt,
    _filter,
    _opt_fit,
    _props,
    _str_or_none,
    _utf16_units,
    fit_string,
)
from wifguard.store.entities import (
    RejectedPayload,
    as_utc,
    utcnow,
)
from wifguard.store.findings import _is_clean_text
from wifguard.store.keys import encode_key


class ParkedTable(StoreBase):
    """The ``Store`` methods of this table (``Store`` combines every table's)."""

    # -- rejected payloads -----------------------------------------------------------------

    async def park(
        self,
        source: str,
        raw: bytes | str,
        reason: str,
        event_id: str | None = None,
        *,
        key: str | None = None,
        transient: bool = False,
        now: datetime | None = None,
    ) -> RejectedPayload:
        """Keep a payload that could not be processed, with its reason and raw body.

        Bodies too large for one property go to the blob container ``{prefix}-rejected``.
        With ``key`` (the record's dedup key: id + content digest) parking is idempotent: the
        same record parked again updates its row (attempt count, reason, transient) instead of
        adding one, so a re-delivered batch never multiplies parked rows.
        """
        now = as_utc(now or utcnow())
        kind = "str" if isinstance(raw, str) else "bytes"
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
        row_id = key or f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex}"
        pk = encode_key(source)
        if key is not None:
            try:
                prev = await self._rejected.get_entity(pk, key)
            except ResourceNotFoundError:
                prev = None
            if prev is not None:
                patch: Entity = {
                    "PartitionKey": pk, "RowKey": key, "reason": fit_string(reason),
                    "attempts": int(prev.get("attempts") or 1) + 1, "transient": transient,
                    "state": "parked", "last_attempt_at": now,
                }
                await self._rejected.update_entity(patch, mode=UpdateMode.MERGE)
                return _rejected_record({**_props(prev), **patch})
        entity: Entity = {
            "PartitionKey": pk,
            "RowKey": row_id,
            "source": fit_string(source),
            "reason": fit_string(reason),
            "event_id": _opt_fit(event_id),
            "received_at": now,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "kind": kind,
            "attempts": 1,
            "transient": transient,
            "state": "parked",
            "last_attempt_at": now,
        }
        blob_name: str | None = None
        clean_text = isinstance(raw, str) and _is_clean_text(raw)
        if isinstance(raw, str) and clean_text and _utf16_units(raw) <= MAX_STRING_UNITS:
            entity["raw_text"] = raw
        elif len(data) <= MAX_BINARY_BYTES:
            entity["raw_bytes"] = data
        else:
            if self._blobs is None:
                raise StoreError("payload too large for a table property and no blob endpoint is configured")
            blob_name = f"{now:%Y/%m/%d}/{row_id}.bin"
            from azure.storage.blob import ContentSettings

            container = self._blobs.get_container_client(self.rejected_container)
            await container.upload_blob(
                blob_name,
                data,
                overwrite=key is not None,  # a keyed body is the same record's bytes
                metadata={"source": encode_key(source)[:256], "kind": kind},
                content_settings=ContentSettings(
                    content_type="text/plain; charset=utf-8" if kind == "str" else "application/octet-stream"
                ),
            )
            entity["blob_container"] = self.rejected_container
            entity["blob_name"] = blob_name
        try:
            await self._rejected.create_entity(entity)
        except ResourceExistsError:
            if key is None:
                raise
            return await self.park(source, raw, reason, event_id, key=key, transient=transient, now=now)
        return _rejected_record(entity)

    async def get_parked(self, parked_id: str) -> RejectedPayload | None:
        """One parked payload by its id (any source); the body is loaded when it lives in a blob."""
        async for e in self._rejected.query_entities("RowKey eq @rk", parameters={"rk": parked_id}):
            rec = _rejected_record(e)
            if rec.raw is None and rec.blob_name is not None:
                from dataclasses import replace

                rec = replace(rec, raw=await self.read_rejected_body(rec))
            return rec
        return None

    async def update_parked(self, payload: RejectedPayload, *, state: str | None = None,
                            reason: str | None = None, transient: bool | None = None,
                            attempted: bool = False, note: str | None = None,
                            now: datetime | None = None) -> RejectedPayload:
        """Re-drive bookkeeping on a parked row: its state, reason, attempt count, note."""
        now = as_utc(now or utcnow())
        patch: Entity = {"PartitionKey": encode_key(payload.source), "RowKey": payload.id}
        if state is not None:
            patch["state"] = state
        if reason is not None:
            patch["reason"] = fit_string(reason)
        if transient is not None:
            patch["transient"] = transient
        if note is not None:
            patch["note"] = fit_string(note)
        if attempted:
            patch["attempts"] = payload.attempts + 1
            patch["last_attempt_at"] = now
        await self._rejected.update_entity(patch, mode=UpdateMode.MERGE)
        e = await self._rejected.get_entity(patch["PartitionKey"], payload.id)
        return _rejected_record(e)

    async def list_rejected(
        self,
        *,
        source: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[RejectedPayload]:
        """Parked payloads, newest first. Blob bodies are not loaded (see ``read_rejected_body``)."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if source is not None:
            clauses.append("PartitionKey eq @pk")
            params["pk"] = encode_key(source)
        if since is not None:
            clauses.append("received_at ge @since")
            params["since"] = as_utc(since)
        query_filter = _filter(*clauses)
        pager = (self._rejected.query_entities(query_filter, parameters=params) if query_filter
                 else self._rejected.list_entities())
        out = [_rejected_record(e) async for e in pager]
        out.sort(key=lambda r: (r.received_at, r.id), reverse=True)
        return out[:limit] if limit is not None else out

    async def read_rejected_body(self, payload: RejectedPayload) -> bytes | str:
        """The raw body of a parked payload, from the row or from its blob."""
        if payload.raw is not None:
            return payload.raw
        if self._blobs is None or payload.blob_name is None:
            raise StoreError(f"rejected payload {payload.id} has no body")
        container = payload.blob_container or self.rejected_container
        blob = self._blobs.get_blob_client(container, payload.blob_name)
        downloader = await blob.download_blob()
        data = await downloader.readall()
        return data.decode("utf-8", "surrogatepass") if payload.kind == "str" else data



def _rejected_record(e: Mapping[str, Any]) -> RejectedPayload:
    kind = str(e.get("kind") or "bytes")
    raw: bytes | str | None = None
    if e.get("raw_text") is not None:
        raw = str(e["raw_text"])
    elif e.get("raw_bytes") is not None:
        data = bytes(e["raw_bytes"])
        raw = data.decode("utf-8", "surrogatepass") if kind == "str" else data
    return RejectedPayload(
        id=str(e["RowKey"]),
        source=str(e.get("source") or ""),
        reason=str(e.get("reason") or ""),
        received_at=_dt(e.get("received_at")) or datetime.fromtimestamp(0, timezone.utc),
        size=int(e.get("size") or 0),
        sha256=str(e.get("sha256") or ""),
        kind=kind,
        event_id=_str_or_none(e.get("event_id")),
        raw=raw,
        blob_container=_str_or_none(e.get("blob_container")),
        blob_name=_str_or_none(e.get("blob_name")),
        attempts=int(e.get("attempts") or 1),
        transient=bool(e.get("transient") or False),
        state=str(e.get("state") or "parked"),
        last_attempt_at=_dt(e.get("last_attempt_at")),
        note=_str_or_none(e.get("note")),
    )
