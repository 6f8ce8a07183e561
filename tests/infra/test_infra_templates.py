"""The Bicep templates parse, and hold the security properties the deployment promises."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from infra_helpers import (
    INFRA,
    MODULES,
    ROOT,
    bicep_files,
    condition_of,
    has_default,
    module_path,
    param_default,
    parse_bicep,
    resolve,
    resource_body,
    resources_of_type,
)

EXPECTED_FILES = {
    "main.bicep",
    "modules/subscription-events.bicep",
    "modules/graph-permissions.bicep",
    "tenant/diagnostic-setting.bicep",
}


def test_expected_templates_exist() -> None:
    present = {p.relative_to(INFRA).as_posix() for p in bicep_files()}
    assert present >= EXPECTED_FILES


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_parses(path: Path) -> None:
    template = parse_bicep(path)
    assert template.get("resources") or template.get("modules"), f"{path.name} declares nothing"


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_modules_referenced_exist(path: Path) -> None:
    for name, module in parse_bicep(path).get("modules", {}).items():
        target = (path.parent / module_path(module)).resolve()
        assert target.exists(), f"{path.name}: module {name} -> {module_path(module)} does not exist"


def test_every_module_file_is_used() -> None:
    used: set[Path] = set()
    for path in bicep_files():
        for module in parse_bicep(path).get("modules", {}).values():
            used.add((path.parent / module_path(module)).resolve())
    standalone = {MODULES / "management-group-reader.bicep"}  # deployed by hand (README)
    unused = {p for p in MODULES.glob("*.bicep") if p.resolve() not in used and p not in standalone}
    assert not unused, f"modules nobody deploys: {sorted(p.name for p in unused)}"


def test_no_secure_parameter_has_a_default() -> None:
    for path in bicep_files():
        for name, p in parse_bicep(path).get("parameters", {}).items():
            if any(d.get("type") == "secure" for d in p.get("decorators", [])):
                assert not has_default(p), f"{path.name}: @secure() param {name} has a default"


def test_azure_yaml() -> None:
    doc = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    api = doc["services"]["api"]
    assert api["language"] == "python"
    assert api["host"] == "function"
    assert api["project"] in (".", "./")
    assert doc["infra"]["path"] == "infra"
    hook = doc["hooks"]["postdeploy"]["posix"]["run"]
    assert (ROOT / hook).exists()


def test_parameters_file_matches_main() -> None:
    params = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    main = parse_bicep(INFRA / "main.bicep")["parameters"]
    assert set(params) <= set(main), f"unknown parameters: {set(params) - set(main)}"
    required = {n for n, p in main.items() if not has_default(p)}
    assert required <= set(params), f"required parameters azd would prompt for: {required - set(params)}"
    assert params["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert params["location"]["value"] == "${AZURE_LOCATION}"


def test_bicepconfig_declares_graph_extension() -> None:
    cfg = json.loads((INFRA / "bicepconfig.json").read_text(encoding="utf-8"))
    ref = cfg["extensions"]["microsoftGraphV1"]
    assert re.fullmatch(r"br:mcr\.microsoft\.com/bicep/extensions/microsoftgraph/v1\.0:\d+\.\d+\.\d+", ref)


def test_storage_account_is_identity_only() -> None:
    t = parse_bicep(MODULES / "storage.bicep")
    (account,) = resources_of_type(t, "Microsoft.Storage/storageAccounts").values()
    props = resource_body(account)["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    queues = resources_of_type(t, "Microsoft.Storage/storageAccounts/queueServices/queues")
    assert queues, "the sweep queue is created"
    containers = resources_of_type(t, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert len(containers) >= 2, "deployment + dead-letter containers"
    roles = {json.dumps(resource_body(r)["properties"]["roleDefinitionId"])
             for r in resources_of_type(t, "Microsoft.Authorization/roleAssignments").values()}
    roles_text = " ".join(roles) + json.dumps(t["variables"])
    for role in ("b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner
                 "974c5e8b-45b9-4653-ba55-5f855dd0fb88",  # Storage Queue Data Contributor
                 "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"):  # Storage Table Data Contributor
        assert role in roles_text


def test_function_app_is_flex_python_311_with_user_assigned_identity() -> None:
    t = parse_bicep(MODULES / "function-app.bicep")
    (plan,) = resources_of_type(t, "Microsoft.Web/serverfarms").values()
    assert resource_body(plan)["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    (site,) = resources_of_type(t, "Microsoft.Web/sites").values()
    body = resource_body(site)
    assert body["identity"]["type"] == "UserAssigned"
    props = body["properties"]
    assert props["keyVaultReferenceIdentity"] == "identityId"
    assert props["httpsOnly"] is True
    fac = props["functionAppConfig"]
    assert fac["runtime"] == {"name": "python", "version": "3.11"}
    assert fac["deployment"]["storage"]["type"] == "blobContainer"
    assert fac["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    assert fac["scaleAndConcurrency"]["instanceMemoryMB"] == "instanceMemoryMB"
    assert param_default(t, "instanceMemoryMB") == 2048
    assert fac["scaleAndConcurrency"]["maximumInstanceCount"] == "maximumInstanceCount"


def test_monitoring_has_local_auth_disabled() -> None:
    t = parse_bicep(MODULES / "monitoring.bicep")
    (ai,) = resources_of_type(t, "Microsoft.Insights/components").values()
    assert resource_body(ai)["properties"]["DisableLocalAuth"] is True
    assert "3913510d-42f4-4e42-8a64-420c390055eb" in json.dumps(t)  # Monitoring Metrics Publisher


def test_event_hub() -> None:
    t = parse_bicep(MODULES / "eventhub.bicep")
    (ns,) = resources_of_type(t, "Microsoft.EventHub/namespaces").values()
    body = resource_body(ns)
    assert body["sku"]["name"] == "Standard"
    assert body["properties"]["minimumTlsVersion"] == "1.2"
    assert "disableLocalAuth" in body["properties"]
    (rule,) = resources_of_type(t, "Microsoft.EventHub/namespaces/authorizationRules").values()
    assert resource_body(rule)["properties"]["rights"] == ["Send"], "the diagnostic setting needs Send only"
    assert param_default(t, "consumerGroupName") == "wifguard"
    assert "a638d3c7-ab3a-418d-83e6-5f17a39d4fde" in json.dumps(t)  # Azure Event Hubs Data Receiver


def test_key_vault() -> None:
    t = parse_bicep(MODULES / "keyvault.bicep")
    (vault,) = resources_of_type(t, "Microsoft.KeyVault/vaults").values()
    props = resource_body(vault)["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True
    assert props["enableSoftDelete"] is True
    assert props["publicNetworkAccess"] == "publicNetworkAccess"
    assert "4633458b-17de-408a-b874-0445c86b69e6" in json.dumps(t)  # Key Vault Secrets User


def test_tenant_diagnostic_setting() -> None:
    t = parse_bicep(INFRA / "tenant" / "diagnostic-setting.bicep")
    assert t["globals"]["scope"]["value"] == "tenant"
    (ds,) = resources_of_type(t, "microsoft.aadiam/diagnosticSettings").values()
    assert ds["api_version"] == "2017-04-01"
    props = resource_body(ds)["properties"]
    assert {"category": "AuditLogs", "enabled": True} in props["logs"]
    assert props["eventHubAuthorizationRuleId"] and props["eventHubName"]


def test_graph_permissions_least_privilege_by_mode() -> None:
    t = parse_bicep(MODULES / "graph-permissions.bicep")
    assert "microsoftGraphV1" in json.dumps(t.get("extensions"))
    (sp,) = resources_of_type(t, "Microsoft.Graph/servicePrincipals").values()
    assert sp["existing"] is True
    assert resolve(t, resource_body(sp)["appId"]) == "00000003-0000-0000-c000-000000000000"
    assert resources_of_type(t, "Microsoft.Graph/appRoleAssignedTo")
    by_mode = resolve(t, "permissionsByMode")
    assert set(by_mode) == {"observe", "notify", "enforce"}
    for mode in ("observe", "notify"):
        assert "Application.Read.All" in by_mode[mode]
        assert not any("ReadWrite" in p for p in by_mode[mode]), mode
    assert "Application.ReadWrite.All" in by_mode["enforce"]
    role_ids = {k.strip("'"): v for k, v in resolve(t, "appRoleIds").items()}  # pycep keeps key quotes
    assert role_ids == {  # Microsoft Graph app role ids, identical in every tenant
        "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
        "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
        "User.ReadBasic.All": "97235f07-e226-4f63-ace3-39588e11d3a1",
    }
    for perms in by_mode.values():
        assert set(perms) <= set(role_ids)
        assert "AuditLog.Read.All" not in perms
        assert "Directory.ReadWrite.All" not in perms


def test_subscription_module_rbac() -> None:
    t = parse_bicep(MODULES / "subscription-events.bicep")
    assert t["globals"]["scope"]["value"] == "subscription"
    (role,) = resources_of_type(t, "Microsoft.Authorization/roleDefinitions").values()
    assert condition_of(role) == "enforce"
    perms = resource_body(role)["properties"]["permissions"]
    assert perms[0]["actions"] == [
        f"Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/{verb}"
        for verb in ("read", "write", "delete")
    ]
    assert perms[0].get("dataActions", []) == []
    assignments = resources_of_type(t, "Microsoft.Authorization/roleAssignments")
    conditions = sorted(str(condition_of(a)) for a in assignments.values())
    assert conditions == ["None", "enforce"], "Reader always, the FIC role only in enforce mode"
    assert "acdd72a7-3385-48ef-bd42-f606fba81ae7" in json.dumps(t)  # Reader


def test_system_topic_and_dead_lettering() -> None:
    topic = parse_bicep(MODULES / "event-topic.bicep")
    (st,) = resources_of_type(topic, "Microsoft.EventGrid/systemTopics").values()
    body = resource_body(st)
    assert body["properties"]["topicType"] == "Microsoft.Resources.Subscriptions"
    assert body["identity"]["type"] == "SystemAssigned"
    sub = parse_bicep(MODULES / "event-subscription.bicep")
    (es,) = resources_of_type(sub, "Microsoft.EventGrid/systemTopics/eventSubscriptions").values()
    props = resource_body(es)["properties"]
    assert props["destination"]["endpointType"] == "AzureFunction"
    assert props["retryPolicy"]["maxDeliveryAttempts"]
    dl = props["deadLetterWithResourceIdentity"]
    assert dl["identity"]["type"] == "SystemAssigned"
    assert dl["deadLetterDestination"]["endpointType"] == "StorageBlob"
    access = parse_bicep(MODULES / "deadletter-access.bicep")
    assert "ba92f5b4-2d11-453d-a403-e96b0029c9fe" in json.dumps(access)  # Storage Blob Data Contributor
