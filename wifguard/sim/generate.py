"""Generator of large, realistic seeds for the simulated tenant.

The mix follows what real tenants hold: GitHub Actions (environment, branch, tag, pull_request
subjects), AKS workload identity, Terraform Cloud, Azure DevOps and GitLab; most apps have
owners; role assignments spread over subscription, resource group and resource scopes. A few
attacker-style trusts (issuers on public blob/static hosting or tunnels) are planted on apps that
also hold a privileged role; the seed's ``generator.planted`` lists them so tests and benchmarks
can check detection.

    python -m wifguard.sim.generate --apps 10000 --fics-per-app 2 -o seed.json
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from .state import DEFAULT_AUDIENCE, service_principal_id_for, uami_principal_id_for, uami_resource_id

_TEAMS = ["payments", "identity", "search", "platform", "data", "ml", "web", "mobile", "billing", "infra",
          "security", "analytics", "checkout", "catalog", "notify", "edge"]
_SERVICES = ["api", "worker", "deployer", "etl", "frontend", "backend", "gateway", "scheduler", "sync", "infra"]
_ENVS = ["dev", "test", "staging", "prod"]
_ORGS = ["contoso", "contoso-labs", "fabrikam", "contoso-platform"]
_REGIONS = ["westeurope", "northeurope", "eastus", "eastus2", "uksouth", "swedencentral"]
_FIRST = ["Alex", "Sam", "Kim", "Noah", "Mia", "Lena", "Omar", "Priya", "Jonas", "Chen", "Ana", "Tariq", "Eva",
          "Luis", "Mei", "Ravi", "Sofia", "Tom", "Yara", "Zoe"]
_LAST = ["Berg", "Novak", "Okafor", "Silva", "Tanaka", "Schmidt", "Dubois", "Kowalski", "Haddad", "Larsen",
         "Moreau", "Nguyen", "Rossi", "Singh", "Weber"]
_ATTACKER_ISSUERS = [
    "https://evilcorp.blob.core.windows.net/oidc",
    "https://stoidc{n}.z6.web.core.windows.net/",
    "https://oidc-{n}.ngrok-free.app",
    "https://ci-tokens-{n}.github.io/oidc",
    "https://storage.googleapis.com/oidc-bucket-{n}",
    "https://idp-{n}.pages.dev",
    "https://s3.amazonaws.com/oidc-{n}",
    "https://sso-{n}.trycloudflare.com",
]
_ROLE_MIX = [  # (role GUID, weight)
    ("acdd72a7-3385-48ef-bd42-f606fba81ae7", 40),  # Reader
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", 20),  # Contributor
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", 4),   # Owner
    ("b86a8fe4-44ce-4948-aee5-eccb2c155cd7", 8),   # Key Vault Secrets Officer
    ("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", 8),   # Storage Blob Data Owner
    ("17d1049b-9a84-46fb-8f53-869881c3d3ab", 5),   # Storage Account Contributor
    ("e40ec5ca-96e0-45a2-b4ff-59039f2c2b59", 3),   # Managed Identity Contributor
    ("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", 2),   # User Access Administrator
    ("9980e02c-c2be-4d73-94e8-173b1dc7cf3c", 5),   # Virtual Machine Contributor
    ("0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8", 3),   # AKS Cluster Admin
    ("f353d9bd-d4a6-484e-a77a-8050b599b867", 2),   # Automation Contributor
]
_OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def pick(self, seq: list[Any]) -> Any:
        return seq[self.rng.randrange(len(seq))]

    def trust(self, tenant_id: str, aks_issuers: list[str]) -> tuple[str, str, str]:
        """(kind, issuer, subject) drawn from the realistic mix."""
        r = self.rng.random()
        org, team, svc = self.pick(_ORGS), self.pick(_TEAMS), self.pick(_SERVICES)
        repo = f"repo:{org}/{team}-{svc}"
        gh = "https://token.actions.githubusercontent.com"
        if r < 0.30:
            return "gh-env", gh, f"{repo}:environment:{self.pick(_ENVS)}"
        if r < 0.52:
            return "gh-branch", gh, f"{repo}:ref:refs/heads/{self.pick(['main', 'main', 'release', 'develop'])}"
        if r < 0.56:
            return "gh-tag", gh, f"{repo}:ref:refs/tags/v{self.rng.randint(1, 9)}.{self.rng.randint(0, 20)}"
        if r < 0.60:
            return "gh-pr", gh, f"{repo}:pull_request"
        if r < 0.71:
            ns = f"{team}-{self.pick(_ENVS)}"
            return "aks", self.pick(aks_issuers), f"system:serviceaccount:{ns}:{svc}"
        if r < 0.79:
            ws = f"{team}-{svc}-{self.pick(_ENVS)}"
            return "tfc", "https://app.terraform.io", \
                f"organization:{org}:project:{team}:workspace:{ws}:run_phase:{self.pick(['plan', 'apply'])}"
        if r < 0.85:
            return "ado", f"https://vstoken.dev.azure.com/{self.guid()}", f"sc://{org}/{team}/{svc}-connection"
        if r < 0.91:
            return "ado", f"https://login.microsoftonline.com/{tenant_id}/v2.0", \
                f"/eid1/c/pub/t/{self.guid()[:22]}/a/{self.guid()[:22]}/sc/{self.guid()}/{self.guid()}"
        return "gitlab", "https://gitlab.com", \
            f"project_path:{org}/{team}-{svc}:ref_type:branch:ref:{self.pick(['main', 'main', 'release'])}"


def generate_seed(apps: int = 10000, fics_per_app: int = 2, uamis: int = 1000, subscriptions: int = 4,
                  role_assignments: int = 1000, planted_attacker_issuers: int = 5, seed: int = 42,
                  simulation: dict[str, Any] | None = None, users: int | None = None) -> dict[str, Any]:
    """A seed dict (see DESIGN.md "Simulated tenant seed"); deterministic for a given ``seed``."""
    if fics_per_app > 20:
        raise ValueError("fics_per_app must be at most 20 (the per-app limit)")
    g = _Gen(seed)
    tenant_id = g.guid()
    n_users = users if users is not None else max(20, apps // 20)
    user_list = []
    for i in range(n_users):
        first, last = g.pick(_FIRST), g.pick(_LAST)
        upn = f"{first.lower()}.{last.lower()}{i}@contoso.com"
        user_list.append({"id": g.guid(), "displayName": f"{first} {last}", "userPrincipalName": upn, "mail": upn})
    subs = [{"subscriptionId": g.guid(), "displayName": f"sub-{env}-{i}", "resourceGroups": [],
             "userAssignedIdentities": [], "roleAssignments": []}
            for i, env in zip(range(subscriptions), [*_ENVS * (subscriptions // 4 + 1)], strict=False)]
    aks_issuers = [f"https://{g.pick(_REGIONS)}.oic.prod-aks.azure.com/{tenant_id}/{g.guid()}/" for _ in range(12)]
    base = datetime(2023, 6, 1, tzinfo=timezone.utc)

    app_list: list[dict[str, Any]] = []
    for i in range(apps):
        app_id = g.guid()
        name = f"{g.pick(_TEAMS)}-{g.pick(_SERVICES)}-{g.pick(_ENVS)}-{i}"
        fics, seen = [], set()
        while len(fics) < fics_per_app:
            kind, issuer, subject = g.trust(tenant_id, aks_issuers)
            if (issuer, subject) in seen:
                continue
            seen.add((issuer, subject))
            fics.append({"id": g.guid(), "name": f"{kind}-{len(fics) + 1}", "issuer": issuer, "subject": subject,
                         "description": f"{kind} deployment trust" if g.rng.random() < 0.5 else None,
                         "audiences": [DEFAULT_AUDIENCE]})
        r = g.rng.random()
        owners = [] if r < 0.12 or not user_list else \
            [u["id"] for u in g.rng.sample(user_list, k=min(len(user_list), 1 if r < 0.7 else g.rng.randint(2, 3)))]
        app_list.append({
            "id": g.guid(), "appId": app_id, "displayName": name,
            "createdDateTime": (base + timedelta(minutes=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "federatedIdentityCredentials": fics, "owners": owners,
        })

    planted = []
    victims = g.rng.sample(range(len(app_list)), k=min(planted_attacker_issuers, len(app_list)))
    for n, idx in enumerate(victims):
        app = app_list[idx]
        issuer = _ATTACKER_ISSUERS[n % len(_ATTACKER_ISSUERS)].format(n=n)
        fic = {"id": g.guid(), "name": f"backup-sync-{n}", "issuer": issuer,
               "subject": f"repo:{g.pick(_ORGS)}/{g.pick(_TEAMS)}-tools:ref:refs/heads/main", "description": None,
               "audiences": [DEFAULT_AUDIENCE]}
        if len(app["federatedIdentityCredentials"]) >= 20:
            app["federatedIdentityCredentials"][-1] = fic
        else:
            app["federatedIdentityCredentials"].append(fic)
        planted.append({"applicationId": app["id"], "appId": app["appId"], "ficName": fic["name"], "issuer": issuer})

    principals: list[tuple[str, str]] = [(service_principal_id_for(a["appId"]), "ServicePrincipal")
                                         for a in app_list]
    for i in range(uamis):
        sub = subs[i % len(subs)]
        team, env = g.pick(_TEAMS), g.pick(_ENVS)
        rg = f"rg-{team}-{env}"
        if all(r["name"] != rg for r in sub["resourceGroups"]):
            owner = g.pick(user_list)["mail"] if user_list else None
            sub["resourceGroups"].append({"name": rg, "tags": {"owner": owner, "env": env} if owner else {"env": env}})
        name = f"id-{team}-{g.pick(_SERVICES)}-{i}"
        fics = []
        for k in range(g.rng.choice([0, 1, 1, 2])):
            kind, issuer, subject = g.trust(tenant_id, aks_issuers)
            if any(f["properties"]["issuer"] == issuer and f["properties"]["subject"] == subject for f in fics):
                continue
            fics.append({"name": f"{kind}-{k + 1}", "properties": {"issuer": issuer, "subject": subject,
                                                                     "audiences": [DEFAULT_AUDIENCE]}})
        tags = {"team": team}
        if g.rng.random() < 0.6 and user_list:
            tags["owner"] = g.pick(user_list)["mail"]
        sub["userAssignedIdentities"].append({"name": name, "resourceGroup": rg, "location": g.pick(_REGIONS),
                                              "tags": tags, "federatedIdentityCredentials": fics})
        rid = uami_resource_id(sub["subscriptionId"], rg, name)
        principals.append((uami_principal_id_for(rid), "ServicePrincipal"))

    roles, weights = zip(*_ROLE_MIX, strict=True)
    seen_ra: set[tuple[str, str, str]] = set()
    for i in range(role_assignments):
        sub = subs[i % len(subs)]
        pid, ptype = g.pick(principals)
        role = g.rng.choices(roles, weights)[0]
        r = g.rng.random()
        scope = f"/subscriptions/{sub['subscriptionId']}"
        if r > 0.3 and sub["resourceGroups"]:
            scope += f"/resourceGroups/{g.pick(sub['resourceGroups'])['name']}"
            if r > 0.8:
                scope += f"/providers/Microsoft.KeyVault/vaults/kv-{g.rng.randint(1, 400)}"
        if (scope, pid, role) in seen_ra:
            continue
        seen_ra.add((scope, pid, role))
        sub["roleAssignments"].append(_ra(g.guid(), scope, role, pid, ptype, sub["subscriptionId"]))
    for p in planted:  # the persistence pattern: attacker trust on an app that holds Owner
        sub = subs[0]
        sub["roleAssignments"].append(_ra(g.guid(), f"/subscriptions/{sub['subscriptionId']}", _OWNER_ROLE,
                                          service_principal_id_for(p["appId"]), "ServicePrincipal",
                                          sub["subscriptionId"]))
    mg_scope = f"/providers/Microsoft.Management/managementGroups/{tenant_id}"
    mg_ras = []
    if principals:
        mg_ras = [{"name": g.guid(), "properties": {
            "scope": mg_scope, "principalId": g.pick(principals)[0], "principalType": "ServicePrincipal",
            "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{role}"}}
            for role in ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9")]
    out: dict[str, Any] = {
        "tenantId": tenant_id,
        "users": user_list,
        "applications": app_list,
        "servicePrincipals": [],
        "subscriptions": subs,
        "managementGroupRoleAssignments": mg_ras,
        "roleDefinitions": [],
        "generator": {"seed": seed, "planted": planted},
    }
    if simulation:
        out["simulation"] = dict(simulation)
    return out


def _ra(name: str, scope: str, role: str, principal: str, ptype: str, sub_id: str) -> dict[str, Any]:
    return {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": f"/subscriptions/{sub_id}/providers/Microsoft.Authorization/"
                                               f"roleDefinitions/{role}",
                           "principalId": principal, "principalType": ptype, "scope": scope}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m wifguard.sim.generate", description="Generate a seed file.")
    ap.add_argument("--apps", type=int, default=10000)
    ap.add_argument("--fics-per-app", type=int, default=2)
    ap.add_argument("--uamis", type=int, default=1000)
    ap.add_argument("--subscriptions", type=int, default=4)
    ap.add_argument("--role-assignments", type=int, default=1000)
    ap.add_argument("--planted", type=int, default=5, help="attacker-style issuers to plant")
    ap.add_argument("--users", type=int, default=None)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--latency-ms", type=float, default=None)
    ap.add_argument("--graph-ru-per-10s", type=float, default=None)
    ap.add_argument("--fault-rate", type=float, default=None)
    ap.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    a = ap.parse_args(argv)
    simulation = {k: v for k, v in {"latency_ms": a.latency_ms, "graph_resource_units_per_10s": a.graph_ru_per_10s,
                                    "fault_rate": a.fault_rate}.items() if v is not None}
    data = orjson.dumps(generate_seed(a.apps, a.fics_per_app, a.uamis, a.subscriptions, a.role_assignments,
                                      a.planted, a.seed, simulation or None, a.users), option=orjson.OPT_INDENT_2)
    if a.output == "-":
        sys.stdout.buffer.write(data + b"\n")
    else:
        Path(a.output).write_bytes(data + b"\n")


if __name__ == "__main__":
    main()
