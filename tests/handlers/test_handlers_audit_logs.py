from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest
from handlers_testdata import (
    APP_OBJECT_ID,
    CI_SP_ID,
    GITHUB,
    SP_OBJECT_ID,
    TENANT,
    USER_ID,
    fic_entry,
    fic_property,
    first_record,
    load_bytes,
    load_json,
)

from handlers import ACCEPTED, IGNORED, REJECTED, Decoded, decode_audit_bodies
from wifguard.domain.model import ChangeKind, IdentityKind

FIRST_RECORD_ID = "Directory_e5bbd943-fcc7-489a-9b91-2844da394a70_7XJ2K_412345678"
EVIL_ISSUER = "https://stratusficapply1h.blob.core.windows.net/oidc"


def only(decoded: list[Decoded]) -> Decoded:
    assert len(decoded) == 1, decoded
    return decoded[0]


def kinds(d: Decoded) -> list[ChangeKind]:
    return [c.kind for c in d.changes]


def with_values(old: Any, new: Any) -> dict[str, Any]:
    rec = first_record()
    mod = fic_property(rec)
    mod["oldValue"] = old
    mod["newValue"] = new
    return rec


# -- the real-shaped fixtures ------------------------------------------------------------------


def test_first_credential_added() -> None:
    d = only(decode_audit_bodies([load_bytes("audit_fic_added_first.json")]))
    assert (d.status, d.reason, d.source) == (ACCEPTED, "", "audit-log")
    # every record carries its own exact bytes (parking and the dedup digest use them)
    body = load_bytes("audit_fic_added_first.json")
    assert isinstance(d.raw, bytes) and d.raw in body and json.loads(d.raw) == json.loads(body)["records"][0]
    assert d.id == FIRST_RECORD_ID
    (change,) = d.changes
    assert change.kind is ChangeKind.CREDENTIAL_ADDED
    assert change.source == "audit-log"
    assert change.event_id == FIRST_RECORD_ID
    assert change.identity_kind is IdentityKind.APPLICATION
    assert change.identity_id == APP_OBJECT_ID
    assert change.identity_id_kind == "objectId"
    assert change.identity_name == "payments-api-deployer"
    assert change.credential_name == "github-deploy-main"
    assert change.old_credential is None
    new = change.new_credential
    assert new is not None
    assert (new.name, new.issuer, new.subject) == (
        "github-deploy-main",
        GITHUB,
        "repo:contoso/payments-api:ref:refs/heads/main",
    )
    assert new.audiences == ("api://AzureADTokenExchange",)
    assert new.id == "8f1d2c3b-4a5e-4f60-9b7a-1c2d3e4f5a60"
    assert new.shape == "audit"
    assert new.claims_matching_expression is None  # ClaimsMatchingExpressionValue null
    assert change.time == "2025-03-04T09:56:28.7147707+00:00"
    assert change.tenant_id == TENANT
    actor = change.actor
    assert actor is not None
    assert (actor.kind, actor.id, actor.user_principal_name, actor.ip_address) == (
        "user",
        USER_ID,
        "alex.admin@contoso.onmicrosoft.com",
        "203.0.113.24",
    )
    ev = change.evidence
    assert ev["correlationId"] == "e5bbd943-fcc7-489a-9b91-2844da394a70"
    assert ev["activity"] == "Update application"
    assert ev["operationType"] == "Update"
    assert ev["callerIpAddress"] == "203.0.113.24"
    assert ev["oldValue"] == "[]"
    assert "github-deploy-main" in ev["newValue"]
    assert ev["userAgent"].startswith("python/3.11")


def test_second_credential_added_with_full_list_arrays() -> None:
    d = only(decode_audit_bodies([load_bytes("audit_fic_added_second.json")]))
    assert d.status == ACCEPTED
    assert kinds(d) == [ChangeKind.CREDENTIAL_ADDED]  # the unchanged first one is not reported
    new = d.changes[0].new_credential
    assert new is not None and new.name == "github-deploy-prod"
    assert new.subject == "repo:contoso/payments-api:environment:production"


def test_issuer_change_of_existing_credential() -> None:
    d = only(decode_audit_bodies([load_bytes("audit_fic_issuer_changed.json")]))
    assert kinds(d) == [ChangeKind.CREDENTIAL_CHANGED]
    change = d.changes[0]
    assert change.old_credential is not None and change.new_credential is not None
    assert change.old_credential.issuer == GITHUB
    assert change.new_credential.issuer == EVIL_ISSUER
    assert change.old_credential.id == change.new_credential.id
    assert change.credential_name == "github-deploy-main"


def test_removal_from_full_list() -> None:
    d = only(decode_audit_bodies([load_bytes("audit_fic_removed.json")]))
    assert kinds(d) == [ChangeKind.CREDENTIAL_REMOVED]
    change = d.changes[0]
    assert change.new_credential is None
    assert change.old_credential is not None and change.old_credential.name == "github-deploy-prod"
    assert change.credential_name == "github-deploy-prod"


def test_service_principal_target_changed_by_an_app() -> None:
    d = only(decode_audit_bodies([load_bytes("audit_fic_service_principal_by_app.json")]))
    assert d.status == ACCEPTED
    (change,) = d.changes
    assert change.kind is ChangeKind.CREDENTIAL_ADDED
    assert change.identity_kind is IdentityKind.APPLICATION
    assert change.identity_id == SP_OBJECT_ID
    assert change.identity_id_kind == "servicePrincipalId"
    assert change.evidence["activity"] == "Update service principal"
    actor = change.actor
    assert actor is not None
    assert actor.kind == "app"
    assert actor.id == CI_SP_ID
    assert actor.app_id == "1950a258-227b-4e31-a9cf-717495945fc2"
    assert actor.display_name == "terraform-ci"
    assert actor.user_principal_name is None
    assert actor.ip_address == "20.190.128.7"


def test_mixed_batch_ignores_everything_but_the_fic_change() -> None:
    decoded = decode_audit_bodies([load_bytes("audit_mixed_batch.json")])
    assert [d.status for d in decoded] == [IGNORED, IGNORED, IGNORED, IGNORED, ACCEPTED]
    group, secrets, failed, redirect, good = decoded
    assert group.reason == "activity 'Add member to group' is not a federated credential change"
    assert secrets.reason == (
        "Update application without FederatedIdentityCredentials change (Certificates and secrets management)"
    )
    assert failed.reason.startswith("operation failed: result=failure")
    assert redirect.reason == "Update application without FederatedIdentityCredentials change (AppAddress)"
    assert kinds(good) == [ChangeKind.CREDENTIAL_ADDED]
    for d in (group, secrets, failed, redirect):
        assert d.changes == () and d.raw is None and d.id.startswith("Directory_")
    assert len({d.id for d in decoded}) == 5


# -- diff semantics ------------------------------------------------------------------------------

A = fic_entry("ci-main", "11111111-1111-4111-8111-111111111111", "repo:o/r:ref:refs/heads/main")
B = fic_entry("ci-prod", "22222222-2222-4222-8222-222222222222", "repo:o/r:environment:prod")


@pytest.mark.parametrize("new", ["[]", "", None, [], "null"])
def test_last_credential_removed_when_new_is_empty(new: Any) -> None:
    d = only(decode_audit_bodies([with_values(json.dumps([A]), new)]))
    assert kinds(d) == [ChangeKind.CREDENTIAL_REMOVED]
    assert d.changes[0].old_credential is not None
    assert d.changes[0].old_credential.name == "ci-main"


def test_partial_arrays_do_not_invent_removals() -> None:
    # newValue holds only the new entry and nothing unchanged: oldValue's entry may just have
    # been left out, so it is not reported as removed (but kept as evidence).
    d = only(decode_audit_bodies([with_values(json.dumps([A]), json.dumps([B]))]))
    assert kinds(d) == [ChangeKind.CREDENTIAL_ADDED]
    assert d.changes[0].evidence["unmatchedOldCredentials"] == ["ci-main"]


def test_changed_only_entry_arrays_give_a_change() -> None:
    b2 = dict(B, Subject="repo:o/r:pull_request")
    d = only(decode_audit_bodies([with_values(json.dumps([B]), json.dumps([b2]))]))
    assert kinds(d) == [ChangeKind.CREDENTIAL_CHANGED]
    change = d.changes[0]
    assert change.old_credential is not None and change.new_credential is not None
    assert change.old_credential.subject == "repo:o/r:environment:prod"
    assert change.new_credential.subject == "repo:o/r:pull_request"


def test_pairs_by_name_case_insensitively_when_id_is_missing() -> None:
    old = fic_entry("CI-Main", None, "repo:o/r:ref:refs/heads/main")
    new = dict(A, Audiences=["api://AzureADTokenExchangeUSGov"])
    d = only(decode_audit_bodies([with_values(json.dumps([old]), json.dumps([new]))]))
    assert kinds(d) == [ChangeKind.CREDENTIAL_CHANGED]
    assert d.changes[0].new_credential is not None
    assert d.changes[0].new_credential.audiences == ("api://AzureADTokenExchangeUSGov",)


def test_description_and_expression_changes_count() -> None:
    flex = dict(A, Subject=None, ClaimsMatchingExpressionValue="claims['sub'] matches 'repo:o/*'",
                ClaimsMatchingExpressionLanguageVersion=1)
    d = only(decode_audit_bodies([with_values(json.dumps([A]), json.dumps([flex]))]))
    assert kinds(d) == [ChangeKind.CREDENTIAL_CHANGED]
    new = d.changes[0].new_credential
    assert new is not None and new.claims_matching_expression is not None
    assert new.claims_matching_expression.value.startswith("claims['sub']")
    d = only(decode_audit_bodies([with_values(json.dumps([A]), json.dumps([dict(A, Description="x")]))]))
    assert kinds(d) == [ChangeKind.CREDENTIAL_CHANGED]


def test_nothing_differs_gives_one_identity_change() -> None:
    d = only(decode_audit_bodies([with_values(json.dumps([A, B]), json.dumps([B, A]))]))
    assert d.status == ACCEPTED
    assert kinds(d) == [ChangeKind.IDENTITY]
    change = d.changes[0]
    assert change.identity_id == APP_OBJECT_ID
    assert change.old_credential is None and change.new_credential is None


def test_several_changes_share_the_record_id() -> None:
    a2 = dict(A, Issuer=EVIL_ISSUER)
    c = fic_entry("ci-dev", "33333333-3333-4333-8333-333333333333", "repo:o/r:environment:dev")
    # full lists: A changed, B removed, c added, plus an unchanged one to mark a full list
    keep = fic_entry("keep", "44444444-4444-4444-8444-444444444444", "repo:o/r:ref:refs/heads/keep")
    rec = with_values(json.dumps([A, B, keep]), json.dumps([a2, keep, c]))
    d = only(decode_audit_bodies([rec]))
    assert sorted(kinds(d)) == sorted(
        [ChangeKind.CREDENTIAL_CHANGED, ChangeKind.CREDENTIAL_ADDED, ChangeKind.CREDENTIAL_REMOVED]
    )
    assert {c.event_id for c in d.changes} == {FIRST_RECORD_ID}


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda v: v, id="already-decoded-list"),
        pytest.param(lambda v: json.dumps(json.dumps(v)), id="double-encoded"),
        pytest.param(lambda v: json.dumps(v[0]), id="single-object"),
        pytest.param(lambda v: v[0], id="decoded-object"),
    ],
)
def test_liberal_value_encodings(encode: Any) -> None:
    d = only(decode_audit_bodies([with_values("[]", encode([B]))]))
    assert kinds(d) == [ChangeKind.CREDENTIAL_ADDED]
    assert d.changes[0].new_credential is not None
    assert d.changes[0].new_credential.name == "ci-prod"


# -- decisions about the record ------------------------------------------------------------------


def test_result_is_case_insensitive_and_operation_name_is_a_fallback() -> None:
    rec = first_record()
    rec["properties"]["result"] = "Success"
    del rec["properties"]["activityDisplayName"]
    d = only(decode_audit_bodies([rec]))
    assert kinds(d) == [ChangeKind.CREDENTIAL_ADDED]


def test_failed_result_ignored_with_reason() -> None:
    rec = first_record()
    rec["properties"]["result"] = "failure"
    rec["properties"]["resultReason"] = "Request_BadRequest"
    d = only(decode_audit_bodies([rec]))
    assert (d.status, d.reason) == (IGNORED, "operation failed: result=failure (Request_BadRequest)")
    assert d.changes == ()


def test_update_without_fic_property_is_ignored() -> None:
    rec = first_record()
    rec["properties"]["targetResources"][0]["modifiedProperties"] = [
        {"displayName": "DisplayName", "oldValue": '["a"]', "newValue": '["b"]'},
        {"displayName": "Included Updated Properties", "oldValue": None, "newValue": '"DisplayName"'},
    ]
    d = only(decode_audit_bodies([rec]))
    assert d.status == IGNORED
    assert d.reason == "Update application without FederatedIdentityCredentials change (DisplayName)"


def test_record_id_fallbacks() -> None:
    rec = first_record()
    del rec["properties"]["id"]
    decoded = decode_audit_bodies([{"records": [first_record(), rec]}])
    assert decoded[0].id == FIRST_RECORD_ID
    assert decoded[1].id == "e5bbd943-fcc7-489a-9b91-2844da394a70#1"
    assert decoded[1].changes[0].event_id == decoded[1].id
    del rec["correlationId"]
    del rec["properties"]["correlationId"]
    again = decode_audit_bodies([rec, rec])
    assert again[0].id.startswith("sha256:") and len(again[0].id) == len("sha256:") + 64
    assert again[0].id == again[1].id  # deterministic: a re-delivery dedups


# -- input shapes ----------------------------------------------------------------------------------


def test_all_input_shapes_give_the_same_answer() -> None:
    body_bytes = load_bytes("audit_fic_added_first.json")
    body = json.loads(body_bytes)
    record = body["records"][0]
    shapes: list[Any] = [
        [body_bytes],
        [body_bytes.decode()],
        [body],
        body,  # a single body, not in a list
        body_bytes,
        [record],  # a single record
        [json.dumps([record])],  # a replay file: JSON list of records
        [[body]],  # a list of bodies
        [b"\xef\xbb\xbf" + body_bytes],  # UTF-8 BOM from a file
    ]
    for shape in shapes:
        d = only(decode_audit_bodies(shape))
        assert d.id == FIRST_RECORD_ID, shape
        assert kinds(d) == [ChangeKind.CREDENTIAL_ADDED]


def test_event_hub_events_as_the_host_builds_them() -> None:
    events = [
        func.EventHubEvent(body=load_bytes("audit_fic_added_first.json")),
        func.EventHubEvent(body=b"\x00\x01garbage"),
        func.EventHubEvent(body=load_bytes("audit_mixed_batch.json")),
    ]
    by_body = decode_audit_bodies([e.get_body() for e in events])
    direct = decode_audit_bodies(events)  # the objects themselves are accepted too
    assert [d.status for d in by_body] == [ACCEPTED, REJECTED, IGNORED, IGNORED, IGNORED, IGNORED, ACCEPTED]
    assert [(d.id, d.status, d.reason) for d in direct] == [(d.id, d.status, d.reason) for d in by_body]
    bad = by_body[1]
    assert bad.raw == b"\x00\x01garbage"
    assert bad.reason.startswith("body 1 is not valid JSON")
    assert by_body[6].id == "Directory_55555555-6666-4777-8888-999999999999_7XJ2K_412345900"


# -- garbage ---------------------------------------------------------------------------------------


def test_garbage_is_rejected_and_good_records_after_it_survive() -> None:
    good = load_bytes("audit_fic_added_first.json")
    no_props = first_record()
    del no_props["properties"]
    bad_json = first_record("audit_fic_added_second.json")
    fic_property(bad_json)["newValue"] = '[{"Name": "x", "Issuer": '
    bad_entry = first_record("audit_fic_issuer_changed.json")
    fic_property(bad_entry)["newValue"] = json.dumps([{"Issuer": GITHUB}])
    tail = first_record("audit_fic_removed.json")
    mixed = json.dumps({"records": [no_props, 5, bad_json, bad_entry, tail]}).encode()
    bodies: list[Any] = [
        b"this is not json",
        good[: len(good) // 2],  # truncated
        b'{"records": 5}',
        "\u00e9t\u00e9".encode("latin-1"),  # wrong encoding
        mixed,
        good,
    ]
    out = decode_audit_bodies(bodies)
    assert [d.status for d in out] == [REJECTED] * 4 + [REJECTED, REJECTED, REJECTED, REJECTED, ACCEPTED, ACCEPTED]
    not_json, truncated, records5, latin1, missing, five, nv_json, nv_entry, tail_d, good_d = out
    assert not_json.reason.startswith("body 0 is not valid JSON") and not_json.raw == bodies[0]
    assert truncated.reason.startswith("body 1 is truncated JSON") and truncated.raw == bodies[1]
    assert records5.reason == "body 2: 'records' is not a list (got number)" and records5.raw == bodies[2]
    assert latin1.reason.startswith("body 3 is not valid UTF-8") and latin1.raw == bodies[3]
    assert missing.reason.startswith("body 4 record 0: properties is missing")
    assert five.reason == "body 4 record 1 is not an object (got number)"
    assert nv_json.reason == (
        "body 4 record 2: properties.targetResources[0].modifiedProperties[0].newValue is not valid JSON"
    )
    assert nv_entry.reason == (
        "body 4 record 3: properties.targetResources[0].modifiedProperties[0].newValue[0]: 'Name' is missing"
    )
    # a rejected record parks its own JSON text, and keeps its record id when it has one
    assert isinstance(nv_json.raw, bytes) and json.loads(nv_json.raw) == bad_json and nv_json.raw in bodies[4]
    assert nv_json.id == bad_json["properties"]["id"]
    assert isinstance(missing.raw, bytes) and json.loads(missing.raw) == no_props
    assert missing.id == "e5bbd943-fcc7-489a-9b91-2844da394a70#0"
    assert kinds(tail_d) == [ChangeKind.CREDENTIAL_REMOVED]
    assert kinds(good_d) == [ChangeKind.CREDENTIAL_ADDED]
    for d in out:
        if d.status == REJECTED:
            assert d.reason and d.raw is not None and d.changes == ()


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r["properties"].__setitem__("targetResources", {"id": "x"}),
         "record: properties.targetResources is not a list (got object)"),
        (lambda r: r["properties"].pop("targetResources"), "record: properties.targetResources is missing"),
        (lambda r: r["properties"]["targetResources"][0].pop("id"), "record: properties.targetResources[0].id is missing"),
        (lambda r: r["properties"].pop("result"), "record: properties.result is missing"),
        (lambda r: r.__setitem__("properties", [1]), "record: properties is not an object (got array)"),
        (lambda r: fic_property(r).__setitem__("newValue", 7),
         "record: properties.targetResources[0].modifiedProperties[0].newValue is not a list of credentials (got number)"),
        (lambda r: fic_property(r).__setitem__("oldValue", "[1]"),
         "record: properties.targetResources[0].modifiedProperties[0].oldValue[0] is not an object (got number)"),
        (lambda r: fic_property(r).__setitem__("newValue", json.dumps([dict(B, Audiences="api://x")])),
         "record: properties.targetResources[0].modifiedProperties[0].newValue[0]: "
         "'Audiences' must be a list of strings, not a string"),
    ],
)
def test_malformed_records_name_the_field(mutate: Any, reason: str) -> None:
    rec = first_record()
    mutate(rec)
    d = only(decode_audit_bodies([rec]))
    assert (d.status, d.reason) == (REJECTED, reason)
    assert isinstance(d.raw, str) and json.loads(d.raw) == rec


def test_non_object_json_bodies_are_rejected() -> None:
    out = decode_audit_bodies([b"42", b"", b"   ", "null"])
    assert [d.status for d in out] == [REJECTED] * 4
    assert out[0].reason == "body 0 is not a JSON object or array (got number)"
    assert out[1].reason == "body 1 is empty" and out[1].raw == b""
    assert out[3].reason == "body 3 is not a JSON object or array (got null)"


def test_empty_records_list_yields_nothing() -> None:
    assert decode_audit_bodies([b'{"records": []}', {"records": []}]) == []
    assert decode_audit_bodies([]) == []


def test_replay_file_json_list_mixing_records_and_bodies() -> None:
    replay = load_json("audit_mixed_batch.json")["records"] + [load_json("audit_fic_removed.json")]
    out = decode_audit_bodies([json.dumps(replay)])
    assert [d.status for d in out] == [IGNORED] * 4 + [ACCEPTED, ACCEPTED]
    assert kinds(out[-1]) == [ChangeKind.CREDENTIAL_REMOVED]
    assert out[0].reason == "activity 'Add member to group' is not a federated credential change"


def test_generator_and_single_event_hub_event_input() -> None:
    body = load_bytes("audit_fic_added_first.json")
    assert only(decode_audit_bodies(b for b in [body])).id == FIRST_RECORD_ID
    assert only(decode_audit_bodies(func.EventHubEvent(body=body))).id == FIRST_RECORD_ID


def test_tenant_falls_back_to_resource_id_and_actor_may_be_absent() -> None:
    rec = first_record()
    del rec["tenantId"]
    rec["properties"]["initiatedBy"] = {"user": None, "app": None}
    change = only(decode_audit_bodies([rec])).changes[0]
    assert change.tenant_id == TENANT
    assert change.actor is None
    rec["properties"]["initiatedBy"] = "not an object"
    assert only(decode_audit_bodies([rec])).changes[0].actor is None
