"""A batch's records about one identity are processed together (one live read, one evaluation
per change, one findings write), and that changes nothing about what they produce: every
change keeps its event-only findings (WIF104, WIF701, WIF702, WIF703), every record gets its
own status and is committed only after the joint write, and a crash after the joint decision
loses nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

from pipeline_helpers import APPS, DOCS, GITHUB, PAYMENTS, audit_record, fic

from handlers.audit_logs import decode_audit_bodies
from wifguard.pipeline.runtime import build_responder, process_audit_bodies
from wifguard.settings import Settings
from wifguard.store.ledger import EventKey

BLOB = "https://evil0x.blob.core.windows.net/oidc"


def _body(*records: dict[str, Any]) -> bytes:
    return json.dumps({"records": list(records)}).encode()


def _at(rec: dict[str, Any], when: str) -> dict[str, Any]:
    rec = copy.deepcopy(rec)
    rec["time"] = rec["properties"]["activityDateTime"] = when
    return rec


def _burst() -> list[dict[str, Any]]:
    """Changes to one app that each carry an event-only finding of their own."""
    prod = fic("prod", GITHUB, "repo:contoso/payments:environment:prod", "f1000000-0000-4000-8000-000000000001")
    moved = fic("prod", BLOB, "attacker", "f1000000-0000-4000-8000-000000000001")  # same Id, new issuer: WIF104
    blink = fic("blink", BLOB, "attacker", "f1000000-0000-4000-8000-0000000000b1")
    name = APPS[PAYMENTS][0]
    return [
        _at(audit_record("b-issuer", PAYMENTS, name, [prod], [moved]), "2026-11-20T10:00:00Z"),
        _at(audit_record("b-add", PAYMENTS, name, [prod], [prod, blink]), "2026-11-20T10:01:00Z"),  # WIF701
        _at(audit_record("b-remove", PAYMENTS, name, [prod, blink], [prod]), "2026-11-20T10:05:00Z"),  # WIF703
        _at(audit_record("b-app", PAYMENTS, name, [prod], [prod, blink], actor_user=None,
                         actor_app="9d9d9d9d-0000-4000-8000-000000000009"), "2026-11-20T10:06:00Z"),  # WIF702
    ]


async def _run(env: dict[str, str], prefix: str, collapse: bool, records: list[dict[str, Any]]) -> Any:
    r = await build_responder(Settings.from_env({**env, "WIFGUARD_TABLE_PREFIX": prefix}), compose_messages=True)
    r.collapse_bursts = collapse
    try:
        result = await process_audit_bodies(r, [_body(*records)])
        stored = await r.store.query(identity=PAYMENTS)
        return result, stored
    finally:
        await r.close()
        await r.store.close()


async def test_a_burst_keeps_every_changes_event_only_findings(env: dict[str, str], prefix: str) -> None:
    records = _burst()
    together, stored_together = await _run(env, prefix + "t", True, records)
    alone, stored_alone = await _run(env, prefix + "a", False, records)
    # every record processed, each with its own status and reason, in input order
    assert [(e.id, e.status) for e in together.events] == [(e.id, e.status) for e in alone.events] \
        == [(r["properties"]["id"], "processed") for r in records]
    assert [e.reason for e in together.events] == [e.reason for e in alone.events]
    rules = {f.rule_id for f in together.findings}
    assert {"WIF104", "WIF701", "WIF702", "WIF703"} <= rules
    # the same findings, stored the same way, either way
    assert {(f.rule_id, f.fingerprint) for f in together.findings} == {(f.rule_id, f.fingerprint) for f in alone.findings}
    assert {(s.fingerprint, s.message) for s in stored_together} == {(s.fingerprint, s.message) for s in stored_alone}
    # Nothing open one by one is missing together. One by one, a later record of the batch resolves
    # what an earlier record's change made (WIF602 "fires WIF104" on 'prod', while WIF104 itself,
    # event-only, stays open); together both stay open, as the change they come from does.
    open_together = {s.fingerprint for s in stored_together if s.status.value == "open"}
    open_alone = {s.fingerprint for s in stored_alone if s.status.value == "open"}
    assert open_alone <= open_together
    assert {s.rule_id for s in stored_together if s.fingerprint in open_together - open_alone} <= {"WIF602"}
    # ... and notified alike
    assert sorted(n["id"] for n in together.notifications) == sorted(n["id"] for n in alone.notifications)
    # one findings write for the burst: nothing was written, then updated again, record after record
    assert together.recorded["updated"] == 0 < alone.recorded["updated"]


async def test_a_burst_is_committed_and_a_redelivery_is_a_duplicate(responder: Any) -> None:
    records = _burst()
    first = await process_audit_bodies(responder, [_body(*records)])
    assert {e.status for e in first.events} == {"processed"}
    again = await process_audit_bodies(responder, [_body(*records)])
    assert [e.status for e in again.events] == ["duplicate"] * len(records)
    assert again.notifications == []


async def test_a_duplicate_inside_the_burst_is_processed_once(responder: Any) -> None:
    records = _burst()
    result = await process_audit_bodies(responder, [_body(*records, records[1])])
    assert [e.status for e in result.events] == ["processed"] * len(records) + ["duplicate"]


async def test_records_about_other_identities_are_not_collapsed_into_the_burst(responder: Any) -> None:
    other = DOCS
    backdoor = fic("backdoor", BLOB, "attacker", "f1000000-0000-4000-8000-0000000000c1")
    rec = audit_record("o-1", other, APPS[other][0], [], [backdoor])
    result = await process_audit_bodies(responder, [_body(*_burst(), rec)])
    assert [e.status for e in result.events] == ["processed"] * 5
    assert any(f.identity["id"] == other and f.rule_id == "WIF101" for f in result.findings)


async def test_a_crash_after_the_joint_decision_loses_nothing(env: dict[str, str], responder: Any) -> None:
    """A worker claims the burst, records its findings (unchanged rows skipped) and dies before it
    marks the records done. The re-delivery retakes every record and ends with every finding."""
    records = _burst()
    base = copy.deepcopy(records[0])
    base["properties"]["id"] = "b-base"
    baseline = await process_audit_bodies(responder, [_body(base)])  # findings exist already
    assert baseline.events[0].status == "processed"
    decoded = decode_audit_bodies([_body(*records)])
    keys = [EventKey.of(d.source, d.id, d.raw) for d in decoded]
    # what the crashed worker did: claim, then process (the decision, the writes), no commit
    await responder.ledger.claim(keys)
    from wifguard.pipeline.responder import RunResult

    await responder._process_identity([c for d in decoded for c in d.changes], RunResult(), {})
    # a fresh worker gets the batch again
    fresh = await build_responder(Settings.from_env(env), compose_messages=True)
    try:
        again = await process_audit_bodies(fresh, [_body(*records)])
        assert [e.status for e in again.events] == ["processed"] * len(records)
        assert all("retried" in e.reason for e in again.events)
        stored = {s.rule_id for s in await fresh.store.query(identity=PAYMENTS) if s.status.value == "open"}
        assert {"WIF104", "WIF701", "WIF702", "WIF703"} <= stored
        once_more = await process_audit_bodies(fresh, [_body(*records)])
        assert [e.status for e in once_more.events] == ["duplicate"] * len(records)
    finally:
        await fresh.close()
        await fresh.store.close()
