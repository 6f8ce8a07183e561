"""The action log table: what wifguard did (quarantine, restore, permission denials), by day."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from azure.core.exceptions import ResourceExistsError

from wifguard.errors import StoreError as StoreError  # the old import path
from wifguard.store.base import (
    Entity,
    StoreBase,
    _action_partition,
    _action_row_prefix,
    _dt,
    _filter,
    _opt_fit,
    _str_or_none,
    evidence_json,
    fit_string,
)
from wifguard.store.entities import (
    ActionRecord,
    as_utc,
    utcnow,
)


class ActionLogTable(StoreBase):
    """The ``Store`` methods of this table (``Store`` combines every table's)."""

    # -- action log ------------------------------------------------------------------------

    async def log_action(
        self,
        kind: str,
        target: str,
        detail: Mapping[str, Any] | None = None,
        actor: str | None = None,
        *,
        now: datetime | None = None,
    ) -> ActionRecord:
        """Append one entry (never overwrites). Entries of one store sort in call order."""
        async with self._action_lock:
            ts = as_utc(now or utcnow())
            if self._last_action_ts is not None and ts <= self._last_action_ts:
                ts = self._last_action_ts + timedelta(microseconds=1)
            self._last_action_ts = ts
        detail_text, truncated = evidence_json(detail or {})
        for _ in range(3):
            entity: Entity = {
                "PartitionKey": _action_partition(ts),
                "RowKey": f"{_action_row_prefix(ts)}-{uuid.uuid4().hex[:16]}",
                "time": ts,
                "kind": fit_string(kind),
                "target": fit_string(target),
                "detail": detail_text,
                "detail_truncated": truncated,
                "actor": _opt_fit(actor),
            }
            try:
                await self._actions.create_entity(entity)
            except ResourceExistsError:  # astronomically unlikely uuid clash: new row key
                continue
            return _action_record(entity)
        raise StoreError("could not append to the action log")

    async def list_actions(
        self,
        since: datetime | None = None,
        kind: str | None = None,
        *,
        limit: int | None = None,
    ) -> list[ActionRecord]:
        """Entries in time order (oldest first), optionally from ``since`` and of one ``kind``."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if since is not None:
            s = as_utc(since)
            clauses.append("PartitionKey ge @spk")
            clauses.append("RowKey ge @srk")
            params["spk"] = _action_partition(s)
            params["srk"] = _action_row_prefix(s)
        if kind is not None:
            clauses.append("kind eq @kind")
            params["kind"] = kind
        query_filter = _filter(*clauses)
        pager = (self._actions.query_entities(query_filter, parameters=params) if query_filter
                 else self._actions.list_entities())
        out = [_action_record(e) async for e in pager]
        out.sort(key=lambda a: a.id)
        return out[:limit] if limit is not None else out


def _action_record(e: Mapping[str, Any]) -> ActionRecord:
    try:
        detail = json.loads(str(e.get("detail") or "{}"))
    except ValueError:
        detail = {"_unparsable": str(e.get("detail"))}
    return ActionRecord(
        id=str(e["RowKey"]),
        time=_dt(e.get("time")) or datetime.fromtimestamp(0, timezone.utc),
        kind=str(e.get("kind") or ""),
        target=str(e.get("target") or ""),
        detail=detail if isinstance(detail, dict) else {"value": detail},
        actor=_str_or_none(e.get("actor")),
    )
