"""Processed-event dedup with expiry, and parked (rejected) payloads incl. blob overflow."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime, timedelta, timezone

from wifguard.store import Store

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


async def test_claim_event_once(store: Store) -> None:
    assert await store.claim_event("event-grid", "e-1", now=T0) is True
    assert await store.claim_event("event-grid", "e-1", now=T0 + timedelta(minutes=5)) is False
    # same id from another source is another event
    assert await store.claim_event("audit-log", "e-1", now=T0) is True


async def test_concurrent_claims_have_one_winner(store: Store) -> None:
    results = await asyncio.gather(*(store.claim_event("event-grid", "race", now=T0) for _ in range(8)))
    assert results.count(True) == 1


async def test_expired_claims_are_purged(store: Store) -> None:
    assert await store.claim_event("event-grid", "old", ttl=timedelta(hours=1), now=T0)
    assert await store.claim_event("event-grid", "new", ttl=timedelta(days=2), now=T0)
    assert await store.claim_event("audit-log", "old2", ttl=timedelta(hours=1), now=T0)
    purged = await store.purge_expired_events(T0 + timedelta(hours=2))
    assert purged == 2
    assert await store.purge_expired_events(T0 + timedelta(hours=2)) == 0
    # purged ids are forgotten; the live one is still a duplicate
    assert await store.claim_event("event-grid", "old", now=T0 + timedelta(hours=3)) is True
    assert await store.claim_event("event-grid", "new", now=T0 + timedelta(hours=3)) is False


async def test_expired_but_not_purged_claim_counts_as_absent(store: Store) -> None:
    assert await store.claim_event("event-grid", "x", ttl=timedelta(minutes=1), now=T0)
    assert await store.claim_event("event-grid", "x", now=T0 + timedelta(seconds=30)) is False
    assert await store.claim_event("event-grid", "x", now=T0 + timedelta(minutes=2)) is True
    assert await store.claim_event("event-grid", "x", now=T0 + timedelta(minutes=3)) is False


async def test_park_small_payloads_inline(store: Store) -> None:
    text = json.dumps({"records": [{"operationName": "Update application", "bad": "\u00e9"}]})
    body = b"\x00\xff not json \x80"
    p1 = await store.park("audit-log", text, "records[0]: targetResources missing", event_id="ev-1", now=T0)
    p2 = await store.park("event-grid", body, "not JSON", now=T0 + timedelta(seconds=1))
    assert not p1.in_blob and not p2.in_blob
    rows = await store.list_rejected()
    assert [r.id for r in rows] == [p2.id, p1.id]  # newest first
    r2, r1 = rows
    assert r1.raw == text and isinstance(r1.raw, str) and r1.event_id == "ev-1"
    assert r1.reason == "records[0]: targetResources missing" and r1.received_at == T0
    assert r2.raw == body and isinstance(r2.raw, bytes) and r2.event_id is None
    assert r2.sha256 == hashlib.sha256(body).hexdigest() and r2.size == len(body)
    assert [r.id for r in await store.list_rejected(source="audit-log")] == [p1.id]
    assert [r.id for r in await store.list_rejected(since=T0 + timedelta(milliseconds=500))] == [p2.id]


async def test_oversize_payloads_go_to_blob_and_read_back(store: Store) -> None:
    big_text = json.dumps({"records": [{"i": i, "pad": "é" * 100} for i in range(2000)]})
    big_bytes = bytes(range(256)) * 1000  # 256,000 bytes
    pt = await store.park("audit-log", big_text, "batch too large", event_id="ev-big")
    pb = await store.park("event-grid", big_bytes, "binary junk")
    assert pt.in_blob and pb.in_blob
    assert pt.blob_container == f"{store.prefix.lower()}-rejected"
    listed = {r.id: r for r in await store.list_rejected()}
    assert listed[pt.id].raw is None and listed[pt.id].blob_name == pt.blob_name
    text_back = await store.read_rejected_body(listed[pt.id])
    bytes_back = await store.read_rejected_body(listed[pb.id])
    assert text_back == big_text and isinstance(text_back, str)
    assert bytes_back == big_bytes and isinstance(bytes_back, bytes)
    assert listed[pb.id].sha256 == hashlib.sha256(big_bytes).hexdigest()
    assert listed[pt.id].size == len(big_text.encode())


async def test_payload_just_under_and_over_the_property_limit(store: Store) -> None:
    under = "a" * 32_000
    over = "a" * 32_001
    p_under = await store.park("s", under, "r")
    p_over = await store.park("s", over, "r")
    assert not p_under.in_blob
    # 32,001 ASCII characters still fit as binary (64,000 bytes)
    assert not p_over.in_blob
    assert await store.read_rejected_body(p_over) == over
    huge = "ü" * 40_000  # 80,000 UTF-8 bytes: neither string nor binary property
    p_huge = await store.park("s", huge, "r")
    assert p_huge.in_blob and await store.read_rejected_body(p_huge) == huge
