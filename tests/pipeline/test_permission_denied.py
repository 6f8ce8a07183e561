"""Fail closed on permissions: a 403 from Graph or ARM blocks, names the missing permission and
is visible to the operator; it is never read as "no data".

The simulator denies calls the way a tenant without the grant would (`simulation.denied`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from pipeline_helpers import PAYMENTS, SUB, audit_record, base_seed, fic

from wifguard.pipeline.permission_health import missing_permissions
from wifguard.sim import SimTenant
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.permissions import PermissionDenied
from wifguard.sources.inventory.tenant import Inventory

DENY_SP_LOOKUP = "graph GET /servicePrincipals"
DENY_OWNERS = "graph GET /applications/{id}/owners"
DENY_ROLE_ASSIGNMENTS = "arm GET /subscriptions/*/providers/microsoft.authorization/roleassignments"


async def _sweep(sim: SimTenant) -> Any:
    async with Inventory(Connection.from_sim(sim, subscriptions=(SUB,))) as inv:
        return await inv.sweep()


@pytest.mark.parametrize(("denied", "permission", "call"), [
    (DENY_SP_LOOKUP, "Application.Read.All", "GET /servicePrincipals"),
    ("graph GET /applications", "Application.Read.All", "GET /applications"),
    (DENY_ROLE_ASSIGNMENTS, "Microsoft.Authorization/roleAssignments/read",
     "GET /subscriptions/{}/providers/microsoft.authorization/roleassignments"),
])
async def test_sweep_raises_naming_the_missing_permission(sim: SimTenant, denied: str, permission: str,
                                                          call: str) -> None:
    # Without the denial the sweep reads everything.
    ok = await _sweep(sim)
    assert ok.errors == [] and ok.role_assignments > 0
    sim.set_simulation(denied=[denied])
    with pytest.raises(PermissionDenied) as info:
        await _sweep(sim)
    assert info.value.permission == permission
    assert info.value.call.startswith(call)
    assert permission in str(info.value)


async def test_the_simulator_answers_a_denied_call_like_the_services(sim: SimTenant) -> None:
    sim.set_simulation(denied=[DENY_SP_LOOKUP, DENY_ROLE_ASSIGNMENTS])
    headers = {"Authorization": f"Bearer {sim.token}"}
    async with httpx.AsyncClient(verify=sim.ssl_context(), headers=headers) as c:
        g = await c.get(f"{sim.graph_url}/v1.0/servicePrincipals", params={"$filter": "appId eq 'x'"})
        assert g.status_code == 403 and g.json()["error"]["code"] == "Authorization_RequestDenied"
        a = await c.get(f"{sim.arm_url}/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments",
                        params={"api-version": "2022-04-01"})
        assert a.status_code == 403 and a.json()["error"]["code"] == "AuthorizationFailed"
        assert "Microsoft.Authorization/roleAssignments/read" in a.json()["error"]["message"]
        # other calls are untouched
        ok = await c.get(f"{sim.graph_url}/v1.0/applications", params={"$select": "id"})
        assert ok.status_code == 200 and ok.json()["value"]
    assert sim.stats()["routes"]["graph GET /servicePrincipals"] == 1


async def test_event_is_parked_not_evaluated_and_health_names_the_permission(env: dict[str, str],
                                                                            sim: SimTenant) -> None:
    import azure.functions as func

    from wifguard.pipeline.runtime import build_responder, process_audit_bodies
    from wifguard.settings import Settings

    r = await build_responder(Settings.from_env(env))
    try:
        payments = next(a for a in base_seed()["applications"] if a["id"] == PAYMENTS)
        fics = payments["federatedIdentityCredentials"]
        # A first change is evaluated: the backdoor credential is an open finding.
        first = await process_audit_bodies(r, [json.dumps({"records": [
            audit_record("rec-1", PAYMENTS, "payments-deployer", fics[:1], fics)]})])
        assert [e.status for e in first.events] == ["processed"]
        before = {(f.fingerprint, f.status) for f in await r.store.query()}
        assert any(f.rule_id == "WIF102" and f.status.value == "open" for f in await r.store.query())

        # The owners listing is denied; the next change removes the backdoor. A partial view
        # (owners unknown) must neither resolve the open finding nor create new ones.
        sim.set_simulation(denied=[DENY_OWNERS])
        second = await process_audit_bodies(r, [json.dumps({"records": [
            audit_record("rec-2", PAYMENTS, "payments-deployer", fics,
                         [*fics[:1], fic("new", "https://token.actions.githubusercontent.com",
                                         "repo:contoso/x:ref:refs/heads/main", "f1000000-0000-4000-8000-0000000000ab")])]})])
        (ev,) = second.events
        assert ev.status == "rejected" and "Application.Read.All" in ev.reason, ev.reason
        assert second.findings == []
        after = {(f.fingerprint, f.status) for f in await r.store.query()}
        assert after == before, "a denied read changed the findings"
        parked = await r.store.list_rejected()
        assert any("Application.Read.All" in p.reason for p in parked)

        missing = await missing_permissions(r.store)
        assert [(m.permission, m.api, m.call) for m in missing] == [
            ("Application.Read.All", "graph", "GET /applications/{id}/owners")]

        # The health endpoint shows it to an operator (Findings.Read token); anonymous callers
        # get only healthy|unhealthy and timestamps.
        import os

        from api_tokens import AUDIENCE, bearer, serve_jwks, token

        import function_app

        async with serve_jwks() as jwks:
            saved = {k: os.environ.get(k) for k in ("WIFGUARD_API_AUDIENCE", "WIFGUARD_API_JWKS_URL",
                                                    "WIFGUARD_TENANT_ID")}
            os.environ.update({"WIFGUARD_API_AUDIENCE": AUDIENCE, "WIFGUARD_API_JWKS_URL": jwks,
                               "WIFGUARD_TENANT_ID": env["WIFGUARD_TENANT_ID"]})
            function_app._responder, function_app._api = r, None
            try:
                anon = await function_app.health(func.HttpRequest("GET", "/api/health", body=b""))
                resp = await function_app.health(func.HttpRequest("GET", "/api/health", body=b"",
                                                                  headers=bearer(token(["Findings.Read"]))))
            finally:
                function_app._responder, function_app._api = None, None
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        assert set(json.loads(anon.get_body())) == {"status", "checked_at", "started_at"}
        body = json.loads(resp.get_body())
        assert body["status"] == "degraded"
        perm = body["permissions"]
        assert perm["ok"] is False
        assert perm["missing"][0]["permission"] == "Application.Read.All"
        assert "grant the app identity Application.Read.All" in perm["missing"][0]["warning"]
    finally:
        await r.close()
        await r.store.close()


async def test_sweep_shard_denied_resolves_nothing(env: dict[str, str], sim: SimTenant) -> None:
    from wifguard.pipeline.runtime import build_responder, plan_sweep, run_shard
    from wifguard.settings import Settings

    r = await build_responder(Settings.from_env(env))
    try:
        for shard in await plan_sweep(r, 10):
            await run_shard(r, shard)
        before = {(f.fingerprint, f.status) for f in await r.store.query()}
        assert before
        sim.set_simulation(denied=[DENY_ROLE_ASSIGNMENTS])
        with pytest.raises(PermissionDenied, match="roleAssignments/read"):
            await run_shard(r, {"kind": "applications", "ids": [PAYMENTS]})
        with pytest.raises(PermissionDenied):
            await run_shard(r, {"kind": "tenant"})
        assert {(f.fingerprint, f.status) for f in await r.store.query()} == before
        assert [m.permission for m in await missing_permissions(r.store)] == [
            "Microsoft.Authorization/roleAssignments/read"]
    finally:
        await r.close()
        await r.store.close()


def test_cli_sweep_fails_with_the_permission(tmp_path: Path) -> None:
    seed = base_seed()
    seed["simulation"] = {"denied": [DENY_SP_LOOKUP]}
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    out = subprocess.run([sys.executable, "-m", "wifguard.cli", "sweep", "--sim", str(path), "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "Application.Read.All" in out.stderr and "GET /servicePrincipals" in out.stderr
    assert out.stdout.strip() == "", "no findings from a partial view"


async def test_management_groups_are_read_only_when_listed(sim: SimTenant) -> None:
    """Reader on a management group (the tenant root included) is a separate, optional grant:
    without it listed, no sweep touches a management group, so nothing fails on every run."""
    from pipeline_helpers import TENANT

    sim.set_simulation(denied=["arm GET /providers/microsoft.management/*"])
    sim.reset_stats()
    rep = await _sweep(sim)
    assert rep.errors == []
    assert not [r for r in sim.stats()["routes"] if "managementgroups" in r]
    # Listed but not granted: that is a missing permission, and it says which.
    async with Inventory(Connection.from_sim(sim, subscriptions=(SUB,), management_groups=(TENANT,))) as inv:
        with pytest.raises(PermissionDenied, match=r"Microsoft\.Authorization/roleAssignments/read"):
            await inv.sweep()
