"""One message per channel per sweep: what was checked, what is open, what changed, who is riskiest.

A sweep tells the channel about the tenant as a whole (the per-identity messages tell owners about
their identities). The digest is built from the findings store after the sweep was recorded, so it
counts what is open now, and "changes" are the findings opened, reopened or resolved since the
previous digest (its time is in the action log, kind ``digest``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wifguard.domain.model import Severity, TrustContext

from .escape import plain, slack_text
from .owners import owner_label, unique_owners
from .privilege import TIER_PRIVILEGED, privileges_of, strongest
from .slack import COLOR, label
from .slack import plain as slack_plain
from .teams import ADAPTIVE_CARD_SCHEMA, ADAPTIVE_CARD_VERSION, BAND_STYLE, card_message, rich, run

BAR_WIDTH = 20  # characters of the severity bar at the largest count


@dataclass(frozen=True, slots=True)
class RiskyIdentity:
    id: str
    name: str
    kind: str
    worst: Severity
    open: int
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    tenant_id: str
    scope: str
    time: datetime
    identities_checked: int
    identities_clean: int
    open_by_severity: Mapping[Severity, int]
    top: tuple[RiskyIdentity, ...] = ()
    new: int = 0
    reopened: int = 0
    resolved: int = 0
    previous: datetime | None = None  # when the previous digest was sent
    report_url: str | None = None
    exempted: int = 0
    quarantined: int = 0
    # Per riskiest identity (lower-cased id): owners, strongest privilege (for the report).
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def worst(self) -> Severity:
        return max((s for s, n in self.open_by_severity.items() if n), default=Severity.INFO)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "scope": self.scope,
            "time": self.time.isoformat(),
            "identities_checked": self.identities_checked,
            "identities_clean": self.identities_clean,
            "open_by_severity": {s.label: n for s, n in self.open_by_severity.items()},
            "changes": {"new": self.new, "reopened": self.reopened, "resolved": self.resolved,
                        "since": self.previous.isoformat() if self.previous else None},
            "top": [{"id": t.id, "name": t.name, "kind": t.kind, "worst": t.worst.label, "open": t.open, "rules": list(t.rules)}
                    for t in self.top],
            "exempted": self.exempted,
            "quarantined": self.quarantined,
            "profiles": {k: dict(v) for k, v in self.profiles.items()},
        }


def build_digest(records: Iterable[Any], *, tenant_id: str, scope: str, time: datetime, identities_checked: int,
                 previous: datetime | None, report_url: str | None = None, top: int = 5) -> Digest:
    """From the store's finding records (``FindingRecord``) after a sweep was recorded."""
    rows = list(records)
    open_rows = [r for r in rows if r.status.value == "open"]
    counts = Counter(r.severity for r in open_rows)
    by_ident: dict[str, list[Any]] = {}
    for r in open_rows:
        by_ident.setdefault(r.identity_id.lower(), []).append(r)
    risky = sorted(
        (RiskyIdentity(rs[0].identity_id, rs[0].identity_name or rs[0].identity_id, rs[0].identity_kind, max(r.severity for r in rs), len(rs),
                       tuple(sorted({r.rule_id for r in rs}))) for rs in by_ident.values()),
        key=lambda i: (-int(i.worst), -i.open, i.name.lower()),
    )

    def since(t: datetime | None) -> bool:
        return t is not None and (previous is None or t >= previous)

    new = sum(1 for r in rows if since(r.first_seen) and r.occurrences <= 1 and r.status.value == "open")
    reopened = sum(1 for r in open_rows if r.occurrences > 1 and since(r.status_changed_at) and r.resolved_at)
    resolved = sum(1 for r in rows if r.status.value == "resolved" and since(r.resolved_at))
    status = Counter(r.status.value for r in rows)
    return Digest(
        tenant_id=tenant_id, scope=scope, time=time, identities_checked=identities_checked,
        identities_clean=max(identities_checked - len(by_ident), 0),
        open_by_severity={s: counts.get(s, 0) for s in sorted(Severity, reverse=True)},
        top=tuple(risky[:top]), new=new, reopened=reopened, resolved=resolved, previous=previous,
        report_url=report_url, exempted=status.get("exempted", 0), quarantined=status.get("quarantined", 0),
    )


def bar(n: int, largest: int) -> str:
    if n <= 0 or largest <= 0:
        return ""
    return "\u2588" * max(1, round(BAR_WIDTH * n / largest))


def _changes(d: Digest) -> str:
    since = f" since {d.previous:%Y-%m-%d %H:%M} UTC" if d.previous else " (first sweep)"
    return f"{d.new} new, {d.reopened} reopened, {d.resolved} resolved{since}"


def _headline(d: Digest) -> str:
    return (f"wifguard sweep: {d.open_total} open finding(s) on "
            f"{d.identities_checked - d.identities_clean} of {d.identities_checked} identities")


# -- Teams -------------------------------------------------------------------------------------


def digest_card(d: Digest) -> dict[str, Any]:
    largest = max(d.open_by_severity.values(), default=0)
    sev_rows: list[dict[str, Any]] = []
    for sev, n in d.open_by_severity.items():
        sev_rows.append({
            "type": "ColumnSet",
            "spacing": "small",
            "columns": [
                {"type": "Column", "width": "90px", "items": [rich(run(sev.label.upper(), weight="bolder"))]},
                {"type": "Column", "width": "40px", "items": [rich(run(str(n)), horizontalAlignment="right")]},
                {"type": "Column", "width": "stretch", "items": [rich(run(bar(n, largest) or "\u2013"))]},
            ],
        })
    body: list[dict[str, Any]] = [
        {"type": "Container", "style": BAND_STYLE[d.worst] if d.open_total else "emphasis", "bleed": True, "items": [
            rich(run(_headline(d), weight="bolder", size="medium")),
            rich(run(f"Tenant {d.tenant_id or 'unknown'} \u00b7 {d.scope} \u00b7 {d.time:%Y-%m-%d %H:%M} UTC",
                     300, size="small"), spacing="small"),
        ]},
        rich(run("Checked: ", weight="bolder"),
             run(f"{d.identities_checked} federated identities, {d.identities_clean} clean"), spacing="medium"),
        rich(run("Changes: ", weight="bolder"), run(_changes(d)), spacing="small"),
        *sev_rows,
    ]
    if d.top:
        body.append({"type": "TextBlock", "text": "**Riskiest identities**", "wrap": True, "spacing": "medium"})
        for t in d.top:
            body.append(rich(run(f"{t.worst.label.upper()} ", weight="bolder"), run(t.name, 200),
                             run(f" \u00b7 {t.open} open \u00b7 {', '.join(t.rules)}", 200, isSubtle=True),
                             spacing="small"))
    if d.quarantined or d.exempted:
        body.append(rich(run(f"{d.quarantined} quarantined, {d.exempted} exempted", isSubtle=True), spacing="medium"))
    card: dict[str, Any] = {
        "type": "AdaptiveCard", "$schema": ADAPTIVE_CARD_SCHEMA, "version": ADAPTIVE_CARD_VERSION,
        "fallbackText": plain(f"{_headline(d)}; {_changes(d)}", 500),
        "body": body, "msteams": {"width": "Full", "entities": []},
    }
    if d.report_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the report", "url": d.report_url}]
    return card


def digest_teams_message(d: Digest) -> dict[str, Any]:
    return card_message(digest_card(d))


# -- Slack -------------------------------------------------------------------------------------


def digest_slack_message(d: Digest) -> dict[str, Any]:
    largest = max(d.open_by_severity.values(), default=0)
    fields: list[dict[str, Any]] = []
    for sev, n in d.open_by_severity.items():
        fields += [label(sev.label.upper()), slack_plain(f"{n}  {bar(n, largest)}".strip())]
    detail: list[dict[str, Any]] = [{"type": "section", "fields": fields[:10]}]
    if d.top:
        detail.append({"type": "section", "text": label("Riskiest identities")})
        detail += [{"type": "section", "text": slack_plain(
            f"{t.worst.label.upper()} {t.name} \u00b7 {t.open} open \u00b7 {', '.join(t.rules)}", 500)} for t in d.top]
    if d.report_url:
        detail.append({"type": "actions", "elements": [{
            "type": "button", "text": slack_plain("Open the report", 75), "url": d.report_url,
            "action_id": "wifguard-report"}]})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": slack_text(_headline(d), 150), "emoji": False}},
        {"type": "context", "elements": [slack_plain(
            f"Tenant {d.tenant_id or 'unknown'} \u00b7 {d.scope} \u00b7 {d.time:%Y-%m-%d %H:%M} UTC")]},
        {"type": "section", "fields": [
            label("Checked"), slack_plain(f"{d.identities_checked} federated identities, {d.identities_clean} clean"),
            label("Changes"), slack_plain(_changes(d)),
        ]},
    ]
    return {
        "text": slack_text(f"{_headline(d)}; {_changes(d)}", 500),
        "blocks": blocks,
        "attachments": [{"color": COLOR[d.worst] if d.open_total else "#2DA44E", "blocks": detail}],
        "unfurl_links": False, "unfurl_media": False,
    }


def compose_digest(d: Digest, channel_type: str) -> dict[str, Any] | None:
    """The digest body for a channel with a digest mode; None for machine channels (they get
    every finding)."""
    from .channels import channel_kind

    return channel_kind(channel_type).compose_digest(d)


def digest_channels(channels: Mapping[str, Any], configured: Sequence[str] | None) -> list[str]:
    """The configured digest channels, or every channel whose type has a digest mode (Teams, Slack)."""
    from .channels import channel_kind

    if configured is not None:
        return [c for c in configured if c in channels]
    return [name for name, ch in channels.items() if channel_kind(str(ch.type)).has_digest]


def profile(ctx: TrustContext, privileged_roles: frozenset[str] = frozenset()) -> dict[str, Any]:
    """What the report shows beside an identity that the findings store does not keep."""
    best = strongest(privileges_of(ctx, privileged_roles))
    owners = [f"{owner_label(o)} ({o.user_principal_name or o.mail})"
              if (o.user_principal_name or o.mail) and (o.user_principal_name or o.mail) != owner_label(o)
              else owner_label(o) for o in unique_owners(ctx.owners or ())]
    return {
        "owners_known": ctx.owners is not None,
        "owners": owners,
        "privilege": best.words() if best else None,
        "privileged": bool(best and best.tier >= TIER_PRIVILEGED),
    }
