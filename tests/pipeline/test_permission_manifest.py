"""Every Graph and ARM call the code makes is in the permission manifest, by mode.

The inventory, sweep (planner and every shard kind), event (audit log and Event Grid) and
quarantine/restore code paths run against the simulated tenant, which records each call as
"<METHOD> <route template>"; a call no manifest entry lists fails the test, and so does a call
made in a mode the manifest does not allow it in (writes only in enforce).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pipeline_helpers import PAYMENTS, SUB, TENANT, UAMI, audit_record, base_seed, fic

from wifguard.sim import SimTenant, service_principal_id_for
from wifguard.sources.inventory.permissions import load_manifest

CUSTOM_ROLE = "c0ffee00-0000-4000-8000-000000000001"
NEW_UAMI = f"/subscriptions/{SUB}/resourceGroups/rg-untagged/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-batch"


def _seed() -> dict[str, Any]:
    seed = copy.deepcopy(base_seed())
    sub = seed["subscriptions"][0]
    # an identity without owner tags (its resource group's tags are read) and a custom role
    sub.setdefault("resourceGroups", []).append({"name": "rg-untagged", "tags": {}})
    sub["userAssignedIdentities"].append({
        "id": NEW_UAMI, "name": "id-batch", "location": "westeurope", "tags": {},
        "federatedIdentityCredentials": [{
            "id": f"{NEW_UAMI}/federatedIdentityCredentials/batch", "name": "batch",
            "properties": {"issuer": "https://token.actions.githubusercontent.com",
                           "subject": "repo:contoso/batch:pull_request", "audiences": ["api://AzureADTokenExchange"]},
        }],
    })
    seed["roleDefinitions"] = [{
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM_ROLE}",
        "name": CUSTOM_ROLE, "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {"roleName": "contoso deployer", "type": "CustomRole", "description": "",
                       "assignableScopes": [f"/subscriptions/{SUB}"],
                       "permissions": [{"actions": ["Microsoft.Resources/deployments/*"], "notActions": [],
                                        "dataActions": [], "notDataActions": []}]},
    }]
    sub["roleAssignments"].append({
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/e1000000-0000-4000-8000-0000000000cc",
        "properties": {"roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
                                           f"{CUSTOM_ROLE}",
                       "principalId": service_principal_id_for(seed["applications"][1]["appId"]),
                       "principalType": "ServicePrincipal", "scope": f"/subscriptions/{SUB}"}})
    # privilege readers: a Microsoft Graph grant, an owned app and a directory role
    payments_sp = service_principal_id_for(seed["applications"][0]["appId"])
    seed.setdefault("servicePrincipals", []).extend([
        {"id": "90000000-0000-4000-8000-00000000a001", "appId": "00000003-0000-0000-c000-000000000000",
         "displayName": "Microsoft Graph"},
        {"id": payments_sp, "appId": seed["applications"][0]["appId"], "displayName": "payments",
         "appRoleAssignments": [{"appRoleId": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
                                 "resourceId": "90000000-0000-4000-8000-00000000a001"}]},
    ])
    seed["applications"][1].setdefault("owners", []).append(payments_sp)
    seed["directoryRoleAssignments"] = [{"principalId": payments_sp,
                                         "roleDefinitionId": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"}]
    return seed


def _grid_event(operation: str, resource_uri: str, event_type: str = "Microsoft.Resources.ResourceWriteSuccess",
                ) -> dict[str, Any]:
    data: dict[str, Any] = {"operationName": operation, "resourceUri": resource_uri, "status": "Succeeded",
                            "subscriptionId": SUB, "tenantId": TENANT,
                            "claims": {"http://schemas.microsoft.com/identity/claims/objectidentifier":
                                       "11111111-1111-1111-1111-111111111111"}}
    return {"id": f"ev-{abs(hash((operation, resource_uri))) % 10**10}", "topic": f"/subscriptions/{SUB}",
            "subject": resource_uri, "eventType": event_type, "eventTime": "2026-11-20T10:00:00Z",
            "dataVersion": "2", "metadataVersion": "1", "data": data}


async def _walk(env: dict[str, str], quarantine_mode: str) -> None:
    """Run every code path that talks to Graph or ARM; return the calls the simulator saw."""
    from wifguard.actions.quarantine import restore
    from wifguard.pipeline.runtime import (
        build_responder,
        plan_sweep,
        process_audit_bodies,
        process_event_grid,
        run_shard,
    )
    from wifguard.settings import Settings
    from wifguard.sources.inventory.connection import Connection
    from wifguard.sources.inventory.tenant import CredentialWriter, Inventory

    settings = Settings.from_env({**env, "WIFGUARD_QUARANTINE_MODE": quarantine_mode,
                                  "WIFGUARD_MANAGEMENT_GROUPS": TENANT})
    r = await build_responder(settings)
    try:
        # sweep: the planner and every shard kind (applications, subscription, tenant)
        for shard in await plan_sweep(r, 2):
            await run_shard(r, shard)
        # event path: an audit-log credential change, Event Grid FIC and role-assignment writes
        payments = next(a for a in _seed()["applications"] if a["id"] == PAYMENTS)
        new = [*payments["federatedIdentityCredentials"][:1],
               fic("late", "https://evil1.blob.core.windows.net/oidc", "x", "f1000000-0000-4000-8000-0000000000aa")]
        await process_audit_bodies(r, [json.dumps({"records": [
            audit_record("rec-1", PAYMENTS, "payments-deployer", payments["federatedIdentityCredentials"][:1], new)]})])
        ra_id = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/e1000000-0000-4000-8000-000000000001"
        await process_event_grid(r, [
            _grid_event("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
                        f"{NEW_UAMI}/federatedIdentityCredentials/batch"),
            _grid_event("Microsoft.Authorization/roleAssignments/write", ra_id),
        ])
        # quarantine of a managed identity's credential and restore of everything backed up
        writer: CredentialWriter = r.writer
        ctx = await r.inventory.managed_identity_context(UAMI)
        assert ctx is not None
        await writer.list(ctx.identity)
        raw = await writer.read(ctx.identity, "web")
        if quarantine_mode == "enforce":
            assert raw is not None
            await writer.delete(ctx.identity, raw)
            await writer.create(ctx.identity, ctx.credentials[0])
            for backup in await r.store.list_backups():
                await restore(r.store, writer, backup.id, actor="test", reason="manifest walk")
        # subscriptions discovered rather than configured
        async with Inventory(Connection(**{**_conn_kw(r.inventory.conn), "subscriptions": ()})) as inv:
            assert SUB in await inv.subscription_ids()
    finally:
        await r.close()
        await r.store.close()


def _conn_kw(conn: Any) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(conn, f.name) for f in fields(conn)}


@pytest.fixture
def walk_sim() -> Any:
    with SimTenant.start(_seed()) as s:
        yield s


@pytest.mark.parametrize(("mode", "quarantine_mode"), [("observe", "dry-run"), ("enforce", "enforce")])
async def test_every_call_is_in_the_manifest(mode: str, quarantine_mode: str, env: dict[str, str],
                                             walk_sim: SimTenant) -> None:
    env = {**env, "WIFGUARD_GRAPH_URL": walk_sim.graph_url, "WIFGUARD_ARM_URL": walk_sim.arm_url,
           "WIFGUARD_CA_BUNDLE": walk_sim.ca_path, "WIFGUARD_STATIC_TOKEN": walk_sim.token}
    walk_sim.reset_stats()
    await _walk(env, quarantine_mode)
    calls = {route for route in walk_sim.stats()["routes"]}
    manifest = load_manifest()
    unlisted, wrong_mode, seen = [], [], set()
    for call in calls:
        api, _, route = call.partition(" ")
        op = manifest.find(api, route)
        if op is None:
            unlisted.append(call)
            continue
        seen.add((op.api, op.call))
        if mode not in op.modes:
            wrong_mode.append(call)
    assert not unlisted, f"calls the permission manifest does not list: {sorted(unlisted)}"
    assert not wrong_mode, f"calls the manifest does not allow in {mode}: {sorted(wrong_mode)}"
    if mode == "enforce":
        never = sorted(f"{o.api} {o.call}" for o in manifest.operations if (o.api, o.call) not in seen)
        assert not never, f"manifest entries no code path used (stale, or the walk misses a path): {never}"
