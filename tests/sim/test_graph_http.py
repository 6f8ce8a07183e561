"""Graph protocol checks with a plain httpx client: paging, query options, FIC validation, errors."""

from __future__ import annotations

import pytest
from sim_fixtures import APP_APPID, APP_ID, GH, MANY_OWNERS_APP, client

from wifguard.sim import SimTenant, service_principal_id_for

AUD = ["api://AzureADTokenExchange"]


async def test_missing_token_is_401_with_graph_error_body(sim: SimTenant) -> None:
    async with client(sim, token=None) as c:
        r = await c.get(f"{sim.graph_url}/v1.0/applications")
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["code"] == "InvalidAuthenticationToken"
    assert set(err["innerError"]) == {"date", "request-id", "client-request-id"}


async def test_paging_follows_opaque_next_links_and_keeps_query(sim: SimTenant) -> None:
    seen: list[str] = []
    url: str | None = f"{sim.graph_url}/v1.0/applications?$top=3&$select=id,displayName&$count=true"
    async with client(sim) as c:
        while url:
            r = await c.get(url, headers={"ConsistencyLevel": "eventual"})
            assert r.status_code == 200
            body = r.json()
            assert body["@odata.count"] == 7
            assert all(set(a) == {"id", "displayName"} for a in body["value"])
            seen += [a["id"] for a in body["value"]]
            url = body.get("@odata.nextLink")
            if url:
                assert "$skiptoken=" in url and "$top=3" in url
    assert len(seen) == 7 and len(set(seen)) == 7
    assert seen[0] == APP_ID


async def test_top_over_999_is_rejected(sim: SimTenant) -> None:
    async with client(sim) as c:
        r = await c.get(f"{sim.graph_url}/v1.0/applications", params={"$top": "1000"})
    assert r.status_code == 400
    assert "999" in r.json()["error"]["message"]


async def test_expand_fics_and_owners_capped_at_20(sim: SimTenant) -> None:
    async with client(sim) as c:
        r = await c.get(f"{sim.graph_url}/v1.0/applications",
                        params={"$expand": "federatedIdentityCredentials,owners($select=id,mail)", "$top": "999"})
        owners_page = await c.get(f"{sim.graph_url}/v1.0/applications/{MANY_OWNERS_APP}/owners",
                                  params={"$top": "10"})
    apps = {a["id"]: a for a in r.json()["value"]}
    dep = apps[APP_ID]
    assert [f["name"] for f in dep["federatedIdentityCredentials"]] == ["gh-main", "gh-prod", "flex"]
    assert dep["owners"] == [{"@odata.type": "#microsoft.graph.user", "id": "cccccccc-0000-0000-0000-000000000000",
                              "mail": "user0@contoso.com"}]
    assert len(apps[MANY_OWNERS_APP]["owners"]) == 20  # 25 owners, Graph expands at most 20
    page = owners_page.json()
    assert len(page["value"]) == 10 and "@odata.nextLink" in page
    assert page["value"][0]["@odata.type"] == "#microsoft.graph.user"


async def test_v1_hides_flexible_fic_expression_but_beta_shows_it(sim: SimTenant) -> None:
    async with client(sim) as c:
        v1 = (await c.get(f"{sim.graph_url}/v1.0/applications/{APP_ID}/federatedIdentityCredentials")).json()
        beta = (await c.get(f"{sim.graph_url}/beta/applications/{APP_ID}/federatedIdentityCredentials")).json()
    v1_flex = next(f for f in v1["value"] if f["name"] == "flex")
    beta_flex = next(f for f in beta["value"] if f["name"] == "flex")
    assert "claimsMatchingExpression" not in v1_flex and v1_flex["subject"] is None
    assert beta_flex["claimsMatchingExpression"]["languageVersion"] == 1


@pytest.mark.parametrize(("flt", "expected"), [
    (f"appId eq '{APP_APPID}'", [APP_ID]),
    (f"appId in ('{APP_APPID}', 'bbbbbbbb-0000-0000-0000-000000000003')",
     [APP_ID, "aaaaaaaa-0000-0000-0000-000000000003"]),
    (f"id eq '{APP_ID.upper()}'", [APP_ID]),
    ("startswith(displayName,'svc-')", [f"aaaaaaaa-0000-0000-0000-00000000000{i}" for i in range(3, 8)]),
])
async def test_filters(sim: SimTenant, flt: str, expected: list[str]) -> None:
    async with client(sim) as c:
        r = await c.get(f"{sim.graph_url}/v1.0/applications", params={"$filter": flt, "$select": "id"})
    assert r.status_code == 200, r.text
    assert sorted(a["id"] for a in r.json()["value"]) == sorted(expected)


async def test_advanced_fic_filter_needs_consistency_level(sim: SimTenant) -> None:
    flt = "federatedIdentityCredentials/any(f:startswith(f/subject,'repo:contoso/'))"
    async with client(sim) as c:
        bad = await c.get(f"{sim.graph_url}/v1.0/applications", params={"$filter": flt})
        good = await c.get(f"{sim.graph_url}/v1.0/applications", params={"$filter": flt, "$count": "true"},
                           headers={"ConsistencyLevel": "eventual"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert [a["id"] for a in good.json()["value"]] == [APP_ID]
    assert good.json()["@odata.count"] == 1


async def test_get_by_id_appid_key_and_404(sim: SimTenant) -> None:
    async with client(sim) as c:
        by_id = await c.get(f"{sim.graph_url}/v1.0/applications/{APP_ID}", params={"$select": "displayName"})
        by_appid = await c.get(f"{sim.graph_url}/v1.0/applications(appId='{APP_APPID}')")
        missing = await c.get(f"{sim.graph_url}/v1.0/applications/00000000-0000-0000-0000-000000000000")
    assert by_id.json()["displayName"] == "deployer" and "appId" not in by_id.json()
    assert by_appid.json()["id"] == APP_ID
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


async def test_service_principals_users_and_get_by_ids(sim: SimTenant) -> None:
    sp_id = service_principal_id_for(APP_APPID)
    async with client(sim) as c:
        sps = await c.get(f"{sim.graph_url}/v1.0/servicePrincipals", params={"$filter": f"appId eq '{APP_APPID}'"})
        mi = await c.get(f"{sim.graph_url}/v1.0/servicePrincipals",
                         params={"$filter": "servicePrincipalType eq 'ManagedIdentity'", "$top": "999"})
        sp = await c.get(f"{sim.graph_url}/v1.0/servicePrincipals/{sp_id}")
        users = await c.get(f"{sim.graph_url}/v1.0/users", params={"$top": "999"})
        upn = await c.get(f"{sim.graph_url}/v1.0/users/user3@contoso.com")
        objs = await c.post(f"{sim.graph_url}/v1.0/directoryObjects/getByIds",
                            json={"ids": [sp_id, "cccccccc-0000-0000-0000-000000000001",
                                          "dddddddd-0000-4000-8000-000000000009"]})  # unknown GUID: left out
    assert [s["id"] for s in sps.json()["value"]] == [sp_id]
    assert len(mi.json()["value"]) == 5  # one per user-assigned identity
    assert sp.json()["appId"] == APP_APPID
    assert len(users.json()["value"]) == 25
    assert upn.json()["mail"] == "user3@contoso.com"
    types = sorted(o["@odata.type"] for o in objs.json()["value"])
    assert types == ["#microsoft.graph.servicePrincipal", "#microsoft.graph.user"]


async def test_fic_create_read_patch_delete(sim: SimTenant) -> None:
    base = f"{sim.graph_url}/v1.0/applications/{APP_ID}/federatedIdentityCredentials"
    body = {"name": "gh-pr", "issuer": GH, "subject": "repo:contoso/app:pull_request", "audiences": AUD,
            "description": "PR builds"}
    async with client(sim) as c:
        created = await c.post(base, json=body)
        assert created.status_code == 201, created.text
        fic = created.json()
        assert fic["id"] and fic["name"] == "gh-pr" and fic["description"] == "PR builds"
        assert sim.get_app_fics(APP_ID)[-1]["subject"] == "repo:contoso/app:pull_request"
        by_name = await c.get(f"{base}/gh-pr")
        by_id = await c.get(f"{base}/{fic['id']}")
        assert by_name.json()["id"] == by_id.json()["id"] == fic["id"]
        patched = await c.patch(f"{base}/{fic['id']}", json={"subject": "repo:contoso/app:environment:qa"})
        assert patched.status_code == 204
        renamed = await c.patch(f"{base}/{fic['id']}", json={"name": "other-name"})
        assert renamed.status_code == 400
        assert (await c.get(f"{base}/gh-pr")).json()["subject"] == "repo:contoso/app:environment:qa"
        deleted = await c.delete(f"{base}/{fic['id']}")
        assert deleted.status_code == 204
        gone = await c.get(f"{base}/{fic['id']}")
        assert gone.status_code == 404
        assert (await c.delete(f"{base}/{fic['id']}")).status_code == 404
    assert "gh-pr" not in [f["name"] for f in sim.get_app_fics(APP_APPID)]


@pytest.mark.parametrize(("body", "fragment"), [
    ({"name": "ab", "issuer": GH, "subject": "s", "audiences": AUD}, "name"),
    ({"name": "-bad", "issuer": GH, "subject": "s", "audiences": AUD}, "name"),
    ({"name": "has space", "issuer": GH, "subject": "s", "audiences": AUD}, "name"),
    ({"name": "x" * 121, "issuer": GH, "subject": "s", "audiences": AUD}, "name"),
    ({"name": "ok-name", "issuer": "https://e/" + "x" * 600, "subject": "s", "audiences": AUD}, "600"),
    ({"name": "ok-name", "issuer": GH, "subject": "s" * 601, "audiences": AUD}, "600"),
    ({"name": "ok-name", "issuer": GH, "subject": "s", "audiences": AUD, "description": "d" * 601}, "600"),
    ({"name": "ok-name", "issuer": GH, "subject": "s", "audiences": []}, "exactly one"),
    ({"name": "ok-name", "issuer": GH, "subject": "s", "audiences": ["a", "b"]}, "exactly one"),
    ({"name": "ok-name", "issuer": GH, "audiences": AUD}, "Either subject"),
    ({"name": "ok-name", "issuer": GH, "subject": "repo:contoso/app:ref:refs/heads/main", "audiences": AUD},
     "same issuer and subject"),
    ({"name": "ok-name", "issuer": GH, "subject": "s", "audiences": AUD,
      "claimsMatchingExpression": {"value": "x", "languageVersion": 1}}, "claimsMatchingExpression"),
])
async def test_fic_validation_v1(sim: SimTenant, body: dict, fragment: str) -> None:
    async with client(sim) as c:
        r = await c.post(f"{sim.graph_url}/v1.0/applications/{APP_ID}/federatedIdentityCredentials", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "Request_BadRequest"
    assert fragment in r.json()["error"]["message"]


async def test_flexible_fic_only_on_beta_and_exclusive_with_subject(fresh_sim: SimTenant) -> None:
    cme = {"value": "claims['sub'] matches 'repo:contoso/*'", "languageVersion": 1}
    body = {"name": "flex-2", "issuer": "https://gitlab.com", "audiences": AUD, "claimsMatchingExpression": cme}
    async with client(fresh_sim) as c:
        v1 = await c.post(f"{fresh_sim.graph_url}/v1.0/applications/{APP_ID}/federatedIdentityCredentials", json=body)
        both = await c.post(f"{fresh_sim.graph_url}/beta/applications/{APP_ID}/federatedIdentityCredentials",
                            json={**body, "subject": "x"})
        beta = await c.post(f"{fresh_sim.graph_url}/beta/applications/{APP_ID}/federatedIdentityCredentials", json=body)
    assert v1.status_code == 400
    assert both.status_code == 400 and "mutually exclusive" in both.json()["error"]["message"]
    assert beta.status_code == 201 and beta.json()["claimsMatchingExpression"] == cme


async def test_at_most_20_fics_per_app(fresh_sim: SimTenant) -> None:
    app = "aaaaaaaa-0000-0000-0000-000000000003"  # holds one FIC
    base = f"{fresh_sim.graph_url}/v1.0/applications/{app}/federatedIdentityCredentials"
    async with client(fresh_sim) as c:
        for i in range(19):
            r = await c.post(base, json={"name": f"n-{i:02d}", "issuer": GH, "subject": f"s{i}", "audiences": AUD})
            assert r.status_code == 201, r.text
        over = await c.post(base, json={"name": "n-20", "issuer": GH, "subject": "s20", "audiences": AUD})
    assert over.status_code == 400 and "20" in over.json()["error"]["message"]
    assert len(fresh_sim.get_app_fics(app)) == 20
