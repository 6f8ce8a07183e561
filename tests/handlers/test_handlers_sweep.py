"""Sweep shard messages: what the planner writes decodes; anything else is refused with a reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.sweep import ShardError, decode_shard
from wifguard.pipeline.runtime import shard_message


@pytest.mark.parametrize("shard", [
    {"kind": "applications", "ids": ["a1", "a2"]},
    {"kind": "subscription", "id": "8c0f5d2e-4b3a-4c1d-9e8f-7a6b5c4d3e2f"},
    {"kind": "tenant"},
])
def test_planner_messages_round_trip(shard: dict[str, object]) -> None:
    assert decode_shard(shard_message(shard).encode()) == shard


@pytest.mark.parametrize(("body", "problem"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"kind": "everything"}', "kind 'everything'"),
    (b'{"kind": "applications", "ids": "a1"}', "list of application object ids"),
    (b'{"kind": "subscription"}', "subscription id"),
    (json.dumps({"kind": "applications", "ids": ["x"] * 5001}).encode(), "at most 5000"),
])
def test_bad_messages_are_refused_with_a_reason(body: bytes, problem: str) -> None:
    with pytest.raises(ShardError, match=problem):
        decode_shard(body)


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_shard_error(body: bytes) -> None:
    try:
        out = decode_shard(body)
    except ShardError as exc:
        assert str(exc)
    else:
        assert out["kind"] in ("applications", "subscription", "tenant")
