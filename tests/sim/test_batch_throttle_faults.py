"""$batch semantics, resource-unit throttling (top level and inside $batch), ARM throttling, faults."""

from __future__ import annotations

import asyncio

import httpx
from sim_fixtures import APP_ID, GH, SUB, client, seed_with

from wifguard.sim import SimTenant

AUD = ["api://AzureADTokenExchange"]


async def test_batch_routes_subrequests_and_honours_depends_on(sim: SimTenant) -> None:
    fics = f"/applications/{APP_ID}/federatedIdentityCredentials"
    payload = {"requests": [
        {"id": "1", "method": "GET", "url": f"/applications/{APP_ID}?$select=displayName"},
        {"id": "2", "method": "POST", "url": fics, "headers": {"Content-Type": "application/json"},
         "body": {"name": "batch-made", "issuer": GH, "subject": "repo:contoso/b:pull_request", "audiences": AUD}},
        {"id": "3", "method": "DELETE", "url": f"{fics}/batch-made", "dependsOn": ["2"]},
        {"id": "4", "method": "GET", "url": "/applications/00000000-0000-0000-0000-000000000000"},
        {"id": "5", "method": "GET", "url": "/users?$top=1", "dependsOn": ["4"]},
    ]}
    async with client(sim) as c:
        r = await c.post(f"{sim.graph_url}/v1.0/$batch", json=payload)
    assert r.status_code == 200
    res = {x["id"]: x for x in r.json()["responses"]}
    assert res["1"]["status"] == 200 and res["1"]["body"]["displayName"] == "deployer"
    assert res["2"]["status"] == 201 and res["2"]["body"]["name"] == "batch-made"
    assert res["3"]["status"] == 204
    assert res["4"]["status"] == 404 and res["4"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert res["5"]["status"] == 424  # its dependency failed
    assert "batch-made" not in [f["name"] for f in sim.get_app_fics(APP_ID)]


async def test_batch_over_20_requests_is_400(sim: SimTenant) -> None:
    payload = {"requests": [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]}
    async with client(sim) as c:
        r = await c.post(f"{sim.graph_url}/v1.0/$batch", json=payload)
        nested = await c.post(f"{sim.graph_url}/v1.0/$batch", json={"requests": [
            {"id": "1", "method": "POST", "url": "/$batch", "body": {"requests": []}}]})
    assert r.status_code == 400
    assert "20" in r.json()["error"]["message"]
    assert nested.status_code == 200 and nested.json()["responses"][0]["status"] == 400


async def test_graph_throttling_top_level_and_inside_batch() -> None:
    # 20 RU per 10 s: refill 2 RU/s. GET /applications costs 2 RU, +1 with $expand.
    with SimTenant.start(seed_with(graph_resource_units_per_10s=20)) as sim:
        async with client(sim) as c:
            first = await c.get(f"{sim.graph_url}/v1.0/applications", params={"$expand": "federatedIdentityCredentials"})
            assert first.status_code == 200
            assert first.headers["x-ms-resource-unit"] == "3"
            one = await c.get(f"{sim.graph_url}/v1.0/users/user1@contoso.com", params={"$select": "id"})
            assert one.headers["x-ms-resource-unit"] == "1"
            statuses = []
            for _ in range(12):
                r = await c.get(f"{sim.graph_url}/v1.0/applications")
                statuses.append(r.status_code)
                if r.status_code == 429:
                    throttled = r
                    break
            assert 429 in statuses
            assert int(throttled.headers["Retry-After"]) >= 1
            assert throttled.json()["error"]["code"] == "TooManyRequests"
            batch = await c.post(f"{sim.graph_url}/v1.0/$batch", json={"requests": [
                {"id": str(i), "method": "GET", "url": "/applications"} for i in range(5)]})
        assert batch.status_code == 200  # the envelope succeeds ...
        inner = batch.json()["responses"]
        assert {x["status"] for x in inner} == {429}  # ... each sub-request is throttled on its own
        assert all(int(x["headers"]["Retry-After"]) >= 1 for x in inner)
        assert inner[0]["body"]["error"]["code"] == "TooManyRequests"
        stats = sim.stats()
        assert stats["throttled"]["graph"] >= 6
        assert stats["ru_spent"] >= 20


async def test_empty_retry_after_is_simulated() -> None:
    with SimTenant.start(seed_with(graph_resource_units_per_10s=2, empty_retry_after_rate=1.0)) as sim:
        async with client(sim) as c:
            await c.get(f"{sim.graph_url}/v1.0/applications")
            r = await c.get(f"{sim.graph_url}/v1.0/applications")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == ""


async def test_arm_read_bucket_per_subscription() -> None:
    with SimTenant.start(seed_with(arm_reads_bucket=3, arm_reads_per_s=0.5)) as sim:
        url = f"{sim.arm_url}/subscriptions/{SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
        async with client(sim) as c:
            rs = [await c.get(url, params={"api-version": "2024-11-30"}) for _ in range(4)]
            other_sub = await c.get(f"{sim.arm_url}/subscriptions/33333333-3333-3333-3333-333333333333",
                                    params={"api-version": "2022-12-01"})
    assert [r.status_code for r in rs] == [200, 200, 200, 429]
    assert [r.headers["x-ms-ratelimit-remaining-subscription-reads"] for r in rs[:3]] == ["2", "1", "0"]
    assert int(rs[3].headers["Retry-After"]) >= 1
    assert rs[3].json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert other_sub.status_code == 200  # buckets are per subscription


async def _outcomes(sim: SimTenant, n: int) -> list[str]:
    out = []
    async with client(sim) as c:
        for _ in range(n):
            try:
                r = await c.get(f"{sim.graph_url}/v1.0/applications", params={"$top": "999"})
                out.append(str(r.status_code))
                if r.status_code == 200:
                    assert len(r.json()["value"]) == 7
                if r.status_code == 503:
                    assert r.json()["error"]["code"] == "serviceNotAvailable"
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError) as e:
                out.append(type(e).__name__)
    return out


async def test_faults_are_injected_deterministically() -> None:
    seed = seed_with(fault_rate=0.5, fault_seed=7)
    with SimTenant.start(seed) as a:
        first = await _outcomes(a, 30)
        stats = a.stats()
    with SimTenant.start(seed) as b:
        second = await _outcomes(b, 30)
    assert first == second
    assert "200" in first and "503" in first
    assert {"RemoteProtocolError", "ReadError"} & set(first)  # resets and truncated bodies
    assert stats["faults_total"] == sum(1 for o in first if o != "200")
    assert set(stats["faults"]) == {"503", "reset", "truncated"}


async def test_latency_is_injected_without_blocking_the_server() -> None:
    # Not a speed target: five 2 s requests served one after another would take 10 s, overlapping
    # ~2 s. The gap is wide enough that a loaded machine cannot blur it.
    with SimTenant.start(seed_with(latency_ms=2000)) as sim:
        async with client(sim) as c:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            rs = await asyncio.gather(*[c.get(f"{sim.graph_url}/v1.0/users") for _ in range(5)])
            elapsed = loop.time() - t0
    assert all(r.status_code == 200 for r in rs)
    assert 2.0 <= elapsed < 5 * 2.0  # concurrent requests overlap: asyncio.sleep, not time.sleep
