"""Privilege beyond Azure RBAC through the real SDKs against the simulated tenant: a sweep
fires WIF606-WIF609 (and WIF601/602) on exactly the identities privileged by each source."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from wifguard.catalogue.engine import Engine
from wifguard.config import load_config
from wifguard.sim import SimTenant
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.tenant import Inventory

SEED = Path(__file__).with_name("data") / "privilege-tenant.json"
PRIVILEGE_RULES = {"WIF601", "WIF602", "WIF606", "WIF607", "WIF608", "WIF609", "WIF202"}
EXPECTED = {
    "graph-writer": {"WIF606"},
    "dir-admin": {"WIF607", "WIF202", "WIF602"},
    "owner-app": {"WIF608"},
    "ga-app": {"WIF607"},
    "mi-deployer": {"WIF609"},
    "azure-app": {"WIF601"},
    "arc-app": {"WIF601"},  # WIF605 stays quiet where WIF601 fires on the assignment
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("priv") / "out.json"
    cfg = out.with_name("config.yaml")
    cfg.write_text("home_tenant_id: 11111111-2222-3333-4444-555555555555\n")
    subprocess.run([sys.executable, "-m", "wifguard.cli", "sweep", "--sim", str(SEED), "--config", str(cfg),
                    "--format", "json", "-o", str(out)], check=True, capture_output=True)
    return json.loads(out.read_text())


def test_each_source_fires_on_exactly_its_identity(report: dict) -> None:
    fired: dict[str, set[str]] = defaultdict(set)
    for f in report["findings"]:
        if f["rule_id"] in PRIVILEGE_RULES | {"WIF605"}:
            fired[f["identity"]["name"]].add(f["rule_id"])
    assert dict(fired) == EXPECTED  # lob-app (a line-of-business API role only) stays quiet
    assert report["summary"]["errors"] == 0


def test_severities_and_names(report: dict) -> None:
    by = {(f["rule_id"], f["identity"]["name"]): f for f in report["findings"]}
    assert by[("WIF606", "graph-writer")]["severity"] == "critical"
    assert "RoleManagement.ReadWrite.Directory" in by[("WIF606", "graph-writer")]["message"]
    assert by[("WIF607", "dir-admin")]["severity"] == "critical"
    assert "Privileged Role Administrator" in by[("WIF607", "dir-admin")]["message"]
    wif609 = by[("WIF609", "mi-deployer")]
    assert wif609["severity"] == "critical"
    assert "ga-app" in wif609["message"] and "Global Administrator" in wif609["message"]
    assert "tier0-app" in by[("WIF608", "owner-app")]["message"]
    # Built-in roles are named from the live definitions, including one no shipped table knows.
    assert by[("WIF601", "azure-app")]["role_assignment"]["role"] == "Domain Services Contributor"
    assert by[("WIF601", "arc-app")]["role_assignment"]["role"] == "Hybrid Access Delegation Administrator"
    assert by[("WIF606", "graph-writer")]["evidence"]["privilege_paths"]


async def test_bulk_reads_not_one_per_identity() -> None:
    seed = json.loads(SEED.read_text())
    with SimTenant.start(seed) as sim:
        conn = Connection.from_sim(sim)
        async with Inventory(conn) as inv:
            res = await inv.sweep()
    assert res.errors == []
    names = {c.identity.name for c in res.contexts}
    assert "mi-deployer" in names  # a managed identity without credentials, evaluated for WIF609
    # listings and one $batch for resources' appRoles, not one read per identity
    assert res.stats.by_api["graph"] <= 14, res.stats.by_api


def test_near_miss_role_unknown_to_the_tenant_is_not_privileged(tmp_path: Path) -> None:
    seed = json.loads(SEED.read_text())
    # Without the definition nothing says the role is privileged: no WIF601 is invented for it.
    seed["roleDefinitions"] = []
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    out = tmp_path / "out.json"
    subprocess.run([sys.executable, "-m", "wifguard.cli", "sweep", "--sim", str(path), "--format", "json",
                    "-o", str(out)], check=True, capture_output=True)
    findings = json.loads(out.read_text())["findings"]
    assert not [f for f in findings if f["identity"]["name"] == "arc-app" and f["rule_id"] == "WIF601"]


def test_engine_config_can_lower_a_shipped_tier() -> None:
    eng = Engine(load_config(overrides={"privilege": {"directory_roles": {"Privileged Role Administrator": 2}}}))
    assert eng.cf.tiering.directory_role("e8611ab8-c189-46e8-94e1-60213ab1f814", "Privileged Role Administrator") == 2


async def test_event_path_reads_the_same_privilege() -> None:
    """Events re-read one identity at a time ($batch, one directory-role listing) and see what a
    sweep sees: each source, ownership through ownedObjects, trust through the app's credential."""
    seed = json.loads(SEED.read_text())
    sub = seed["subscriptions"][0]["subscriptionId"]
    mi = f"/subscriptions/{sub}/resourcegroups/rg-ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi-deployer"
    with SimTenant.start(seed) as sim:
        conn = Connection.from_sim(sim)
        eng = Engine(load_config(overrides={"home_tenant_id": sim.tenant_id}))
        errors: list[str] = []
        async with Inventory(conn) as inv:
            ctxs = await inv.application_contexts([a["id"] for a in seed["applications"]], errors=errors)
            uami = await inv.managed_identity_context(mi, errors=errors)
            single = await inv.application_context("a0000000-0000-0000-0000-000000000003", errors=errors)
    assert errors == []
    fired = {}
    for c in [*ctxs.values(), uami, single]:
        assert c is not None
        rules = {f.rule_id for f in eng.evaluate(c).findings} & (PRIVILEGE_RULES | {"WIF605"})
        if rules:
            fired[c.identity.name] = rules
    assert fired == EXPECTED
