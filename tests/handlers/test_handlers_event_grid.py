from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import azure.functions as func
import pytest
from handlers_testdata import (
    CALLER_OID,
    CI_SP_ID,
    ROLE_ASSIGNMENT_ID,
    SUBSCRIPTION,
    TENANT,
    UAMI_ID,
    load_bytes,
    load_json,
)

from handlers import ACCEPTED, IGNORED, REJECTED, Decoded, decode_event_grid, decode_function_event
from wifguard.domain.model import ChangeKind, IdentityKind

FIC_URI = UAMI_ID + "/federatedIdentityCredentials/github-prod"


def only(decoded: list[Decoded]) -> Decoded:
    assert len(decoded) == 1, decoded
    return decoded[0]


def fic_write_event() -> dict[str, Any]:
    return load_json("eventgrid_fic_write.json")[0]


def role_write_event() -> dict[str, Any]:
    return load_json("eventgrid_role_assignment_write.json")[0]


def test_fic_write_event_grid_schema() -> None:
    d = only(decode_event_grid([load_bytes("eventgrid_fic_write.json")]))
    assert (d.status, d.reason, d.source) == (ACCEPTED, "", "event-grid")
    body = load_bytes("eventgrid_fic_write.json")
    assert isinstance(d.raw, bytes) and d.raw in body and json.loads(d.raw) == json.loads(body)[0]
    assert d.id == "6a1c7e3b-29f4-4d0a-8c5e-1b2a3c4d5e6f"
    (change,) = d.changes
    assert change.kind is ChangeKind.CREDENTIAL_WRITTEN
    assert change.source == "event-grid"
    assert change.event_id == d.id
    assert change.identity_kind is IdentityKind.MANAGED_IDENTITY
    assert change.identity_id == UAMI_ID
    assert change.identity_id_kind == "resourceId"
    assert change.identity_name == "id-payments-deploy"
    assert change.credential_name == "github-prod"
    assert change.old_credential is None and change.new_credential is None  # not in the payload
    assert change.time == "2025-03-04T11:20:31.4406517Z"
    assert change.tenant_id == TENANT
    actor = change.actor
    assert actor is not None
    assert actor.kind == "user"
    assert actor.id == CALLER_OID
    assert actor.user_principal_name == "alex.admin@contoso.onmicrosoft.com"
    assert actor.display_name == "Alex Admin"
    assert actor.app_id == "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
    assert actor.ip_address == "203.0.113.24"
    assert change.evidence["schema"] == "eventGrid"
    assert change.evidence["topic"] == f"/subscriptions/{SUBSCRIPTION}"
    assert change.evidence["httpMethod"] == "PUT"


def test_fic_delete_cloud_events_schema_by_an_app() -> None:
    d = only(decode_event_grid([load_json("cloudevent_fic_delete.json")]))
    assert d.status == ACCEPTED
    (change,) = d.changes
    assert change.kind is ChangeKind.CREDENTIAL_REMOVED
    assert change.identity_id == UAMI_ID
    assert change.credential_name == "github-prod"
    assert change.time == "2025-03-04T11:45:02.0183774Z"
    assert change.evidence["schema"] == "cloudEvents"
    actor = change.actor
    assert actor is not None
    assert (actor.kind, actor.id, actor.app_id, actor.user_principal_name) == (
        "app",
        CI_SP_ID,
        "1950a258-227b-4e31-a9cf-717495945fc2",
        None,
    )


def test_role_assignment_write_does_not_mistake_the_caller_for_the_assignee() -> None:
    event = role_write_event()
    caller_principal = event["data"]["authorization"]["evidence"]["principalId"]
    d = only(decode_event_grid([event]))
    (change,) = d.changes
    assert change.kind is ChangeKind.ROLE_ASSIGNMENT_WRITTEN
    assert change.role_assignment_id == ROLE_ASSIGNMENT_ID
    assert change.principal_id is None  # the payload does not carry the assignee
    assert change.identity_id is None and change.identity_kind is None
    assert caller_principal not in {change.principal_id, change.identity_id}
    assert change.actor is not None and change.actor.id == CALLER_OID  # the caller, from claims
    assert change.evidence["callerAuthorization"]["principalId"] == caller_principal
    assert change.evidence["callerAuthorization"]["role"] == "Owner"


def test_role_assignment_delete_cloud_events_array() -> None:
    d = only(decode_event_grid([load_bytes("cloudevent_role_assignment_delete.json")]))
    (change,) = d.changes
    assert change.kind is ChangeKind.ROLE_ASSIGNMENT_REMOVED
    assert change.role_assignment_id == ROLE_ASSIGNMENT_ID
    assert change.principal_id is None
    assert change.actor is not None and change.actor.kind == "app"


def test_subscription_validation_is_ignored() -> None:
    d = only(decode_event_grid(load_json("eventgrid_subscription_validation.json")))
    assert (d.status, d.reason, d.id) == (IGNORED, "subscription validation", "2d1d6e8f-a0b1-4c3d-9e4f-5a6b7c8d9e0f")


def test_operation_names_match_case_insensitively() -> None:
    event = fic_write_event()
    event["data"]["operationName"] = event["data"]["operationName"].upper()
    event["eventType"] = "microsoft.resources.resourcewritesuccess"
    event["data"]["resourceUri"] = event["data"]["resourceUri"].lower()
    change = only(decode_event_grid([event])).changes[0]
    assert change.kind is ChangeKind.CREDENTIAL_WRITTEN
    assert change.identity_id == UAMI_ID.lower()
    assert change.credential_name == "github-prod"


def test_subject_is_the_fallback_when_resource_uri_is_not_a_fic() -> None:
    event = fic_write_event()
    event["data"]["resourceUri"] = UAMI_ID
    change = only(decode_event_grid([event])).changes[0]
    assert (change.identity_id, change.credential_name) == (UAMI_ID, "github-prod")
    event["subject"] = UAMI_ID
    d = only(decode_event_grid([event]))
    assert d.status == REJECTED
    assert "does not name a federated identity credential" in d.reason


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda e: e["data"].__setitem__("operationName", "Microsoft.Compute/virtualMachines/write"),
         "operation 'Microsoft.Compute/virtualMachines/write' is not a federated credential or role assignment change"),
        (lambda e: e["data"].__setitem__("operationName", "Microsoft.Authorization/roleAssignments/read"),
         "operation 'Microsoft.Authorization/roleAssignments/read' is not a federated credential or role assignment change"),
        (lambda e: e.__setitem__("eventType", "Microsoft.Storage.BlobCreated"),
         "event type 'Microsoft.Storage.BlobCreated' is not a resource write or delete"),
        (lambda e: e.__setitem__("eventType", "Microsoft.Resources.ResourceWriteFailure"),
         "operation failed: eventType=Microsoft.Resources.ResourceWriteFailure"),
        (lambda e: e["data"].__setitem__("status", "Failed"), "operation failed: status=Failed"),
    ],
)
def test_irrelevant_and_failed_events_are_ignored(edit: Any, reason: str) -> None:
    event = role_write_event()
    edit(event)
    d = only(decode_event_grid([event]))
    assert (d.status, d.reason, d.changes, d.raw) == (IGNORED, reason, (), None)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda e: e.pop("id"), "event: 'id' is missing"),
        (lambda e: e.__setitem__("id", ""), "event: 'id' is missing"),
        (lambda e: e.__setitem__("data", "not an object"), "event: data is not valid JSON"),
        (lambda e: e.__setitem__("data", [1, 2]), "event: data is not an object (got array)"),
        (lambda e: e.pop("data"), "event: data is missing"),
        (lambda e: e["data"].pop("resourceUri"), "event: data.resourceUri is missing"),
        (lambda e: e["data"].pop("operationName"), "event: data.operationName is missing"),
        (lambda e: e.pop("eventType"), "event: 'eventType' is missing"),
    ],
)
def test_malformed_events_are_rejected_with_reasons(edit: Any, reason: str) -> None:
    event = role_write_event()
    edit(event)
    d = only(decode_event_grid([event]))
    assert d.status == REJECTED
    assert d.reason.startswith(reason), d.reason
    assert isinstance(d.raw, str) and json.loads(d.raw) == event
    assert d.id


def test_a_bad_event_does_not_stop_the_batch() -> None:
    bad = role_write_event()
    del bad["data"]["resourceUri"]
    batch = json.dumps(
        [fic_write_event(), bad, 17, load_json("cloudevent_fic_delete.json"), role_write_event()]
    ).encode()
    out = decode_event_grid([batch, b"{not json", "[]", b"\"just a string\""])
    assert [d.status for d in out] == [ACCEPTED, REJECTED, REJECTED, ACCEPTED, ACCEPTED, REJECTED, REJECTED]
    assert out[1].id == bad["id"] and out[1].reason == "item 0 event 1: data.resourceUri is missing"
    assert out[2].reason == "item 0 event 2 is not an object (got number)"
    assert out[5].reason.startswith("item 1 is not valid JSON") and out[5].raw == b"{not json"
    assert out[6].reason == "item 3 is not a JSON object or array (got string)"
    assert out[6].raw == b"\"just a string\""


def test_single_event_mapping_and_text_are_accepted() -> None:
    event = fic_write_event()
    for shape in (event, json.dumps(event), json.dumps(event).encode(), [json.dumps([event])]):
        d = only(decode_event_grid(shape))
        assert d.status == ACCEPTED and d.id == event["id"]


def test_cloud_event_data_base64_is_decoded() -> None:
    import base64

    event = load_json("cloudevent_fic_delete.json")
    data = event.pop("data")
    event["data_base64"] = base64.b64encode(json.dumps(data).encode()).decode()
    assert only(decode_event_grid([event])).changes[0].kind is ChangeKind.CREDENTIAL_REMOVED


# -- the Functions binding objects ----------------------------------------------------------------


def test_function_event_grid_event_as_the_host_builds_it() -> None:
    raw = role_write_event()
    event = func.EventGridEvent(
        id=raw["id"],
        data=copy.deepcopy(raw["data"]),
        topic=raw["topic"],
        subject=raw["subject"],
        event_type=raw["eventType"],
        event_time=dt.datetime(2025, 3, 4, 12, 2, 44, tzinfo=dt.UTC),
        data_version=raw["dataVersion"],
    )
    d = decode_function_event(event)
    assert d.status == ACCEPTED and d.id == raw["id"]
    (change,) = d.changes
    assert change.kind is ChangeKind.ROLE_ASSIGNMENT_WRITTEN
    assert change.role_assignment_id == ROLE_ASSIGNMENT_ID
    assert change.principal_id is None
    assert change.time == "2025-03-04T12:02:44+00:00"
    # the same object inside decode_event_grid
    assert only(decode_event_grid([event])).changes == d.changes


def test_function_cloud_event_and_validation_and_bad_data() -> None:
    raw = load_json("cloudevent_fic_delete.json")
    cloud = func.CloudEvent(
        id=raw["id"], source=raw["source"], type=raw["type"], specversion="1.0",
        data=raw["data"], time=None, subject=raw["subject"],
    )
    d = decode_function_event(cloud)
    assert d.changes[0].kind is ChangeKind.CREDENTIAL_REMOVED
    assert d.changes[0].identity_id == UAMI_ID

    validation = load_json("eventgrid_subscription_validation.json")[0]
    event = func.EventGridEvent(
        id=validation["id"], data=validation["data"], topic=validation["topic"], subject="",
        event_type=validation["eventType"], event_time=None, data_version="1",
    )
    assert decode_function_event(event).reason == "subscription validation"

    broken = func.EventGridEvent(
        id="b1", data=None, topic="/subscriptions/x", subject="/x",  # type: ignore[arg-type]
        event_type="Microsoft.Resources.ResourceWriteSuccess", event_time=None, data_version="2",
    )
    bd = decode_function_event(broken)
    assert (bd.status, bd.id, bd.reason) == (REJECTED, "b1", "event: data is missing")
    assert isinstance(bd.raw, str) and json.loads(bd.raw)["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"


def test_unreadable_function_event_object_is_rejected() -> None:
    class Broken:
        id = "x"

        def get_json(self) -> Any:
            raise ValueError("body is not JSON")

        @property
        def topic(self) -> str:
            return "/subscriptions/x"

        subject = "s"
        event_type = "Microsoft.Resources.ResourceWriteSuccess"
        event_time = None

    d = decode_function_event(Broken())
    assert d.status == REJECTED
    assert "ValueError" in d.reason and d.raw


def test_role_assignment_uri_must_name_an_assignment() -> None:
    event = role_write_event()
    event["data"]["resourceUri"] = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-payments"
    event["subject"] = event["data"]["resourceUri"]
    d = only(decode_event_grid([event]))
    assert d.status == REJECTED
    assert d.reason.endswith("does not name a role assignment")
    # tenant-root scope assignments have no scope prefix at all
    event = role_write_event()
    root = "/providers/Microsoft.Authorization/roleAssignments/0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f"
    event["data"]["resourceUri"] = root
    assert only(decode_event_grid([event])).changes[0].role_assignment_id == root


def test_actor_falls_back_to_the_callers_authorization_evidence() -> None:
    event = role_write_event()
    event["data"]["claims"] = {}
    actor = only(decode_event_grid([event])).changes[0].actor
    assert actor is not None
    assert (actor.kind, actor.id) == ("user", CALLER_OID)  # 32 hex digits given back their dashes
    event["data"].pop("authorization")
    assert only(decode_event_grid([event])).changes[0].actor is None


def test_generator_input() -> None:
    out = decode_event_grid(e for e in [fic_write_event(), role_write_event()])
    assert [d.status for d in out] == [ACCEPTED, ACCEPTED]
