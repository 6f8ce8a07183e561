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

from wifguard.domain.model import IdentityKind

from .escape import clean
from .notice import Notice, NoticeKind, portal_links
from .owners import unique_owners as _unique_owners
from .slack import slack_message as slack_message  # re-exported (wifguard.notify's API)

CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
# Namespace of the deterministic CloudEvent ids (uuid5 over fingerprint and notice kind).
EVENT_ID_NAMESPACE = uuid.UUID("5b0f3c1e-6a8e-4f55-9d43-1c3f6a1e2b7d")


class ChannelType(StrEnum):
    """The shipped channel types (names for code and tests); the registry in
    ``wifguard.notify.channels`` is what the config accepts."""

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
    """The JSON body for a registered channel type (``wifguard.notify.channels``: ``teams``,
    ``slack``, ``webhook``, ``eventgrid``); an unknown type raises, listing the registered ones."""
    from .channels import channel_kind

    return channel_kind(str(channel_type)).compose(notice)
