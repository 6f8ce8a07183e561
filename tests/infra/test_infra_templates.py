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
    assert template.get("resources") or template.get("modules") or template.get("outputs"), f"{path.name} declares nothing"


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


def test_every_secure_parameter_defaults_to_empty() -> None:
    """azd prompts for a parameter with neither a value nor a default, and `--no-prompt` (CI) then
    fails. An empty-string default is what Bicep's secure-parameter-default linter allows."""
    secure = 0
    for path in bicep_files():
        for name, p in parse_bicep(path).get("parameters", {}).items():
            if any(d.get("type") == "secure" for d in p.get("decorators", [])):
                secure += 1
                assert has_default(p), f"{path.name}: @secure() param {name} has no default (azd would prompt)"
                assert p["default"] == "", f"{path.name}: @secure() param {name} has a non-empty default"
    assert secure >= 4


def test_azure_yaml() -> None:
    doc = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    api = doc["services"]["api"]
    assert api["language"] == "python"
    assert api["host"] == "function"
    assert api["project"] in (".", "./")
    assert doc["infra"]["path"] == "infra"
    for hook in ("preprovision", "postprovision", "postdeploy"):
        run = doc["hooks"][hook]["posix"]["run"]
        assert (ROOT / run).exists(), hook


def test_azure_yaml_requires_azd_that_bundles_a_recent_bicep() -> None:
    """azd compiles with its own bundled Bicep; 1.17.0 is the first to bundle Bicep >= 0.36.1."""
    doc = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    spec = doc["requiredVersions"]["azd"]
    m = re.fullmatch(r">=\s*(\d+)\.(\d+)\.(\d+)", spec.strip())
    assert m, spec
    assert tuple(int(x) for x in m.groups()) >= (1, 17, 0)
    readme = (ROOT / "README.md").read_text(encoding="utf-8") + (INFRA / "README.md").read_text(encoding="utf-8")
    assert "1.10" not in readme and "az bicep upgrade" not in readme, "README must not ask for older azd / az bicep"
    assert "1.17.0" in readme


@pytest.mark.parametrize("script", sorted((INFRA / "scripts").glob("*.sh")), ids=lambda p: p.name)
def test_hook_scripts_are_valid_posix_sh(script: Path) -> None:
    import subprocess

    proc = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert script.read_text(encoding="utf-8").startswith("#!/bin/sh\n")


def test_parameters_file_matches_main() -> None:
    params = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    main = parse_bicep(INFRA / "main.bicep")["parameters"]
    assert set(params) <= set(main), f"unknown parameters: {set(params) - set(main)}"
    required = {n for n, p in main.items() if not has_default(p)}
    assert required <= set(params), f"required parameters azd would prompt for: {required - set(params)}"
    assert params["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert params["location"]["value"] == "${AZURE_LOCATION}"


def test_bicepconfig_keeps_the_secure_default_linter() -> None:
    cfg = json.loads((INFRA / "bicepconfig.json").read_text(encoding="utf-8"))
    assert cfg["analyzers"]["core"]["rules"]["secure-parameter-default"]["level"] == "error"


def test_storage_redundancy_fits_the_region() -> None:
    """ZRS cannot be created where there are no availability zones (several Flex regions)."""
    main = parse_bicep(INFRA / "main.bicep")
    assert param_default(main, "storageSkuName") == ""
    no_zones = set(resolve(main, "regionsWithoutZones"))
    assert {"australiasoutheast", "northcentralus", "southindia", "ukwest", "westcentralus", "westus"} <= no_zones
    text = (INFRA / "main.bicep").read_text(encoding="utf-8")
    assert "skuName: effectiveStorageSku" in text
    assert re.search(r"var effectiveStorageSku = .*'Standard_LRS' : 'Standard_ZRS'", text)
    storage = parse_bicep(MODULES / "storage.bicep")
    assert param_default(storage, "skuName") is None, "the region decides in main.bicep"


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
    # Azure Monitor documents Manage, Send and Listen for streaming to Event Hubs.
    assert sorted(resource_body(rule)["properties"]["rights"]) == ["Listen", "Manage", "Send"]
    assert not resources_of_type(t, "Microsoft.EventHub/namespaces/eventhubs/authorizationRules")
    # ... and it is the only key: the postprovision hook deletes RootManageSharedAccessKey.
    hook = (INFRA / "scripts" / "postprovision.sh").read_text(encoding="utf-8")
    assert "authorization-rule delete" in hook and "RootManageSharedAccessKey" in hook
    assert param_default(t, "consumerGroupName") == "wifguard"
    assert "a638d3c7-ab3a-418d-83e6-5f17a39d4fde" in json.dumps(t)  # Azure Event Hubs Data Receiver


def test_key_vault() -> None:
    t = parse_bicep(MODULES / "keyvault.bicep")
    (vault,) = resources_of_type(t, "Microsoft.KeyVault/vaults").values()
    props = resource_body(vault)["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True
    assert props["enableSoftDelete"] is True
    # Flex Consumption resolves Key Vault references over the public endpoint (no VNet here).
    assert props["publicNetworkAccess"] == "Enabled"
    assert props["networkAcls"]["defaultAction"] == "Allow"
    assert "keyVaultPublicNetworkAccess" not in (INFRA / "main.bicep").read_text(encoding="utf-8")
    assert "4633458b-17de-408a-b874-0445c86b69e6" in json.dumps(t)  # Key Vault Secrets User


def test_key_vault_is_recovered_after_azd_down() -> None:
    t = parse_bicep(MODULES / "keyvault.bicep")
    (vault,) = resources_of_type(t, "Microsoft.KeyVault/vaults").values()
    assert resource_body(vault)["properties"]["createMode"] == "createMode"
    main = parse_bicep(INFRA / "main.bicep")
    assert param_default(main, "keyVaultCreateMode") == "default"
    params = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert params["keyVaultCreateMode"]["value"] == "${WIFGUARD_KEYVAULT_CREATE_MODE=default}"
    hook = (INFRA / "scripts" / "preprovision.sh").read_text(encoding="utf-8")
    assert "list-deleted" in hook and "WIFGUARD_KEYVAULT_CREATE_MODE" in hook and "recover" in hook


def test_tenant_diagnostic_setting() -> None:
    t = parse_bicep(INFRA / "tenant" / "diagnostic-setting.bicep")
    assert t["globals"]["scope"]["value"] == "tenant"
    (ds,) = resources_of_type(t, "microsoft.aadiam/diagnosticSettings").values()
    assert ds["api_version"] == "2017-04-01"
    props = resource_body(ds)["properties"]
    assert {"category": "AuditLogs", "enabled": True} in props["logs"]
    assert props["eventHubAuthorizationRuleId"] and props["eventHubName"]
    assert param_default(t, "name") is None, "named per environment, never a fixed tenant-wide name"


def test_tenant_step_is_a_direct_put_needing_no_root_deployment_rights() -> None:
    script = (INFRA / "scripts" / "tenant-diagnostic-setting.sh").read_text(encoding="utf-8")
    assert "az rest --method PUT" in script
    assert "providers/microsoft.aadiam/diagnosticSettings/$name?api-version=2017-04-01" in script
    assert not re.search(r"^\s*az deployment", script, re.M), "no deployment at tenant scope"
    assert '"category": "AuditLogs"' in script
    main = parse_bicep(INFRA / "main.bicep")
    for output in ("WIFGUARD_DIAGNOSTIC_SETTING_NAME", "WIFGUARD_DIAGNOSTICS_AUTH_RULE_ID", "WIFGUARD_EVENTHUB_NAME"):
        assert output in main["outputs"] and f"value {output}" in script


def test_graph_permissions_least_privilege_by_mode() -> None:
    t = parse_bicep(MODULES / "graph-permissions.bicep")
    # Not granted by the Graph Bicep extension (first-run replication failure, re-deploy conflict):
    # the module computes the app role ids, the postprovision hook grants them.
    assert not t.get("resources") and not t.get("extensions")
    assert set(t["outputs"]) == {"permissions", "appRoleIds"}
    main = parse_bicep(INFRA / "main.bicep")
    assert {"WIFGUARD_GRAPH_PERMISSIONS", "WIFGUARD_GRAPH_APP_ROLE_IDS", "WIFGUARD_IDENTITY_PRINCIPAL_ID"} <= set(main["outputs"])
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
        "RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
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


def test_graph_grant_hook_checks_before_granting_and_retries_replication() -> None:
    doc = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    hook = (ROOT / doc["hooks"]["postprovision"]["posix"]["run"]).read_text(encoding="utf-8")
    assert "grant-graph-permissions.sh" in hook
    script = (INFRA / "scripts" / "grant-graph-permissions.sh").read_text(encoding="utf-8")
    # reads what is held first, grants only what is missing, revokes what the mode does not need
    assert script.index("appRoleAssignments?") < script.index("--method POST")
    assert "already granted" in script and "--method DELETE" in script
    assert "WIFGUARD_GRAPH_APP_ROLE_IDS" in script and "WIFGUARD_IDENTITY_PRINCIPAL_ID" in script
    # retries while a new identity replicates; fails at once when the caller lacks the rights
    assert "sleep" in script and "Authorization_RequestDenied" in script


# Names outside the environment's own resource group (subscription-scope deployments, the events
# resource group, system topic, event subscription, custom role, tenant diagnostic setting) are
# shared by every environment on the subscription or tenant: each must carry the environment.
ENV_SCOPED = ("environmentName", "resourceToken", "token", "principalId")


def _literal_names(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(\s{2}|\s{4})name: (.+)$", line)
        if m and m.group(2).startswith("'") and not any(k in m.group(2) for k in ENV_SCOPED):
            out.append(m.group(2))
    return out


@pytest.mark.parametrize("rel", ["main.bicep", "modules/subscription-events.bicep", "modules/eventgrid-sender.bicep"])
def test_no_fixed_cross_environment_names(rel: str) -> None:
    assert _literal_names(INFRA / rel) == [], f"{rel}: names without the environment"


def test_no_name_parameter_defaults_to_a_fixed_wifguard_name() -> None:
    for path in bicep_files():
        for name, p in parse_bicep(path).get("parameters", {}).items():
            default = p.get("default")
            # (a consumer group lives inside the environment's own event hub)
            if name.lower().endswith("name") and name != "consumerGroupName" and isinstance(default, str):
                assert "wifguard" not in default.lower(), f"{path.name}: {name} defaults to the fixed name {default!r}"
    main = parse_bicep(INFRA / "main.bicep")
    assert param_default(main, "eventsResourceGroupName") == ""
    assert "rg-${environmentName}-events" in (INFRA / "main.bicep").read_text(encoding="utf-8")
    sub = (MODULES / "subscription-events.bicep").read_text(encoding="utf-8")
    assert "guid(subscription().id, environmentName, 'wifguard-federated-credential-responder')" in sub
    assert "roleName: 'wifguard federated credential responder (${environmentName}" in sub


def test_eventgrid_data_sender_when_a_topic_is_configured() -> None:
    t = parse_bicep(MODULES / "eventgrid-sender.bicep")
    (ra,) = resources_of_type(t, "Microsoft.Authorization/roleAssignments").values()
    assert resource_body(ra)["scope"] == "topic"
    assert "d5a91429-5739-47e2-a06b-3470a27159e7" in json.dumps(t)  # EventGrid Data Sender
    main = parse_bicep(INFRA / "main.bicep")
    (mod,) = [m for m in main["modules"].values() if module_path(m) == "modules/eventgrid-sender.bicep"]
    cond = json.dumps(mod)
    assert "eventGridTopicResourceId" in cond and "observe" in cond
    params = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert params["eventGridTopicResourceId"]["value"] == "${WIFGUARD_EVENTGRID_TOPIC_ID=}"
