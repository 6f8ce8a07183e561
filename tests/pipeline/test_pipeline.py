"""The one flow end to end: handler → Change → live re-read → evaluate → record → notify."""

from __future__ import annotations

import json
from typing import Any

from pipeline_helpers import (
    APPS,
    DOCS,
    GITHUB,
    PAYMENTS,
    SUB,
    UAMI,
    audit_record,
    fic,
)

from wifguard.pipeline.runtime import process_audit_bodies, process_event_grid
from wifguard.store import FindingStatus


def _body(*records: dict[str, Any]) -> bytes:
    return json.dumps({"records": list(records)}).encode()


def _rules_for(result: Any, identity_id: str) -> set[str]:
    return {f.rule_id for f in result.findings if f.identity["id"] == identity_id}


async def test_backdoor_added_by_non_owner_is_found_recorded_and_notified_once(responder: Any) -> None:
    backdoor = fic("backdoor", "https://evil0x.blob.core.windows.net/oidc", "attacker",
                   "f1000000-0000-4000-8000-000000000002", description="sync")
    prod = fic("prod", GITHUB, "repo:contoso/payments:environment:prod", "f1000000-0000-4000-8000-000000000001")
    rec = audit_record("rec-1", PAYMENTS, APPS[PAYMENTS][0], [prod], [prod, backdoor])
    result = await process_audit_bodies(responder, [_body(rec)])
    assert [(e.id, e.status) for e in result.events] == [("rec-1", "processed")]
    rules = _rules_for(result, PAYMENTS)
    # attacker-hosted issuer on an Owner app, changed by a user who is not an owner
    assert {"WIF101", "WIF102", "WIF602", "WIF601", "WIF701"} <= rules
    wif102 = next(f for f in result.findings if f.rule_id == "WIF102")
    assert wif102.credential is not None and wif102.credential["name"] == "backdoor"
    notified = [n["fingerprint"] for n in result.notifications]
    assert wif102.fingerprint in notified
    assert len(notified) == len(set(notified))
    # the notification is composed for Teams even though no channel is configured
    card = next(n for n in result.notifications if n["fingerprint"] == wif102.fingerprint)["messages"]["teams"]
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    stored = await responder.store.get(wif102.fingerprint)
    assert stored is not None and stored.status is FindingStatus.OPEN

    # Re-delivery of the same record: duplicate, no new notification, one row.
    again = await process_audit_bodies(responder, [_body(rec)])
    assert [(e.id, e.status) for e in again.events] == [("rec-1", "duplicate")]
    assert again.notifications == []
    rows = await responder.store.query(rule_id="WIF102")
    assert len(rows) == 1 and rows[0].occurrences == 1


async def test_garbage_is_parked_and_the_rest_of_the_batch_goes_on(responder: Any) -> None:
    good = audit_record("rec-good", DOCS, APPS[DOCS][0], [], [
        fic("pages", GITHUB, "repo:contoso/docs:ref:refs/heads/main", "f1000000-0000-4000-8000-000000000003")])
    bad = {"time": "2026-11-20T10:00:00Z", "operationName": "Update application", "properties": "not an object"}
    failed = audit_record("rec-failed", DOCS, APPS[DOCS][0], [], [], result="failure")
    result = await process_audit_bodies(responder, [b"{not json", _body(bad, good, failed)])
    statuses = [e.status for e in result.events]
    assert statuses == ["rejected", "rejected", "processed", "ignored"]
    assert all(e.reason for e in result.events if e.status != "processed")
    parked = await responder.store.list_rejected()
    assert len(parked) == 2
    assert {p.reason for p in parked} == {e.reason for e in result.events if e.status == "rejected"}
    # the good record after the garbage was fully evaluated: docs-site has no owners
    assert "WIF504" in _rules_for(result, DOCS)


async def test_removed_credential_resolves_its_findings(responder: Any, sim: Any) -> None:
    backdoor = fic("backdoor", "https://evil0x.blob.core.windows.net/oidc", "attacker",
                   "f1000000-0000-4000-8000-000000000002", description="sync")
    first = await process_audit_bodies(responder, [_body(audit_record("rec-a", PAYMENTS, "payments", [], [backdoor]))])
    fp = next(f.fingerprint for f in first.findings if f.rule_id == "WIF102")
    # the owner deletes the backdoor through Graph (the simulator persists it)...
    import httpx

    async with httpx.AsyncClient(verify=sim.ssl_context(), headers={"Authorization": f"Bearer {sim.token}"}) as h:
        r = await h.delete(f"{sim.graph_url}/v1.0/applications/{PAYMENTS}/federatedIdentityCredentials/backdoor")
        assert r.status_code == 204
    # ...and the audit record of the removal arrives
    second = await process_audit_bodies(responder, [_body(audit_record("rec-b", PAYMENTS, "payments", [backdoor], []))])
    assert second.events[0].status == "processed"
    assert "WIF102" not in _rules_for(second, PAYMENTS)
    row = await responder.store.get(fp)
    assert row is not None and row.status is FindingStatus.RESOLVED


def _eg(event_id: str, operation: str, resource: str, event_type: str = "Microsoft.Resources.ResourceWriteSuccess"
        ) -> dict[str, Any]:
    return {
        "id": event_id, "topic": f"/subscriptions/{SUB}", "subject": resource, "eventType": event_type,
        "eventTime": "2026-11-20T10:00:00Z", "dataVersion": "2", "metadataVersion": "1",
        "data": {"operationName": operation, "resourceUri": resource, "status": "Succeeded", "subscriptionId": SUB,
                 "tenantId": "t", "resourceProvider": operation.split("/")[0],
                 "authorization": {"scope": resource, "action": operation,
                                   "evidence": {"role": "Owner", "principalId": "0" * 32}},
                 "claims": {"http://schemas.microsoft.com/identity/claims/objectidentifier":
                            "c1000000-0000-4000-8000-000000000001", "name": "Ada Owner"}},
    }


async def test_event_grid_credential_and_role_assignment_events(responder: Any) -> None:
    ra_id = (f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/"
             "e1000000-0000-4000-8000-000000000001")
    events = json.dumps([
        _eg("eg-1", "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
            f"{UAMI}/federatedIdentityCredentials/web"),
        _eg("eg-2", "Microsoft.Authorization/roleAssignments/write", ra_id),
        _eg("eg-3", "Microsoft.Storage/storageAccounts/write",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"),
    ])
    result = await process_event_grid(responder, events)
    assert [(e.id, e.status) for e in result.events] == [("eg-1", "processed"), ("eg-2", "processed"),
                                                          ("eg-3", "ignored")]
    # the managed identity's default service account trust, owner from the resource group tag
    assert "WIF206" in _rules_for(result, UAMI)
    n = next(n for n in result.notifications if n["identity"]["id"] == UAMI)
    assert n["owners"] == ["platform@contoso.com"]
    # the role assignment event re-evaluated the assignee (payments, Owner at subscription)
    assert "WIF601" in _rules_for(result, PAYMENTS)
    again = await process_event_grid(responder, events)
    assert [e.status for e in again.events] == ["duplicate", "duplicate", "ignored"]


async def test_a_batch_reads_its_identities_together_with_the_same_results(responder: Any) -> None:
    from pipeline_helpers import RESPONDER_APP

    backdoor = fic("backdoor", "https://evil0x.blob.core.windows.net/oidc", "attacker",
                   "f1000000-0000-4000-8000-000000000002", description="sync")
    gone = "a1000000-0000-4000-8000-00000000dead"
    records = [
        audit_record("b-1", PAYMENTS, "payments", [], [backdoor]),
        audit_record("b-2", DOCS, "docs", [], []),
        audit_record("b-3", RESPONDER_APP, "responder", [], []),
        audit_record("b-4", gone, "deleted-app", [], []),
    ]
    before = responder.inventory.stats.requests
    result = await process_audit_bodies(responder, [_body(*records)])
    assert [(e.id, e.status) for e in result.events] == [("b-1", "processed"), ("b-2", "processed"),
                                                          ("b-3", "processed"), ("b-4", "processed")]
    assert {"WIF102", "WIF601", "WIF701"} <= _rules_for(result, PAYMENTS)
    assert "WIF504" in _rules_for(result, DOCS)
    assert _rules_for(result, gone) == set()
    # read together: $batch envelopes and one role-assignment listing, not ~5 requests per record
    assert responder.inventory.stats.requests - before <= 8
    one_by_one = (await responder.inventory.application_context(PAYMENTS))
    assert one_by_one is not None
    assert {ra.id for ra in one_by_one.role_assignments} == {
        f.role_assignment["id"] for f in result.findings
        if f.rule_id == "WIF601" and f.role_assignment and f.identity["id"] == PAYMENTS}
