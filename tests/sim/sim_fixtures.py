"""Shared seed and helpers for the simulated-tenant tests (imported by conftest and the tests)."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from wifguard.sim import SimTenant

TENANT = "11111111-1111-1111-1111-111111111111"
SUB = "22222222-2222-2222-2222-222222222222"
SUB2 = "33333333-3333-3333-3333-333333333333"
OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER_ROLE = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
GH = "https://token.actions.githubusercontent.com"
AUD = ["api://AzureADTokenExchange"]
APP_ID = "aaaaaaaa-0000-0000-0000-000000000001"  # object id of "deployer"
APP_APPID = "bbbbbbbb-0000-0000-0000-000000000001"
MANY_OWNERS_APP = "aaaaaaaa-0000-0000-0000-000000000002"
UAMI_ID = f"/subscriptions/{SUB}/resourcegroups/rg-platform/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-deploy"


def _users(n: int) -> list[dict[str, Any]]:
    return [{"id": f"cccccccc-0000-0000-0000-{i:012d}", "displayName": f"User {i}",
             "userPrincipalName": f"user{i}@contoso.com", "mail": f"user{i}@contoso.com"} for i in range(n)]


def small_seed() -> dict[str, Any]:
    users = _users(25)
    apps: list[dict[str, Any]] = [
        {"id": APP_ID, "appId": APP_APPID, "displayName": "deployer",
         "federatedIdentityCredentials": [
             {"name": "gh-main", "issuer": GH, "subject": "repo:contoso/app:ref:refs/heads/main", "audiences": AUD},
             {"name": "gh-prod", "issuer": GH, "subject": "repo:contoso/app:environment:prod", "audiences": AUD},
             {"name": "flex", "issuer": GH, "audiences": AUD,
              "claimsMatchingExpression": {"value": "claims['sub'] matches 'repo:contoso/*'", "languageVersion": 1}},
         ],
         "owners": [users[0]["id"]]},
        {"id": MANY_OWNERS_APP, "appId": "bbbbbbbb-0000-0000-0000-000000000002", "displayName": "shared",
         "federatedIdentityCredentials": [], "owners": [u["id"] for u in users]},
    ]
    for i in range(3, 8):
        apps.append({"id": f"aaaaaaaa-0000-0000-0000-00000000000{i}", "appId": f"bbbbbbbb-0000-0000-0000-00000000000{i}",
                     "displayName": f"svc-{i}",
                     "federatedIdentityCredentials": [{"name": f"gl-{i}", "issuer": "https://gitlab.com",
                                                       "subject": f"project_path:g/p{i}:ref_type:branch:ref:main"}],
                     "owners": []})
    return {
        "tenantId": TENANT,
        "users": users,
        "applications": apps,
        "subscriptions": [
            {"subscriptionId": SUB, "displayName": "prod",
             "resourceGroups": [{"name": "rg-platform", "tags": {"owner": "user1@contoso.com"}}],
             "userAssignedIdentities": [
                 {"name": "id-deploy", "resourceGroup": "rg-platform", "tags": {"team": "platform"},
                  "federatedIdentityCredentials": [
                      {"name": "aks", "properties": {"issuer": "https://westeurope.oic.prod-aks.azure.com/t/u/",
                                                     "subject": "system:serviceaccount:ns:sa", "audiences": AUD}}]},
                 *[{"name": f"id-extra-{i}", "resourceGroup": "rg-apps"} for i in range(4)],
             ],
             "roleAssignments": [
                 {"name": "dddddddd-0000-0000-0000-000000000001",
                  "properties": {"roleDefinitionId": OWNER_ROLE, "principalId": "pppppppp-app",
                                 "scope": f"/subscriptions/{SUB}"}},
                 {"name": "dddddddd-0000-0000-0000-000000000002",
                  "properties": {"roleDefinitionId": READER_ROLE, "principalId": "pppppppp-app",
                                 "scope": f"/subscriptions/{SUB}/resourceGroups/rg-platform"}},
                 {"name": "dddddddd-0000-0000-0000-000000000003",
                  "properties": {"roleDefinitionId": READER_ROLE, "principalId": "pppppppp-other",
                                 "scope": f"/subscriptions/{SUB}/resourceGroups/rg-apps/providers/"
                                          "Microsoft.KeyVault/vaults/kv1"}},
             ]},
            {"subscriptionId": SUB2, "displayName": "dev",
             "roleAssignments": [{"name": "dddddddd-0000-0000-0000-000000000004",
                                  "properties": {"roleDefinitionId": READER_ROLE, "principalId": "pppppppp-app"}}]},
        ],
        "managementGroupRoleAssignments": [
            {"name": "eeeeeeee-0000-0000-0000-000000000001",
             "properties": {"roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER_ROLE}",
                            "principalId": "pppppppp-app",
                            "scope": f"/providers/Microsoft.Management/managementGroups/{TENANT}"}},
            {"name": "eeeeeeee-0000-0000-0000-000000000002",
             "properties": {"roleDefinitionId": READER_ROLE, "principalId": "pppppppp-mg",
                            "scope": "/providers/Microsoft.Management/managementGroups/mg-corp"}},
        ],
        "roleDefinitions": [{"name": "ffffffff-0000-0000-0000-000000000001", "roleName": "FIC Writer",
                             "actions": ["Microsoft.ManagedIdentity/userAssignedIdentities/"
                                         "federatedIdentityCredentials/write"]}],
    }


def seed_with(**simulation: Any) -> dict[str, Any]:
    seed = copy.deepcopy(small_seed())
    seed["simulation"] = simulation
    return seed


def client(sim: SimTenant, token: str | None = "any-token") -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(verify=sim.ssl_context(), headers=headers, timeout=30)
