"""``wifguard evaluate`` on the list shapes operators have (issue 16): Graph and ARM
``{"value": [...]}`` responses (``az rest``), ``az identity federated-credential`` output, and the
real samples in tests/data/real (no crash on any)."""

from __future__ import annotations

import json
from pathlib import Path

from wifguard.catalogue.engine import Engine
from wifguard.config import load_config
from wifguard.domain.model import IdentityKind
from wifguard.offline.inputs import load_file

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
UAMI = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/id-x")


def _write(tmp_path: Path, name: str, data: object) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def _rules(path: Path) -> set[str]:
    loaded, errors = load_file(path)
    assert not errors, errors
    eng = Engine(load_config())
    return {f.rule_id for t in loaded for f in eng.evaluate(t.context).findings}


def test_arm_value_list_evaluates_as_a_managed_identity_without_wif502() -> None:
    path = REAL / "azure-rest-api-specs-msi-2023-01-31-FederatedIdentityCredentialList.json"
    loaded, errors = load_file(path)
    assert not errors
    [t] = loaded
    assert t.context.identity.kind is IdentityKind.MANAGED_IDENTITY
    assert t.context.identity.id.endswith("/userAssignedIdentities/identityName")
    assert [c.name for c in t.context.credentials] == ["ficResourceName"]
    assert "WIF502" not in _rules(path)


def test_graph_value_list_names_the_app_from_odata_context(tmp_path: Path) -> None:
    app = "bcd5f3a2-1111-4222-8333-444455556666"
    page = {"@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#applications('{app}')/"
                              "federatedIdentityCredentials",
            "value": [{"id": "1aacd6b4-aaaa-4bbb-8ccc-ddddeeeeffff", "name": "evil", "description": None,
                       "issuer": "https://x.blob.core.windows.net/oidc", "subject": "s",
                       "audiences": ["api://AzureADTokenExchange"]}]}
    path = _write(tmp_path, "graph.json", page)
    [t], errors = load_file(path)
    assert not errors and t.context.identity.id == app
    assert "WIF102" in _rules(path)


def test_az_identity_federated_credential_list_is_read_as_arm(tmp_path: Path) -> None:
    flat = [{"audiences": ["api://AzureADTokenExchange"], "id": f"{UAMI}/federatedIdentityCredentials/k8s",
             "issuer": "https://eastus.oic.prod-aks.azure.com/11111111-2222-4333-8444-555555555555/"
                       "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b/",
             "name": "k8s", "resourceGroup": "rg", "subject": "system:serviceaccount:ns:sa", "systemData": None,
             "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"}]
    path = _write(tmp_path, "az.json", flat)
    [t], errors = load_file(path)
    assert not errors
    assert t.context.identity.kind is IdentityKind.MANAGED_IDENTITY and t.context.identity.id == UAMI
    assert t.context.credentials[0].shape == "arm"
    assert "WIF502" not in _rules(path)


def test_graph_application_list_page(tmp_path: Path) -> None:
    page = {"value": [{"id": "a1", "appId": "b1", "displayName": "deployer", "federatedIdentityCredentials": [
        {"name": "gh", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:contoso/app:*",
         "audiences": ["api://AzureADTokenExchange"], "description": "x"}]}]}
    path = _write(tmp_path, "apps.json", page)
    assert "WIF209" in _rules(path)


def test_empty_value_list_is_a_clear_error(tmp_path: Path) -> None:
    _, errors = load_file(_write(tmp_path, "empty.json", {"value": []}))
    assert errors and "empty" in errors[0].problem


def test_every_real_json_sample_loads_or_is_reported_without_crashing() -> None:
    eng = Engine(load_config())
    for path in sorted(REAL.glob("*.json")):
        loaded, errors = load_file(path)
        for t in loaded:
            eng.evaluate(t.context)  # no exception
        assert loaded or errors, path
