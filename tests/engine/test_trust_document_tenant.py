"""A trust document that names its tenant: that tenant's root management group is root scope."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TENANT = "3f2c6a1e-8d4b-4c7a-9b1e-5d6f7a8b9c0d"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _doc(tenant: str | None) -> dict[str, object]:
    ident: dict[str, object] = {"id": "11111111-2222-3333-4444-555555555555", "displayName": "mg-reader",
                                "kind": "application"}
    if tenant:
        ident["tenantId"] = tenant
    scope = f"/providers/Microsoft.Management/managementGroups/{TENANT}"
    return {
        "identity": ident,
        "federatedIdentityCredentials": [{"name": "ci", "issuer": "https://token.actions.githubusercontent.com",
                                          "subject": "repo:contoso@1/infra@2:environment:prod",
                                          "audiences": ["api://AzureADTokenExchange"], "description": "ci"}],
        "roleAssignments": [{"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/r1",
                             "properties": {"roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                                            "principalId": "p", "scope": scope}}],
        "owners": [{"id": "u1", "userPrincipalName": "ada@contoso.com"}],
    }


def _rules(tmp_path: Path, tenant: str | None) -> set[str]:
    f = tmp_path / "doc.json"
    f.write_text(json.dumps(_doc(tenant)))
    out = subprocess.run([sys.executable, "-m", "wifguard.cli", "evaluate", str(f), "--format", "json",
                          "--fail-on", "none"], capture_output=True, text=True, check=True)
    return {x["rule_id"] for x in json.loads(out.stdout)["findings"]}


def test_tenant_root_group_is_root_when_the_document_names_its_tenant(tmp_path: Path) -> None:
    assert "WIF604" in _rules(tmp_path, TENANT)


def test_a_management_group_is_not_root_without_knowing_the_tenant(tmp_path: Path) -> None:
    assert "WIF604" not in _rules(tmp_path, None)


def test_a_bad_notifications_section_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "wifguard.yaml"
    cfg.write_text("notifications:\n  channels:\n    t: {type: teams, url: 'https://x'}\n")
    out = subprocess.run([sys.executable, "-m", "wifguard.cli", "evaluate", str(tmp_path), "--config", str(cfg)],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert str(cfg) in out.stderr and "notifications.channels.t.url" in out.stderr


def test_engine_fingerprints_equal_model_fingerprint(tmp_path: Path) -> None:
    from wifguard.domain.model import fingerprint

    f = tmp_path / "doc.json"
    doc = _doc(TENANT)
    doc["federatedIdentityCredentials"].append(  # type: ignore[union-attr]
        {"name": "Pr", "issuer": "https://Token.actions.githubusercontent.com/", "subject": "repo:o/r:pull_request",
         "audiences": ["api://AzureADTokenExchange"]})
    f.write_text(json.dumps(doc))
    out = subprocess.run([sys.executable, "-m", "wifguard.cli", "evaluate", str(f), "--format", "json",
                          "--fail-on", "none"], capture_output=True, text=True, check=True)
    findings = json.loads(out.stdout)["findings"]
    assert {x["credential"] is None for x in findings} == {True, False}
    for x in findings:
        ra = x["role_assignment"]["id"] if x["role_assignment"] else None
        assert x["fingerprint"] == fingerprint(x["rule_id"], x["identity"]["id"], x["credential"], ra)
