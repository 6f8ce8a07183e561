"""Shared fixture data and helpers for the handler tests.

The JSON files under ``data/`` mimic real payloads: Entra audit records exactly as a tenant
diagnostic setting streams them to Event Hub, and Azure subscription system-topic events in the
Event Grid and CloudEvents schemas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"

TENANT = "3f2c6a1e-8d4b-4c7a-9b1e-5d6f7a8b9c0d"
APP_OBJECT_ID = "6b1f3c2d-9e8a-4f7b-a1c2-d3e4f5a6b7c8"
SP_OBJECT_ID = "a7d5dcbe-0627-4ddf-a2f4-86b6785bcc42"
USER_ID = "30a6c29d-de7c-4830-815f-9b3bb366e975"
GITHUB = "https://token.actions.githubusercontent.com"
SUBSCRIPTION = "d3b7a1c4-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
UAMI_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-payments/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/id-payments-deploy"
)
ROLE_ASSIGNMENT_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-payments/providers/"
    "Microsoft.Authorization/roleAssignments/4e7a9c2b-1d3f-4a5e-8b6c-7d8e9f0a1b2c"
)
CALLER_OID = "c2d3e4f5-a6b7-4c8d-9e0f-a1b2c3d4e5f6"
CI_SP_ID = "b9814691-9ca1-4e55-a1ac-8ef5dd010ec0"


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def load_bytes(name: str) -> bytes:
    return (DATA / name).read_bytes()


def fic_property(record: dict[str, Any]) -> dict[str, Any]:
    """The FederatedIdentityCredentials modified property of a record (for editing in tests)."""
    for target in record["properties"]["targetResources"]:
        for mod in target["modifiedProperties"]:
            if mod["displayName"] == "FederatedIdentityCredentials":
                return mod
    raise AssertionError("fixture has no FederatedIdentityCredentials property")


def fic_entry(name: str, fid: str | None, subject: str, issuer: str = GITHUB) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Name": name,
        "Issuer": issuer,
        "Subject": subject,
        "Description": None,
        "Audiences": ["api://AzureADTokenExchange"],
        "ClaimsMatchingExpressionValue": None,
        "ClaimsMatchingExpressionLanguageVersion": 0,
        "EncodingVersion": 2,
        "TrustedIssuer": None,
    }
    if fid is not None:
        entry["Id"] = fid
    return entry


def first_record(name: str = "audit_fic_added_first.json") -> dict[str, Any]:
    """First record of a fixture body, as a fresh dict."""
    return load_json(name)["records"][0]
