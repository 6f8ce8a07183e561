"""Composition: Teams Adaptive Card, Slack Block Kit, CloudEvents (pure functions)."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from typing import Any

import pytest
from notify_helpers import (
    APP_ID,
    APP_OBJECT_ID,
    OWNERS,
    TENANT,
    UAMI_ID,
    card_facts,
    card_urls,
    make_finding,
    make_notice,
    rendered_texts,
    run_lines,
    validate_card,
    walk,
)

from wifguard.domain.model import Identity, IdentityKind, Owner, Severity
from wifguard.notify import (
    ChannelType,
    NoticeKind,
    PortalLink,
    cloud_event,
    compose,
    event_id,
    portal_links,
    slack_message,
    teams_card,
    teams_message,
)

APP_BLADE = "https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/Credentials"


# -- Teams ---------------------------------------------------------------------------------


def test_teams_envelope_is_a_workflows_message() -> None:
    body = teams_message(make_notice())
    assert body["type"] == "message"
    assert len(body["attachments"]) == 1
    att = body["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert att["contentUrl"] is None
    assert att["content"]["type"] == "AdaptiveCard"
    assert att["content"]["version"] in ("1.4", "1.5")


@pytest.mark.parametrize("kind", list(NoticeKind))
@pytest.mark.parametrize("severity", list(Severity))
def test_teams_card_is_schema_valid(
    kind: NoticeKind, severity: Severity, card_validator: Any, card_schema: Any
) -> None:
    notice = make_notice(
        make_finding(severity=severity), kind=kind, restore_hint="wifguard quarantine restore q-1"
    )
    validate_card(teams_card(notice), card_validator, card_schema)


def test_schema_check_would_catch_a_bad_card(card_validator: Any, card_schema: Any) -> None:
    import jsonschema

    card = teams_card(make_notice())
    card["body"].append({"type": "TextBlock", "txt": "typo"})
    with pytest.raises(jsonschema.ValidationError):
        validate_card(card, card_validator, card_schema)


def test_teams_card_shows_the_finding() -> None:
    f = make_finding(
        severity=Severity.CRITICAL,
        role_assignment={
            "id": "/subscriptions/s1/providers/x/roleAssignments/r1",
            "role": "Owner",
            "scope": "/subscriptions/s1",
        },
    )
    card = teams_card(make_notice(f))
    header = card["body"][0]
    assert header["type"] == "Container" and header["style"] == "attention"
    band = run_lines(header)
    assert band[0].startswith("\u25a0 CRITICAL")
    assert band[1] == "WIF-001 \u2014 Subject trusts every branch of a repository"
    # The first line under the band is the trust path in words.
    path = run_lines(card)[2]
    assert path == (
        "GitHub Actions \u2192 repo:contoso/infra:ref:refs/heads/* \u2192 deploy-app (app registration)"
        " \u2192 Owner @ subscription s1"
    )
    facts = card_facts(card)
    assert facts["Issuer"] == "https://token.actions.githubusercontent.com"
    assert facts["Subject"] == "repo:contoso/infra:ref:refs/heads/*"
    assert facts["Role"] == "Owner @ subscription s1"
    assert facts["Credential"] == "github-main"
    assert facts["Remediation"] == "Pin the subject to one branch or environment."
    # Ids are in the hidden details container, shown by a toggle.
    details = next(d for d in walk(card) if d.get("id") == "wifguard-ids")
    assert details["isVisible"] is False
    assert card_facts(details)["Identity id"] == APP_OBJECT_ID
    assert card_facts(details)["Scope"] == "/subscriptions/s1"
    assert card["actions"][-1] == {
        "type": "Action.ToggleVisibility", "title": "Show ids", "targetElements": ["wifguard-ids"]
    }
    assert card["fallbackText"].startswith("CRITICAL: WIF-001 Subject trusts every branch")
    assert "\\" not in card["fallbackText"]


def test_severity_bands() -> None:
    styles = {s: teams_card(make_notice(make_finding(severity=s)))["body"][0]["style"] for s in Severity}
    assert styles[Severity.CRITICAL] == "attention"
    assert styles[Severity.HIGH] == "warning"
    assert styles[Severity.MEDIUM] == "accent"
    assert styles[Severity.LOW] == "emphasis"
    # Severity text is never coloured: default colour on the band is what meets contrast.
    for s in Severity:
        band = teams_card(make_notice(make_finding(severity=s)))["body"][0]
        assert all("color" not in d for d in walk(band))


def test_grouped_notice_lists_the_others_worst_first() -> None:
    worst = make_finding(severity=Severity.CRITICAL, rule_id="WIF601")
    others = tuple(
        make_finding(severity=sev, rule_id=f"WIF60{i}", title=f"t{i}")
        for i, sev in enumerate([Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.LOW, Severity.INFO, Severity.INFO])
    )
    card = teams_card(make_notice(worst, others=others))
    lines = run_lines(card)
    listed = [ln for ln in lines if ln.split(" ")[0] in {"HIGH", "MEDIUM", "LOW", "INFO"}]
    assert [ln.split(" ")[1] for ln in listed] == ["WIF600", "WIF601", "WIF602", "WIF603"]
    assert "and 2 more" in lines
    assert "(+6 more)" in card["fallbackText"]


def test_owners_are_mentioned_with_entities() -> None:
    card = teams_card(make_notice())
    entities = card["msteams"]["entities"]
    assert entities == [
        {
            "type": "mention",
            "text": "<at>Alice Admin</at>",
            "mentioned": {"id": "alice@contoso.com", "name": "Alice Admin"},
        },
        {
            "type": "mention",
            "text": "<at>Bob Builder</at>",
            "mentioned": {"id": "bob@contoso.com", "name": "Bob Builder"},
        },
    ]
    owner_lines = [t for t in rendered_texts(card) if t.startswith("**Owners:**")]
    assert owner_lines == ["**Owners:** <at>Alice Admin</at>, <at>Bob Builder</at>"]
    # The owners line comes right after the trust path, before the details.
    kinds = [d.get("type") for d in card["body"]]
    assert kinds.index("TextBlock") == 2


def test_service_principal_owner_is_listed_not_mentioned() -> None:
    owners = (*OWNERS, Owner(id="sp-1", display_name="ci-robot", kind="servicePrincipal"))
    card = teams_card(make_notice(owners=owners))
    assert [e["mentioned"]["id"] for e in card["msteams"]["entities"]] == [
        "alice@contoso.com",
        "bob@contoso.com",
    ]
    line = next(t for t in rendered_texts(card) if t.startswith("**Owners:**"))
    assert line.count("<at>") == 2 and "ci-robot" not in line
    assert "and ci-robot (service principal)" in run_lines(card)


def test_owner_without_upn_is_mentioned_by_object_id_and_duplicates_collapse() -> None:
    owners = (Owner(id="oid-9", display_name="No Upn"), Owner(id="OID-9", display_name="No Upn"))
    card = teams_card(make_notice(owners=owners))
    assert card["msteams"]["entities"] == [
        {"type": "mention", "text": "<at>No Upn</at>", "mentioned": {"id": "oid-9", "name": "No Upn"}}
    ]


def test_two_owners_with_the_same_name_get_distinct_mentions() -> None:
    owners = (
        Owner(id="1", display_name="Sam", user_principal_name="sam1@contoso.com"),
        Owner(id="2", display_name="Sam", user_principal_name="sam2@contoso.com"),
    )
    texts = [e["text"] for e in teams_card(make_notice(owners=owners))["msteams"]["entities"]]
    assert len(set(texts)) == 2
    assert texts[0] == "<at>Sam</at>"


def test_no_owners_and_unknown_owners_are_said_plainly() -> None:
    none_card = teams_card(make_notice(owners=()))
    assert none_card["msteams"]["entities"] == []
    assert "none recorded" in card_facts(none_card)["Owners"]
    unknown = teams_card(make_notice(owners=(), owners_known=False))
    assert card_facts(unknown)["Owners"].startswith("unknown")


def test_portal_link_for_app_by_app_id_and_by_object_id() -> None:
    by_ref = teams_card(make_notice())
    assert card_urls(by_ref) == [f"{APP_BLADE}/objectId/{APP_OBJECT_ID}"]
    ident = Identity(id=APP_OBJECT_ID, name="deploy-app", kind=IdentityKind.APPLICATION, app_id=APP_ID)
    by_app = teams_card(make_notice(identity=ident))
    assert card_urls(by_app) == [f"{APP_BLADE}/appId/{APP_ID}"]
    assert [a["type"] for a in by_app["actions"]] == ["Action.OpenUrl", "Action.ToggleVisibility"]
    assert card_facts(by_app)["Application (client) id"] == APP_ID


def test_portal_link_for_managed_identity_and_role_scope() -> None:
    f = make_finding(
        identity={"id": UAMI_ID, "name": "id-deploy", "kind": "managedIdentity"},
        role_assignment={
            "id": "ra",
            "role": "Contributor",
            "scope": "/subscriptions/11111111-2222-3333-4444-555555555555",
        },
    )
    links = portal_links(make_notice(f))
    assert [link.url for link in links] == [
        f"https://portal.azure.com/#@{TENANT}/resource{UAMI_ID}/federatedcredentials",
        f"https://portal.azure.com/#@{TENANT}/resource/subscriptions/11111111-2222-3333-4444-555555555555/users",
    ]


def test_portal_link_ids_are_url_quoted() -> None:
    ident = Identity(id="x", name="n", kind=IdentityKind.APPLICATION, app_id="a b/../#?x=1")
    (link,) = portal_links(make_notice(identity=ident))
    assert link.url == f"{APP_BLADE}/appId/a%20b%2F..%2F%23%3Fx%3D1"
    mi = make_finding(
        identity={
            "id": "/subscriptions/s/resourceGroups/r g/providers/p/x/a#b",
            "name": "n",
            "kind": "managedIdentity",
        }
    )
    (mlink,) = portal_links(make_notice(mi, tenant_id="t/../evil"))
    assert (
        mlink.url
        == "https://portal.azure.com/#@t%2F..%2Fevil/resource/subscriptions/s/resourceGroups/r%20g/providers/p/x/a%23b/federatedcredentials"
    )


def test_caller_links_only_to_portal_hosts() -> None:
    links = (
        PortalLink("Entra", "https://entra.microsoft.com/#view/x"),
        PortalLink("Evil", "https://evil.example/portal.azure.com"),
        PortalLink("Plain http", "http://portal.azure.com/x"),
        PortalLink("Userinfo", "https://portal.azure.com@evil.example/"),
    )
    urls = [link.url for link in portal_links(make_notice(links=links))]
    assert urls == [f"{APP_BLADE}/objectId/{APP_OBJECT_ID}", "https://entra.microsoft.com/#view/x"]


def test_restore_hint_only_for_quarantine_kinds() -> None:
    hint = "wifguard quarantine restore 0123"
    q = teams_card(make_notice(kind=NoticeKind.QUARANTINED, restore_hint=hint))
    # A quarantine card leads with the consequence, then how to restore, then the trust path.
    lines = run_lines(q)
    assert lines[2].startswith("Credential github-main was deleted from deploy-app.")
    assert "will fail until it is restored" in lines[2]
    assert lines[3] == "Restore: " + hint
    n = teams_card(make_notice(kind=NoticeKind.NEW, restore_hint=hint))
    assert not any("restore 0123" in t for t in run_lines(n))


def test_managed_identity_without_credential_role_finding() -> None:
    f = make_finding(
        identity={"id": UAMI_ID, "name": "id-deploy", "kind": "managedIdentity"},
        credential={},
        role_assignment={"id": "ra", "role": "Owner", "scope": "/"},
    )
    f = dataclasses.replace(f, credential=None)
    card = teams_card(make_notice(f))
    facts = card_facts(card)
    assert "Issuer" not in facts and facts["Role"] == "Owner @ the tenant root"
    assert run_lines(card)[2] == "id-deploy (managed identity) \u2192 Owner @ the tenant root"


# -- Slack -----------------------------------------------------------------------------------


def slack_blocks(msg: dict[str, Any]) -> list[dict[str, Any]]:
    return [*msg["blocks"], *(b for att in msg.get("attachments", []) for b in att["blocks"])]


def test_slack_blocks_shape() -> None:
    msg = slack_message(
        make_notice(
            identity=Identity(
                id=APP_OBJECT_ID, name="deploy-app", kind=IdentityKind.APPLICATION, app_id=APP_ID
            )
        )
    )
    assert msg["text"].startswith("HIGH: WIF-001")
    assert msg["unfurl_links"] is False and msg["unfurl_media"] is False
    types = [b["type"] for b in msg["blocks"]]
    assert types[0] == "header"
    header = msg["blocks"][0]["text"]
    assert header["type"] == "plain_text" and len(header["text"]) <= 150
    assert "HIGH \u00b7 WIF-001" in header["text"]
    # The trust path comes right after the header.
    path = next(b for b in msg["blocks"] if b["type"] == "section")
    assert path["text"]["text"].startswith("GitHub Actions \u2192 repo:contoso/infra:ref:refs/heads/*")
    # The colour bar carries the severity; details live in the attachment.
    (att,) = msg["attachments"]
    assert att["color"] == "#E8590C"
    fields = next(b for b in att["blocks"] if b["type"] == "section" and "fields" in b)["fields"]
    assert 2 <= len(fields) <= 10 and len(fields) % 2 == 0
    pairs = {fields[i]["text"]: fields[i + 1] for i in range(0, len(fields), 2)}
    assert pairs["*Subject*"] == {"type": "plain_text", "text": "repo:contoso/infra:ref:refs/heads/*", "emoji": False}
    assert all(f["type"] == "mrkdwn" for f in fields[::2])  # labels: our words, bold
    actions = next(b for b in att["blocks"] if b["type"] == "actions")["elements"]
    assert actions == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open app registration", "emoji": False},
            "url": f"{APP_BLADE}/appId/{APP_ID}",
            "action_id": "wifguard-link-0",
        }
    ]
    owners = [e["text"] for b in msg["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert "Alice Admin (alice@contoso.com), Bob Builder (bob@contoso.com)" in owners


def test_slack_colours_per_severity() -> None:
    colours = {s: slack_message(make_notice(make_finding(severity=s)))["attachments"][0]["color"] for s in Severity}
    assert len(set(colours.values())) == len(Severity)


def test_slack_owners_with_known_ids_are_pinged() -> None:
    notice = make_notice(chat_ids={"alice@contoso.com": "U0ALICE", "bob@contoso.com": "not an id <!channel>"})
    msg = slack_message(notice)
    pings = [b["text"]["text"] for b in msg["blocks"] if b["type"] == "section" and b["text"]["type"] == "mrkdwn"]
    assert pings == ["*Owners:* <@U0ALICE>"]
    rest = [e["text"] for b in msg["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert "Bob Builder (bob@contoso.com)" in rest and "*Also owned by:*" in rest
    # Keys match the owner's mail or object id too, case-insensitively.
    by_mail = slack_message(make_notice(chat_ids={"alice.admin@contoso.com": "W0ALICE"}))
    assert "<@W0ALICE>" in json.dumps(by_mail)


def test_slack_mrkdwn_holds_only_our_words() -> None:
    msg = slack_message(make_notice(kind=NoticeKind.DRY_RUN, restore_hint="restore me", others=(make_finding(),)))
    text_objects = [d for d in walk(slack_blocks(msg)) if "text" in d and isinstance(d["text"], str)]
    assert text_objects, "expected text objects"
    for d in text_objects:
        assert len(d["text"]) >= 1
        if d["type"] == "mrkdwn":
            assert re.fullmatch(r"\*[A-Za-z :]+\*( <@U[A-Z0-9]+>(, <@U[A-Z0-9]+>)*)?", d["text"]), d["text"]


def test_slack_long_title_is_cut_to_header_limit_without_splitting_entities() -> None:
    msg = slack_message(make_notice(make_finding(title="x" * 400)))
    assert len(msg["blocks"][0]["text"]["text"]) <= 150
    for n in range(120, 160):
        header = slack_message(make_notice(make_finding(title="a" * n + "&<>" * 20)))["blocks"][0]["text"]["text"]
        assert len(header) <= 150
        assert re.search(r"&(?!amp;|lt;|gt;)", header) is None, header


# -- CloudEvents -----------------------------------------------------------------------------


def test_cloud_event_fields() -> None:
    notice = make_notice()
    ev = cloud_event(notice)
    assert ev["specversion"] == "1.0"
    assert ev["source"] == f"/wifguard/{TENANT}"
    assert ev["type"] == "com.wifguard.finding.opened"
    assert ev["subject"] == f"/applications/{APP_OBJECT_ID}/federatedIdentityCredentials/github-main"
    assert ev["time"] == "2025-01-02T03:04:05Z"
    assert ev["datacontenttype"] == "application/json"
    assert ev["severity"] == "high" and ev["ruleid"] == "wif-001"
    assert uuid.UUID(ev["id"]).version == 5
    data = ev["data"]
    f = notice.finding.to_dict()
    assert {k: data[k] for k in f} == f
    assert data["notice"]["kind"] == "new"
    assert [o["userPrincipalName"] for o in data["notice"]["owners"]] == [
        "alice@contoso.com",
        "bob@contoso.com",
    ]
    assert json.loads(json.dumps(ev)) == ev


def test_cloud_event_id_is_deterministic_per_fingerprint_and_kind() -> None:
    a = make_notice()
    assert event_id(a) == event_id(make_notice()) == cloud_event(a)["id"]
    assert event_id(a) != event_id(make_notice(kind=NoticeKind.REMINDER))
    assert event_id(make_notice(kind=NoticeKind.REMINDER, sequence=1)) != event_id(
        make_notice(kind=NoticeKind.REMINDER, sequence=2)
    )
    other = make_notice(make_finding(rule_id="WIF-002"))
    assert event_id(other) != event_id(a)


@pytest.mark.parametrize(
    ("kind", "etype"),
    [
        (NoticeKind.NEW, "com.wifguard.finding.opened"),
        (NoticeKind.REMINDER, "com.wifguard.finding.reminder"),
        (NoticeKind.QUARANTINED, "com.wifguard.finding.quarantined"),
        (NoticeKind.DRY_RUN, "com.wifguard.finding.quarantine_dryrun"),
    ],
)
def test_cloud_event_types(kind: NoticeKind, etype: str) -> None:
    assert cloud_event(make_notice(kind=kind))["type"] == etype


def test_cloud_event_for_managed_identity_subject_and_unknown_tenant() -> None:
    f = make_finding(identity={"id": UAMI_ID, "name": "id-deploy", "kind": "managedIdentity"})
    ev = cloud_event(make_notice(f, tenant_id=""))
    assert ev["subject"] == f"{UAMI_ID}/federatedIdentityCredentials/github-main"
    assert ev["source"] == "/wifguard/unknown"


def test_cloud_event_evidence_with_non_json_values_still_serialises() -> None:
    import datetime as dt

    f = make_finding()
    f = dataclasses.replace(f, evidence={"seen": dt.date(2025, 1, 1)})
    ev = cloud_event(make_notice(f))
    assert ev["data"]["evidence"] == {"seen": "2025-01-01"}


# -- dispatch --------------------------------------------------------------------------------


def test_compose_dispatch_and_unknown_type() -> None:
    n = make_notice()
    assert compose(n, "teams") == teams_message(n)
    assert compose(n, ChannelType.SLACK) == slack_message(n)
    assert compose(n, "webhook") == cloud_event(n) == compose(n, "EventGrid")
    with pytest.raises(ValueError, match="unknown channel type 'email'"):
        compose(n, "email")
