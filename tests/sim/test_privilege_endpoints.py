"""The simulator's privilege endpoints in Graph's shapes, through wifguard's Graph client: app role
assignments (both directions, $expand), owners and ownedObjects, directory role management;
paging and $batch."""

from __future__ import annotations

import json
from pathlib import Path

from wifguard.sim import SimTenant
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.graph import GraphClient, NotFound

SEED = Path(__file__).parents[1] / "inventory" / "data" / "privilege-tenant.json"
GRAPH_SP = "90000000-0000-0000-0000-000000000001"
WRITER_SP = "91000000-0000-0000-0000-000000000001"
OWNER_SP = "91000000-0000-0000-0000-000000000003"


async def test_privilege_endpoints_have_graph_shapes_paging_and_batch() -> None:
    seed = json.loads(SEED.read_text())
    with SimTenant.start(seed) as sim:
        g = GraphClient(Connection.from_sim(sim))
        try:
            grants = (await g.get(f"/servicePrincipals/{WRITER_SP}/appRoleAssignments"))["value"]
            assert [a["appRoleId"] for a in grants] == ["9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8"]
            assert grants[0]["resourceDisplayName"] == "Microsoft Graph"
            assert grants[0]["principalType"] == "ServicePrincipal"
            graph = await g.get("/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')"
                                "?$select=id,appRoles")
            values = {r["id"]: r["value"] for r in graph["appRoles"]}
            assert values["9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8"] == "RoleManagement.ReadWrite.Directory"
            # paging: $top=1 over the resource's grants
            pages = [p async for p in g.pages(f"/servicePrincipals/{GRAPH_SP}/appRoleAssignedTo?$top=1")]
            assert len(pages) == 2 and all(len(p) == 1 for p in pages)
            expanded = await g.get(f"/servicePrincipals/{WRITER_SP}?$expand=appRoleAssignments")
            assert len(expanded["appRoleAssignments"]) == 1
            owned = (await g.get(f"/servicePrincipals/{OWNER_SP}/ownedObjects"))["value"]
            assert [(o["@odata.type"], o["displayName"]) for o in owned] == [("#microsoft.graph.application",
                                                                              "tier0-app")]
            ras = (await g.get("/roleManagement/directory/roleAssignments"))["value"]
            assert {(r["principalId"], r["roleDefinitionId"], r["directoryScopeId"]) for r in ras} >= {
                ("91000000-0000-0000-0000-000000000005", "62e90394-69f5-4237-9190-012177145e10", "/")}
            defs = [d async for p in g.pages("/roleManagement/directory/roleDefinitions?$top=50") for d in p]
            assert any(d["displayName"] == "Global Administrator" and d["isBuiltIn"] for d in defs)
            assert (await g.get("/roleManagement/directory/roleEligibilitySchedules"))["value"] == []
            res = await g.batch([
                {"id": "1", "method": "GET", "url": f"/servicePrincipals/{WRITER_SP}/appRoleAssignments"},
                {"id": "2", "method": "GET", "url": "/roleManagement/directory/roleDefinitions/"
                                                    "62e90394-69f5-4237-9190-012177145e10"},
                {"id": "3", "method": "GET", "url": "/servicePrincipals/00000000-0000-0000-0000-00000000dead/ownedObjects"},
            ])
            assert res["1"]["status"] == 200 and len(res["1"]["body"]["value"]) == 1
            assert res["2"]["body"]["displayName"] == "Global Administrator"
            assert res["3"]["status"] == 404
            try:
                await g.get("/roleManagement/directory/roleAssignments/nope")
                raise AssertionError("expected a 404")
            except NotFound:
                pass
        finally:
            await g.close()


def test_seed_privilege_round_trips_through_a_snapshot() -> None:
    from wifguard.sim.state import Tenant

    t = Tenant(json.loads(SEED.read_text()))
    again = Tenant(json.loads(json.dumps(t.snapshot())))
    assert again.privilege.app_role_assignments == t.privilege.app_role_assignments
    assert again.privilege.role_assignments == t.privilege.role_assignments
