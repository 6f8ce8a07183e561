"""The notification outbox: a notification is written as pending before it is sent and marked
sent after, per channel.

Each notification has a stable id (the finding's fingerprint + the notice kind, + a reminder
sequence): the same id is the CloudEvents ``id`` and the dedup key in Teams/Slack payloads. After
a crash (or a store outage) between a send and its mark, only the notifications that were in
flight are sent again, with the same id, so receivers can drop them; a notification that could
not be written as pending is not sent at all (it stays due on the finding). A ``new``
notification that was sent is never sent again: a finding resolved by a fault and reopened
does not reach its owners twice as "new".

Chat channels (Teams, Slack) get one message per identity per channel per run, carrying several
notifications: that *message* is then the unit that is sent and marked. Its row (kind
``message``) is written as pending before the send with the channel, the message id (derived from
its notifications' ids, see ``wifguard.notify.delivery.message_id``) and the ids of the
notifications it carries; it is marked sent after the send, and only then are its notifications
marked as taken by that channel. After a crash between the send and the mark, the same message is
sent again with the same id and the same notifications; a message marked sent is never sent
again, even if its notifications' own marks were lost. Machine channels (webhook, Event Grid)
keep one event per notification, accounted on the notification's row.

Rows live in ``{prefix}outbox``: PartitionKey = the finding's identity partition, RowKey = the
notification id, or ``msg-`` + a digest of (channel, message id) for a message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from wifguard.store.entities import as_utc, utcnow

if TYPE_CHECKING:
    from wifguard.store.store import Store

PENDING = "pending"
SENT = "sent"
MESSAGE = "message"  # the kind of a grouped message's row


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: str
    fingerprint: str
    kind: str
    state: str  # pending | sent
    channels_sent: frozenset[str]
    attempts: int
    updated_at: datetime | None = None
    # A grouped message's row (kind ``message``): its channel, the id it is sent with, and the
    # notification ids it carries.
    channel: str = ""
    message_id: str = ""
    members: tuple[str, ...] = ()

    @property
    def is_message(self) -> bool:
        return self.kind == MESSAGE

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "fingerprint": self.fingerprint, "kind": self.kind, "state": self.state,
               "channels_sent": sorted(self.channels_sent), "attempts": self.attempts}
        if self.is_message:
            out.update(channel=self.channel, message_id=self.message_id, members=list(self.members))
        return out


def message_row(channel: str, message_id: str) -> str:
    """The row key of a message: one per (channel, message id)."""
    return "msg-" + hashlib.sha256(f"{channel}\n{message_id}".encode()).hexdigest()[:40]


def _entry(e: Any) -> OutboxEntry:
    sent = str(e.get("channels_sent") or "")
    return OutboxEntry(id=str(e["RowKey"]), fingerprint=str(e.get("fingerprint") or ""),
                       kind=str(e.get("kind") or ""), state=str(e.get("state") or PENDING),
                       channels_sent=frozenset(c for c in sent.split(",") if c),
                       attempts=int(e.get("attempts") or 0), updated_at=e.get("updated_at"),
                       channel=str(e.get("channel") or ""), message_id=str(e.get("message_id") or ""),
                       members=tuple(m for m in str(e.get("members") or "").split(",") if m))


class Outbox:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._table = store._outbox  # owned (and closed) by the store

    async def begin(self, identity_id: str, items: Sequence[tuple[str, str, str]], *,
                    now: datetime | None = None) -> dict[str, OutboxEntry]:
        """Write ``(notification id, fingerprint, kind)`` as pending before sending (one transaction
        per 100); returns every entry as now stored, so callers skip what was already sent.
        Raises when the store cannot take the write: then nothing must be sent."""
        from azure.data.tables import UpdateMode

        now = as_utc(now or utcnow())
        pk = self._store.identity_partition(identity_id)
        existing = {e.id: e for e in await self.get(identity_id, [i for i, _, _ in items])}
        ops: list[tuple[Any, ...]] = []
        out: dict[str, OutboxEntry] = {}
        for nid, fp, kind in items:
            prev = existing.get(nid)
            if prev is not None and prev.state == SENT:
                out[nid] = prev
                continue
            entry = OutboxEntry(nid, fp, kind, PENDING, prev.channels_sent if prev else frozenset(),
                                (prev.attempts if prev else 0) + 1, now)
            out[nid] = entry
            ops.append(("upsert", {"PartitionKey": pk, "RowKey": nid, "fingerprint": fp, "kind": kind,
                                   "state": PENDING, "attempts": entry.attempts,
                                   "channels_sent": ",".join(sorted(entry.channels_sent)),
                                   "updated_at": now}, {"mode": UpdateMode.REPLACE}))
        for i in range(0, len(ops), 100):
            await self._table.submit_transaction(ops[i:i + 100])
        return out

    async def begin_messages(self, identity_id: str, messages: Sequence[tuple[str, str, Sequence[str]]], *,
                             now: datetime | None = None) -> dict[str, OutboxEntry]:
        """Write grouped messages ``(channel, message id, notification ids)`` as pending before
        they are sent (one transaction per 100); returns them keyed by row. A message already
        stored keeps its notifications and, when sent, is returned as is (never sent again).
        Raises when the store cannot take the write: then nothing must be sent."""
        from azure.data.tables import UpdateMode

        now = as_utc(now or utcnow())
        pk = self._store.identity_partition(identity_id)
        rows = {message_row(ch, mid): (ch, mid, tuple(sorted(members))) for ch, mid, members in messages}
        existing = {e.id: e for e in await self.get(identity_id, rows)}
        ops: list[tuple[Any, ...]] = []
        out: dict[str, OutboxEntry] = {}
        for row, (ch, mid, members) in rows.items():
            prev = existing.get(row)
            if prev is not None and prev.state == SENT:
                out[row] = prev
                continue
            members = prev.members if prev is not None else members
            entry = OutboxEntry(row, "", MESSAGE, PENDING, frozenset(), (prev.attempts if prev else 0) + 1, now,
                                channel=ch, message_id=mid, members=members)
            out[row] = entry
            ops.append(("upsert", {"PartitionKey": pk, "RowKey": row, "fingerprint": "", "kind": MESSAGE,
                                   "state": PENDING, "attempts": entry.attempts, "channels_sent": "",
                                   "channel": ch, "message_id": mid, "members": ",".join(members),
                                   "updated_at": now}, {"mode": UpdateMode.REPLACE}))
        for i in range(0, len(ops), 100):
            await self._table.submit_transaction(ops[i:i + 100])
        return out

    async def messages(self, identity_id: str) -> list[OutboxEntry]:
        """The grouped messages stored for an identity (one partition query)."""
        pk = self._store.identity_partition(identity_id)
        return [_entry(e) async for e in self._table.query_entities(
            "PartitionKey eq @pk and kind eq @k", parameters={"pk": pk, "k": MESSAGE})]

    async def mark_many(self, identity_id: str, marks: Sequence[tuple[OutboxEntry, Iterable[str], bool]], *,
                        now: datetime | None = None) -> None:
        """:meth:`mark` for several notifications of one identity in one transaction per 100."""
        from azure.data.tables import UpdateMode

        now = as_utc(now or utcnow())
        pk = self._store.identity_partition(identity_id)
        ops: list[tuple[Any, ...]] = []
        for entry, channels_ok, complete in marks:
            sent = set(entry.channels_sent) | set(channels_ok)
            ops.append(("upsert", {"PartitionKey": pk, "RowKey": entry.id, "state": SENT if complete else PENDING,
                                   "channels_sent": ",".join(sorted(sent)), "updated_at": now},
                        {"mode": UpdateMode.MERGE}))
        for i in range(0, len(ops), 100):
            await self._table.submit_transaction(ops[i:i + 100])

    async def get(self, identity_id: str, ids: Iterable[str]) -> list[OutboxEntry]:
        """The entries of these ids (one partition query: an identity has few notifications)."""
        pk = self._store.identity_partition(identity_id)
        wanted = set(ids)
        return [_entry(e) async for e in self._table.query_entities("PartitionKey eq @pk", parameters={"pk": pk})
                if str(e["RowKey"]) in wanted]

    async def mark(self, identity_id: str, entry: OutboxEntry, channels_ok: Iterable[str], *, complete: bool,
                   now: datetime | None = None) -> None:
        """Record the channels that took the notification; ``complete``: every channel did."""
        from azure.data.tables import UpdateMode

        now = as_utc(now or utcnow())
        pk = self._store.identity_partition(identity_id)
        sent = set(entry.channels_sent) | set(channels_ok)
        await self._table.upsert_entity({"PartitionKey": pk, "RowKey": entry.id,
                                         "state": SENT if complete else PENDING,
                                         "channels_sent": ",".join(sorted(sent)), "updated_at": now},
                                        mode=UpdateMode.MERGE)

    async def list(self, *, state: str | None = None) -> list[OutboxEntry]:
        pager = (self._table.query_entities("state eq @s", parameters={"s": state}) if state
                 else self._table.list_entities())
        return [_entry(e) async for e in pager]
