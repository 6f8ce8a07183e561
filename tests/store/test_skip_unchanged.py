"""``Store.record(skip_unchanged=True)`` (the event path): a row that an evaluation would leave as
it is is not rewritten; anything that changes is written; resolutions still happen (Azurite)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from wifguard.domain.model import Finding, Severity
from wifguard.store import EvaluationScope, FindingStatus, Store
from wifguard.store.store import TOUCH_AFTER

MakeFinding = Callable[..., Finding]
APP = "33333333-cccc-4ccc-8ccc-000000000003"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


async def _row(store: Store, f: Finding) -> tuple[int, datetime, str | None]:
    got = await store.get(f.fingerprint, identity_id=APP)
    assert got is not None
    return got.occurrences, got.last_seen, got.etag


async def test_an_unchanged_row_is_not_rewritten_but_a_changed_one_is(store: Store, make_finding: MakeFinding) -> None:
    same = make_finding(APP, credential="deploy")
    other = make_finding(APP, credential="build", subject="repo:contoso/payments:ref:refs/heads/dev")
    await store.record(APP, [same, other], now=T0)
    before_same, before_other = await _row(store, same), await _row(store, other)
    changed = dataclasses.replace(other, message=other.message + " (changed)", severity=Severity.CRITICAL)
    r = await store.record(APP, [same, changed], now=T0 + timedelta(minutes=5), skip_unchanged=True)
    # both are reported as updated (the caller sees the same outcome) ...
    assert {x.fingerprint for x in r.updated} == {same.fingerprint, other.fingerprint} and not r.new
    # ... but only the changed row was written
    assert await _row(store, same) == before_same
    occ, seen, etag = await _row(store, other)
    assert occ == before_other[0] + 1 and seen == T0 + timedelta(minutes=5) and etag != before_other[2]
    got = await store.get(other.fingerprint, identity_id=APP)
    assert got is not None and got.severity is Severity.CRITICAL and got.message.endswith("(changed)")


async def test_without_the_option_every_row_is_rewritten(store: Store, make_finding: MakeFinding) -> None:
    f = make_finding(APP)
    await store.record(APP, [f], now=T0)
    await store.record(APP, [f], now=T0 + timedelta(minutes=1))
    assert (await _row(store, f))[0] == 2


async def test_a_row_not_touched_for_a_while_is_rewritten(store: Store, make_finding: MakeFinding) -> None:
    f = make_finding(APP)
    await store.record(APP, [f], now=T0)
    later = T0 + TOUCH_AFTER + timedelta(seconds=1)
    await store.record(APP, [f], now=later, skip_unchanged=True)
    occ, seen, _ = await _row(store, f)
    assert occ == 2 and seen == later  # last_seen is never more than TOUCH_AFTER behind


async def test_resolutions_and_status_changes_are_still_written(store: Store, make_finding: MakeFinding) -> None:
    keep = make_finding(APP, credential="deploy")
    gone = make_finding(APP, credential="build", subject="repo:contoso/payments:ref:refs/heads/dev")
    await store.record(APP, [keep, gone], now=T0)
    r = await store.record(APP, [keep], now=T0 + timedelta(minutes=1), skip_unchanged=True,
                           scope=EvaluationScope.whole_identity())
    assert [x.fingerprint for x in r.resolved] == [gone.fingerprint]
    got = await store.get(gone.fingerprint, identity_id=APP)
    assert got is not None and got.status is FindingStatus.RESOLVED
    # back again: reopened (a status change), so written although its content is as before
    r = await store.record(APP, [keep, gone], now=T0 + timedelta(minutes=2), skip_unchanged=True)
    assert [x.fingerprint for x in r.reopened] == [gone.fingerprint]
    got = await store.get(gone.fingerprint, identity_id=APP)
    assert got is not None and got.status is FindingStatus.OPEN
    # exempted by the config now: a status change, written
    r = await store.record(APP, [keep], exempted=[gone], now=T0 + timedelta(minutes=3), skip_unchanged=True)
    got = await store.get(gone.fingerprint, identity_id=APP)
    assert got is not None and got.status is FindingStatus.EXEMPTED
