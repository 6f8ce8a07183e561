"""Evidence that outlives the identity: an audit record whose identity or credential cannot be
read live is evaluated as the event carries it (``evidence: event``), recorded like a change
finding, and says so in its event status; WIF703 from the credential trail."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import APPS, GITHUB, PAYMENTS, audit_record, fic

from wifguard.pipeline.runtime import process_audit_bodies
from wifguard.store import FindingStatus

REAL = Path(__file__).resolve().parent.parent / "data" / "real"
BLOB = "https://evil0x.blob.core.windows.net/oidc"
GONE_APP = "a1000000-0000-4000-8000-0000000000dd"  # a GUID no application of the tenant has


def _body(*records: dict[str, Any]) -> bytes:
    return json.dumps({"records": list(records)}).encode()


def _at(rec: dict[str, Any], when: str) -> dict[str, Any]:
    rec = copy.deepcopy(rec)
    rec["time"] = rec["properties"]["activityDateTime"] = when
    return rec


async def test_verbatim_stratus_record_yields_wif102_from_the_events_evidence(responder: Any) -> None:
    raw = (REAL / "stratus-entra-backdoor-application-fic.json").read_bytes()
    result = await process_audit_bodies(responder, [raw])
    [event] = result.events
    assert event.status == "processed"
    assert "evaluated from the event's evidence" in event.reason and "[REMOVED]" in event.reason
    wif102 = next(f for f in result.findings if f.rule_id == "WIF102")
    d = wif102.to_dict()
    assert d["evidence"] == "event"
    assert d["credential"]["issuer"] == "https://stratusficapply1h.blob.core.windows.net/oidc"
    assert d["identity"]["name"] == "Stratus Red Team FIC application ly1h"
    assert "could not be read live" in d["evidence_detail"]["why"]
    # no privilege facts are claimed from an event
    assert not {f.rule_id for f in result.findings} & {"WIF601", "WIF602", "WIF603", "WIF604", "WIF605"}
    stored = await responder.store.get(wif102.fingerprint)
    assert stored is not None and stored.status is FindingStatus.OPEN
    assert stored.evidence.get("basis") == "event"
    assert wif102.fingerprint in {n["fingerprint"] for n in result.notifications}


async def test_record_for_an_app_that_no_longer_exists_is_evaluated_from_the_event(responder: Any) -> None:
    backdoor = fic("backdoor", BLOB, "attacker", "f1000000-0000-4000-8000-0000000000aa")
    rec = audit_record("gone-1", GONE_APP, "deleted-app", [], [backdoor])
    result = await process_audit_bodies(responder, [_body(rec)])
    assert result.events[0].status == "processed"
    assert "evaluated from the event's evidence" in result.events[0].reason
    rules = {f.rule_id for f in result.findings if f.identity["id"] == GONE_APP}
    assert "WIF102" in rules
    assert all(f.to_dict().get("evidence") == "event" for f in result.findings if f.identity["id"] == GONE_APP)

    # A later record about the same (still missing) identity resolves nothing made from evidence.
    again = await process_audit_bodies(responder, [_body(audit_record("gone-2", GONE_APP, "deleted-app", [backdoor],
                                                                      [backdoor, fic("x", GITHUB, "repo:c/r:x", "f9")]))])
    assert again.events[0].status == "processed"
    fp = next(f.fingerprint for f in result.findings if f.rule_id == "WIF102")
    row = await responder.store.get(fp)
    assert row is not None and row.status is FindingStatus.OPEN


async def test_removal_for_a_missing_app_with_nothing_to_evaluate_says_why(responder: Any) -> None:
    gone = fic("old", GITHUB, "repo:contoso/x:environment:prod", "f1000000-0000-4000-8000-0000000000ab")
    result = await process_audit_bodies(responder, [_body(audit_record("gone-3", GONE_APP, "deleted", [gone], []))])
    [event] = result.events
    assert event.status == "processed" and "could not be read live" in event.reason
    assert not result.findings  # removal of a credential never seen added: no WIF703, nothing else


async def test_credential_already_removed_when_the_add_is_handled(responder: Any) -> None:
    """The add event arrives after the credential was removed again: its copy is evaluated."""
    backdoor = fic("hit-and-run", BLOB, "attacker", "f1000000-0000-4000-8000-0000000000ac")
    prod = fic("prod", GITHUB, "repo:contoso/payments:environment:prod", "f1000000-0000-4000-8000-000000000001")
    rec = audit_record("hr-1", PAYMENTS, APPS[PAYMENTS][0], [prod], [prod, backdoor])
    result = await process_audit_bodies(responder, [_body(rec)])
    assert "no longer on" in result.events[0].reason
    hits = [f for f in result.findings if f.credential and f.credential["name"] == "hit-and-run"]
    by_rule = {f.rule_id: f for f in hits}
    assert "WIF102" in by_rule and by_rule["WIF102"].to_dict()["evidence"] == "event"
    assert "WIF602" not in by_rule  # no privilege facts from the event's copy
    # the live identity's own findings are still live ones
    live = [f for f in result.findings if f.rule_id == "WIF601"]
    assert live and all("evidence" not in f.to_dict() for f in live)


@pytest.mark.parametrize("order", ["add-first", "remove-first"])
@pytest.mark.parametrize(("removed_at", "fires"), [("2026-11-20T10:25:00Z", True), ("2026-11-20T11:00:00Z", True),
                                                   ("2026-11-20T11:00:01Z", False)])
async def test_wif703_added_and_removed_within_the_window(responder: Any, order: str, removed_at: str,
                                                          fires: bool) -> None:
    backdoor = fic("blink", BLOB, "attacker", "f1000000-0000-4000-8000-0000000000ad")
    add = _at(audit_record(f"add-{order}-{removed_at}", PAYMENTS, "payments", [], [backdoor]),
              "2026-11-20T10:00:00.1234567Z")
    rem = _at(audit_record(f"rem-{order}-{removed_at}", PAYMENTS, "payments", [backdoor], []), removed_at)
    first, second = (add, rem) if order == "add-first" else (rem, add)
    r1 = await process_audit_bodies(responder, [_body(first)])
    r2 = await process_audit_bodies(responder, [_body(second)])
    found = [f for f in r1.findings + r2.findings if f.rule_id == "WIF703"]
    assert bool(found) is fires, [f.message for f in found]
    if fires:
        f = found[0]
        assert f.severity.label == "high" and "'blink'" in f.message
        assert {x.fingerprint for x in found} == {f.fingerprint}  # one finding, whichever record completes it


async def test_wif703_window_is_configurable(env: dict[str, str], tmp_path: Path) -> None:
    from wifguard.pipeline.runtime import build_responder
    from wifguard.settings import Settings

    cfg = tmp_path / "c.yaml"
    cfg.write_text("add_remove_window_minutes: 5\n")
    r = await build_responder(Settings.from_env(env), config_path=str(cfg))
    try:
        backdoor = fic("blink2", BLOB, "attacker", "f1000000-0000-4000-8000-0000000000ae")
        add = _at(audit_record("w-add", PAYMENTS, "payments", [], [backdoor]), "2026-11-20T10:00:00Z")
        rem = _at(audit_record("w-rem", PAYMENTS, "payments", [backdoor], []), "2026-11-20T10:06:00Z")
        await process_audit_bodies(r, [_body(add)])
        out = await process_audit_bodies(r, [_body(rem)])
        assert "WIF703" not in {f.rule_id for f in out.findings}
    finally:
        await r.close()
        await r.store.close()


def _eg_write(event_id: str, resource: str) -> dict[str, Any]:
    from pipeline_helpers import SUB

    op = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"
    return {"id": event_id, "topic": f"/subscriptions/{SUB}", "subject": resource,
            "eventType": "Microsoft.Resources.ResourceWriteSuccess", "eventTime": "2026-11-20T10:00:00Z",
            "dataVersion": "2", "metadataVersion": "1",
            "data": {"operationName": op, "resourceUri": resource, "status": "Succeeded", "subscriptionId": SUB,
                     "tenantId": "t", "resourceProvider": "Microsoft.ManagedIdentity",
                     "authorization": {"scope": resource, "action": op}, "claims": {}}}


async def test_event_grid_write_of_a_credential_already_gone_says_why(responder: Any) -> None:
    from pipeline_helpers import SUB, UAMI

    from wifguard.pipeline.runtime import process_event_grid

    gone_uami = UAMI.replace("id-aks-web", "id-deleted")
    events = json.dumps([_eg_write("eg-gone-cred", f"{UAMI}/federatedIdentityCredentials/vanished"),
                         _eg_write("eg-gone-uami", f"{gone_uami}/federatedIdentityCredentials/x")])
    result = await process_event_grid(responder, events)
    by_id = {e.id: e for e in result.events}
    assert by_id["eg-gone-cred"].status == "processed"
    assert "'vanished' is no longer on 'id-aks-web'" in by_id["eg-gone-cred"].reason
    assert "event carries no copy" in by_id["eg-gone-cred"].reason
    assert by_id["eg-gone-uami"].status == "processed"
    assert "nothing to evaluate" in by_id["eg-gone-uami"].reason
    assert SUB in gone_uami
