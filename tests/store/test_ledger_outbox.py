"""Event claims with leases (claimed → done | parked), keyed parking, and the notification outbox."""

from __future__ import annotations

from datetime import timedelta

from wifguard.store import Store
from wifguard.store.entities import utcnow
from wifguard.store.ledger import Claim, EventKey, EventLedger, content_digest
from wifguard.store.outbox import PENDING, SENT, Outbox


async def test_claim_retake_done(store: Store) -> None:
    ledger = EventLedger(store, owner="w1")
    a, b = EventKey.of("audit-log", "id-1", b'{"x": 1}'), EventKey.of("audit-log", "id-2", b'{"x": 2}')
    assert await ledger.claim([a, b]) == {a: Claim.FRESH, b: Claim.FRESH}
    # never settled (the worker died): a re-delivery processes them again, with or without a live lease
    assert await ledger.claim([a, b]) == {a: Claim.RETAKEN, b: Claim.RETAKEN}
    await ledger.settle(done=[a], parked=[b])
    assert await ledger.state(a) == "done" and await ledger.state(b) == "parked"
    assert await ledger.claim([a, b]) == {a: Claim.DONE, b: Claim.RETAKEN}
    # the lease of an unsettled claim runs out: counted as abandoned
    assert await ledger.abandoned(now=utcnow() + timedelta(minutes=10)) == 1


async def test_key_is_id_and_content() -> None:
    same_id = [EventKey.of("audit-log", "corr#0", raw) for raw in (b'{"a": 1}', b'{"a": 2}')]
    assert same_id[0].row != same_id[1].row  # two records sharing an id are two records
    # the same record re-serialised (a forwarder's whitespace or key order) is the same record
    assert content_digest(b'{"a": 1, "b": [1, 2]}') == content_digest('{ "b":[1,2],\n "a":1 }')
    assert content_digest(b"\x00not json") != content_digest(b"\x00not json!")


async def test_keyed_parking_is_idempotent(store: Store) -> None:
    key = EventKey.of("audit-log", "r-1", b'{"r": 1}').row
    first = await store.park("audit-log", b'{"r": 1}', "Graph down", "r-1", key=key, transient=True)
    again = await store.park("audit-log", b'{"r": 1}', "ARM down", "r-1", key=key, transient=True)
    assert first.id == again.id == key
    [row] = await store.list_rejected()
    assert (row.attempts, row.reason, row.transient, row.raw) == (2, "ARM down", True, b'{"r": 1}')
    done = await store.update_parked(row, state="done", attempted=True, note="re-driven")
    assert (done.state, done.attempts, done.note) == ("done", 3, "re-driven")
    assert (await store.get_parked(key)) == done


async def test_outbox_sent_is_never_sent_again(store: Store) -> None:
    outbox = Outbox(store)
    items = [("n-1", "fp1", "new"), ("n-2", "fp2", "new")]
    entries = await outbox.begin("app-1", items)
    assert {e.state for e in entries.values()} == {PENDING}
    await outbox.mark("app-1", entries["n-1"], ["soar"], complete=True)
    await outbox.mark("app-1", entries["n-2"], ["teams"], complete=False)  # slack failed
    again = await outbox.begin("app-1", items)
    assert again["n-1"].state == SENT  # a reopened finding is not notified as new twice
    assert again["n-2"].state == PENDING and again["n-2"].channels_sent == frozenset({"teams"})
    assert again["n-2"].attempts == 2
