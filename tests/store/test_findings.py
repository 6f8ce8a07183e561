"""Findings table: record semantics, scope, concurrency, notifications, queries (real Azurite)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from wifguard.azurite import Azurite
from wifguard.domain.model import Finding, Severity
from wifguard.store import EvaluationScope, FindingStatus, Store

MakeFinding = Callable[..., Finding]
APP_A = "11111111-aaaa-4aaa-8aaa-000000000001"
APP_B = "22222222-bbbb-4bbb-8bbb-000000000002"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


async def test_same_finding_recorded_five_times_is_one_row(store: Store, make_finding: MakeFinding) -> None:
    f = make_finding(APP_A)
    outcomes = []
    for i in range(5):
        r = await store.record(APP_A, [f], now=T0 + timedelta(minutes=i))
        outcomes.append(r.counts())
    assert [o["new"] for o in outcomes] == [1, 0, 0, 0, 0]
    assert [o["updated"] for o in outcomes] == [0, 1, 1, 1, 1]
    rows = await store.query(identity=APP_A)
    assert len(rows) == 1
    row = rows[0]
    assert row.fingerprint == f.fingerprint
    assert row.occurrences == 5
    assert row.status is FindingStatus.OPEN
    assert row.first_seen == T0
    assert row.last_seen == T0 + timedelta(minutes=4)
    assert row.notify_pending is True


async def test_new_record_carries_every_field(store: Store, make_finding: MakeFinding) -> None:
    f = make_finding(APP_A, role_assignment="/subscriptions/0000/providers/Microsoft.Authorization/"
                     "roleAssignments/abcd", evidence={"auditId": "x-1", "nested": {"n": [1, 2]}})
    r = await store.record(APP_A, [f], now=T0)
    rec = r.new[0]
    assert rec.to_finding() == f  # every finding field survives the round trip
    got = await store.get(f.fingerprint)
    assert got is not None
    assert got.to_finding().to_dict() == f.to_dict()
    assert got.evidence == {"auditId": "x-1", "nested": {"n": [1, 2]}}
    assert got.notified_at is None and got.notify_attempts == 0 and got.last_notify_error is None
    assert got.identity == {"id": APP_A, "name": "payments-app", "kind": "application"}


async def test_fixed_trust_is_resolved(store: Store, make_finding: MakeFinding) -> None:
    bad = make_finding(APP_A, credential="deploy")
    other = make_finding(APP_A, credential="build", subject="repo:contoso/payments:ref:refs/heads/dev")
    await store.record(APP_A, [bad, other], now=T0)
    r = await store.record(APP_A, [other], now=T0 + timedelta(hours=1))
    assert [x.fingerprint for x in r.resolved] == [bad.fingerprint]
    assert [x.fingerprint for x in r.updated] == [other.fingerprint]
    got = await store.get(bad.fingerprint, identity_id=APP_A)
    assert got is not None
    assert got.status is FindingStatus.RESOLVED
    assert got.resolved_at == T0 + timedelta(hours=1)
    assert got.notify_pending is False
    # resolving is idempotent: a second evaluation reports nothing resolved again
    r2 = await store.record(APP_A, [other], now=T0 + timedelta(hours=2))
    assert r2.resolved == []


async def test_resolved_then_produced_again_is_reopened(store: Store, make_finding: MakeFinding) -> None:
    f = make_finding(APP_A)
    await store.record(APP_A, [f], now=T0)
    await store.mark_notified(f.fingerprint, at=T0)
    await store.record(APP_A, [], now=T0 + timedelta(hours=1))
    r = await store.record(APP_A, [f], now=T0 + timedelta(hours=2))
    assert [x.fingerprint for x in r.reopened] == [f.fingerprint]
    assert r.new == [] and r.updated == []
    assert [x.fingerprint for x in r.to_notify] == [f.fingerprint]
    got = await store.get(f.fingerprint)
    assert got is not None
    assert got.status is FindingStatus.OPEN
    assert got.resolved_at is None
    assert got.notified_at is None and got.notify_pending is True  # notify again
    assert got.occurrences == 2
    assert got.first_seen == T0


async def test_scope_never_resolves_another_identity(store: Store, make_finding: MakeFinding) -> None:
    fa = make_finding(APP_A)
    fb = make_finding(APP_B, identity_name="billing-app")
    await store.record(APP_A, [fa])
    await store.record(APP_B, [fb])
    r = await store.record(APP_A, [])  # A fixed everything
    assert [x.fingerprint for x in r.resolved] == [fa.fingerprint]
    b = await store.get(fb.fingerprint)
    assert b is not None and b.status is FindingStatus.OPEN


async def test_credential_scope_resolves_only_that_credential(store: Store, make_finding: MakeFinding) -> None:
    c1 = make_finding(APP_A, credential="deploy")
    c2 = make_finding(APP_A, credential="build")
    ident = make_finding(APP_A, rule_id="WIF-020", credential=None)  # identity-level, e.g. no owner
    ra = make_finding(APP_A, rule_id="WIF-030", credential=None, role_assignment="/subscriptions/0/ra/1")
    await store.record(APP_A, [c1, c2, ident, ra])
    # credential "deploy" was deleted; the caller evaluates that credential again: nothing found
    r = await store.record(APP_A, [], scope=EvaluationScope.credentials("deploy"))
    assert [x.fingerprint for x in r.resolved] == [c1.fingerprint]
    open_now = {x.fingerprint for x in await store.query(identity=APP_A, status="open")}
    assert open_now == {c2.fingerprint, ident.fingerprint, ra.fingerprint}
    # a role-assignment scope resolves only findings about that assignment (case-insensitive id)
    r = await store.record(APP_A, [], scope=EvaluationScope.role_assignments("/SUBSCRIPTIONS/0/RA/1"))
    assert [x.fingerprint for x in r.resolved] == [ra.fingerprint]
    # a rule scope resolves only that rule's findings
    r = await store.record(APP_A, [], scope=EvaluationScope.whole_identity(rule_ids=["wif-020"]))
    assert [x.fingerprint for x in r.resolved] == [ident.fingerprint]
    # resolve=False resolves nothing
    r = await store.record(APP_A, [], scope=EvaluationScope.nothing())
    assert r.resolved == []
    remaining = await store.query(identity=APP_A, status="open")
    assert [x.fingerprint for x in remaining] == [c2.fingerprint]


async def test_exempted_findings(store: Store, make_finding: MakeFinding) -> None:
    f = make_finding(APP_A)
    r = await store.record(APP_A, [], exempted=[f])
    assert r.new == [] and [x.fingerprint for x in r.exempted] == [f.fingerprint]
    got = await store.get(f.fingerprint)
    assert got is not None and got.status is FindingStatus.EXEMPTED and got.notify_pending is False
    assert await store.pending_notifications() == []
    # exemption removed from the config: the finding comes back and must be notified
    r = await store.record(APP_A, [f])
    assert [x.fingerprint for x in r.reopened] == [f.fingerprint]
    assert [x.fingerprint for x in await store.pending_notifications()] == [f.fingerprint]
    # a manual exemption sticks even when the engine produces the finding again
    await store.set_status(f.fingerprint, "exempted", actor="alice@contoso.com", note="accepted risk")
    r = await store.record(APP_A, [f])
    assert [x.fingerprint for x in r.updated] == [f.fingerprint]
    got = await store.get(f.fingerprint)
    assert got is not None and got.status is FindingStatus.EXEMPTED
    assert got.status_by == "alice@contoso.com" and got.status_note == "accepted risk"
    # an exempted finding that disappears is resolved
    r = await store.record(APP_A, [])
    assert [x.fingerprint for x in r.resolved] == [f.fingerprint]


async def test_quarantined_stays_quarantined_until_resolved(store: Store, make_finding: MakeFinding) -> None:
    f = make_finding(APP_A, action="quarantine")
    await store.record(APP_A, [f])
    q = await store.set_status(f.fingerprint, FindingStatus.QUARANTINED, actor="wifguard")
    assert q.status is FindingStatus.QUARANTINED
    for _ in range(2):
        r = await store.record(APP_A, [f])
        assert [x.status for x in r.updated] == [FindingStatus.QUARANTINED]
    r = await store.record(APP_A, [])
    assert [x.status for x in r.resolved] == [FindingStatus.RESOLVED]


async def test_concurrent_record_of_same_fingerprint_gives_one_new(
    azurite: Azurite, prefix: str, store: Store, make_finding: MakeFinding
) -> None:
    # separate Store instances (separate clients), as two function workers would have
    others = [Store.from_connection_string(azurite.connection_string, prefix=prefix) for _ in range(3)]
    try:
        writers = [store, *others]
        for round_no in range(5):
            f = make_finding(APP_A, credential=f"cred-{round_no}")
            results = await asyncio.gather(
                *(w.record(APP_A, [f], scope=EvaluationScope.credentials(f"cred-{round_no}")) for w in writers)
            )
            assert sum(len(r.new) for r in results) == 1
            assert sum(len(r.updated) for r in results) == len(writers) - 1
            got = await store.get(f.fingerprint)
            assert got is not None and got.occurrences == len(writers)
    finally:
        for s in others:
            await s.close()


async def test_more_than_100_findings_in_one_partition(store: Store, make_finding: MakeFinding) -> None:
    findings = [make_finding(APP_A, credential=f"c{i:03d}") for i in range(250)]
    r = await store.record(APP_A, findings)
    assert len(r.new) == 250
    r = await store.record(APP_A, findings[:120])
    assert len(r.updated) == 120 and len(r.resolved) == 130
    rows = await store.query(identity=APP_A)
    assert len(rows) == 250
    assert sum(1 for x in rows if x.status is FindingStatus.OPEN) == 120


async def test_finding_of_another_identity_is_refused(store: Store, make_finding: MakeFinding) -> None:
    with pytest.raises(ValueError, match="not"):
        await store.record(APP_A, [make_finding(APP_B)])
    assert await store.query() == []


async def test_pending_notifications_and_mark_notified(store: Store, make_finding: MakeFinding) -> None:
    f1 = make_finding(APP_A, credential="one")
    f2 = make_finding(APP_A, credential="two")
    await store.record(APP_A, [f1, f2], now=T0)
    pending = await store.pending_notifications()
    assert {p.fingerprint for p in pending} == {f1.fingerprint, f2.fingerprint}
    failed = await store.mark_notify_failed(f1.fingerprint, "HTTP 502 from webhook")
    assert failed.notify_attempts == 1 and failed.last_notify_error == "HTTP 502 from webhook"
    await store.mark_notified(f2.fingerprint, at=T0 + timedelta(minutes=1))
    # the failed one is retried on the next run, never dropped, even after it was quarantined
    await store.set_status(f1.fingerprint, "quarantined", actor="wifguard")
    await store.record(APP_A, [f1, f2], now=T0 + timedelta(hours=1))
    pending = await store.pending_notifications()
    assert [p.fingerprint for p in pending] == [f1.fingerprint]
    done = await store.mark_notified(f1.fingerprint, at=T0 + timedelta(hours=2))
    assert done[0].notified_at == T0 + timedelta(hours=2)
    assert done[0].notify_attempts == 2 and done[0].last_notify_error is None
    assert await store.pending_notifications() == []
    with pytest.raises(KeyError):
        await store.mark_notified("0" * 32)


async def test_due_reminders(store: Store, make_finding: MakeFinding) -> None:
    old = make_finding(APP_A, credential="old")
    recent = make_finding(APP_A, credential="recent")
    never = make_finding(APP_A, credential="never")
    now = datetime.now(timezone.utc)
    await store.record(APP_A, [old, recent, never], now=now - timedelta(days=10))
    await store.mark_notified(old.fingerprint, at=now - timedelta(days=8))
    await store.mark_notified(recent.fingerprint, at=now - timedelta(days=1))
    due = await store.due_reminders(7, now=now)
    assert [d.fingerprint for d in due] == [old.fingerprint]
    await store.set_status(old.fingerprint, "resolved")
    assert await store.due_reminders(7, now=now) == []


async def test_query_filters_and_order(store: Store, make_finding: MakeFinding) -> None:
    crit = make_finding(APP_A, rule_id="WIF-001", credential="a", severity=Severity.CRITICAL)
    med = make_finding(APP_A, rule_id="WIF-002", credential="b", severity=Severity.MEDIUM)
    low = make_finding(APP_B, rule_id="WIF-002", credential="c", severity=Severity.LOW, identity_name="Billing-App")
    await store.record(APP_A, [crit, med], now=T0)
    await store.record(APP_B, [low], now=T0)
    await store.set_status(med.fingerprint, "resolved")
    every = await store.query()
    assert [x.fingerprint for x in every] == [crit.fingerprint, med.fingerprint, low.fingerprint]
    assert [x.fingerprint for x in await store.query(severity="medium")] == [crit.fingerprint, med.fingerprint]
    assert [x.fingerprint for x in await store.query(status="resolved")] == [med.fingerprint]
    assert [x.fingerprint for x in await store.query(status=["open", "resolved"], rule_id="wif-002")] == [
        med.fingerprint, low.fingerprint]
    assert [x.fingerprint for x in await store.query(identity="billing-app")] == [low.fingerprint]
    assert [x.fingerprint for x in await store.query(identity=APP_B.upper())] == [low.fingerprint]
    assert len(await store.query(limit=2)) == 2


async def test_get_without_identity_from_a_fresh_client(
    azurite: Azurite, prefix: str, store: Store, make_finding: MakeFinding
) -> None:
    f = make_finding(APP_B)
    await store.record(APP_B, [f])
    async with Store.from_connection_string(azurite.connection_string, prefix=prefix) as fresh:
        got = await fresh.get(f.fingerprint)
        assert got is not None and got.identity_id == APP_B
        assert await fresh.get("f" * 32) is None


async def test_huge_evidence_is_truncated_to_valid_json(store: Store, make_finding: MakeFinding) -> None:
    evidence: dict[str, Any] = {"records": ["x" * 1000 + str(i) for i in range(200)], "q": '"\\\n'}
    f = make_finding(APP_A, evidence=evidence)
    long_message_finding = dataclasses.replace(f, message="m" * 100_000)
    r = await store.record(APP_A, [long_message_finding])
    got = await store.get(f.fingerprint)
    assert got is not None and r.new
    assert got.evidence_truncated is True
    assert got.evidence["_truncated"] is True
    assert got.evidence["original_chars"] == len(json.dumps(evidence, ensure_ascii=False, sort_keys=True))
    assert got.evidence["preview"].startswith('{"q": ')
    assert len(got.message) <= 32_000 and got.message.endswith("[truncated]")


async def test_large_rows_are_split_into_several_transactions(store: Store, make_finding: MakeFinding) -> None:
    big = "é" * 30_000
    findings = [
        dataclasses.replace(make_finding(APP_A, credential=f"big{i}"), message=big, evidence={"blob": big})
        for i in range(40)
    ]
    r = await store.record(APP_A, findings)
    assert len(r.new) == 40
    got = await store.get(findings[7].fingerprint)
    assert got is not None and got.message == big and got.evidence == {"blob": big}
    assert got.evidence_truncated is False
