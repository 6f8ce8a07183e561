"""First audit record end to end in a fresh process, then steady-state records per second.

The parent starts Azurite and the simulated tenant (not timed: they stand for Azure), then runs
a fresh Python process that imports ``function_app`` and invokes ``audit_logs`` with
``azure.functions.EventHubEvent`` objects, as the host would. Prints one JSON line.
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
import asyncio, json, sys
import azure.functions as func
import function_app

def body(records):
    return json.dumps({"records": records}).encode()

async def main():
    records = json.load(open(sys.argv[1]))
    fn = {f.get_function_name(): f for f in function_app.app.get_functions()}["audit_logs"].get_user_function()
    await fn([func.EventHubEvent(body=body(records[:1]))])
    first = time.perf_counter() - t0
    rest = records[1:]
    t = time.perf_counter()
    for i in range(0, len(rest), 100):  # Event Hub batches of up to 100 events
        await fn([func.EventHubEvent(body=body([r])) for r in rest[i:i + 100]])
    dt = time.perf_counter() - t
    r = function_app._responder
    await r.close(); await r.store.close()
    print(json.dumps({"first_record_s": first, "records": len(rest), "records_per_s": len(rest) / dt}))

asyncio.run(main())
"""


def record(i: int, app: dict, tenant: str) -> dict:
    fics = app["federatedIdentityCredentials"]
    pascal = json.dumps([{"Name": f["name"], "Issuer": f["issuer"], "Subject": f.get("subject"), "Id": f.get("id"),
                          "Description": f.get("description"), "Audiences": f["audiences"],
                          "ClaimsMatchingExpressionValue": None, "ClaimsMatchingExpressionLanguageVersion": 0,
                          "EncodingVersion": 2, "TrustedIssuer": None} for f in fics])
    return {
        "time": "2026-11-20T10:00:00Z", "operationName": "Update application", "category": "AuditLogs",
        "tenantId": tenant, "resultSignature": "None", "callerIpAddress": "203.0.113.9", "Level": 4,
        "properties": {
            "id": f"bench-{i}", "category": "ApplicationManagement", "result": "success",
            "activityDisplayName": "Update application", "activityDateTime": "2026-11-20T10:00:00Z",
            "loggedByService": "Core Directory", "operationType": "Update",
            "initiatedBy": {"user": {"id": "c0000000-0000-4000-8000-000000000001",
                                     "userPrincipalName": "dev@contoso.com", "ipAddress": "203.0.113.9"}},
            "targetResources": [{"id": app["id"], "displayName": app["displayName"], "type": "Application",
                                 "modifiedProperties": [{"displayName": "FederatedIdentityCredentials",
                                                         "oldValue": "[]", "newValue": pascal}]}],
        },
    }


def main() -> None:
    from wifguard.azurite import run_azurite
    from wifguard.sim import SimTenant
    from wifguard.sim.generate import generate_seed

    seed = generate_seed(apps=1000, uamis=20, subscriptions=1, role_assignments=100, seed=9)
    # Give the apps ids once (the simulator would otherwise assign them on load).
    import uuid

    for i, app in enumerate(seed["applications"]):
        app.setdefault("id", str(uuid.UUID(int=i + 1)))
        for j, f in enumerate(app["federatedIdentityCredentials"]):
            f.setdefault("id", str(uuid.UUID(int=(i + 1) * 100 + j)))
    records = [record(i, app, seed["tenantId"]) for i, app in enumerate(seed["applications"][:401])]
    with run_azurite() as az, SimTenant.start(seed, mode="process") as sim, tempfile.TemporaryDirectory() as d:
        path = Path(d, "records.json")
        path.write_text(json.dumps(records))
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
