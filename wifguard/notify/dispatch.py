"""Owner notifications of one run, through the outbox: one chat message per identity per channel.

A run (an event batch, a sweep) queues its notices here. Each is written to the outbox as pending
first (a notice that cannot be written is not sent: it stays due on its finding). What needs no
grouping goes out at once, one per notice, as it always did: machine channels (webhook, Event
Grid: one event per finding, accounted on the notification's own row) and ungrouped chat messages
(quarantine notices, ``grouping: finding``). Grouped chat channels wait for the end of the run,
where each identity's notices become one message per channel (worst first, "and N more").

That message is the unit sent and marked (``wifguard.store.outbox``): written as pending with the
notifications it carries, sent, marked sent, and only then are its notifications marked as taken
by the channel, so each finding is still accounted as notified once its message is delivered. A
message left pending by a crash is sent again with the same id and the same notifications (a
receiver can drop the copy); a message marked sent is never sent again. One slot of
:data:`NOTIFY_IN_FLIGHT` covers a send and its mark, so a crash re-sends at most that many.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .compose import event_id
from .delivery import DeliveryResult, Message, Notifier
from .notice import Notice

if TYPE_CHECKING:
    from wifguard.store.outbox import Outbox, OutboxEntry

log = logging.getLogger(__name__)

#: messages between "sent" and "marked sent" at any moment: what a crash may send twice
NOTIFY_IN_FLIGHT = 4
#: after an outbox write failed, nothing is sent for this long (it stays pending)
OUTBOX_PAUSE_S = 10.0


@dataclass
class Queued:
    """A notice waiting for its identity's message at the end of the run."""

    notice: Notice
    entry: OutboxEntry  # its own outbox row, as stored (machine channels already marked)
    mark: bool  # mark the finding notified once delivered
    channels: list[str]  # grouped chat channels still to send
    deliveries: list[DeliveryResult] = field(default_factory=list)  # what it got already
    origins: set[Hashable] = field(default_factory=set)  # the event records that produced it


@dataclass
class RunNotices:
    """What a run has queued for its end, per identity and notification id."""

    by_identity: dict[str, dict[str, Queued]] = field(default_factory=dict)
    origins: set[Hashable] = field(default_factory=set)

    def add(self, identity: str, q: Queued) -> None:
        self.origins |= q.origins
        nid = event_id(q.notice)
        prev = self.by_identity.setdefault(identity, {}).get(nid)
        if prev is None:
            self.by_identity[identity][nid] = q
            return
        # Queued twice in one run (a second record about the same identity): one notification.
        prev.origins |= q.origins
        prev.channels = list(dict.fromkeys([*prev.channels, *q.channels]))
        prev.deliveries += q.deliveries
        prev.mark = prev.mark or q.mark

    def waits_for(self, origin: Hashable) -> bool:
        return origin in self.origins

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_identity.values())


@dataclass(frozen=True, slots=True)
class Outcome:
    """A notice that went through: its deliveries, and whether the outbox recorded them (False:
    a mark failed; the finding stays due and the same ids are sent again next time)."""

    notice: Notice
    deliveries: list[DeliveryResult]
    recorded: bool
    mark: bool


@dataclass
class Dispatch:
    outcomes: list[Outcome] = field(default_factory=list)
    held: list[Queued] = field(default_factory=list)  # not sent: the outbox could not be written


class Dispatcher:
    """Sends queued notices through the outbox; one per worker (its slots bound what a crash
    can send twice)."""

    def __init__(self, outbox: Outbox, *, in_flight: int = NOTIFY_IN_FLIGHT, pause: float = OUTBOX_PAUSE_S) -> None:
        self.outbox = outbox
        self._slots = asyncio.Semaphore(max(1, in_flight))
        self._pause = pause
        self._down_until = 0.0

    def _paused(self) -> bool:
        return time.monotonic() < self._down_until

    def _outage(self) -> None:
        self._down_until = time.monotonic() + self._pause

    async def queue(self, notifier: Notifier, notices: Sequence[Notice], run: RunNotices, *, mark: bool,
                    origin: Hashable | None, errors: list[str]) -> Dispatch:
        """Write the notices as pending, send what needs no grouping now and queue the rest on
        ``run`` (:meth:`flush` sends it). ``held``: notices not written or not sent (outage)."""
        out = Dispatch()
        by_identity: dict[str, list[Notice]] = {}
        for n in notices:
            by_identity.setdefault(_identity(n), []).append(n)

        async def one(ident: str, n: Notice, entry: OutboxEntry) -> None:
            from wifguard.store.outbox import SENT

            if entry.state == SENT:  # delivered before (e.g. reopened by a fault): never again
                out.outcomes.append(Outcome(n, [], True, mark))
                return
            channels = [c for c in notifier.route(n) if c not in entry.channels_sent]
            later = [c for c in channels if notifier.groupable(n, c)]
            now = [c for c in channels if c not in later]
            q = Queued(n, entry, mark, later, origins={origin} if origin is not None else set())
            if now:
                async with self._slots:  # send + mark under one slot
                    if self._paused():
                        errors.append(f"{event_id(n)}: not sent while the outbox cannot be written; still pending")
                        out.held.append(q)
                        return
                    sent = await asyncio.gather(*(notifier.deliver_message(m) for m in notifier.plan([(n, now)])))
                    q.deliveries = [r for rs in sent for r in rs]
                    ok = [d.channel for d in q.deliveries if d.ok]
                    recorded = await self._mark(ident, [(entry, ok, not later and len(ok) == len(q.deliveries))],
                                                errors)
                if not recorded:
                    out.outcomes.append(Outcome(n, q.deliveries, False, mark))
                    return
                q.entry = replace(entry, channels_sent=entry.channels_sent | set(ok))
            if later:
                run.add(ident, q)
            else:
                out.outcomes.append(Outcome(n, q.deliveries, True, mark))

        jobs = []
        for ident, group in by_identity.items():
            try:
                entries = await self.outbox.begin(ident, [(event_id(n), n.finding.fingerprint, n.kind.value)
                                                          for n in group])
            except Exception as exc:
                self._outage()
                errors.append(f"outbox unavailable: {len(group)} notification(s) of {ident} not sent, "
                              f"still pending: {_short(exc)}")
                out.held += [Queued(n, _placeholder(n), mark, []) for n in group]
                continue
            jobs += [one(ident, n, entries[event_id(n)]) for n in group]
        await asyncio.gather(*jobs)
        return out

    async def flush(self, notifier: Notifier, run: RunNotices, errors: list[str]) -> Dispatch:
        """Send every identity's queued notices: one message per channel (and kind)."""
        out = Dispatch()
        await asyncio.gather(*(self._identity(notifier, ident, items, out, errors)
                               for ident, items in run.by_identity.items()))
        run.by_identity.clear()
        return out

    async def _identity(self, notifier: Notifier, ident: str, items: dict[str, Queued], out: Dispatch,
                        errors: list[str]) -> None:
        from wifguard.store.outbox import SENT

        queued = list(items.values())
        try:
            stored = [m for m in await self.outbox.messages(ident) if m.members]
            pieces = _pieces(notifier.plan([(q.notice, q.channels) for q in queued]), stored)
            rows = await self.outbox.begin_messages(
                ident, [(m.channel, m.id, [event_id(n) for n in m.notices]) for m in pieces])
        except Exception as exc:
            self._outage()
            errors.append(f"outbox unavailable: {len(queued)} notification(s) of {ident} not sent, "
                          f"still pending: {_short(exc)}")
            out.held += queued
            return
        from wifguard.store.outbox import message_row

        got: dict[str, list[DeliveryResult]] = {nid: [] for nid in items}
        held: set[str] = set()
        unrecorded: set[str] = set()

        async def send(m: Message) -> None:
            row = rows[message_row(m.channel, m.id)]
            nids = [event_id(n) for n in m.notices]
            if row.state == SENT:  # sent before, its notifications' marks were lost: never again
                for n, nid in zip(m.notices, nids, strict=True):
                    got[nid].append(_delivered_before(n, m, notifier))
                return
            async with self._slots:  # send + mark under one slot
                if self._paused():
                    errors.append(f"message {m.id} ({len(nids)} notification(s)) not sent while the outbox cannot "
                                  "be written; still pending")
                    held.update(nids)
                    return
                res = await notifier.deliver_message(m)
                ok = bool(res) and all(d.ok for d in res)
                recorded = await self._mark(ident, [(row, [m.channel] if ok else [], ok)], errors)
            for nid, d in zip(nids, res, strict=True):
                got[nid].append(d)
            if not recorded:
                unrecorded.update(nids)

        await asyncio.gather(*(send(m) for m in pieces))
        marks = []
        for nid, q in items.items():
            if nid in unrecorded:
                continue
            ok = [d.channel for d in got[nid] if d.ok]
            done = nid not in held and all(d.ok for d in [*q.deliveries, *got[nid]])
            marks.append((q.entry, ok, done))
        recorded = await self._mark(ident, marks, errors) if marks else True
        for nid, q in items.items():
            q.deliveries = [*q.deliveries, *got[nid]]
            if nid in held:
                out.held.append(q)
            else:
                out.outcomes.append(Outcome(q.notice, q.deliveries, recorded and nid not in unrecorded, q.mark))

    async def _mark(self, ident: str, marks: Sequence[tuple[OutboxEntry, Iterable[str], bool]],
                    errors: list[str]) -> bool:
        try:
            await self.outbox.mark_many(ident, marks)
            return True
        except Exception as exc:
            self._outage()
            errors.append(f"outbox mark for {', '.join(e.id for e, _, _ in marks)[:200]} failed (it may be sent "
                          f"again, same id): {_short(exc)}")
            return False


def _pieces(messages: Iterable[Message], stored: Sequence[OutboxEntry]) -> list[Message]:
    """The messages to send, keeping what is already stored: notifications that a stored message
    (pending after a crash, or sent) carries on a channel go with that message again, under its
    id; the others form a new message."""
    out: list[Message] = []
    for m in messages:
        members = {event_id(n): n for n in m.notices}
        for row in stored:
            if row.channel != m.channel:
                continue
            mine = [members.pop(i) for i in row.members if i in members]
            if mine:
                out.append(Message.of(m.channel, mine, grouped=True, id=row.message_id))
        if members:
            rest = list(members.values())
            out.append(Message.of(m.channel, rest, grouped=True) if len(rest) < len(m.notices) else m)
    return out


def _delivered_before(n: Notice, m: Message, notifier: Notifier) -> DeliveryResult:
    ch = notifier.config.channels.get(m.channel)
    return DeliveryResult(channel=m.channel, ok=True, status=None, attempts=0, fingerprint=n.finding.fingerprint,
                          kind=n.kind.value, channel_type=str(ch.type) if ch else "", notification_id=m.id)


def _identity(n: Notice) -> str:
    return str(n.finding.identity.get("id", ""))


def _placeholder(n: Notice) -> OutboxEntry:
    from wifguard.store.outbox import PENDING, OutboxEntry

    return OutboxEntry(event_id(n), n.finding.fingerprint, n.kind.value, PENDING, frozenset(), 0)


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"
