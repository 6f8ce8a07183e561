"""The event path under real faults (the simulated tenant's fault windows, real Azurite):
dedup by id + content, parking of the record's own bytes, fail-closed reads, re-drive."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pipeline_helpers import APPS, DOCS, GITHUB, PAYMENTS, audit_record, fic

from wifguard.pipeline.redrive import redrive_due, redrive_many
from wifguard.pipeline.runtime import process_audit_bodies, run_shard
from wifguard.store import FindingStatus
from wifguard.store.entities import utcnow

PROD = fic("prod", GITHUB, "repo:contoso/payments:environment:prod", "f1000000-0000-4000-8000-000000000001")
EXTRA = fic("extra", GITHUB, "repo:contoso/payments:pull_request", "f1000000-0000-4000-8000-000000000009")


def _body(*records: dict[str, Any]) -> bytes:
    return json.dumps({"records": list(records)}, indent=2).encode()


async def test_distinct_records_sharing_an_id_are_both_processed_the_same_record_once(responder: Any) -> None:
    a = audit_record("shared-id", PAYMENTS, APPS[PAYMENTS][0], [], [PROD])
    b = audit_record("shared-id", DOCS, APPS[DOCS][0], [], [PROD])
    first = await process_audit_bodies(responder, [_body(a, b)])
    assert [e.status for e in first.events] == ["processed", "processed"]
    assert {f.identity["id"] for f in first.findings} == {PAYMENTS, DOCS}
    again = await process_audit_bodies(responder, [_body(a, b, a)])
    assert [e.status for e in again.events] == ["duplicate", "duplicate", "duplicate"]


async def test_graph_outage_parks_each_record_bytes_then_redrive_evaluates_event_rules(
        responder: Any, sim: Any) -> None:
    recs = [audit_record("g-1", PAYMENTS, APPS[PAYMENTS][0], [PROD], [PROD, EXTRA]),
            audit_record("g-2", DOCS, APPS[DOCS][0], [], [PROD])]
    body = _body(*recs)
    sim.outage("graph", 600)
    out = await process_audit_bodies(responder, [body])
    assert [e.status for e in out.events] == ["rejected", "rejected"]
    parked = await responder.store.list_rejected()
    assert len(parked) == 2
    for p in parked:
        # the single record's exact bytes (not the batch, not a stub), transient, first attempt
        assert isinstance(p.raw, bytes) and p.raw in body and json.loads(p.raw)["properties"]["id"] == p.event_id
        assert p.transient and p.attempts == 1 and p.state == "parked" and "transient" in p.reason
    # the same batch again (the platform retrying): parked rows are updated, not multiplied
    await process_audit_bodies(responder, [body])
    parked = await responder.store.list_rejected()
    assert len(parked) == 2 and {p.attempts for p in parked} == {2}
    assert await responder.store.query() == []  # nothing recorded from a failed read

    assert (await redrive_due(responder)).outcomes == []  # backoff: not due yet
    sim.outage("graph", 0)
    # the planner's timer: once the backoff has passed, transient rows are re-driven
    report = await redrive_due(responder, now=utcnow() + timedelta(minutes=5))
    assert [o.outcome for o in report.outcomes] == ["done", "done"]
    rows = await responder.store.query()
    # WIF701 is event-only (the actor is in the record): only a re-drive of the record can find it
    assert {"WIF701"} <= {r.rule_id for r in rows if r.identity_id == PAYMENTS}
    assert {p.state for p in await responder.store.list_rejected()} == {"done"}


async def test_arm_outage_resolves_nothing_and_the_record_waits(responder: Any, sim: Any) -> None:
    ok = await process_audit_bodies(responder, [_body(audit_record("a-1", PAYMENTS, APPS[PAYMENTS][0], [], [PROD]))])
    assert ok.events[0].status == "processed"
    before = {r.fingerprint: r.rule_id for r in await responder.store.query(status="open")}
    assert {"WIF601"} <= set(before.values())  # role-based findings exist

    sim.outage("arm", 600)  # Graph healthy, ARM unreachable
    rec = audit_record("a-2", PAYMENTS, APPS[PAYMENTS][0], [PROD], [PROD, EXTRA])
    out = await process_audit_bodies(responder, [_body(rec)])
    assert out.events[0].status == "rejected" and "incomplete" in out.events[0].reason
    assert out.recorded["resolved"] == 0
    still = {r.fingerprint for r in await responder.store.query(status="open")}
    assert set(before) <= still  # no open finding was resolved from the partial view
    [parked] = await responder.store.list_rejected()
    assert parked.transient and "role_assignments" in parked.reason

    # a sweep shard that cannot read the subscription resolves nothing either, and says so
    shard = await run_shard(responder, {"kind": "applications", "ids": [PAYMENTS, DOCS]})
    assert shard.recorded["resolved"] == 0 and any("nothing resolved" in e for e in shard.errors)
    assert set(before) <= {r.fingerprint for r in await responder.store.query(status="open")}

    sim.outage("arm", 0)
    report = await redrive_many(responder, [parked])
    assert report.outcomes[0].outcome == "done"
    rows = {r.fingerprint: r for r in await responder.store.query()}
    assert all(rows[fp].status is FindingStatus.OPEN for fp in before)
