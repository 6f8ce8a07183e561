"""Microsoft Teams Adaptive Cards for owner notices (Workflows webhook payloads).

Read in this order on a phone: severity band, what it is (rule title), the trust path in words,
who owns it (the @mentions, which are what notify a person), then the details. Rules:

- Untrusted text (names, issuers, subjects, messages) only ever lands in ``TextRun`` objects of
  a ``RichTextBlock``: no Markdown processing, so nothing to escape and no backslashes shown.
  ``TextBlock`` (Markdown) carries only our own words and ``<at>`` mentions built from names
  reduced to letters, digits and ``.'@-``.
- Severity is bold default-coloured text on a coloured container band: default foreground on
  the ``attention``/``warning``/``accent``/``emphasis`` styles meets 4.5:1 in Teams' light and
  dark host configs (tests/render checks it in a real renderer); CRITICAL has its own band
  colour and a larger label, so it never looks like HIGH.
- GUIDs and full ARM ids sit in a hidden container behind ``Action.ToggleVisibility``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wifguard.catalogue.guidance import rule_guidance
from wifguard.domain.model import Finding, Severity

from .escape import mention_name, plain, teams_run
from .notice import Notice, NoticeKind, portal_links
from .owners import owner_label, unique_owners
from .privilege import scope_words
from .trustpath import ARROW, trust_path

ADAPTIVE_CARD_VERSION = "1.5"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
DETAILS_ID = "wifguard-ids"
GROUP_SHOWN = 4  # other findings listed by name before "and N more"

# Container style of the severity band (text on it stays the default colour).
BAND_STYLE: Mapping[Severity, str] = {
    Severity.CRITICAL: "attention",
    Severity.HIGH: "warning",
    Severity.MEDIUM: "accent",
    Severity.LOW: "emphasis",
    Severity.INFO: "emphasis",
}

KIND_LABEL: Mapping[NoticeKind, str] = {
    NoticeKind.NEW: "New finding",
    NoticeKind.REMINDER: "Reminder: finding still open",
    NoticeKind.QUARANTINED: "Credential quarantined",
    NoticeKind.DRY_RUN: "Quarantine dry run: this credential would be removed",
}


def severity_label(severity: Severity) -> str:
    label = severity.label.upper()
    return f"\u25a0 {label} \u2014 act now" if severity is Severity.CRITICAL else label


# -- element builders ------------------------------------------------------------------------


def run(text: str, limit: int = 500, **props: Any) -> dict[str, Any]:
    """A TextRun holding untrusted (or any) text, shown verbatim (one edge space kept, as a
    separator from the neighbouring run)."""
    core = teams_run(text, limit)
    lead = " " if text[:1].isspace() and core else ""
    trail = " " if text[-1:].isspace() and core else ""
    return {"type": "TextRun", "text": (lead + core + trail) or "-", **props}


def rich(*inlines: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(inlines), **props}


def label_value(label: str, value: str, limit: int = 400, **props: Any) -> dict[str, Any]:
    """One fact: a bold label then the value, wrapping as one paragraph (long names wrap)."""
    props.setdefault("spacing", "small")
    return rich(run(f"{label}: ", 80, weight="bolder"), run(value, limit), **props)


def _mention_block(notice: Notice) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The owners line: user owners as ``<at>`` mentions, others (service principals) as text."""
    entities: list[dict[str, Any]] = []
    tags: list[str] = []
    others: list[str] = []
    used: set[str] = set()
    for owner in unique_owners(notice.owners):
        if not (owner.kind == "user" and (owner.user_principal_name or owner.id)):
            kind = "service principal" if owner.kind == "servicePrincipal" else owner.kind
            others.append(f"{owner_label(owner)} ({kind})")
            continue
        name = mention_name(owner.display_name or owner.user_principal_name or owner.id)
        if name.lower() in used:
            name = mention_name(f"{name} {owner.user_principal_name or owner.id}")
        used.add(name.lower())
        tag = f"<at>{name}</at>"
        tags.append(tag)
        entities.append(
            {"type": "mention", "text": tag, "mentioned": {"id": owner.user_principal_name or owner.id, "name": name}}
        )
    if not notice.owners_known:
        return label_value("Owners", "unknown (the owner list could not be read)"), entities
    if not tags and not others:
        return label_value("Owners", "none recorded \u2014 please assign an owner to this identity"), entities
    if not others:
        # Mentions only work in TextBlock; its text holds nothing but our tags.
        return {"type": "TextBlock", "text": "**Owners:** " + ", ".join(tags), "wrap": True}, entities
    if tags:
        # Mentions need a TextBlock; the other owners follow as plain runs right below.
        return {
            "type": "Container",
            "items": [
                {"type": "TextBlock", "text": "**Owners:** " + ", ".join(tags), "wrap": True},
                rich(run("and ", isSubtle=True), run(", ".join(others), 600), spacing="none"),
            ],
        }, entities
    return rich(run("Owners: ", weight="bolder"), run(", ".join(others), 600)), entities


def _facts(notice: Notice) -> list[dict[str, Any]]:
    f = notice.finding
    rows: list[dict[str, Any]] = []
    if f.credential is not None:
        rows.append(label_value("Credential", str(f.credential.get("name") or ""), spacing="medium"))
        rows.append(label_value("Issuer", str(f.credential.get("issuer") or "")))
        subject = f.credential.get("subject")
        rows.append(label_value("Subject", subject if subject else "(none: claims matching expression)"))
    if f.role_assignment is not None:
        role = str(f.role_assignment.get("role") or "")
        rows.append(label_value("Role", f"{role} @ {scope_words(str(f.role_assignment.get('scope') or ''))}"))
    path = trust_path(notice)
    if path.privilege is not None and f.role_assignment is None:
        rows.append(label_value("Strongest privilege", path.privilege_words))
    return rows


def _details(notice: Notice) -> dict[str, Any]:
    """Ids an admin pastes into a console: hidden until asked for."""
    f = notice.finding
    ref = notice.identity_ref
    rows: list[tuple[str, str | None]] = [("Identity id", ref.get("id")), ("Application (client) id", notice.app_id)]
    if f.role_assignment is not None:
        rows += [("Role assignment", f.role_assignment.get("id")), ("Scope", f.role_assignment.get("scope"))]
    path = trust_path(notice)
    if path.privilege is not None and f.role_assignment is None:
        rows.append(("Privilege scope", path.privilege.scope))
    rows += [("Tenant", notice.tenant_id or None), ("Fingerprint", f.fingerprint)]
    return {
        "type": "Container",
        "id": DETAILS_ID,
        "isVisible": False,
        "separator": True,
        "items": [label_value(label, value, 600, spacing="small") for label, value in rows if value],
    }


def _group(others: Sequence[Finding]) -> list[dict[str, Any]]:
    if not others:
        return []
    items: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": "**Also on this identity**", "wrap": True, "spacing": "medium"}
    ]
    for o in others[:GROUP_SHOWN]:
        target = (o.credential or {}).get("name") or (o.role_assignment or {}).get("role") or ""
        items.append(
            rich(
                run(o.severity.label.upper() + " ", weight="bolder"),
                run(f"{o.rule_id} \u2014 {o.title}", 200),
                run(f" ({target})" if target else "", 120, isSubtle=True),
                spacing="small",
            )
        )
    if len(others) > GROUP_SHOWN:
        items.append(rich(run(f"and {len(others) - GROUP_SHOWN} more", isSubtle=True), spacing="small"))
    return items


def _lead(notice: Notice) -> list[dict[str, Any]]:
    """Quarantine notices lead with the consequence and how to undo it."""
    f = notice.finding
    cred = str((f.credential or {}).get("name") or "the credential")
    ident = notice.identity_ref.get("name") or "the identity"
    if notice.kind is NoticeKind.QUARANTINED:
        text = [
            run("Credential ", weight="bolder"),
            run(cred, 200, weight="bolder"),
            run(" was deleted from ", weight="bolder"),
            run(ident, 200, weight="bolder"),
            run(". Pipelines and workloads that sign in with it will fail until it is restored."),
        ]
    elif notice.kind is NoticeKind.DRY_RUN:
        text = [
            run("Dry run: nothing was changed. ", weight="bolder"),
            run("With enforcement on, credential "),
            run(cred, 200),
            run(" would be deleted from "),
            run(ident, 200),
            run(" and workloads using it would fail until restored."),
        ]
    else:
        return []
    out = [rich(*text, spacing="medium")]
    if notice.restore_hint:
        out.append(
            rich(run("Restore: ", weight="bolder"), run(notice.restore_hint, 300, fontType="monospace"), spacing="small")
        )
    return out


def _triage(f: Finding) -> list[dict[str, Any]]:
    """The rule's triage note (what to check first), for shipped rules."""
    g = rule_guidance(f.rule_id)
    if g is None or not g.triage:
        return []
    return [rich(run("Triage: ", weight="bolder"), run(g.triage, 600))]


def teams_card(notice: Notice) -> dict[str, Any]:
    """The Adaptive Card (``content`` of the attachment) for a notice."""
    f = notice.finding
    sev = f.severity
    band_items: list[dict[str, Any]] = [
        rich(
            run(severity_label(sev), weight="bolder", size="large" if sev is Severity.CRITICAL else "medium"),
            run(f"  \u00b7  {KIND_LABEL[notice.kind]}", size="small"),
        ),
        rich(run(f"{f.rule_id} \u2014 {f.title}", 300, weight="bolder", size="medium"), spacing="small"),
    ]
    path = trust_path(notice)
    path_inlines: list[dict[str, Any]] = []
    for i, step in enumerate(path.steps()):
        if i:
            path_inlines.append(run(ARROW, isSubtle=True))
        path_inlines.append(run(step, 300, weight="bolder" if i == len(path.steps()) - 1 else "default"))
    owners_block, entities = _mention_block(notice)
    body: list[dict[str, Any]] = [
        {"type": "Container", "style": BAND_STYLE[sev], "bleed": True, "items": band_items},
        *_lead(notice),
        rich(*path_inlines, spacing="medium"),
        owners_block,
        rich(run(f.message, 1000), spacing="medium"),
        *_facts(notice),
        *_group(notice.others),
        rich(run("Remediation: ", weight="bolder"), run(f.remediation, 1000), spacing="medium"),
        *_triage(f),
        _details(notice),
    ]
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "version": ADAPTIVE_CARD_VERSION,
        "fallbackText": fallback_text(notice),
        "body": body,
        "msteams": {"width": "Full", "entities": entities},
    }
    actions: list[dict[str, Any]] = [
        {"type": "Action.OpenUrl", "title": plain(link.title, 60), "url": link.url} for link in portal_links(notice)
    ]
    actions.append({"type": "Action.ToggleVisibility", "title": "Show ids", "targetElements": [DETAILS_ID]})
    card["actions"] = actions
    return card


def fallback_text(notice: Notice) -> str:
    """Plain text for clients that cannot show the card (and for notification previews)."""
    f = notice.finding
    more = f" (+{len(notice.others)} more)" if notice.others else ""
    return plain(f"{f.severity.label.upper()}: {f.rule_id} {f.title}{more} \u2014 {trust_path(notice).words()}", 500)


def teams_message(notice: Notice) -> dict[str, Any]:
    """The body POSTed to a Teams Workflows ("When a Teams webhook request is received") URL."""
    return card_message(teams_card(notice))


def card_message(card: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": dict(card)}],
    }
