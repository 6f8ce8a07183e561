"""Batch dedup claims: one transaction when all ids are new, exact answers when some are not."""

from __future__ import annotations

from wifguard.store import Store


async def test_claim_events_batch(store: Store) -> None:
    ids = [f"rec-{i}" for i in range(150)]
    first = await store.claim_events("audit-log", ids)
    assert first == dict.fromkeys(ids, True)
    again = await store.claim_events("audit-log", [*ids[:3], "rec-new", ids[0]])
    assert again == {"rec-0": False, "rec-1": False, "rec-2": False, "rec-new": True}
    # one-by-one claims agree with the batch
    assert await store.claim_event("audit-log", "rec-new") is False
    assert await store.claim_event("event-grid", "rec-0") is True  # sources are separate
