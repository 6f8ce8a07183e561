"""ARM protocol checks with httpx: subscriptions, identities, FICs (incl. 409), role assignments."""

from __future__ import annotations

import asyncio

from sim_fixtures import OWNER_ROLE, SUB, SUB2, TENANT, UAMI_ID, client, seed_with

from wifguard.sim import SimTenant

API = {"api-version": "2024-11-30"}
RA_API = {"api-version": "2022-04-01"}
AKS = "https://westeurope.oic.prod-aks.azure.com/t/u/"


async def test_missing_token_and_api_version(sim: SimTenant) -> None:
    async with client(sim, token=None) as c:
        unauth = await c.get(f"{sim.arm_url}/subscriptions", params=API)
    async with client(sim) as c:
        no_version = await c.get(f"{sim.arm_url}/subscriptions")
    assert unauth.status_code == 401 and unauth.json()["error"]["code"] == "AuthenticationFailed"
    assert "WWW-Authenticate" in unauth.headers
    assert no_version.status_code == 400 and no_version.json()["error"]["code"] == "MissingApiVersionParameter"


async def test_subscriptions_and_resource_groups(sim: SimTenant) -> None:
    async with client(sim) as c:
        subs = await c.get(f"{sim.arm_url}/subscriptions", params={"api-version": "2022-12-01"})
        one = await c.get(f"{sim.arm_url}/subscriptions/{SUB}", params={"api-version": "2022-12-01"})
        rg = await c.get(f"{sim.arm_url}/subscriptions/{SUB}/resourcegroups/RG-PLATFORM",
                         params={"api-version": "2021-04-01"})
        missing = await c.get(f"{sim.arm_url}/subscriptions/{SUB}/resourcegroups/nope",
                              params={"api-version": "2021-04-01"})
    assert sorted(s["subscriptionId"] for s in subs.json()["value"]) == [SUB, SUB2]
    assert one.json()["tenantId"] == TENANT and one.json()["displayName"] == "prod"
    assert rg.json()["tags"] == {"owner": "user1@contoso.com"}
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceGroupNotFound"


async def test_identity_list_pages_with_next_link() -> None:
    with SimTenant.start(seed_with(arm_page_size=2)) as sim:
        url: str | None = f"{sim.arm_url}/subscriptions/{SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
        names, pages = [], 0
        async with client(sim) as c:
            params: dict | None = API
            while url:
                r = await c.get(url, params=params)
                body = r.json()
                names += [u["name"] for u in body["value"]]
                url, params, pages = body.get("nextLink"), None, pages + 1
                if url:
                    assert "api-version=2024-11-30" in url
            by_rg = await c.get(f"{sim.arm_url}/subscriptions/{SUB}/resourceGroups/rg-apps/providers/"
                                "Microsoft.ManagedIdentity/userAssignedIdentities", params=API)
    assert pages == 3 and len(names) == 5
    assert [u["name"] for u in by_rg.json()["value"]] == ["id-extra-0", "id-extra-1"]
    assert "rg-apps" in by_rg.json()["nextLink"]


async def test_identity_get_and_fic_crud(sim: SimTenant) -> None:
    async with client(sim) as c:
        uami = (await c.get(sim.arm_url + UAMI_ID, params=API)).json()
        assert uami["tags"] == {"team": "platform"}
        assert uami["properties"]["tenantId"] == TENANT and uami["properties"]["principalId"]
        fic_url = f"{sim.arm_url}{UAMI_ID}/federatedIdentityCredentials/gh-deploy"
        body = {"properties": {"issuer": "https://token.actions.githubusercontent.com",
                               "subject": "repo:contoso/infra:environment:prod",
                               "audiences": ["api://AzureADTokenExchange"]}}
        created = await c.put(fic_url, params=API, json=body)
        assert created.status_code == 201, created.text
        assert created.json()["id"].endswith("/federatedIdentityCredentials/gh-deploy")
        updated = await c.put(fic_url, params={"api-version": "2023-01-31"},
                              json={"properties": {**body["properties"], "subject": "repo:contoso/infra:ref:refs/heads/main"}})
        assert updated.status_code == 200
        listed = await c.get(f"{sim.arm_url}{UAMI_ID}/federatedIdentityCredentials", params=API)
        assert [f["name"] for f in listed.json()["value"]] == ["aks", "gh-deploy"]
        assert sim.get_uami_fics(UAMI_ID)[1]["properties"]["subject"] == "repo:contoso/infra:ref:refs/heads/main"
        assert (await c.delete(fic_url, params=API)).status_code == 200
        assert (await c.delete(fic_url, params=API)).status_code == 204
        assert (await c.get(fic_url, params=API)).status_code == 404
        bad_version = await c.get(f"{sim.arm_url}{UAMI_ID}/federatedIdentityCredentials", params={"api-version": "2015-08-31"})
        assert bad_version.status_code == 400
    assert [f["name"] for f in sim.get_uami_fics(UAMI_ID)] == ["aks"]


async def test_fic_put_validation(sim: SimTenant) -> None:
    base = f"{sim.arm_url}{UAMI_ID}/federatedIdentityCredentials"
    async with client(sim) as c:
        dup = await c.put(f"{base}/aks-copy", params=API, json={"properties": {
            "issuer": AKS, "subject": "system:serviceaccount:ns:sa", "audiences": ["api://AzureADTokenExchange"]}})
        two_aud = await c.put(f"{base}/two-aud", params=API, json={"properties": {
            "issuer": AKS, "subject": "x", "audiences": ["a", "b"]}})
        bad_name = await c.put(f"{base}/x", params=API, json={"properties": {
            "issuer": AKS, "subject": "y", "audiences": ["api://AzureADTokenExchange"]}})
        cme = await c.put(f"{base}/flex", params=API, json={"properties": {
            "issuer": AKS, "audiences": ["api://AzureADTokenExchange"],
            "claimsMatchingExpression": {"value": "claims['sub'] matches 'x*'", "languageVersion": 1}}})
    for r in (dup, two_aud, bad_name, cme):
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "BadRequest"


async def test_concurrent_fic_writes_on_one_identity_conflict() -> None:
    # The first write holds the identity for 1.5 s: long enough that the second, sent at the same
    # time, still overlaps it on a loaded machine.
    with SimTenant.start(seed_with(arm_fic_write_ms=1500)) as sim:
        base = f"{sim.arm_url}{UAMI_ID}/federatedIdentityCredentials"

        def body(i: int) -> dict:
            return {"properties": {"issuer": AKS, "subject": f"system:serviceaccount:ns:sa{i}",
                                   "audiences": ["api://AzureADTokenExchange"]}}

        async with client(sim) as c:
            a, b = await asyncio.gather(c.put(f"{base}/one", params=API, json=body(1)),
                                        c.put(f"{base}/two", params=API, json=body(2)))
            # Sequential writes on one identity, and parallel writes on different ones, are fine.
            again = await c.put(f"{base}/two", params=API, json=body(2))
        assert sorted([a.status_code, b.status_code]) == [201, 409]
        loser = a if a.status_code == 409 else b
        assert loser.json()["error"]["code"] == "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity"
        # The loser of the race may be either write: re-writing "two" creates it only if it lost.
        assert again.status_code == (201 if loser is b else 200)
        assert sorted(f["name"] for f in sim.get_uami_fics(UAMI_ID)) == ["aks", "one", "two"]
        assert sim.stats()["conflicts"] == 1


async def test_role_assignment_scopes_and_filters(sim: SimTenant) -> None:
    ra = "/providers/Microsoft.Authorization/roleAssignments"
    async with client(sim) as c:
        all_sub = (await c.get(f"{sim.arm_url}/subscriptions/{SUB}{ra}", params=RA_API)).json()["value"]
        at_scope = (await c.get(f"{sim.arm_url}/subscriptions/{SUB}{ra}",
                                params={**RA_API, "$filter": "atScope()"})).json()["value"]
        by_principal = (await c.get(f"{sim.arm_url}/subscriptions/{SUB}{ra}",
                                    params={**RA_API, "$filter": "principalId eq 'pppppppp-other'"})).json()["value"]
        mg = (await c.get(f"{sim.arm_url}/providers/Microsoft.Management/managementGroups/mg-corp{ra}",
                          params=RA_API)).json()["value"]
        one = await c.get(f"{sim.arm_url}/subscriptions/{SUB}{ra}/dddddddd-0000-0000-0000-000000000001",
                          params=RA_API)
        bad = await c.get(f"{sim.arm_url}/subscriptions/{SUB}{ra}", params={**RA_API, "$filter": "foo eq 1"})
    names = {r["name"] for r in all_sub}
    # At and below the subscription, plus inherited from the tenant root management group.
    assert names == {"dddddddd-0000-0000-0000-000000000001", "dddddddd-0000-0000-0000-000000000002",
                     "dddddddd-0000-0000-0000-000000000003", "eeeeeeee-0000-0000-0000-000000000001"}
    assert {r["name"] for r in at_scope} == {"dddddddd-0000-0000-0000-000000000001",
                                             "eeeeeeee-0000-0000-0000-000000000001"}
    assert [r["name"] for r in by_principal] == ["dddddddd-0000-0000-0000-000000000003"]
    # The management group's own assignments plus the ones inherited from the tenant root group.
    assert sorted(r["name"] for r in mg) == ["eeeeeeee-0000-0000-0000-000000000001",
                                             "eeeeeeee-0000-0000-0000-000000000002"]
    props = one.json()["properties"]
    assert props["roleDefinitionId"] == f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{OWNER_ROLE}"
    assert props["scope"] == f"/subscriptions/{SUB}" and props["principalType"] == "ServicePrincipal"
    assert bad.status_code == 400


async def test_role_assignment_put_and_delete(fresh_sim: SimTenant) -> None:
    url = (f"{fresh_sim.arm_url}/subscriptions/{SUB}/resourceGroups/rg-platform/providers/"
           "Microsoft.Authorization/roleAssignments/12345678-0000-0000-0000-000000000000")
    body = {"properties": {"roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/"
                                               f"roleDefinitions/{OWNER_ROLE}", "principalId": "pppppppp-new"}}
    async with client(fresh_sim) as c:
        created = await c.put(url, params=RA_API, json=body)
        conflict = await c.put(url.replace("12345678", "87654321"), params=RA_API, json=body)
        assert len(fresh_sim.get_role_assignments("pppppppp-new")) == 1
        deleted = await c.delete(url, params=RA_API)
        again = await c.delete(url, params=RA_API)
        gone = await c.get(url, params=RA_API)
    assert created.status_code == 201
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "RoleAssignmentExists"
    assert deleted.status_code == 200 and deleted.json()["properties"]["principalId"] == "pppppppp-new"
    assert again.status_code == 204
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "RoleAssignmentNotFound"
    assert fresh_sim.get_role_assignments("pppppppp-new") == []


async def test_role_definitions(sim: SimTenant) -> None:
    rd = "/providers/Microsoft.Authorization/roleDefinitions"
    async with client(sim) as c:
        owner = await c.get(f"{sim.arm_url}/subscriptions/{SUB}{rd}/{OWNER_ROLE}", params=RA_API)
        by_name = await c.get(f"{sim.arm_url}/subscriptions/{SUB}{rd}",
                              params={**RA_API, "$filter": "roleName eq 'Contributor'"})
        custom = await c.get(f"{sim.arm_url}{rd}/ffffffff-0000-0000-0000-000000000001", params=RA_API)
        missing = await c.get(f"{sim.arm_url}{rd}/00000000-0000-0000-0000-000000000000", params=RA_API)
    assert owner.json()["properties"]["roleName"] == "Owner"
    assert owner.json()["properties"]["permissions"][0]["actions"] == ["*"]
    assert owner.json()["id"] == f"/subscriptions/{SUB}{rd}/{OWNER_ROLE}"
    contributor = by_name.json()["value"]
    assert len(contributor) == 1
    assert "Microsoft.Authorization/*/Write" in contributor[0]["properties"]["permissions"][0]["notActions"]
    assert custom.json()["properties"]["type"] == "CustomRole"
    assert missing.status_code == 404
