"""Slack messages (incoming webhook, Block Kit) for owner notices.

Layout: the header (severity, rule, title), the trust path in words, the owners line (a real
``<@U…>`` ping for every owner whose Slack id is known), then — inside an attachment whose colour
bar carries the severity — the message, label/value facts, other findings of the identity,
remediation, portal buttons and the ids.

Untrusted text only ever lands in ``plain_text`` objects, escaped the Slack way (``&``, ``<``,
``>`` as entities; a cut never splits one). ``mrkdwn`` objects hold only our own words: bold
labels and ``<@U…>`` pings built from ids that match Slack's member-id format. No look-alike
characters are substituted anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wifguard.catalogue.guidance import rule_guidance
from wifguard.domain.model import Severity

from .escape import slack_text
from .notice import Notice, NoticeKind, portal_links
from .owners import owner_keys, owner_label, unique_owners
from .teams import GROUP_SHOWN, KIND_LABEL
from .trustpath import trust_path

HEADER_LIMIT = 150
FIELD_LIMIT = 2000
TEXT_LIMIT = 3000

# Attachment colour bar per severity (CRITICAL and HIGH clearly apart).
COLOR: Mapping[Severity, str] = {
    Severity.CRITICAL: "#B0001E",
    Severity.HIGH: "#E8590C",
    Severity.MEDIUM: "#D4A72C",
    Severity.LOW: "#2F81F7",
    Severity.INFO: "#8C959F",
}
MARK: Mapping[Severity, str] = {
    Severity.CRITICAL: "\U0001f6a8",  # rotating light
    Severity.HIGH: "\U0001f534",  # red circle
    Severity.MEDIUM: "\U0001f7e0",  # orange circle
    Severity.LOW: "\U0001f535",  # blue circle
    Severity.INFO: "\u26aa",  # white circle
}

# Slack member ids: U… or W… (Enterprise Grid), upper-case letters and digits.
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def plain(text: str, limit: int = TEXT_LIMIT) -> dict[str, Any]:
    """A plain_text object from untrusted (or any) text; Slack needs at least one character."""
    return {"type": "plain_text", "text": slack_text(text, limit) or "-", "emoji": False}


def label(text: str) -> dict[str, Any]:
    """A mrkdwn label of our own words (never tenant text)."""
    return {"type": "mrkdwn", "text": f"*{text}*", "verbatim": True}


def _header(notice: Notice) -> str:
    f = notice.finding
    head = f"{MARK[f.severity]} {f.severity.label.upper()} \u00b7 {slack_text(f.rule_id, 32)} \u2014 "
    return head + slack_text(f.title, HEADER_LIMIT - len(head))


def slack_ids(notice: Notice) -> tuple[list[str], list[str]]:
    """(member ids to ping, labels of owners with no known Slack id), owners de-duplicated."""
    ids: list[str] = []
    others: list[str] = []
    for owner in unique_owners(notice.owners):
        uid = next((notice.chat_ids[k] for k in owner_keys(owner) if k in notice.chat_ids), "")
        if owner.kind == "user" and SLACK_USER_ID.match(uid):
            if uid not in ids:
                ids.append(uid)
            continue
        text = owner_label(owner)
        addr = owner.user_principal_name or owner.mail
        if owner.kind == "servicePrincipal":
            text += " (service principal)"
        elif addr and addr != text:
            text += f" ({addr})"
        others.append(text)
    return ids, others


def _owner_blocks(notice: Notice) -> list[dict[str, Any]]:
    if not notice.owners_known:
        return [{"type": "context", "elements": [label("Owners:"), plain("unknown (the owner list could not be read)")]}]
    ids, others = slack_ids(notice)
    if not ids and not others:
        return [{"type": "context", "elements": [
            label("Owners:"), plain("none recorded \u2014 please assign an owner to this identity")]}]
    blocks: list[dict[str, Any]] = []
    if ids:
        pings = ", ".join(f"<@{uid}>" for uid in ids)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Owners:* {pings}"}})
    if others:
        blocks.append({"type": "context", "elements": [
            label("Owners:" if not ids else "Also owned by:"), plain(", ".join(others), FIELD_LIMIT)]})
    return blocks


def _lead(notice: Notice) -> list[dict[str, Any]]:
    f = notice.finding
    cred = str((f.credential or {}).get("name") or "the credential")
    ident = notice.identity_ref.get("name") or "the identity"
    if notice.kind is NoticeKind.QUARANTINED:
        text = f"Credential {cred} was deleted from {ident}. Pipelines and workloads that sign in with it " \
               "will fail until it is restored."
    elif notice.kind is NoticeKind.DRY_RUN:
        text = f"Dry run, nothing was changed: with enforcement on, credential {cred} would be deleted from " \
               f"{ident} and workloads using it would fail until restored."
    else:
        return []
    out: list[dict[str, Any]] = [{"type": "section", "text": plain(text)}]
    if notice.restore_hint:
        out.append({"type": "section", "fields": [label("Restore"), plain(notice.restore_hint, FIELD_LIMIT)]})
    return out


def _facts(notice: Notice) -> list[tuple[str, str]]:
    f = notice.finding
    rows: list[tuple[str, str]] = []
    if f.credential is not None:
        subject = f.credential.get("subject")
        rows += [
            ("Credential", str(f.credential.get("name") or "")),
            ("Issuer", str(f.credential.get("issuer") or "")),
            ("Subject", subject if subject else "(none: claims matching expression)"),
        ]
    path = trust_path(notice)
    if f.role_assignment is not None:
        rows.append(("Role", f"{f.role_assignment.get('role')} @ {f.role_assignment.get('scope')}"))
    elif path.privilege is not None:
        rows.append(("Strongest privilege", f"{path.privilege.name} @ {path.privilege.scope}"))
    return rows


def slack_message(notice: Notice) -> dict[str, Any]:
    """The body POSTed to a Slack incoming webhook URL."""
    f = notice.finding
    path = trust_path(notice)
    top: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header(notice), "emoji": True}},
        {"type": "context", "elements": [plain(f"{KIND_LABEL[notice.kind]} \u00b7 wifguard")]},
        *_lead(notice),
        {"type": "section", "text": plain(path.words())},
        *_owner_blocks(notice),
    ]
    fields: list[dict[str, Any]] = []
    for name, value in _facts(notice)[:5]:  # a section holds at most 10 fields
        fields += [label(name), plain(value, FIELD_LIMIT)]
    detail: list[dict[str, Any]] = [{"type": "section", "text": plain(f.message)}]
    if fields:
        detail.append({"type": "section", "fields": fields})
    if notice.others:
        lines = [f"{o.severity.label.upper()} {o.rule_id} \u2014 {o.title}" for o in notice.others[:GROUP_SHOWN]]
        if len(notice.others) > GROUP_SHOWN:
            lines.append(f"and {len(notice.others) - GROUP_SHOWN} more")
        detail.append({"type": "section", "text": label("Also on this identity")})
        detail += [{"type": "section", "text": plain(line, 300)} for line in lines]
    detail.append({"type": "section", "fields": [label("Remediation"), plain(f.remediation, FIELD_LIMIT)]})
    guidance = rule_guidance(f.rule_id)
    if guidance is not None and guidance.triage:
        detail.append({"type": "section", "fields": [label("Triage"), plain(guidance.triage, FIELD_LIMIT)]})
    links = portal_links(notice)
    if links:
        detail.append({
            "type": "actions",
            "elements": [
                {"type": "button", "text": plain(link.title, 75), "url": link.url, "action_id": f"wifguard-link-{i}"}
                for i, link in enumerate(links[:5])
            ],
        })
    ids = [f"identity {notice.identity_ref.get('id', '')}"]
    if notice.tenant_id:
        ids.append(f"tenant {notice.tenant_id}")
    ids.append(f"fingerprint {f.fingerprint}")
    detail.append({"type": "context", "elements": [plain(" \u00b7 ".join(ids), FIELD_LIMIT)]})
    more = f" (+{len(notice.others)} more)" if notice.others else ""
    fallback = f"{f.severity.label.upper()}: {f.rule_id} {f.title}{more} \u2014 {path.words()}"
    return {
        "text": slack_text(fallback, 500),
        "blocks": top,
        "attachments": [{"color": COLOR[f.severity], "blocks": detail}],
        "unfurl_links": False,
        "unfurl_media": False,
    }
