"""Hostile tenant text must be inert in every format (security-critical)."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notify_helpers import (
    APP_OBJECT_ID,
    UAMI_ID,
    card_facts,
    card_urls,
    make_finding,
    make_notice,
    rendered_texts,
    run_lines,
    run_texts,
    strings,
    validate_card,
    walk,
)

from wifguard.domain.model import Owner, Severity
from wifguard.notify import NoticeKind, cloud_event, portal_links, slack_message, teams_message
from wifguard.notify.escape import clean, mention_name, slack_text, teams_run, teams_text

EVIL_NAME = "**Admin** [click](https://evil.example/x) <at>Admin</at> <!channel> <@U123> <https://evil|click>"
EVIL_CRED = '{"type":"Action.OpenUrl","url":"https://evil"}'
EVIL_ISSUER = 'https://evil.example/"]}, {"type":"Action.OpenUrl","url":"https://evil"}'
EVIL_SUBJECT = "repo:x:ref:refs/heads/main\n\n# Heading\n- item\n> quote <at>Admin</at> <!here> `code` ~strike~ _it_ \u202egnp.exe"
EVIL_OWNER = Owner(
    id="aaaaaaaa-0000-4000-8000-0000000000ee",
    display_name="Eve</at><at>Admin",
    user_principal_name="eve@contoso.com",
)
EVIL_SP = Owner(id="sp-1", display_name="<at>Boss</at> <!channel>", kind="servicePrincipal")
GOOD_OWNER = Owner(
    id="aaaaaaaa-0000-4000-8000-000000000001", display_name="Alice", user_principal_name="alice@contoso.com"
)
MENTION = re.compile(r"<at>(.*?)</at>", re.S)


SPECIALS = set("\\`*_[]()#<>~&|{}!")


def unescaped_specials(text: str) -> list[str]:
    """Markdown/HTML metacharacters not preceded by an escaping backslash (parity-aware)."""
    found: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in SPECIALS:
            found.append(text[i])
        i += 1
    return found


def evil_notice(**kw: Any) -> Any:
    f = make_finding(
        identity={"id": APP_OBJECT_ID, "name": EVIL_NAME, "kind": "application"},
        credential={"name": EVIL_CRED, "issuer": EVIL_ISSUER, "subject": EVIL_SUBJECT},
        role_assignment={"id": "ra", "role": "Owner <!here>", "scope": "/subscriptions/s1 <@U999>"},
        title="Risky trust",
    )
    kw.setdefault("owners", (GOOD_OWNER, EVIL_OWNER, EVIL_SP))
    kw.setdefault("restore_hint", f"wifguard quarantine restore --name '{EVIL_CRED}'")
    kw.setdefault("kind", NoticeKind.QUARANTINED)
    return make_notice(f, **kw)


def assert_teams_inert(body: dict[str, Any], notice: Any, validator: Any, schema: Any) -> None:
    raw = json.dumps(body)
    parsed = json.loads(raw)
    assert parsed == body
    card = parsed["attachments"][0]["content"]
    validate_card(card, validator, schema)
    entities = card["msteams"]["entities"]
    # Mentions: only user owners of the notice, each exactly once, by UPN or object id.
    owner_ids = {o.user_principal_name or o.id for o in notice.owners if o.kind == "user"}
    assert {e["mentioned"]["id"] for e in entities} <= owner_ids
    entity_texts = [e["text"] for e in entities]
    assert len(set(entity_texts)) == len(entity_texts)
    body_mentions = [m for t in rendered_texts(card) for m in MENTION.findall(t)]
    assert sorted(f"<at>{m}</at>" for m in body_mentions) == sorted(entity_texts)
    markdown = json.dumps(rendered_texts(card))
    assert markdown.count("<at>") == len(entities)  # mentions only where Teams resolves them
    # Links: only portal links we built; only OpenUrl actions.
    allowed = {link.url for link in portal_links(notice)}
    assert set(card_urls(card)) <= allowed
    assert [a["type"] for a in card["actions"]][-1] == "Action.ToggleVisibility"
    assert all(a["type"] == "Action.OpenUrl" for a in card["actions"][:-1])
    assert [d for d in walk(card) if "selectAction" in d] == []
    # Markdown (TextBlock) carries only our own words and the mention tags: nothing from the tenant.
    for text in rendered_texts(card):
        own_markup = MENTION.sub("", text)
        for label in ("**Owners:**", "**Also on this identity**"):
            own_markup = own_markup.replace(label, "")
        assert unescaped_specials(own_markup) == [], text
        assert "\n" not in text
    # Tenant text is in TextRuns (never Markdown): one line, no bidi tricks, no backslashes
    # added, no text function left whole.
    inputs = json.dumps([notice.finding.to_dict(), [o.display_name for o in notice.owners], notice.restore_hint])
    for text in [*run_texts(card), card["fallbackText"]]:
        assert "\n" not in text and "\r" not in text
        assert "\u202e" not in text
        if "\\\\" not in inputs:  # (json doubles a backslash)
            assert "\\" not in text
        assert "{{DATE(" not in text and "{{TIME(" not in text


def test_teams_hostile_input_is_inert(card_validator: Any, card_schema: Any) -> None:
    notice = evil_notice()
    body = teams_message(notice)
    assert_teams_inert(body, notice, card_validator, card_schema)
    card = body["attachments"][0]["content"]
    assert "https://evil" not in json.dumps(rendered_texts(card))  # only ever plain text runs
    assert [a["url"] for a in card["actions"] if "url" in a] == [
        "https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/Credentials"
        f"/objectId/{APP_OBJECT_ID}",
        "https://portal.azure.com/#@72f988bf-86f1-41af-91ab-2d7cd011db47/resource/subscriptions/s1%20%3C%40U999%3E/users",
    ]
    # The hostile owner is still mentioned (it is a real owner), under a name that cannot
    # close or open a tag; the service principal is listed as plain text.
    assert [e["text"] for e in card["msteams"]["entities"]] == ["<at>Alice</at>", "<at>Eve at at Admin</at>"]
    assert "and <at>Boss</at> <!channel> (service principal)" in run_lines(card)
    # Values are shown verbatim (as plain text runs), not dropped and not escaped.
    facts = card_facts(card)
    assert facts["Credential"] == EVIL_CRED
    assert facts["Subject"].startswith("repo:x:ref:refs/heads/main  # Heading - item > quote <at>Admin</at>")
    assert "\ufffdgnp.exe" in facts["Subject"]
    assert EVIL_NAME in run_lines(card)[4]  # the trust path (after the band, the lead, restore)


def slack_blocks(msg: dict[str, Any]) -> list[dict[str, Any]]:
    return [*msg["blocks"], *(b for att in msg.get("attachments", []) for b in att["blocks"])]


def assert_slack_inert(msg: dict[str, Any], notice: Any) -> None:
    raw = json.dumps(msg, ensure_ascii=False)
    assert json.loads(raw) == msg
    blocks = slack_blocks(msg)
    # Tenant text only in plain_text; mrkdwn holds our bold labels and <@U…> pings of known ids.
    for d in walk(blocks):
        if isinstance(d.get("text"), str) and d["type"] == "mrkdwn":
            assert re.fullmatch(r"\*[A-Za-z :]+\*( <@[UW][A-Z0-9]+>(, <@[UW][A-Z0-9]+>)*)?", d["text"]), d["text"]
        elif isinstance(d.get("text"), str):
            assert d["type"] == "plain_text"
            assert "<" not in d["text"] and ">" not in d["text"]
            assert re.search(r"&(?!amp;|lt;|gt;)", d["text"]) is None
    urls = [d["url"] for d in walk(blocks) if "url" in d]
    assert set(urls) <= {link.url for link in portal_links(notice)}
    # No look-alike substitutions anywhere the reader sees.
    for ch in "\u2217\uff3f\u223c\u02cb":
        assert ch not in raw
    assert "<" not in msg["text"] and ">" not in msg["text"] and "\n" not in msg["text"]


def test_slack_hostile_input_is_inert() -> None:
    notice = evil_notice(chat_ids={"alice@contoso.com": "U0ALICE"})
    msg = slack_message(notice)
    assert_slack_inert(msg, notice)
    raw = json.dumps(msg, ensure_ascii=False)
    for token in ("<!channel>", "<!here>", "<@U123>", "<@U999>", "<https://evil|click>", "<at>"):
        assert token not in raw
    assert "&lt;!channel&gt;" in raw
    assert "<@U0ALICE>" in raw  # the real owner is pinged
    assert "**Admin** [click](https://evil.example/x)" in raw  # shown as typed, not substituted


def test_cloud_event_keeps_raw_values_but_stays_valid_json() -> None:
    notice = evil_notice()
    ev = cloud_event(notice)
    raw = json.dumps(ev)
    back = json.loads(raw)
    assert back["data"]["credential"] == {"name": EVIL_CRED, "issuer": EVIL_ISSUER, "subject": EVIL_SUBJECT}
    assert back["data"]["identity"]["name"] == EVIL_NAME
    assert back["subject"].startswith(f"/applications/{APP_OBJECT_ID}/federatedIdentityCredentials/")
    assert "/" not in back["subject"].split("/federatedIdentityCredentials/")[1]


def test_escape_functions_directly() -> None:
    assert teams_text("<at>x</at>") == "\\<at\\>x\\</at\\>"
    assert teams_text("- a") == "\\- a" and teams_text("12. a") == "12\\. a" and teams_text("a-b") == "a-b"
    assert (
        teams_text("{{DATE(2017-02-14T06:08:39Z, SHORT)}}")
        == "\\{\\{DATE\\(2017-02-14T06:08:39Z, SHORT\\)\\}\\}"
    )
    assert teams_text("a\\*b") == "a\\\\\\*b"
    assert teams_text("x" * 600, 10) == "x" * 9 + "\u2026"
    assert teams_run("**b** [l](https://e) <at>x</at>") == "**b** [l](https://e) <at>x</at>"
    assert teams_run("{{DATE(2017-02-14T06:08:39Z, SHORT)}} {{x}}") == "{ {DATE(2017-02-14T06:08:39Z, SHORT)}} {{x}}"
    assert teams_run(" a\nb ") == "a b"
    assert slack_text("a & <!here> > b") == "a &amp; &lt;!here&gt; &gt; b"
    assert slack_text("*b* _i_ ~s~ `c`") == "*b* _i_ ~s~ `c`"  # plain_text: shown as typed
    assert slack_text("ab&cd", 5) == "ab\u2026"  # never "ab&am…"
    assert mention_name("</at><at>Root") == "at at Root"
    assert mention_name("<>") == "owner"
    assert clean("a\nb\tc\u200bd\u2028e") == "a b c\ufffdd\ufffde"
    assert clean(None) == ""


# -- property: arbitrary tenant text never breaks the card or adds mentions/links -------------

_TOKENS = [
    *"<>[]()*_~`#!|{}&\\:/\"'@\n\r\t .-+",
    "<at>",
    "</at>",
    "<!channel>",
    "<@U1>",
    "https://",
    "](",
    "{{",
    "\u202e",
]
_text = st.lists(
    st.one_of(st.text(st.characters(codec="utf-8"), max_size=6), st.sampled_from(_TOKENS)),
    max_size=16,
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=_text,
    cred_name=_text,
    issuer=_text,
    subject=st.one_of(st.none(), _text),
    owner_name=_text,
    severity=st.sampled_from(list(Severity)),
    managed=st.booleans(),
)
def test_property_card_stays_valid_and_inert(
    card_validator: Any,
    card_schema: Any,
    name: str,
    cred_name: str,
    issuer: str,
    subject: str | None,
    owner_name: str,
    severity: Severity,
    managed: bool,
) -> None:
    ident = (
        {"id": UAMI_ID, "name": name, "kind": "managedIdentity"}
        if managed
        else {"id": APP_OBJECT_ID, "name": name, "kind": "application"}
    )
    f = make_finding(
        identity=ident,
        credential={"name": cred_name, "issuer": issuer, "subject": subject},
        severity=severity,
        message=f"Credential {cred_name} on {name} trusts {subject}",
    )
    owners = (
        GOOD_OWNER,
        Owner(id="o2", display_name=owner_name, user_principal_name="o2@contoso.com"),
        Owner(id="sp", display_name=owner_name, kind="servicePrincipal"),
    )
    notice = make_notice(f, owners=owners, restore_hint=subject, kind=NoticeKind.DRY_RUN)
    body = teams_message(notice)
    assert_teams_inert(body, notice, card_validator, card_schema)
    card = body["attachments"][0]["content"]
    assert len(card["msteams"]["entities"]) == 2
    assert len(card.get("actions", [])) == 2

    msg = slack_message(notice)
    assert_slack_inert(msg, notice)
    assert all(s != "" for s in strings(slack_blocks(msg)))

    ev = json.loads(json.dumps(cloud_event(notice)))
    assert ev["data"]["credential"]["subject"] == subject


def test_huge_hostile_values_keep_messages_within_chat_limits() -> None:
    blob = "<at>*_[x](https://e)</at>&" * 2000
    f = make_finding(
        identity={"id": APP_OBJECT_ID, "name": blob, "kind": "application"},
        credential={"name": blob, "issuer": blob, "subject": blob},
        role_assignment={"id": "ra", "role": blob, "scope": blob},
        message=blob,
        title=blob,
    )
    owners = tuple(
        Owner(id=f"o{i}", display_name=blob, user_principal_name=f"o{i}@contoso.com") for i in range(5)
    )
    notice = make_notice(f, owners=owners, kind=NoticeKind.QUARANTINED, restore_hint=blob)
    # Teams Workflows / Bot Framework reject messages over ~28 KB; Slack caps text objects.
    assert len(json.dumps(teams_message(notice)).encode()) < 28 * 1024
    msg = slack_message(notice)
    assert len(msg["blocks"][0]["text"]["text"]) <= 150
    assert len(json.dumps(msg).encode()) < 40 * 1024
    for d in walk(slack_blocks(msg)):
        if isinstance(d.get("text"), str):
            assert len(d["text"]) <= 3000
