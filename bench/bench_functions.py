"""The event path in a fresh worker process: cold start, then throughput, earlier vs. new.

The parent starts Azurite and the simulated tenant (not timed: they stand for Azure), then runs
a fresh Python process that imports ``function_app`` and invokes ``audit_logs`` with
``azure.functions.EventHubEvent`` objects, as the host would. The child measures, in one run,
each scenario twice on disjoint apps, batches interleaved: with the earlier approach (every
record evaluated and written on its own, every findings row rewritten) and with this one
(a batch's records about one identity collapsed to one evaluation of its live state, unchanged
findings rows not rewritten). Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import time
t0 = time.perf_counter()
import asyncio, collections, json, os, resource, sys
from urllib.parse import urlsplit
import azure.functions as func
import function_app

# Requests by service, counted at the HTTP clients (aiohttp: Table Storage and ARM; httpx: Graph).
COUNTS = collections.Counter()
GRAPH, ARM = (urlsplit(os.environ[v]) for v in ("WIFGUARD_GRAPH_URL", "WIFGUARD_ARM_URL"))

def kind(url):
    u = urlsplit(str(url))
    if u.netloc == GRAPH.netloc and (GRAPH.netloc != ARM.netloc or u.path.startswith(("/v1.0", "/beta", "/$batch"))):
        return "graph"
    return "arm" if u.netloc == ARM.netloc else "storage"

def counting():
    import aiohttp, httpx
    aio, hx = aiohttp.ClientSession._request, httpx.AsyncClient.send
    async def aio_request(self, method, url, *a, **k):
        COUNTS[kind(url)] += 1
        return await aio(self, method, url, *a, **k)
    async def hx_send(self, request, *a, **k):
        COUNTS[kind(request.url)] += 1
        return await hx(self, request, *a, **k)
    aiohttp.ClientSession._request = aio_request
    httpx.AsyncClient.send = hx_send

def body(records):
    return json.dumps({"records": records}).encode()

def events(records):
    return [func.EventHubEvent(body=body([r])) for r in records]

async def main():
    data = json.load(open(sys.argv[1]))
    fn = {f.get_function_name(): f for f in function_app.app.get_functions()}["audit_logs"].get_user_function()
    await fn(events(data["first"]))
    out = {"first_record_s": time.perf_counter() - t0}
    counting()
    r = await function_app.responder()

    import handlers.audit_logs as audit_logs, handlers.spans as spans
    with_raw = audit_logs.with_raw

    def earlier_with_raw(decoded, items, body, key, *a, **k):
        if body is not None:
            spans.element_spans(body, key)  # the earlier code found every record's bytes, ignored or not
        return with_raw(decoded, items, body, key, *a, **k)

    trail = r.store.trail
    note_many = trail.note_many

    async def earlier_note_many(identity_id, notes):  # the earlier code: one read and one write per note
        return [await trail.note(identity_id, *n) for n in notes]

    def mode(new):
        r.collapse_bursts = new
        r.skip_unchanged_writes = new
        audit_logs.with_raw = with_raw if new else earlier_with_raw
        trail.note_many = note_many if new else earlier_note_many

    async def timed(new, records, batch, requests):
        mode(new)
        before = COUNTS.copy()
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, len(records), batch):  # Event Hub batches of up to 100 events
            await fn(events(records[i:i + batch]))
        requests.update(COUNTS - before)
        return time.perf_counter() - t, time.process_time() - c

    async def pair(name, earlier, new, batch=100):
        # interleaved halves so that load on the machine falls on both alike
        te = tn = ce = cn = 0.0
        re, rn = collections.Counter(), collections.Counter()
        step = max(1, len(earlier) // 2)
        for k in range(0, len(earlier), step):
            w, c = await timed(False, earlier[k:k + step], batch, re)
            te, ce = te + w, ce + c
            w, c = await timed(True, new[k:k + step], batch, rn)
            tn, cn = tn + w, cn + c
        out[name] = {"records": len(earlier), "earlier_s": te, "new_s": tn, "earlier_cpu_s": ce, "new_cpu_s": cn,
                     "earlier_requests": dict(re), "new_requests": dict(rn)}

    await pair("credential_changes", data["changes_a"], data["changes_b"])
    await pair("second_change_same_apps", data["again_a"], data["again_b"])
    await pair("burst_100_one_app", data["burst_a"], data["burst_b"])
    await pair("noise", data["noise"], data["noise"])
    await pair("mixed", data["mixed_a"], data["mixed_b"])
    await r.close(); await r.store.close()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))

asyncio.run(main())
"""


def record(rid: str, app: dict, tenant: str, variant: int = 0) -> dict:
    """An 'Update application' audit record that sets the app's credentials (``variant`` > 0
    renames the subject of the first one: a real change to evaluate)."""
    fics = app["federatedIdentityCredentials"]
    pascal = json.dumps([{"Name": f["name"], "Issuer": f["issuer"],
                          "Subject": f"{f.get('subject')}-{variant}" if variant and n == 0 else f.get("subject"),
                          "Id": f.get("id"), "Description": f.get("description"), "Audiences": f["audiences"],
                          "ClaimsMatchingExpressionValue": None, "ClaimsMatchingExpressionLanguageVersion": 0,
                          "EncodingVersion": 2, "TrustedIssuer": None} for n, f in enumerate(fics)])
    return {
        "time": "2026-11-20T10:00:00Z", "operationName": "Update application", "category": "AuditLogs",
        "tenantId": tenant, "resultSignature": "None", "callerIpAddress": "203.0.113.9", "Level": 4,
        "properties": {
            "id": rid, "category": "ApplicationManagement", "result": "success",
            "activityDisplayName": "Update application", "activityDateTime": "2026-11-20T10:00:00Z",
            "loggedByService": "Core Directory", "operationType": "Update",
            "initiatedBy": {"user": {"id": "c0000000-0000-4000-8000-000000000001",
                                     "userPrincipalName": "dev@contoso.com", "ipAddress": "203.0.113.9"}},
            "targetResources": [{"id": app["id"], "displayName": app["displayName"], "type": "Application",
                                 "modifiedProperties": [{"displayName": "FederatedIdentityCredentials",
                                                         "oldValue": "[]", "newValue": pascal}]}],
        },
    }


def noise(i: int, tenant: str) -> dict:
    """Other directory activity (the bulk of an audit stream): decided without any I/O."""
    activity = ("Update user", "Add member to group", "Update service principal", "Consent to application")[i % 4]
    return {
        "time": "2026-11-20T10:00:00Z", "operationName": activity, "category": "AuditLogs", "tenantId": tenant,
        "resultSignature": "None", "Level": 4,
        "properties": {
            "id": f"noise-{i}", "category": "UserManagement", "result": "success", "activityDisplayName": activity,
            "activityDateTime": "2026-11-20T10:00:00Z", "loggedByService": "Core Directory",
            "operationType": "Update",
            "initiatedBy": {"user": {"id": "c0000000-0000-4000-8000-000000000002",
                                     "userPrincipalName": "admin@contoso.com"}},
            "targetResources": [{"id": f"u{i}", "displayName": f"user {i}", "type": "User",
                                 "modifiedProperties": [{"displayName": "DisplayName", "oldValue": "\"a\"",
                                                         "newValue": "\"b\""}]}],
        },
    }


def scenarios(apps: list[dict], tenant: str) -> dict:
    """Disjoint apps for the earlier (a) and the new (b) approach in each scenario."""
    first = [record("bench-first", apps[0], tenant)]
    a, b = apps[1:201], apps[201:401]
    mixed_apps_a, mixed_apps_b = apps[401:501], apps[501:601]

    def mixed(side: str, group: list[dict]) -> list[dict]:
        # 10,000 records: 1% credential changes spread through the stream, plus a burst of 100
        # changes to one app in the middle
        out = [noise(i, tenant) for i in range(10_000)]
        for k, app in enumerate(group[:99]):
            out[k * 100 + 7] = record(f"mix-{side}-{k}", app, tenant)
        burst_at = 5_000
        for k in range(100):
            out[burst_at + k] = record(f"mix-{side}-burst-{k}", group[99], tenant, variant=k % 3)
        return out

    return {
        "first": first,
        "changes_a": [record(f"chg-a-{i}", app, tenant) for i, app in enumerate(a)],
        "changes_b": [record(f"chg-b-{i}", app, tenant) for i, app in enumerate(b)],
        "again_a": [record(f"again-a-{i}", app, tenant) for i, app in enumerate(a)],
        "again_b": [record(f"again-b-{i}", app, tenant) for i, app in enumerate(b)],
        "burst_a": [record(f"burst-a-{k}", apps[601], tenant, variant=k % 3) for k in range(100)],
        "burst_b": [record(f"burst-b-{k}", apps[602], tenant, variant=k % 3) for k in range(100)],
        "noise": [noise(i, tenant) for i in range(20_000)],
        "mixed_a": mixed("a", mixed_apps_a),
        "mixed_b": mixed("b", mixed_apps_b),
    }


def main() -> None:
    import uuid

    from wifguard.azurite import run_azurite
    from wifguard.sim import SimTenant
    from wifguard.sim.generate import generate_seed

    seed = generate_seed(apps=1000, uamis=20, subscriptions=1, role_assignments=100, seed=9)
    # Give the apps ids once (the simulator would otherwise assign them on load).
    for i, app in enumerate(seed["applications"]):
        app.setdefault("id", str(uuid.UUID(int=i + 1)))
        for j, f in enumerate(app["federatedIdentityCredentials"]):
            f.setdefault("id", str(uuid.UUID(int=(i + 1) * 100 + j)))
    data = scenarios(seed["applications"], seed["tenantId"])
    with run_azurite() as az, SimTenant.start(seed, mode="process") as sim, tempfile.TemporaryDirectory() as d:
        path = Path(d, "records.json")
        path.write_text(json.dumps(data))
        env = {**os.environ, "WIFGUARD_STORAGE": az.connection_string, "WIFGUARD_TENANT_ID": sim.tenant_id,
               "WIFGUARD_GRAPH_URL": sim.graph_url, "WIFGUARD_ARM_URL": sim.arm_url, "WIFGUARD_CA_BUNDLE": sim.ca_path,
               "WIFGUARD_STATIC_TOKEN": sim.token, "PYTHONPATH": str(ROOT)}
        prof = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
        child = Path(d, "child.py")
        child.write_text(CHILD)
        out = subprocess.run([sys.executable, *prof, str(child), str(path)], env=env, cwd=ROOT, capture_output=True,
                             text=True, check=True)
        print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
