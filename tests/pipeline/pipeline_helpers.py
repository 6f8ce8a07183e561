"""The small simulated tenant and payload builders shared by the pipeline tests."""

from __future__ import annotations

import json
import uuid
from typing import Any

from wifguard.sim import service_principal_id_for

TENANT = "5a0b6c7d-1e2f-4a3b-8c4d-9e0f1a2b3c4d"
SUB = "8c0f5d2e-4b3a-4c1d-9e8f-7a6b5c4d3e2f"
OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER_ROLE = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
GITHUB = "https://token.actions.githubusercontent.com"
AUD = ["api://AzureADTokenExchange"]
RESPONDER_APP = "0f0f0f0f-0000-4000-8000-000000000001"

APPS = {
    # object id: (display name, appId)
    "a1000000-0000-4000-8000-000000000001": ("payments-deployer", "b1000000-0000-4000-8000-000000000001"),
    "a1000000-0000-4000-8000-000000000002": ("docs-site", "b1000000-0000-4000-8000-000000000002"),
    RESPONDER_APP: ("wifguard-responder", "b1000000-0000-4000-8000-0000000000ff"),
}
PAYMENTS, DOCS = list(APPS)[:2]
UAMI = f"/subscriptions/{SUB}/resourceGroups/rg-aks/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aks-web"


def fic(name: str, issuer: str, subject: str, fid: str, description: str | None = "deploy") -> dict[str, Any]:
    out = {"id": fid, "name": name, "issuer": issuer, "subject": subject, "audiences": list(AUD)}
    if description is not None:
        out["description"] = description
    return out


def base_seed() -> dict[str, Any]:
    payments, docs, responder = APPS[PAYMENTS], APPS[DOCS], APPS[RESPONDER_APP]
    sp_payments = service_principal_id_for(payments[1])
    sp_responder = service_principal_id_for(responder[1])
    return {
        "tenantId": TENANT,
        "users": [
            {"id": "c1000000-0000-4000-8000-000000000001", "displayName": "Ada Owner",
             "userPrincipalName": "ada@contoso.com", "mail": "ada@contoso.com"},
        ],
        "applications": [
            {"id": PAYMENTS, "appId": payments[1], "displayName": payments[0],
             "owners": ["c1000000-0000-4000-8000-000000000001"],
             "federatedIdentityCredentials": [
                 fic("prod", GITHUB, "repo:contoso/payments:environment:prod", "f1000000-0000-4000-8000-000000000001"),
                 fic("backdoor", "https://evil0x.blob.core.windows.net/oidc", "attacker",
                     "f1000000-0000-4000-8000-000000000002", description="sync"),
             ]},
            {"id": DOCS, "appId": docs[1], "displayName": docs[0], "owners": [],
             "federatedIdentityCredentials": [
                 fic("pages", GITHUB, "repo:contoso/docs:ref:refs/heads/main", "f1000000-0000-4000-8000-000000000003"),
             ]},
            {"id": RESPONDER_APP, "appId": responder[1], "displayName": responder[0],
             "owners": ["c1000000-0000-4000-8000-000000000001"],
             "federatedIdentityCredentials": [
                 fic("self-blob", "https://wifguard0.blob.core.windows.net/oidc", "responder",
                     "f1000000-0000-4000-8000-0000000000ff"),
             ]},
        ],
        "subscriptions": [{
            "subscriptionId": SUB, "displayName": "prod",
            "resourceGroups": [{"name": "rg-aks", "tags": {"owner": "platform@contoso.com"}}],
            "userAssignedIdentities": [{
                "id": UAMI, "name": "id-aks-web", "location": "westeurope", "tags": {},
                "federatedIdentityCredentials": [{
                    "id": f"{UAMI}/federatedIdentityCredentials/web",
                    "name": "web",
                    "properties": {"issuer": "https://westeurope.oic.prod-aks.azure.com/t/u/",
                                   "subject": "system:serviceaccount:default:default", "audiences": list(AUD)},
                }],
            }],
            "roleAssignments": [
                {"id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/"
                       "e1000000-0000-4000-8000-000000000001",
                 "properties": {"roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/"
                                                    f"roleDefinitions/{OWNER_ROLE}",
                                "principalId": sp_payments, "principalType": "ServicePrincipal",
                                "scope": f"/subscriptions/{SUB}"}},
                {"id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/"
                       "e1000000-0000-4000-8000-0000000000ff",
                 "properties": {"roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/"
                                                    f"roleDefinitions/{OWNER_ROLE}",
                                "principalId": sp_responder, "principalType": "ServicePrincipal",
                                "scope": f"/subscriptions/{SUB}"}},
            ],
        }],
    }


def audit_record(record_id: str, app_id: str, app_name: str, old: list[dict[str, Any]], new: list[dict[str, Any]],
                 *, actor_user: str | None = "eve@contoso.com", actor_app: str | None = None,
                 result: str = "success") -> dict[str, Any]:
    def pascal(items: list[dict[str, Any]]) -> str:
        return json.dumps([{"Name": i["name"], "Issuer": i["issuer"], "Subject": i["subject"], "Id": i["id"],
                            "Description": i.get("description"), "Audiences": i["audiences"],
                            "ClaimsMatchingExpressionValue": None, "ClaimsMatchingExpressionLanguageVersion": 0,
                            "EncodingVersion": 2, "TrustedIssuer": None} for i in items])

    initiated: dict[str, Any] = {"user": None, "app": None}
    if actor_user:
        initiated["user"] = {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, actor_user)), "displayName": None,
                             "userPrincipalName": actor_user, "ipAddress": "203.0.113.9"}
    if actor_app:
        initiated["app"] = {"appId": actor_app, "displayName": "ci-bot", "servicePrincipalId": actor_app,
                            "servicePrincipalName": "ci-bot"}
    return {
        "time": "2026-11-20T10:00:00Z", "resourceId": f"/tenants/{TENANT}/providers/Microsoft.aadiam",
        "operationName": "Update application", "operationVersion": "1.0", "category": "AuditLogs",
        "tenantId": TENANT, "resultSignature": "None", "durationMs": 0, "callerIpAddress": "203.0.113.9",
        "correlationId": str(uuid.uuid4()), "Level": 4,
        "properties": {
            "id": record_id, "category": "ApplicationManagement", "correlationId": str(uuid.uuid4()),
            "result": result, "resultReason": "", "activityDisplayName": "Update application",
            "activityDateTime": "2026-11-20T10:00:00Z", "loggedByService": "Core Directory",
            "operationType": "Update", "initiatedBy": initiated,
            "targetResources": [{"id": app_id, "displayName": app_name, "type": "Application",
                                 "modifiedProperties": [
                                     {"displayName": "FederatedIdentityCredentials", "oldValue": pascal(old),
                                      "newValue": pascal(new)},
                                     {"displayName": "Included Updated Properties", "oldValue": None,
                                      "newValue": "\"FederatedIdentityCredentials\""}]}],
            "additionalDetails": [],
        },
    }


