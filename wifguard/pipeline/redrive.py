"""Re-drive parked records through the same handler and pipeline as a live delivery.

A parked row holds one record's exact bytes. Re-driving decodes them with the trigger's own
handler and runs them through ``Responder.handle`` — so event-only rules (WIF104 issuer changed,
WIF701/702 actor) are evaluated, which no sweep could recover — under the record's original id,
so its claim (id + content digest) is the same: a record that was processed meanwhile (the
platform delivered it again) is a duplicate and its parked row is simply marked done.

Transient rows (Graph/ARM/store outages, partial reads) are re-driven automatically on the sweep
planner's timer, a bounded number per run, with a backoff that doubles with each attempt, up
to :data:`MAX_AUTO_ATTEMPTS`; permanent ones (malformed) wait for a person
(``wifguard parked retry ID`` or ``wifguard parked discard ID --reason ...``). A row re-driven
successfully is kept, marked ``done``, for audit.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from wifguard.errors import DecodeError
from wifguard.store.entities import RejectedPayload, as_utc, utcnow

if TYPE_CHECKING:
    from wifguard.pipeline.intake import Decoded
    from wifguard.pipeline.responder import Responder, RunResult

log = logging.getLogger(__name__)

#: automatic re-drives of one transient row before it waits for a person
MAX_AUTO_ATTEMPTS = 8
#: rows re-driven per planner run (the rest wait for the next tick)
AUTO_PER_RUN = 200
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)

PARKED, DONE, DISCARDED = "parked", "done", "discarded"


def backoff(attempts: int) -> timedelta:
    """Wait before the next automatic attempt: 1, 2, 4, 8 ... minutes, capped at 6 h."""
    return min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))


def due(p: RejectedPayload, now: datetime | None = None) -> bool:
    """Whether a parked row is up for an automatic re-drive."""
    if p.state != PARKED or not p.transient or p.attempts >= MAX_AUTO_ATTEMPTS:
        return False
    last = p.last_attempt_at or p.received_at
    return as_utc(last) + backoff(p.attempts) <= as_utc(now or utcnow())


@dataclass
class RedriveOutcome:
    id: str
    event_id: str | None
    source: str
    outcome: str  # done | parked | failed
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "event_id": self.event_id, "source": self.source, "outcome": self.outcome,
                "detail": self.detail}


@dataclass
class RedriveReport:
    outcomes: list[RedriveOutcome] = field(default_factory=list)
    results: list[RunResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    def to_json(self) -> dict[str, Any]:
        notifications = [n for r in self.results for n in r.notifications]
        findings = {f.fingerprint: f.to_dict() for r in self.results for f in r.findings}
        return {"redriven": [o.to_dict() for o in self.outcomes],
                "findings": list(findings.values()),
                "notifications": notifications,
                "summary": {"done": self.count(DONE), "parked": self.count(PARKED), "failed": self.count("failed"),
                            "findings": len(findings), "notifications": len(notifications)},
                "errors": [e for r in self.results for e in r.errors]}


def decode(p: RejectedPayload, raw: bytes | str) -> list[Decoded]:
    """The parked bytes through the trigger's own handler, under the record's original id."""
    from wifguard.pipeline.intake import UnknownSource, decoder

    try:
        decode_source = decoder(p.source)
    except UnknownSource as exc:
        raise DecodeError(f"parked row {p.id}: {exc}", where=f"parked row {p.id}") from None
    decoded = decode_source([raw])
    if len(decoded) == 1 and p.event_id and decoded[0].status != "ignored":
        # the same id as when it was parked (an audit fallback id holds the record's batch index)
        decoded = [dataclasses.replace(decoded[0], id=p.event_id)]
    return decoded


async def redrive(responder: Responder, p: RejectedPayload) -> tuple[RedriveOutcome, RunResult | None]:
    """Re-drive one parked row. Raises ``BatchNotDurable`` when the store is down."""
    from wifguard.pipeline.responder import RunResult

    if p.state != PARKED:
        return RedriveOutcome(p.id, p.event_id, p.source, p.state, f"not parked (state {p.state})"), None
    store = responder.store
    raw = p.raw if p.raw is not None else await store.read_rejected_body(p)
    try:
        decoded = decode(p, raw)
    except ValueError as exc:
        return RedriveOutcome(p.id, p.event_id, p.source, "failed", str(exc)), None
    result = await responder.handle(decoded, RunResult())
    statuses = [e.status for e in result.events]
    if statuses and all(s in ("processed", "duplicate", "ignored") for s in statuses):
        note = "; ".join(f"{e.status}: {e.reason}" for e in result.events)[:1000]
        await store.update_parked(p, state=DONE, attempted=True, note=f"re-driven: {note}")
        log.info("parked %s (%s) re-driven: %s", p.id, p.event_id, note)
        return RedriveOutcome(p.id, p.event_id, p.source, DONE, note), result
    reason = "; ".join(e.reason for e in result.events if e.status not in ("processed", "duplicate", "ignored"))
    after = await store.get_parked(p.id)
    if after is None or after.attempts == p.attempts:
        # parked under another key (a row from before keyed parking): count the attempt here
        await store.update_parked(p, attempted=True, reason=reason or None)
    return RedriveOutcome(p.id, p.event_id, p.source, PARKED, reason), result


async def redrive_many(responder: Responder, rows: Iterable[RejectedPayload]) -> RedriveReport:
    report = RedriveReport()
    for p in rows:
        outcome, result = await redrive(responder, p)
        report.outcomes.append(outcome)
        if result is not None:
            report.results.append(result)
    return report


async def redrive_due(responder: Responder, *, limit: int = AUTO_PER_RUN, now: datetime | None = None
                      ) -> RedriveReport:
    """The planner's automatic re-drive: transient rows whose backoff has passed, oldest first."""
    rows = [p for p in await responder.store.list_rejected() if due(p, now)]
    rows.sort(key=lambda p: (p.received_at, p.id))
    return await redrive_many(responder, rows[:limit])


def select(rows: Sequence[RejectedPayload], *, state: str | None = PARKED, source: str | None = None
           ) -> list[RejectedPayload]:
    return [p for p in rows if (state is None or p.state == state) and (source is None or p.source == source)]
