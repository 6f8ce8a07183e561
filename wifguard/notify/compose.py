"""Compose notification messages: pure functions from a :class:`Notice` to a JSON-ready dict.

Every message is built as Python data and serialised with ``json.dumps`` by the sender, never
by string templating, so no value can break out of its JSON string. Text that comes from the
tenant goes through :mod:`wifguard.notify.escape` for the format it lands in; links are only the
portal links built by :func:`wifguard.notify.notice.portal_links`; Teams mention entities are
only made for user owners from the notice's owner list.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from wifguard.model import IdentityKind, Severity

from .escape import clean, slack_mrkdwn, slack_text
from .notice import Notice, NoticeKind, portal_links
from .owners import owner_label as _owner_label
from .owners import unique_owners as _unique_owners
from .teams import KIND_LABEL, teams_message

CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
# Namespace of the deterministic CloudEvent ids (uuid5 over fingerprint and notice kind).
EVENT_ID_NAMESPACE = uuid.UUID("5b0f3c1e-6a8e-4f55-9d43-1c3f6a1e2b7d")


class ChannelType(StrEnum):
    TEAMS = "teams"
    SLACK = "slack"
    WEBHOOK = "webhook"
    EVENTGRID = "eventgrid"


EVENT_TYPE: Mapping[NoticeKind, str] = {
    NoticeKind.NEW: "com.wifguard.finding.opened",
    NoticeKind.REMINDER: "com.wifguard.finding.reminder",
    NoticeKind.QUARANTINED: "com.wifguard.finding.quarantined",
    NoticeKind.DRY_RUN: "com.wifguard.finding.quarantine_dryrun",
}

_SLACK_MARK: Mapping[Severity, str] = {
    Severity.CRITICAL: "\U0001f6a8",  # rotating light
    Severity.HIGH: "\U0001f534",  # red circle
    Severity.MEDIUM: "\U0001f7e0",  # orange circle
    Severity.LOW: "\U0001f535",  # blue circle
    Severity.INFO: "\u26aa",  # white circle
}

_KIND_NAME = {
    IdentityKind.APPLICATION.value: "App registration",
    IdentityKind.MANAGED_IDENTITY.value: "User-assigned managed identity",
}


# -- shared facts --------------------------------------------------------------------------


def _facts(notice: Notice) -> list[tuple[str, str | None]]:
    """(label, raw untrusted value) pairs shown in every chat format, in display order."""
    f = notice.finding
    ref = notice.identity_ref
    rows: list[tuple[str, str | None]] = [
        ("Identity", ref.get("name") or "(unnamed)"),
        ("Identity kind", _KIND_NAME.get(ref.get("kind", ""), ref.get("kind") or "unknown")),
        ("Identity id", ref.get("id")),
    ]
    if notice.app_id:
        rows.append(("Application (client) id", notice.app_id))
    if f.credential is not None:
        subject = f.credential.get("subject")
        rows += [
            ("Credential", f.credential.get("name")),
            ("Issuer", f.credential.get("issuer")),
            ("Subject", subject if subject is not None else "(none: claims matching expression)"),
        ]
    if f.role_assignment is not None:
        rows += [
            ("Role", f.role_assignment.get("role")),
            ("Scope", f.role_assignment.get("scope")),
        ]
    if notice.tenant_id:
        rows.append(("Tenant", notice.tenant_id))
    return [(label, value) for label, value in rows if value]


# -- Slack (incoming webhook, Block Kit) ---------------------------------------------------


def _plain(text: str, limit: int) -> dict[str, Any]:
    """A Slack plain_text object; ``text`` must already be escaped. Slack needs >= 1 char."""
    return {"type": "plain_text", "text": (text or "-")[:limit], "emoji": False}


def slack_message(notice: Notice) -> dict[str, Any]:
    """The body POSTed to a Slack incoming webhook URL.

    Untrusted values only ever appear in ``plain_text`` objects (no formatting, no mentions,
    no links) with ``&<>`` escaped, and in the ``text`` fallback, which is escaped for mrkdwn.
    """
    f = notice.finding
    sev = f.severity.label.upper()
    rule = slack_text(f.rule_id, 64)
    header = f"{_SLACK_MARK[f.severity]} {sev} \u00b7 {rule} \u2014 {slack_text(f.title, 200)}"
    if len(header) > 150:
        header = header[:149] + "\u2026"
    context = f"{KIND_LABEL[notice.kind]} \u00b7 wifguard"
    if notice.tenant_id:
        context += f" \u00b7 tenant {slack_text(notice.tenant_id, 64)}"
    fields = [_plain(f"{label}:\n{slack_text(value, 400)}", 2000) for label, value in _facts(notice)][:10]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(header, 150)},
        {"type": "context", "elements": [_plain(context, 2000)]},
        {"type": "section", "text": _plain(slack_text(f.message, 1000), 3000)},
        {"type": "section", "fields": fields},
        {"type": "section", "text": _plain("Remediation: " + slack_text(f.remediation, 1000), 3000)},
    ]
    if notice.kind in (NoticeKind.QUARANTINED, NoticeKind.DRY_RUN) and notice.restore_hint:
        blocks.append(
            {"type": "section", "text": _plain("Restore: " + slack_text(notice.restore_hint, 500), 3000)}
        )
    blocks.append({"type": "context", "elements": [_plain(_slack_owner_line(notice), 2000)]})
    links = portal_links(notice)
    if links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": _plain(slack_text(link.title, 60), 75),
                        "url": link.url,
                        "action_id": f"wifguard-link-{i}",
                    }
                    for i, link in enumerate(links[:5])
                ],
            }
        )
    blocks.append(
        {"type": "context", "elements": [_plain(f"fingerprint {slack_text(f.fingerprint, 64)}", 2000)]}
    )
    fallback = slack_mrkdwn(f"[{sev}] {f.rule_id} {f.title}: {f.message}", 500)
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _slack_owner_line(notice: Notice) -> str:
    if not notice.owners_known:
        return "Owners: unknown (the owner list could not be read)"
    owners = _unique_owners(notice.owners)
    if not owners:
        return "Owners: none recorded \u2014 please assign an owner to this identity"
    parts = []
    for o in owners:
        label = slack_text(_owner_label(o), 120)
        addr = o.user_principal_name or o.mail
        if addr and addr != _owner_label(o):
            label += f" ({slack_text(addr, 120)})"
        parts.append(label)
    return "Owners: " + ", ".join(parts)


# -- CloudEvents (generic webhook, Event Grid) ---------------------------------------------


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def event_id(notice: Notice) -> str:
    """Deterministic: the same finding and notice kind (and reminder sequence) give the same id."""
    key = f"{notice.finding.fingerprint}:{notice.kind.value}"
    if notice.sequence:
        key += f":{notice.sequence}"
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, key))


def _rfc3339(t: datetime | None) -> str:
    t = t or datetime.now(UTC)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_subject(notice: Notice) -> str:
    ref = notice.identity_ref
    ident = ref.get("id", "")
    if ref.get("kind") == IdentityKind.APPLICATION.value:
        subject = f"/applications/{quote(ident, safe='')}"
    else:
        subject = ident if ident.startswith("/") else f"/{quote(ident, safe='')}"
    cred = notice.finding.credential
    if cred is not None and cred.get("name"):
        subject += f"/federatedIdentityCredentials/{quote(str(cred.get('name')), safe='')}"
    return subject


def cloud_event(notice: Notice) -> dict[str, Any]:
    """A CloudEvents 1.0 event in structured JSON mode.

    ``data`` is the finding dict (fields per the rule catalogue) plus a ``notice`` object with
    the notice kind, tenant, owners and portal links. Extension attributes ``severity`` and
    ``ruleid`` allow filtering (e.g. Event Grid advanced filters) without reading ``data``.
    """
    f = notice.finding
    data = _jsonable(f.to_dict())
    data["notice"] = {
        "kind": notice.kind.value,
        "tenant_id": notice.tenant_id or None,
        "identity": notice.identity_ref,
        "owners_known": notice.owners_known,
        "owners": [
            {
                "id": o.id,
                "displayName": o.display_name,
                "userPrincipalName": o.user_principal_name,
                "mail": o.mail,
                "kind": o.kind,
            }
            for o in _unique_owners(notice.owners)
        ],
        "links": [{"title": link.title, "url": link.url} for link in portal_links(notice)],
        "restore_hint": notice.restore_hint,
    }
    return {
        "specversion": "1.0",
        "id": event_id(notice),
        "source": f"/wifguard/{quote(notice.tenant_id or 'unknown', safe='')}",
        "type": EVENT_TYPE[notice.kind],
        "subject": event_subject(notice),
        "time": _rfc3339(notice.time),
        "datacontenttype": "application/json",
        "severity": f.severity.label,
        "ruleid": clean(f.rule_id, 64).lower(),
        "data": data,
    }


# -- dispatch -------------------------------------------------------------------------------


def compose(notice: Notice, channel_type: ChannelType | str) -> dict[str, Any]:
    """The JSON body for a channel type (``teams``, ``slack``, ``webhook`` or ``eventgrid``)."""
    try:
        ct = ChannelType(str(channel_type).strip().lower())
    except ValueError:
        names = ", ".join(c.value for c in ChannelType)
        raise ValueError(f"unknown channel type {channel_type!r} (expected one of: {names})") from None
    if ct is ChannelType.TEAMS:
        return teams_message(notice)
    if ct is ChannelType.SLACK:
        return slack_message(notice)
    return cloud_event(notice)
