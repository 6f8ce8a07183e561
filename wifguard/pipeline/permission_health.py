"""Missing permissions, made visible to the operator.

A 403 from Graph or ARM (:class:`~wifguard.sources.inventory.permissions.PermissionDenied`) blocks the
work that needed it: the identity is not evaluated, nothing is recorded or resolved, the event is
parked (and retried later). This module records each denial in the append-only action log, where
every instance of the Function App sees it, and turns the recent ones into the health endpoint's
warning naming the missing permission. Nothing here is secret: an API, a route template and a
permission name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from wifguard.sources.inventory.permissions import PermissionDenied

log = logging.getLogger(__name__)

ACTION_KIND = "permission_denied"
WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class MissingPermission:
    permission: str
    api: str
    call: str
    count: int
    last_seen: datetime

    def warning(self) -> str:
        service = "Microsoft Graph" if self.api == "graph" else "Azure Resource Manager"
        return (f"{service} denied {self.call} ({self.count}x, last {self.last_seen.isoformat(timespec='seconds')}): "
                f"grant the app identity {self.permission}")

    def to_dict(self) -> dict[str, Any]:
        return {"permission": self.permission, "api": self.api, "call": self.call, "count": self.count,
                "last_seen": self.last_seen.isoformat(), "warning": self.warning()}


async def record_denied(store: Any, exc: PermissionDenied, where: str) -> None:
    """Log and remember one denial; never raises (the caller is already failing closed)."""
    log.warning("permission missing: %s denied %s (identity lacks %s) during %s", exc.api, exc.call,
                exc.permission, where)
    try:
        await store.log_action(ACTION_KIND, exc.permission, {"api": exc.api, "call": exc.call, "where": where},
                               actor="wifguard")
    except Exception as err:  # the store is down too: the log line above is what is left
        log.error("could not record the missing permission %s: %s", exc.permission, err)


async def missing_permissions(store: Any, *, now: datetime | None = None,
                              window: timedelta = WINDOW) -> list[MissingPermission]:
    """Denials of the last ``window``, one entry per (permission, call)."""
    now = now or datetime.now(timezone.utc)
    actions = await store.list_actions(since=now - window, kind=ACTION_KIND)
    seen: dict[tuple[str, str, str], MissingPermission] = {}
    for a in actions:
        detail = a.detail if isinstance(a.detail, dict) else {}
        key = (a.target, str(detail.get("api", "")), str(detail.get("call", "")))
        prev = seen.get(key)
        seen[key] = MissingPermission(a.target, key[1], key[2], (prev.count if prev else 0) + 1,
                                      max(a.time, prev.last_seen) if prev else a.time)
    return sorted(seen.values(), key=lambda m: (m.permission, m.call))
