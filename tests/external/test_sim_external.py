"""The simulated GitHub, GitLab and Terraform Cloud APIs: real shapes, rate-limit headers, 404 bodies."""

from __future__ import annotations

import httpx

from wifguard.sim import SimTenant


def client(sim: SimTenant, token: str | None = None) -> httpx.Client:
    return httpx.Client(verify=sim.ssl_context(), headers={"Authorization": f"Bearer {token}"} if token else {})


def test_github_shapes_and_headers(sim: SimTenant) -> None:
    base = sim.external_urls["github"]
    with client(sim, sim.token) as http:
        r = http.get(f"{base}/repos/Contoso/Payments")
        assert r.status_code == 200
        repo = r.json()
        assert repo["id"] == 9999 and repo["full_name"] == "contoso/payments"
        assert repo["owner"] == {**repo["owner"], "login": "contoso", "id": 1001, "type": "Organization"}
        assert r.headers["x-ratelimit-limit"] == "5000" and int(r.headers["x-ratelimit-remaining"]) < 5000
        assert r.headers["x-ratelimit-resource"] == "core" and int(r.headers["x-ratelimit-reset"]) > 0
        envs = http.get(f"{base}/repos/contoso/web/environments").json()
        assert envs["total_count"] == 2
        release = next(e for e in envs["environments"] if e["name"] == "release")
        assert release["protection_rules"][0]["type"] == "branch_policy"
        assert release["deployment_branch_policy"] == {"protected_branches": False, "custom_branch_policies": True}
        assert http.get(f"{base}/repos/contoso/api/environments/STAGING").json()["name"] == "staging"
        sub = http.get(f"{base}/repos/contoso/api/actions/oidc/customization/sub").json()
        assert sub == {"use_default": True}
        user = http.get(f"{base}/users/octocat").json()
        assert user["type"] == "User" and user["id"] == 583231
        missing = http.get(f"{base}/users/ghost-org")
        assert missing.status_code == 404
        assert missing.json()["message"] == "Not Found" and "documentation_url" in missing.json()
        assert http.get(f"{base}/orgs/octocat").status_code == 404  # a user is not an organisation
    with client(sim) as anon:
        r = anon.get(f"{base}/repos/contoso/secret-svc")
        assert r.status_code == 404 and r.headers["x-ratelimit-limit"] == "60"  # private: hidden
        assert anon.get(f"{base}/repos/contoso/api").status_code == 200


def test_github_primary_rate_limit() -> None:
    from external_helpers import seed

    s = seed()
    s["github"]["rate_limit"] = {"unauthenticated": 2}
    with SimTenant.start(s) as sim, client(sim) as anon:
        base = sim.external_urls["github"]
        assert [anon.get(f"{base}/users/contoso").status_code for _ in range(3)] == [200, 200, 403]
        r = anon.get(f"{base}/users/contoso")
        assert r.headers["x-ratelimit-remaining"] == "0" and "rate limit exceeded" in r.json()["message"]


def test_gitlab_and_terraform_shapes(sim: SimTenant) -> None:
    gl = sim.external_urls["gitlab"]
    tf = sim.external_urls["terraform_cloud"]
    assert gl.endswith("/api/v4") and tf.endswith("/api/v2")
    with httpx.Client(verify=sim.ssl_context(), headers={"PRIVATE-TOKEN": "x"}) as http:
        p = http.get(f"{gl}/projects/contoso%2Fapp")
        assert p.status_code == 200 and p.json()["namespace"]["full_path"] == "contoso"
        assert "RateLimit-Remaining" in p.headers
        assert http.get(f"{gl}/projects/101").json()["path_with_namespace"] == "contoso/app"
        nf = http.get(f"{gl}/projects/contoso%2Fnope")
        assert nf.status_code == 404 and nf.json() == {"message": "404 Project Not Found"}
        assert http.get(f"{gl}/groups/gone-group").json() == {"message": "404 Group Not Found"}
    with httpx.Client(verify=sim.ssl_context()) as anon:
        r = anon.get(f"{tf}/organizations/contoso")
        assert r.status_code == 401 and r.json()["errors"][0]["status"] == "401"
    with client(sim, "tfc-token") as http:
        org = http.get(f"{tf}/organizations/contoso")
        assert org.headers["content-type"].startswith("application/vnd.api+json")
        assert org.json()["data"] == {**org.json()["data"], "id": "contoso", "type": "organizations"}
        ws = http.get(f"{tf}/organizations/contoso/workspaces/prod-infra").json()["data"]
        assert ws["id"] == "ws-prodinfra01" and ws["relationships"]["organization"]["data"]["id"] == "contoso"
        nf = http.get(f"{tf}/organizations/contoso/workspaces/gone-ws")
        assert nf.status_code == 404 and nf.json() == {"errors": [{"status": "404", "title": "not found"}]}


def test_unseeded_provider_is_not_served() -> None:
    from external_helpers import seed

    with SimTenant.start(seed(github=False, gitlab=False, tfc=False)) as sim:
        assert sim.external_urls == {}
