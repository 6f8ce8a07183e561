"""What is sent to owners: a :class:`Notice` (one finding, its identity, its owners, why now)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote, urlsplit

from wifguard.domain.model import Finding, Identity, IdentityKind, Owner

from .privilege import Privilege

PORTAL = "https://portal.azure.com"

# Hosts a portal link may point to (public cloud, Entra admin center, sovereign clouds).
PORTAL_HOSTS = frozenset(
    {
        "portal.azure.com",
        "entra.microsoft.com",
        "portal.azure.us",
        "portal.azure.cn",
    }
)


class NoticeKind(StrEnum):
    NEW = "new"  # a finding was opened
    REMINDER = "reminder"  # still open after the reminder interval
    QUARANTINED = "quarantined"  # the credential was removed (backup kept)
    DRY_RUN = "dry-run"  # quarantine would have removed it (enforcement in dry-run mode)

    @classmethod
    def parse(cls, value: str | NoticeKind) -> NoticeKind:
        if isinstance(value, NoticeKind):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(k.value for k in cls)
            raise ValueError(f"unknown notice kind {value!r} (expected one of: {names})") from None


@dataclass(frozen=True, slots=True)
class PortalLink:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification about one finding (and, grouped, the identity's other findings).

    ``identity`` is the full :class:`Identity` when the caller has it (its ``app_id`` gives
    the best portal link), else the finding's identity ref (``{id, name, kind}``), which is
    used when ``identity`` is ``None``. ``links`` are extra portal links; only https links to
    a known portal host are ever rendered (see :func:`portal_links`). ``time`` is when the
    event happened (CloudEvent ``time``); ``sequence`` distinguishes repeated reminders of
    one finding in the CloudEvent id.
    """

    finding: Finding
    owners: tuple[Owner, ...] = ()
    tenant_id: str = ""
    kind: NoticeKind = NoticeKind.NEW
    identity: Identity | Mapping[str, str] | None = None
    links: tuple[PortalLink, ...] | None = None  # None: the default links for the identity
    restore_hint: str | None = None
    time: datetime | None = None
    sequence: int = 0
    portal: str = PORTAL
    owners_known: bool = True  # False: the owner list could not be read (not "no owners")
    # Grouping: the identity's other findings sent in the same message (worst first).
    others: tuple[Finding, ...] = ()
    # What the identity can do (strongest first); empty: unknown here (see privilege.py).
    privileges: tuple[Privilege, ...] = ()
    # Where the finding came from: "event" (audit log, Event Grid) or "" (sweeps, retries).
    source: str = ""
    # The id of the message this notice leads (a grouped message's own id); "": the notice's own.
    message_id: str = ""
    # Chat user ids of owners (lower-cased UPN/mail -> Slack member id), filled at delivery.
    chat_ids: Mapping[str, str] = field(default_factory=dict)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding this notice speaks for, worst first (the headline one first)."""
        return (self.finding, *self.others)

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(f.fingerprint for f in self.findings)

    @property
    def identity_ref(self) -> dict[str, str]:
        if isinstance(self.identity, Identity):
            return self.identity.to_ref()
        if self.identity is not None:
            return {k: str(v) for k, v in self.identity.items()}
        return {k: str(v) for k, v in self.finding.identity.items()}

    @property
    def identity_kind(self) -> str:
        return self.identity_ref.get("kind", "")

    @property
    def app_id(self) -> str | None:
        if isinstance(self.identity, Identity):
            return self.identity.app_id
        return None


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _seg(value: str) -> str:
    return quote(value, safe="")


def _path(resource_id: str) -> str:
    """An ARM id as a URL path: every segment quoted, leading slash kept."""
    parts = [p for p in resource_id.split("/") if p]
    return "/" + "/".join(_seg(p) for p in parts)


def is_portal_url(url: str) -> bool:
    try:
        u = urlsplit(url)
    except ValueError:
        return False
    return u.scheme == "https" and (u.hostname or "") in PORTAL_HOSTS and not u.username and not u.password


def portal_links(notice: Notice) -> tuple[PortalLink, ...]:
    """The links rendered for a notice: built from ids (URL-quoted), never taken from text.

    - application: the app registration's *Certificates & secrets* (federated credentials)
      blade, by appId when known, else by object id;
    - managed identity: its *Federated credentials* blade;
    - a role assignment at an ARM scope: that scope's *Access control (IAM)* blade.
    Caller-supplied ``notice.links`` are appended only if they are https links to a portal host.
    """
    portal = notice.portal.rstrip("/") if is_portal_url(notice.portal + "/") else PORTAL
    ref = notice.identity_ref
    ident_id = ref.get("id", "")
    tenant = _seg(notice.tenant_id) if notice.tenant_id else ""
    at_tenant = f"#@{tenant}" if tenant else "#"
    links: list[PortalLink] = []
    kind = ref.get("kind", "")
    if kind == IdentityKind.APPLICATION.value:
        blade = f"{portal}/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/Credentials"
        app_id = notice.app_id
        if app_id:
            links.append(PortalLink("Open app registration", f"{blade}/appId/{_seg(app_id)}"))
        elif ident_id:
            links.append(PortalLink("Open app registration", f"{blade}/objectId/{_seg(ident_id)}"))
    elif kind == IdentityKind.MANAGED_IDENTITY.value and ident_id.startswith("/"):
        links.append(
            PortalLink(
                "Open managed identity",
                f"{portal}/{at_tenant}/resource{_path(ident_id)}/federatedcredentials",
            )
        )
    ra = notice.finding.role_assignment
    scope = (ra or {}).get("scope") or ""
    if scope.lower().startswith("/subscriptions/") or scope.lower().startswith(
        "/providers/microsoft.management/managementgroups/"
    ):
        links.append(
            PortalLink("Open role assignments", f"{portal}/{at_tenant}/resource{_path(scope)}/users")
        )
    for link in notice.links or ():
        if is_portal_url(link.url) and all(link.url != existing.url for existing in links):
            links.append(link)
    return tuple(links)
