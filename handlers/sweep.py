"""Sweep shard messages (storage queue): decoding and validation only.

The planner (``wifguard.pipeline.runtime.plan_sweep``) writes one message per shard; the queue-triggered
worker decodes it here and hands it to ``wifguard.pipeline.runtime.run_shard``.
"""

from __future__ import annotations

import json
from typing import Any

from wifguard.errors import DecodeError

SHARD_KINDS = ("applications", "subscription", "tenant")
MAX_IDS = 5000


class ShardError(DecodeError):
    """The message is not a usable shard; the text says what is wrong."""


def decode_shard(body: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ShardError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ShardError(f"a shard is a JSON object, not {type(data).__name__}")
    kind = data.get("kind")
    if kind not in SHARD_KINDS:
        raise ShardError(f"kind {kind!r} is not one of {', '.join(SHARD_KINDS)}")
    if kind == "applications":
        ids = data.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise ShardError("an applications shard needs 'ids', a list of application object ids")
        if len(ids) > MAX_IDS:
            raise ShardError(f"an applications shard holds at most {MAX_IDS} ids, not {len(ids)}")
        return {"kind": kind, "ids": ids}
    if kind == "subscription":
        sub = data.get("id")
        if not isinstance(sub, str) or not sub:
            raise ShardError("a subscription shard needs 'id', the subscription id")
        return {"kind": kind, "id": sub}
    return {"kind": kind}
