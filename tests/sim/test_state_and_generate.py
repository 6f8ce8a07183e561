"""Seed loading defaults, built-in roles, the seed generator, and the SimTenant runner modes."""

from __future__ import annotations

import subprocess
import sys

import httpx
import orjson
import pytest
from sim_fixtures import APP_ID, SUB, TENANT, UAMI_ID, small_seed

from wifguard.sim import SimTenant, generate_seed, service_principal_id_for
from wifguard.sim.builtin_roles import BUILTIN_ROLE_DEFINITIONS
from wifguard.sim.state import Tenant, uami_principal_id_for


def test_seed_defaults_are_filled_deterministically() -> None:
    seed = {"applications": [{"displayName": "bare", "federatedIdentityCredentials": [
        {"name": "gh", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:o/r:pull_request"}]}],
        "subscriptions": [{"subscriptionId": SUB, "userAssignedIdentities": [{"name": "mi"}]}]}
    a, b = Tenant(seed), Tenant(seed)
    app = next(iter(a.apps.values()))
    assert app["id"] == next(iter(b.apps.values()))["id"]
    assert app["appId"] and app["createdDateTime"].endswith("Z")
    fic = a.app_fics[app["id"]][0]
    assert fic["audiences"] == ["api://AzureADTokenExchange"] and fic["id"]
    assert a.sp_by_appid[app["appId"].lower()] == service_principal_id_for(app["appId"])
    uami = next(iter(a.uamis.values()))
    assert uami["properties"]["principalId"] == uami_principal_id_for(uami["id"])
    assert uami["properties"]["tenantId"] == a.tenant_id
    assert uami["id"].endswith("/resourcegroups/rg-identities/providers/Microsoft.ManagedIdentity/"
                               "userAssignedIdentities/mi")


def test_seed_given_values_win_and_snapshot_reloads() -> None:
    t = Tenant(small_seed())
    assert t.tenant_id == TENANT
    assert t.apps[APP_ID]["displayName"] == "deployer"
    snap = orjson.loads(orjson.dumps(t.snapshot()))
    again = Tenant(snap)
    assert again.snapshot()["applications"] == snap["applications"]
    assert again.get_uami_fics(UAMI_ID) == t.get_uami_fics(UAMI_ID)
    assert len(again.role_assignments) == len(t.role_assignments)


def test_builtin_roles_catalogue() -> None:
    # The core table plus the privilege-relevant roles shipped as data (azure-builtin-roles.yaml).
    assert len(BUILTIN_ROLE_DEFINITIONS) == 42
    assert BUILTIN_ROLE_DEFINITIONS["eeaeda52-9324-47f6-8069-5d5bade478b2"]["name"] == "Domain Services Contributor"
    assert BUILTIN_ROLE_DEFINITIONS["8e3af657-a8ff-443c-a75c-2fe8c4bcb635"]["actions"] == ["*"]
    contributor = BUILTIN_ROLE_DEFINITIONS["b24988ac-6180-42a0-ab88-20f7382dd24c"]
    assert "Microsoft.Authorization/*/Write" in contributor["notActions"]
    for guid, role in BUILTIN_ROLE_DEFINITIONS.items():
        assert len(guid) == 36 and guid == guid.lower()
        assert set(role) >= {"name", "actions", "notActions", "dataActions"}


def test_generator_is_deterministic_and_realistic() -> None:
    a = generate_seed(apps=300, fics_per_app=2, uamis=40, subscriptions=2, role_assignments=80, seed=3)
    b = generate_seed(apps=300, fics_per_app=2, uamis=40, subscriptions=2, role_assignments=80, seed=3)
    assert orjson.dumps(a) == orjson.dumps(b)
    assert len(a["applications"]) == 300
    issuers = {f["issuer"] for app in a["applications"] for f in app["federatedIdentityCredentials"]}
    assert "https://token.actions.githubusercontent.com" in issuers and "https://gitlab.com" in issuers
    assert "https://app.terraform.io" in issuers and any(".oic.prod-aks.azure.com/" in i for i in issuers)
    planted = a["generator"]["planted"]
    assert len(planted) == 5 and planted[0]["issuer"] == "https://evilcorp.blob.core.windows.net/oidc"
    owned = sum(1 for app in a["applications"] if app["owners"])
    assert 0.75 * 300 < owned < 300
    t = Tenant(a)  # loads, and every FIC would pass the API's own validation
    assert sum(len(f) for f in t.app_fics.values()) == 300 * 2 + 5
    assert len(t.uamis) == 40
    sps = {sp.lower() for sp in t.sps}
    assert all(ra["properties"]["principalId"].lower() in sps for ra in t.role_assignments.values())


def test_generator_cli_writes_a_file(tmp_path) -> None:
    out = tmp_path / "seed.json"
    subprocess.run([sys.executable, "-m", "wifguard.sim.generate", "--apps", "50", "--uamis", "5",
                    "--role-assignments", "10", "-o", str(out)], check=True, timeout=60)
    assert len(orjson.loads(out.read_bytes())["applications"]) == 50


async def test_process_mode_sweep_of_generated_tenant(tmp_path) -> None:
    seed = generate_seed(apps=2500, fics_per_app=2, uamis=50, subscriptions=2, role_assignments=100, seed=9)
    path = tmp_path / "seed.json"
    path.write_bytes(orjson.dumps(seed))
    with SimTenant.start(path, mode="process") as sim:
        url: str | None = (f"{sim.graph_url}/v1.0/applications?$select=id,displayName"
                           "&$expand=federatedIdentityCredentials&$top=999")
        apps = []
        async with httpx.AsyncClient(verify=sim.ssl_context(), headers={"Authorization": f"Bearer {sim.token}"}) as c:
            while url:
                body = (await c.get(url)).json()
                apps += body["value"]
                url = body.get("@odata.nextLink")
        assert len(apps) == 2500
        assert sum(len(a["federatedIdentityCredentials"]) for a in apps) == 2500 * 2 + 5
        planted = seed["generator"]["planted"][0]
        assert planted["ficName"] in [f["name"] for f in sim.get_app_fics(planted["appId"])]
        stats = sim.stats()
        assert stats["routes"]["graph GET /applications"] == 3
        assert stats["ru_spent"] == 3 * 2  # 2 RU each: -1 for $select, +1 for $expand
        with pytest.raises(KeyError):
            sim.get_app_fics("no-such-app")
        assert sim.set_simulation(latency_ms=5)["latency_ms"] == 5
    assert sim._proc is not None and sim._proc.poll() is not None  # the subprocess is gone


def test_thread_mode_state_helpers_return_copies(fresh_sim: SimTenant) -> None:
    fics = fresh_sim.get_app_fics(APP_ID)
    fics[0]["issuer"] = "https://changed.example"
    assert fresh_sim.get_app_fics(APP_ID)[0]["issuer"] == "https://token.actions.githubusercontent.com"
    snap = fresh_sim.snapshot()
    assert snap["tenantId"] == TENANT and len(snap["applications"]) == 7
    with pytest.raises(KeyError):
        fresh_sim.get_uami_fics("/subscriptions/x/resourcegroups/y/providers/Microsoft.ManagedIdentity/"
                                "userAssignedIdentities/z")
