"""Grouping and digests on the demo tenant: a sweep sends at most one chat message per identity per
channel plus one digest per channel; events send one message per identity; the report reads the
sweep's summary. Real Azurite, the simulated demo tenant over HTTPS, loopback webhooks."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from wifguard.azurite import Azurite
from wifguard.cli.demo import AUDIT, CONFIG, SEED, Receiver
from wifguard.pipeline.responder import RunResult
from wifguard.sim import SimTenant

DIGEST_HEADLINE = "wifguard sweep:"


def teams_identity(msg: dict[str, Any]) -> str:
    """The identity a Teams message is about (its hidden ids), or "digest"."""
    card = msg["attachments"][0]["content"]
    raw = json.dumps(card)
    if DIGEST_HEADLINE in raw:
        return "digest"
    details = next(d for d in card["body"] if d.get("id") == "wifguard-ids")
    first = details["items"][0]["inlines"]
    assert first[0]["text"] == "Identity id: "
    return str(first[1]["text"]).lower()


def slack_identity(msg: dict[str, Any]) -> str:
    if msg["text"].startswith(DIGEST_HEADLINE):
        return "digest"
    ids = msg["attachments"][0]["blocks"][-1]["elements"][0]["text"]
    return str(ids.split(" \u00b7 ")[0].removeprefix("identity ")).lower()


@pytest.fixture
async def demo(azurite: Azurite) -> AsyncIterator[tuple[Any, Receiver, Any]]:
    from wifguard.pipeline.runtime import build_responder
    from wifguard.settings import Settings
    from wifguard.sources.inventory.connection import Connection

    async with Receiver() as hooks:
        with SimTenant.start(SEED) as sim:
            env = {"WIFGUARD_STORAGE": azurite.connection_string, "WIFGUARD_CONFIG": str(CONFIG),
                   "WIFGUARD_TABLE_PREFIX": "d" + uuid.uuid4().hex[:12], "WIFGUARD_TENANT_ID": sim.tenant_id,
                   "WIFGUARD_TEAMS_WEBHOOK_URL": f"{hooks.url}/teams",
                   "WIFGUARD_SLACK_WEBHOOK_URL": f"{hooks.url}/slack"}
            conn = Connection.from_sim(sim)
            r = await build_responder(Settings.from_env(env), conn=conn)
            try:
                yield r, hooks, conn
            finally:
                await r.close()
                await r.store.close()


async def test_demo_sweep_sends_one_message_per_identity_per_channel_and_one_digest(demo: Any) -> None:
    from wifguard.pipeline.sweep import sweep

    r, hooks, conn = demo
    rep = await sweep(conn, r.engine)
    result = await r.record_sweep(rep.evaluations, RunResult(), all_identity_ids=rep.result.all_identity_ids)
    assert not result.errors
    sent = {"teams": Counter(teams_identity(m) for m in hooks.received["teams"]),
            "slack": Counter(slack_identity(m) for m in hooks.received["slack"])}
    for channel, per_identity in sent.items():
        assert per_identity["digest"] == 1, channel
        assert max(per_identity.values()) == 1, (channel, per_identity)
        assert len(per_identity) >= 3, channel  # several identities were told, each once
    # Every finding is accounted for: grouped messages still deliver (and record) each finding.
    delivered = {d["fingerprint"] for n in result.notifications for d in n.get("channels", []) if d.get("ok")}
    notified = {n["fingerprint"] for n in result.notifications if "fingerprint" in n}
    assert notified and notified <= delivered
    assert await r.store.pending_notifications() == []
    # The grouped message leads with the identity's worst finding and lists the others.
    grouped = [m for m in hooks.received["slack"] if "(+" in m["text"]]
    assert grouped, "expected at least one identity with several findings"
    # Each message carries its own stable id, the one its findings' deliveries recorded.
    ids = {d["notification_id"] for n in result.notifications for d in n.get("channels", [])}
    assert {m["notificationId"] for m in hooks.received["teams"] if teams_identity(m) != "digest"} <= ids

    # The digest: counts, changes, riskiest identities, in both formats.
    (teams_digest,) = [m for m in hooks.received["teams"] if teams_identity(m) == "digest"]
    (slack_digest,) = [m for m in hooks.received["slack"] if slack_identity(m) == "digest"]
    digest = next(n["digest"] for n in result.notifications if n.get("kind") == "digest")
    assert digest["identities_checked"] == len({i.lower() for i in rep.result.all_identity_ids})
    assert digest["identities_checked"] > digest["identities_clean"] >= 0
    assert sum(digest["open_by_severity"].values()) == len({f.fingerprint for f in rep.findings})
    assert digest["changes"]["new"] == sum(digest["open_by_severity"].values())
    assert digest["changes"]["since"] is None
    raw_teams = json.dumps(teams_digest)
    assert "Riskiest identities" in raw_teams and digest["top"][0]["name"] in raw_teams
    assert "first sweep" in json.dumps(slack_digest)

    # A second sweep: no new per-identity messages (nothing new), one more digest per channel
    # that reports no changes since the first.
    before = {k: len(v) for k, v in hooks.received.items()}
    again = await r.record_sweep(rep.evaluations, RunResult(), all_identity_ids=rep.result.all_identity_ids)
    assert {k: len(v) - before[k] for k, v in hooks.received.items()} == {"teams": 1, "slack": 1}
    second = next(n["digest"] for n in again.notifications if n.get("kind") == "digest")
    assert second["changes"]["new"] == 0 and second["changes"]["resolved"] == 0
    assert second["changes"]["since"] is not None


async def test_event_replay_groups_per_identity(demo: Any) -> None:
    from wifguard.pipeline.runtime import process_audit_bodies

    r, hooks, _ = demo
    result = await process_audit_bodies(r, [AUDIT.read_bytes()])
    assert result.findings
    for channel, ident in (("teams", teams_identity), ("slack", slack_identity)):
        per_identity = Counter(ident(m) for m in hooks.received[channel])
        assert "digest" not in per_identity  # digests come from sweeps only
        assert per_identity and max(per_identity.values()) == 1, (channel, per_identity)


def _again(record: dict[str, Any], n: int) -> dict[str, Any]:
    """The same credential change as another audit record (its own id, time and actor)."""
    out = json.loads(json.dumps(record))
    rid = f"Directory_{uuid.UUID(int=n)}_again"
    out["correlationId"] = out["properties"]["correlationId"] = str(uuid.UUID(int=n))
    out["properties"]["id"] = rid
    out["time"] = out["properties"]["activityDateTime"] = f"2026-11-20T0{n}:00:00Z"
    out["properties"]["initiatedBy"]["user"] = {"id": str(uuid.UUID(int=1000 + n)), "displayName": None,
                                                "userPrincipalName": f"temp{n}@contoso.com", "roles": []}
    return out


async def test_event_batch_touching_one_identity_several_times_sends_it_one_message(demo: Any) -> None:
    """Records about one identity in one batch: one message per identity per channel carries every
    new finding of the batch; each record is done only once its identity's message went out."""
    from wifguard.pipeline.runtime import process_audit_bodies

    r, hooks, _ = demo
    records = json.loads(AUDIT.read_bytes())["records"]
    payments = records[0]
    target = payments["properties"]["targetResources"][0]["id"].lower()
    batch = [payments, _again(payments, 1), records[1], _again(payments, 2)]
    result = await process_audit_bodies(r, [json.dumps({"records": batch}).encode()])
    assert [e.status for e in result.events] == ["processed"] * 4, result.events
    about = {n["fingerprint"] for n in result.notifications if n["identity"]["id"].lower() == target}
    assert len(about) >= 3  # several new findings about it, from several records
    for channel, ident in (("teams", teams_identity), ("slack", slack_identity)):
        per_identity = Counter(ident(m) for m in hooks.received[channel])
        assert per_identity[target] == 1, (channel, per_identity)
        assert max(per_identity.values()) == 1, (channel, per_identity)
    (slack,) = [m for m in hooks.received["slack"] if slack_identity(m) == target]
    assert f"(+{len(about) - 1} more)" in slack["text"], slack["text"]
    assert await r.store.pending_notifications() == []
    # Delivered again (the platform retried the batch): nothing more is sent.
    before = {k: len(v) for k, v in hooks.received.items()}
    again = await process_audit_bodies(r, [json.dumps({"records": batch}).encode()])
    assert {e.status for e in again.events} == {"duplicate"}
    assert {k: len(v) for k, v in hooks.received.items()} == before


async def test_event_findings_below_the_floor_wait_for_the_digest(demo: Any) -> None:
    import dataclasses

    from wifguard.domain.model import Severity
    from wifguard.pipeline.runtime import process_audit_bodies

    r, hooks, _ = demo
    r.notify_config = dataclasses.replace(
        r.notify_config, digest=dataclasses.replace(r.notify_config.digest, immediate_min_severity=Severity.CRITICAL))
    r.notifier().config = r.notify_config
    result = await process_audit_bodies(r, [AUDIT.read_bytes()])
    assert {f.severity for f in result.findings} - {Severity.CRITICAL}, "expected findings below critical"
    told = {json.dumps(m) for ms in hooks.received.values() for m in ms}
    for f in result.findings:
        if f.severity < Severity.CRITICAL:
            assert not any(f.fingerprint in t for t in told)
    assert all(m["text"].startswith("CRITICAL") for m in hooks.received["slack"])
    # They are still recorded as notified (nothing left pending to send one by one later).
    assert await r.store.pending_notifications() == []
