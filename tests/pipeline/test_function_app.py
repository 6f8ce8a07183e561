"""Each function invoked with the azure.functions objects the host passes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest
from pipeline_helpers import APPS, PAYMENTS, SUB, UAMI, audit_record, fic

import function_app


@pytest.fixture
async def app_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, str]]:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    function_app._responder = None  # a fresh worker
    yield env
    if function_app._responder is not None:
        await function_app._responder.close()
        await function_app._responder.store.close()
        function_app._responder = None


# The host indexes the app once; get_functions() refuses to run twice.
FUNCTIONS = {f.get_function_name(): f for f in function_app.app.get_functions()}


def user_function(name: str) -> Any:
    return FUNCTIONS[name].get_user_function()


class Out:
    """What the host passes for an output binding (func.Out)."""

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, value: Any) -> None:
        self.value = value

    def get(self) -> Any:
        return self.value


def test_import_is_light() -> None:
    code = "import sys, function_app; print(sorted(m for m in sys.modules if m.startswith(('msgraph', 'azure.mgmt', 'azure.data', 'wifguard'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_function_names_and_triggers() -> None:
    triggers = {name: sorted(b.type for b in f.get_bindings()) for name, f in FUNCTIONS.items()}
    assert triggers == {
        "audit_logs": ["eventHubTrigger"],
        "resource_events": ["eventGridTrigger"],
        "sweep_planner": ["queue", "timerTrigger"],
        "sweep_shard": ["queueTrigger"],
        "health": ["http", "httpTrigger"],
        "findings": ["http", "httpTrigger"],
        "restore": ["http", "httpTrigger"],
    }


def test_event_hub_trigger_has_a_bounded_exponential_retry_policy() -> None:
    # the host retries a batch the function failed (records neither processed nor parked)
    policy = FUNCTIONS["audit_logs"].get_setting("retry_policy").get_dict_repr()
    assert policy["strategy"] == "exponential_backoff" and int(policy["max_retry_count"]) > 0
    assert policy["minimum_interval"] < policy["maximum_interval"]


async def test_audit_logs_function(app_env: dict[str, str]) -> None:
    backdoor = fic("backdoor", "https://evil0x.blob.core.windows.net/oidc", "attacker",
                   "f1000000-0000-4000-8000-000000000002", description="sync")
    body = json.dumps({"records": [audit_record("fa-1", PAYMENTS, APPS[PAYMENTS][0], [], [backdoor])]}).encode()
    events = [func.EventHubEvent(body=body), func.EventHubEvent(body=b"\x00garbage")]
    await user_function("audit_logs")(events)
    store = function_app._responder.store  # type: ignore[union-attr]
    assert [r.rule_id for r in await store.query(rule_id="WIF102")] == ["WIF102"]
    parked = await store.list_rejected()
    assert len(parked) == 1 and "JSON" in parked[0].reason


async def test_resource_events_function(app_env: dict[str, str]) -> None:
    resource = f"{UAMI}/federatedIdentityCredentials/web"
    op = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"
    event = func.EventGridEvent(
        id="fe-1", data={"operationName": op, "resourceUri": resource, "status": "Succeeded", "subscriptionId": SUB},
        topic=f"/subscriptions/{SUB}", subject=resource, event_type="Microsoft.Resources.ResourceWriteSuccess",
        event_time=None, data_version="2")
    await user_function("resource_events")(event)
    store = function_app._responder.store  # type: ignore[union-attr]
    rows = await store.query(identity=UAMI)
    assert "WIF206" in {r.rule_id for r in rows}


async def test_sweep_planner_and_shards(app_env: dict[str, str]) -> None:
    out = Out()
    timer = TimerRequest(past_due=True)  # what the host builds for a timer tick
    await user_function("sweep_planner")(timer, out)
    shards = [json.loads(m) for m in out.value]
    kinds = [s["kind"] for s in shards]
    assert kinds.count("applications") == 1 and kinds.count("subscription") == 1 and kinds[-1] == "tenant"
    assert PAYMENTS in shards[0]["ids"]
    for s in shards:
        await user_function("sweep_shard")(func.QueueMessage(id=s["kind"], body=json.dumps(s).encode()))
    store = function_app._responder.store  # type: ignore[union-attr]
    rules = {r.rule_id for r in await store.query()}
    assert {"WIF102", "WIF601", "WIF206", "WIF504"} <= rules
