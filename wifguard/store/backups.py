"""The quarantine backups table: exact copies of removed credentials, verified before a delete."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from wifguard.errors import StoreError as StoreError  # the old import path
from wifguard.store.base import (
    BACKUP_PARTITION,
    BackupVerificationError,
    ConcurrencyError,
    Entity,
    RecordNotFound,
    StoreBase,
    _dt,
    _etag,
    _filter,
    _opt_fit,
    _str_or_none,
    fit_string,
)
from wifguard.store.entities import (
    BackupState,
    QuarantineBackup,
    as_utc,
    utcnow,
)
from wifguard.store.keys import encode_key


class BackupsTable(StoreBase):
    """The ``Store`` methods of this table (``Store`` combines every table's)."""

    # -- quarantine backups ----------------------------------------------------------------

    async def save_backup(self, backup: QuarantineBackup) -> QuarantineBackup:
        """Store a backup (never overwriting one) and read it back to verify it."""
        entity = _backup_entity(backup)
        try:
            await self._backups.create_entity(entity)
        except ResourceExistsError:
            raise StoreError(f"a backup with id {backup.id} already exists") from None
        stored = await self.get_backup(backup.id)
        if stored is None or stored.credential_json != backup.credential_json:
            raise BackupVerificationError(f"backup {backup.id} did not read back identically")
        return stored

    async def get_backup(self, backup_id: str) -> QuarantineBackup | None:
        try:
            e = await self._backups.get_entity(BACKUP_PARTITION, encode_key(backup_id))
        except ResourceNotFoundError:
            return None
        return _backup_record(e)

    async def list_backups(
        self,
        *,
        state: BackupState | str | None = None,
        identity_id: str | None = None,
    ) -> list[QuarantineBackup]:
        """Backups, oldest first."""
        clauses = ["PartitionKey eq @pk"]
        params: dict[str, Any] = {"pk": BACKUP_PARTITION}
        if state is not None:
            clauses.append("state eq @state")
            params["state"] = BackupState(state).value
        if identity_id is not None:
            clauses.append("identity_id_lc eq @iid")
            params["iid"] = fit_string(identity_id.lower())
        pager = self._backups.query_entities(_filter(*clauses), parameters=params)
        out = [_backup_record(e) async for e in pager]
        out.sort(key=lambda b: (b.created_at, b.id))
        return out

    async def update_backup_state(
        self,
        backup_id: str,
        state: BackupState | str,
        etag: str | None,
        *,
        detail: str | None = None,
        now: datetime | None = None,
    ) -> QuarantineBackup:
        """Move a backup to ``state`` if it is unchanged since ``etag`` was read.

        Raises ``ConcurrencyError`` when someone else changed it, ``KeyError`` when absent.
        """
        new_state = BackupState(state)
        patch: Entity = {
            "PartitionKey": BACKUP_PARTITION,
            "RowKey": encode_key(backup_id),
            "state": new_state.value,
            "updated_at": as_utc(now or utcnow()),
        }
        if detail is not None:
            patch["detail"] = fit_string(detail)
        kwargs: dict[str, Any] = (
            {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag
            else {"match_condition": MatchConditions.Unconditionally}
        )
        try:
            await self._backups.update_entity(patch, mode=UpdateMode.MERGE, **kwargs)
        except ResourceNotFoundError:
            raise RecordNotFound(f"no backup {backup_id}") from None
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise ConcurrencyError(f"backup {backup_id} was changed by someone else") from exc
            raise
        stored = await self.get_backup(backup_id)
        if stored is None:
            raise RecordNotFound(f"no backup {backup_id}")
        return stored



_JSON_CHUNK = 15_000  # code points per property: at most 30,000 UTF-16 units


def _backup_entity(b: QuarantineBackup) -> Entity:
    text = b.credential_json
    chunks = [text[i : i + _JSON_CHUNK] for i in range(0, len(text), _JSON_CHUNK)] or [""]
    if len(chunks) > 30:
        raise StoreError(f"backup {b.id}: credential JSON too large ({len(b.credential_json)} chars)")
    entity: Entity = {
        "PartitionKey": BACKUP_PARTITION,
        "RowKey": encode_key(b.id),
        "backup_id": fit_string(b.id),
        "fingerprint": b.fingerprint,
        "rule_id": b.rule_id,
        "identity_kind": b.identity_kind,
        "identity_id": b.identity_id,
        "identity_id_lc": fit_string(b.identity_id.lower()),
        "identity_name": b.identity_name,
        "identity_object_id": b.identity_object_id,
        "identity_resource_id": b.identity_resource_id,
        "credential_name": b.credential_name,
        "credential_shape": b.credential_shape,
        "credential_json_chunks": len(chunks),
        "credential_sha256": hashlib.sha256(b.credential_json.encode("utf-8", "surrogatepass")).hexdigest(),
        "state": BackupState(b.state).value,
        "created_at": as_utc(b.created_at),
        "updated_at": as_utc(b.updated_at) if b.updated_at else None,
        "actor": b.actor,
        "detail": _opt_fit(b.detail),
    }
    for i, chunk in enumerate(chunks):
        entity[f"credential_json_{i}"] = chunk
    return entity


def _backup_record(e: Mapping[str, Any]) -> QuarantineBackup:
    n = int(e.get("credential_json_chunks") or 0)
    text = "".join(str(e.get(f"credential_json_{i}") or "") for i in range(n))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    if e.get("credential_sha256") and digest != e.get("credential_sha256"):
        raise BackupVerificationError(f"backup {e.get('backup_id')}: stored credential JSON is damaged")
    return QuarantineBackup(
        id=str(e.get("backup_id") or e["RowKey"]),
        fingerprint=str(e.get("fingerprint") or ""),
        rule_id=str(e.get("rule_id") or ""),
        identity_kind=str(e.get("identity_kind") or ""),
        identity_id=str(e.get("identity_id") or ""),
        identity_name=str(e.get("identity_name") or ""),
        credential_name=str(e.get("credential_name") or ""),
        credential_json=text,
        created_at=_dt(e.get("created_at")) or datetime.fromtimestamp(0, timezone.utc),
        actor=str(e.get("actor") or ""),
        state=BackupState(str(e.get("state") or BackupState.BACKED_UP.value)),
        identity_object_id=_str_or_none(e.get("identity_object_id")),
        identity_resource_id=_str_or_none(e.get("identity_resource_id")),
        credential_shape=str(e.get("credential_shape") or "graph"),
        updated_at=_dt(e.get("updated_at")),
        detail=_str_or_none(e.get("detail")),
        etag=_etag(e),
    )
