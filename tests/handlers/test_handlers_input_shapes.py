"""Every input shape operators have (issue 16): Event Hub bodies, bare records, Graph
``directoryAudit`` objects (fields at the top level) alone, in lists and in ``{"value": [...]}``
pages, and NDJSON exports — each record reported on its own."""

from __future__ import annotations

import json
from pathlib import Path

from handlers.audit_logs import decode_audit_bodies
from handlers.base import ACCEPTED, IGNORED, REJECTED
from wifguard.domain.model import ChangeKind

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
STRATUS = REAL / "stratus-entra-backdoor-application-fic.json"
ELASTIC_NDJSON = REAL / "elastic-azure-auditlogs-raw.ndjson"


def _stratus() -> dict:
    return json.loads(STRATUS.read_text())


def test_bare_graph_directory_audit_is_accepted() -> None:
    [d] = decode_audit_bodies([STRATUS.read_bytes()])
    assert d.status == ACCEPTED, d.reason
    [c] = d.changes
    assert c.kind is ChangeKind.CREDENTIAL_ADDED
    assert c.identity_id == "[REMOVED]" and c.identity_name == "Stratus Red Team FIC application ly1h"
    assert c.new_credential is not None
    assert c.new_credential.issuer == "https://stratusficapply1h.blob.core.windows.net/oidc"
    assert c.new_credential.claims_matching_expression is None  # null value, language version 0


def test_graph_page_and_list_of_directory_audits_each_record_on_its_own() -> None:
    a, b = _stratus(), _stratus()
    a["id"], b["id"] = "Directory_A", "Directory_B"
    b["result"] = "failure"
    page = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits", "value": [a, b]}
    out = decode_audit_bodies([json.dumps(page).encode()])
    assert [(d.id, d.status) for d in out] == [("Directory_A", ACCEPTED), ("Directory_B", IGNORED)]
    listed = decode_audit_bodies([json.dumps([a, b, page]).encode()])
    assert [d.id for d in listed] == ["Directory_A", "Directory_B", "Directory_A", "Directory_B"]


def test_directory_audit_id_from_the_graph_object() -> None:
    rec = _stratus()
    rec["id"] = "Directory_7c1d_0ABC"
    [d] = decode_audit_bodies([json.dumps(rec)])
    assert d.id == "Directory_7c1d_0ABC"


def test_ndjson_export_each_line_reported_on_its_own() -> None:
    out = decode_audit_bodies([ELASTIC_NDJSON.read_bytes()])
    assert len(out) == 3
    assert all(d.status == IGNORED for d in out)
    assert all("Update device" in d.reason for d in out)


def test_ndjson_with_a_bad_line_rejects_that_line_only() -> None:
    good = json.dumps(_stratus())
    text = "\n".join([good, "{not json", json.dumps({"records": [_stratus()]}), ""])
    out = decode_audit_bodies([text])
    assert [d.status for d in out] == [ACCEPTED, REJECTED, ACCEPTED]
    assert out[1].reason.startswith("line 2 ") and out[1].raw == "{not json"


def test_a_single_line_of_garbage_is_still_one_rejected_body() -> None:
    [d] = decode_audit_bodies([b"this is not json"])
    assert d.status == REJECTED and "not valid JSON" in d.reason


def test_record_without_properties_or_directory_audit_fields_says_so() -> None:
    [d] = decode_audit_bodies([json.dumps({"operationName": "Update application", "time": "x"})])
    assert d.status == REJECTED and "directoryAudit" in d.reason


def test_agent_identity_blueprint_target_is_an_application_object() -> None:
    rec = _stratus()
    rec["targetResources"][0].update(id="aaaaaaaa-0000-4000-8000-0000000000b1", type="AgentIdentityBlueprint")
    [d] = decode_audit_bodies([json.dumps(rec)])
    assert d.status == ACCEPTED
    [c] = d.changes
    assert c.identity_id_kind == "objectId" and c.evidence["targetType"] == "AgentIdentityBlueprint"
