"""The templates and the code agree: function names, app-setting names, connections, filters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_helpers import (
    CONNECTION_SERVICE_KEYS,
    FUNCTION_APP,
    INFRA,
    MODULES,
    NOTIFICATION_PLAIN_SETTINGS,
    NOTIFICATION_SECRET_SETTINGS,
    Function,
    bicep_text,
    connections,
    function_app_settings,
    functions_referenced_by_templates,
    module_path,
    param_default,
    parse_bicep,
    percent_settings,
    read_function_app,
    resolve,
    resource_body,
    resources_of_type,
    settings_module,
)


@pytest.fixture(scope="module")
def functions() -> dict[str, Function]:
    return read_function_app()


@pytest.fixture(scope="module")
def app_settings() -> dict[str, list[Any]]:
    return function_app_settings()


@pytest.fixture(scope="module")
def settings() -> dict[str, Any]:
    return settings_module()


def test_function_app_declares_the_expected_functions(functions: dict[str, Function]) -> None:
    assert set(functions) >= {"audit_logs", "resource_events", "sweep_planner", "sweep_shard", "health",
                              "findings", "restore"}


def test_functions_referenced_by_templates_exist(functions: dict[str, Function]) -> None:
    referenced = functions_referenced_by_templates()
    assert "resource_events" in referenced
    known = set(functions) | {f.python_name for f in functions.values()}
    assert referenced <= known, f"templates name functions function_app.py lacks: {referenced - known}"
    kinds = {b.kind for b in functions["resource_events"].bindings}
    assert "event_grid_trigger" in kinds, "the Event Grid subscription's endpoint must be an Event Grid trigger"


def test_wifguard_settings_are_known(app_settings: dict[str, list[Any]], settings: dict[str, Any],
                                     functions: dict[str, Function]) -> None:
    conns = connections(functions)
    known = set(settings["ALL_SETTINGS"]) | NOTIFICATION_SECRET_SETTINGS | NOTIFICATION_PLAIN_SETTINGS
    for name in app_settings:
        if "__" in name:
            prefix = name.split("__", 1)[0]
            assert prefix in conns or prefix == "AzureWebJobsStorage", f"{name}: no binding uses connection {prefix}"
        elif name.startswith("WIFGUARD_") or name == settings["CLIENT_ID"]:
            assert name in known, f"{name} is set by the templates but wifguard/settings.py does not know it"


def test_simulator_and_key_settings_are_never_set(app_settings: dict[str, list[Any]],
                                                  settings: dict[str, Any]) -> None:
    forbidden = {settings[k] for k in ("GRAPH_URL", "ARM_URL", "CA_BUNDLE", "STATIC_TOKEN", "STORAGE")}
    assert not forbidden & set(app_settings)
    text = bicep_text()
    for name in forbidden - {settings["STORAGE"]}:
        assert name not in text, f"{name} (simulator only) appears in infra/"
    assert "AzureWebJobsStorage'" not in text and "AccountKey=" not in text, "no storage connection strings"


def test_settings_the_app_needs_in_azure_are_set(app_settings: dict[str, list[Any]],
                                                 settings: dict[str, Any]) -> None:
    needed = {settings[k] for k in ("STORAGE_ACCOUNT", "TABLE_PREFIX", "CONFIG", "TENANT_ID", "SUBSCRIPTIONS",
                                    "MANAGEMENT_GROUPS", "QUARANTINE_MODE", "RESPONDER_IDS", "CLIENT_ID",
                                    "SWEEP_SCHEDULE", "SWEEP_QUEUE", "SWEEP_SHARD_SIZE", "EVENTHUB_NAME")}
    assert needed <= set(app_settings), f"not set: {needed - set(app_settings)}"
    host = {"AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId",
            "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    assert host <= set(app_settings)


def test_percent_settings_used_by_bindings_are_set(functions: dict[str, Function],
                                                   app_settings: dict[str, list[Any]]) -> None:
    used = percent_settings(functions)
    assert used >= {"WIFGUARD_EVENTHUB_NAME", "WIFGUARD_SWEEP_SCHEDULE", "WIFGUARD_SWEEP_QUEUE"}
    assert used <= set(app_settings), f"bindings read settings the templates do not set: {used - set(app_settings)}"


def test_connections_are_identity_based(functions: dict[str, Function], app_settings: dict[str, list[Any]]) -> None:
    conns = connections(functions)
    assert set(conns) >= {"WIFGUARD_EVENTHUB", "WIFGUARD_QUEUE"}
    for conn, kinds in conns.items():
        assert conn not in app_settings, f"{conn} would be a connection string"
        assert app_settings.get(f"{conn}__credential") == ["managedidentity"], conn
        assert f"{conn}__clientId" in app_settings, conn
        for kind in kinds:
            key = CONNECTION_SERVICE_KEYS.get(kind)
            if key:
                assert f"{conn}__{key}" in app_settings, f"{kind} on {conn} needs {conn}__{key}"


def test_notification_secrets_are_key_vault_references(app_settings: dict[str, list[Any]]) -> None:
    assert set(app_settings) >= NOTIFICATION_SECRET_SETTINGS
    for name in NOTIFICATION_SECRET_SETTINGS:
        for value in app_settings[name]:
            assert isinstance(value, str) and value.startswith("@Microsoft.KeyVault(SecretUri="), (name, value)


def test_defaults_agree_with_the_code(functions: dict[str, Function], settings: dict[str, Any]) -> None:
    main = parse_bicep(INFRA / "main.bicep")
    assert param_default(main, "sweepSchedule") == settings["DEFAULT_SCHEDULE"]
    assert resolve(main, "sweepQueueName") == settings["DEFAULT_QUEUE"]
    assert resolve(main, "eventHubName") == settings["DEFAULT_EVENTHUB"]
    eh = parse_bicep(MODULES / "eventhub.bicep")
    assert param_default(eh, "eventHubName") == settings["DEFAULT_EVENTHUB"]
    (trigger,) = [b for b in functions["audit_logs"].bindings if b.kind == "event_hub_message_trigger"]
    assert trigger.kwargs.get("consumer_group") == param_default(eh, "consumerGroupName")
    fa = parse_bicep(MODULES / "function-app.bicep")
    assert param_default(fa, "tablePrefix") == "wifguard"


# -- Event Grid filter vs handlers/event_grid.py ---------------------------------------------------

def _event_subscription() -> dict[str, Any]:
    t = parse_bicep(MODULES / "event-subscription.bicep")
    (es,) = resources_of_type(t, "Microsoft.EventGrid/systemTopics/eventSubscriptions").values()
    return resolve(t, resource_body(es)["properties"]["filter"])


def test_event_grid_filter_is_what_the_handler_understands() -> None:
    from handlers import event_grid as eg

    flt = _event_subscription()
    assert {t.casefold() for t in flt["includedEventTypes"]} == {eg.WRITE_SUCCESS, eg.DELETE_SUCCESS}
    (adv,) = flt["advancedFilters"]
    assert adv["operatorType"] == "StringIn"
    assert adv["key"] == "data.operationName"
    ops = adv["values"]
    assert len(ops) == len(set(ops)) == 4
    expected = {family + verb for family in (eg.FIC_OPERATION, eg.ROLE_ASSIGNMENT_OPERATION)
                for verb in ("write", "delete")}
    assert {o.casefold() for o in ops} == expected


def _event(operation: str, event_type: str, resource_uri: str) -> dict[str, Any]:
    return {
        "id": "3f0b6a0e-0000-4000-8000-" + format(abs(hash(operation + event_type)) % 10**12, "012d"),
        "topic": "/subscriptions/00000000-0000-0000-0000-000000000001",
        "subject": resource_uri,
        "eventType": event_type,
        "eventTime": "2026-01-01T00:00:00Z",
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {
            "operationName": operation,
            "resourceUri": resource_uri,
            "status": "Succeeded",
            "subscriptionId": "00000000-0000-0000-0000-000000000001",
            "tenantId": "00000000-0000-0000-0000-0000000000aa",
            "claims": {"http://schemas.microsoft.com/identity/claims/objectidentifier": "11111111-1111-1111-1111-111111111111"},
        },
    }


def test_every_filtered_operation_is_accepted_by_the_handler() -> None:
    """Behaviour, not just constants: each operation the filter lets through becomes a change."""
    from handlers.event_grid import decode_event_grid

    uami = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/id-app")
    uris = {
        "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials":
            f"{uami}/federatedIdentityCredentials/gh-main",
        "microsoft.authorization/roleassignments":
            "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/"
            "roleAssignments/22222222-2222-2222-2222-222222222222",
    }
    flt = _event_subscription()
    (adv,) = flt["advancedFilters"]
    for op in adv["values"]:
        family = op.casefold().rsplit("/", 1)[0]
        etype = "Microsoft.Resources.ResourceDeleteSuccess" if op.endswith("/delete") else \
            "Microsoft.Resources.ResourceWriteSuccess"
        assert etype in flt["includedEventTypes"]
        (decoded,) = decode_event_grid(json.dumps(_event(op, etype, uris[family])))
        assert decoded.status == "accepted", (op, decoded.reason)
    # and an operation outside the filter is ignored by the handler too
    (other,) = decode_event_grid(json.dumps(_event("Microsoft.ManagedIdentity/userAssignedIdentities/write",
                                                   "Microsoft.Resources.ResourceWriteSuccess", uami)))
    assert other.status == "ignored"


def test_event_subscription_points_at_resource_events() -> None:
    sub = parse_bicep(MODULES / "subscription-events.bicep")
    (module,) = [m for m in sub["modules"].values() if module_path(m) == "event-subscription.bicep"]
    assert "/functions/resource_events" in json.dumps(module)


def test_local_settings_example_uses_the_same_names(app_settings: dict[str, list[Any]]) -> None:
    example = FUNCTION_APP.parent / "local.settings.json.example"
    local = set(json.loads(example.read_text(encoding="utf-8"))["Values"])
    azure = {n for n in app_settings if n.startswith("WIFGUARD_") and "__" not in n}
    assert azure <= local, f"set in Azure but missing from local.settings.json.example: {azure - local}"


def test_notification_settings_are_the_settings_module_names() -> None:
    from wifguard import settings as s

    assert set(s.NOTIFICATION_SETTINGS) == NOTIFICATION_SECRET_SETTINGS | NOTIFICATION_PLAIN_SETTINGS
    assert set(s.NOTIFICATION_SETTINGS) <= set(s.ALL_SETTINGS)
