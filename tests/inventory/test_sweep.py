"""The sweep through the real SDKs against the simulated tenant: complete, polite, fault-tolerant."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wifguard.catalogue.engine import Engine
from wifguard.config import load_config
from wifguard.pipeline.sweep import sweep
from wifguard.sim import SimTenant
from wifguard.sim.generate import generate_seed
from wifguard.sources.inventory.connection import Connection


def _seed(simulation: dict[str, Any] | None = None) -> dict[str, Any]:
    return generate_seed(apps=300, fics_per_app=2, uamis=40, subscriptions=2, role_assignments=80,
                         planted_attacker_issuers=3, seed=7, simulation=simulation)


async def _findings(seed: dict[str, Any]) -> tuple[set[str], Any]:
    with SimTenant.start(seed) as sim:
        conn = Connection.from_sim(sim, max_attempts=12)
        engine = Engine(load_config(overrides={"home_tenant_id": sim.tenant_id}))
        rep = await sweep(conn, engine)
    return {f.fingerprint for f in rep.findings}, rep


async def test_sweep_reads_everything_and_reports_the_planted_issuers() -> None:
    seed = _seed()
    _, rep = await _findings(seed)
    planted = seed["generator"]["planted"]
    assert rep.result.identities == 300 + 40
    assert rep.result.credentials == sum(len(a["federatedIdentityCredentials"]) for a in seed["applications"]) + sum(
        len(u.get("federatedIdentityCredentials", [])) for s in seed["subscriptions"] for u in s["userAssignedIdentities"])
    assert rep.errors == []
    hosting = {(f.identity["id"], (f.credential or {}).get("name")) for f in rep.findings if f.rule_id == "WIF102"}
    assert {(p["applicationId"], p["ficName"]) for p in planted} <= hosting
    # few requests: list calls, not one per app
    assert rep.result.stats.by_api["graph"] <= 10


async def test_faults_and_a_tight_budget_change_nothing() -> None:
    clean, _ = await _findings(_seed())
    rough, rep = await _findings(_seed({"fault_rate": 0.1, "fault_seed": 3, "graph_resource_units_per_10s": 3,
                                        "empty_retry_after_rate": 0.5, "arm_reads_bucket": 8,
                                        "arm_reads_per_s": 30}))
    stats = rep.result.stats
    assert stats.faults > 0, "the fault injection did not happen"
    assert stats.throttled > 0, "the tight budget did not throttle"
    assert rep.errors == []
    assert rough == clean


async def test_arm_pacing_follows_what_arm_says_about_the_bucket() -> None:
    # ARM's real bucket is far smaller than the client assumes (another client of the same
    # principal drained it). The client believes it has ~237 reads left, so only the
    # remaining-reads header and Retry-After can make it pace: the requests then queue in order
    # instead of racing their retries, and every read succeeds.
    from wifguard.sources.inventory.arm import ArmClient

    # A bucket of 10 (not 1): a loaded machine delivers paced requests in small bunches.
    seed = _seed({"arm_reads_bucket": 10, "arm_reads_per_s": 40})
    with SimTenant.start(seed) as sim:
        async with ArmClient(Connection.from_sim(sim)) as arm:
            (sub, *_) = [s["subscriptionId"] for s in await arm.subscriptions()]
            uamis = await arm.identities(sub)
            creds = await asyncio.gather(*(arm.credentials(u["id"]) for u in uamis))
            paced = arm.paced_seconds
    assert len(creds) == len(uamis) >= 15  # more concurrent reads than the bucket holds
    assert paced > 0, "the client never waited: it ignored what ARM said about the bucket"


def test_token_bucket_follows_remaining_and_retry_after() -> None:
    from wifguard.sources.inventory.arm import TokenBucket

    b = TokenBucket(capacity=237, rate=22.5)
    b.observe(remaining=3, retry_after=None)
    assert b.tokens <= 3.1
    b.observe(remaining=None, retry_after=2.0)
    assert b.tokens <= -2.0 * 22.5 + 0.5  # everyone queues behind the refusal
    b.observe(remaining=200, retry_after=None)
    assert b.tokens < 0  # a larger remaining never adds tokens we have not earned


def test_sweep_cli_json(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(_seed()))
    out = subprocess.run([sys.executable, "-m", "wifguard.cli", "sweep", "--sim", str(seed), "--format", "json"],
                         capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    s = data["summary"]
    for key in ("identities", "credentials", "role_assignments", "by_severity", "requests", "throttled_retries",
                "duration_seconds"):
        assert key in s
    assert s["identities"] == 340 and data["findings"]
    assert all({"rule_id", "severity", "identity", "fingerprint", "message"} <= set(f) for f in data["findings"])


def test_sweep_cli_unusable_seed(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "wifguard.cli", "sweep", "--sim", str(tmp_path / "nope.json")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "no such seed file" in out.stderr


@pytest.mark.parametrize("kind", ["application", "managedIdentity"])
async def test_event_path_reads_one_identity_live(kind: str) -> None:
    seed = _seed()
    with SimTenant.start(seed) as sim:
        from wifguard.sources.inventory.tenant import Inventory

        async with Inventory(Connection.from_sim(sim)) as inv:
            if kind == "application":
                app = seed["applications"][0]
                ctx = await inv.application_context(app["id"])
                assert ctx is not None and len(ctx.credentials) == len(app["federatedIdentityCredentials"])
                assert await inv.application_context("00000000-0000-4000-8000-0000000000aa") is None
            else:
                uami = seed["subscriptions"][0]["userAssignedIdentities"][0]
                rid = uami.get("id") or next(iter(sim.snapshot()["subscriptions"][0]["userAssignedIdentities"]))["id"]
                ctx = await inv.managed_identity_context(rid)
                assert ctx is not None and ctx.identity.kind.value == "managedIdentity"
                assert await inv.managed_identity_context(rid + "-gone") is None
