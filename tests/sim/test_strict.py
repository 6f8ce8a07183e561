"""The simulator rejects what Graph and ARM reject (issue 16), and the inventory handles each
rejection correctly: a non-GUID id names no object (never read as "no data"), an api-version
the resource type lacks fails its subscription loudly, and fields exist only where the
api-version defines them."""

from __future__ import annotations

from typing import Any

import pytest
from sim_fixtures import APP_ID, SUB, UAMI_ID, client

from wifguard.sim import SimTenant
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.tenant import Inventory


@pytest.mark.parametrize("path", ["/v1.0/applications/[REMOVED]", "/beta/applications/not-a-guid",
                                  "/v1.0/servicePrincipals/nope",
                                  "/v1.0/applications/[REMOVED]/federatedIdentityCredentials"])
async def test_graph_object_path_with_a_non_guid_id_is_a_bad_request(sim: SimTenant, path: str) -> None:
    async with client(sim) as c:
        r = await c.get(f"{sim.graph_url}{path}")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "Request_BadRequest"
    assert "Invalid object identifier" in r.json()["error"]["message"]


async def test_get_by_ids_with_a_non_guid_is_a_bad_request_also_inside_batch(sim: SimTenant) -> None:
    async with client(sim) as c:
        direct = await c.post(f"{sim.graph_url}/v1.0/directoryObjects/getByIds", json={"ids": [APP_ID, "nope"]})
        batch = await c.post(f"{sim.graph_url}/v1.0/$batch", json={"requests": [
            {"id": "1", "method": "GET", "url": "/applications/[REMOVED]"},
            {"id": "2", "method": "GET", "url": f"/applications/{APP_ID}?$select=id"}]})
    assert direct.status_code == 400 and direct.json()["error"]["code"] == "Request_BadRequest"
    by_id = {r["id"]: r for r in batch.json()["responses"]}
    assert by_id["1"]["status"] == 400 and by_id["1"]["body"]["error"]["code"] == "Request_BadRequest"
    assert by_id["2"]["status"] == 200


@pytest.mark.parametrize(("path", "version"), [
    (UAMI_ID, "2014-01-01"),
    (f"/subscriptions/{SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities", "2099-01-01"),
    (f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments", "2012-01-01"),
    (f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions", "2020-04-01-preview"),
    ("/subscriptions", "2014-01-01"),
    (f"/subscriptions/{SUB}/resourcegroups", "2010-01-01"),
    (f"{UAMI_ID}/federatedIdentityCredentials", "2018-11-30"),  # identities have it, credentials do not
])
async def test_arm_unknown_or_old_api_version_is_invalid(sim: SimTenant, path: str, version: str) -> None:
    async with client(sim) as c:
        r = await c.get(f"{sim.arm_url}{path}", params={"api-version": version})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "InvalidApiVersionParameter"
    assert version in r.json()["error"]["message"]


@pytest.mark.parametrize(("version", "has_isolation_scope"), [("2023-01-31", False), ("2018-11-30", False),
                                                              ("2024-11-30", True), ("2025-01-31-preview", True)])
async def test_isolation_scope_only_where_the_api_version_defines_it(sim: SimTenant, version: str,
                                                                     has_isolation_scope: bool) -> None:
    async with client(sim) as c:
        one = await c.get(f"{sim.arm_url}{UAMI_ID}", params={"api-version": version})
        listed = await c.get(f"{sim.arm_url}/subscriptions/{SUB}/providers/Microsoft.ManagedIdentity/"
                             "userAssignedIdentities", params={"api-version": version})
    assert one.status_code == 200 and listed.status_code == 200
    assert ("isolationScope" in one.json()["properties"]) is has_isolation_scope
    assert all(("isolationScope" in u["properties"]) is has_isolation_scope for u in listed.json()["value"])


async def test_inventory_reads_a_non_guid_id_as_no_object_without_asking(sim: SimTenant) -> None:
    async with Inventory(Connection.from_sim(sim)) as inv:
        assert await inv.application_context("[REMOVED]") is None
        assert await inv.principal_context("[REMOVED]") is None
        many = await inv.application_contexts(["[REMOVED]", APP_ID])
        assert many["[REMOVED]"] is None
        ctx = many[APP_ID]
        assert ctx is not None and ctx.identity.name == "deployer"


async def test_inventory_reports_an_invalid_api_version_instead_of_reading_no_data(
        sim: SimTenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """An api-version ARM rejects must surface as an error of the sweep, never as an empty tenant."""
    import wifguard.sources.inventory.arm as arm

    monkeypatch.setattr(arm, "SUBSCRIPTIONS_API", "2014-01-01")
    async with Inventory(Connection.from_sim(sim)) as inv:
        swept: Any = await inv.sweep()
    assert any("InvalidApiVersionParameter" in e for e in swept.errors), swept.errors
