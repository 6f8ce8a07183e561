"""`wifguard report`: the posture report a security lead reads in 30 seconds (Markdown, JSON or
HTML), built from the findings store and the last sweep's summary in the action log.

First screen: tenant, scope, when the last sweep ran, identities checked and clean, what changed
since the previous sweep, open findings by severity. Then the riskiest identities with their
owners, strongest privilege and trust path (Mermaid in Markdown, SVG in HTML), exemptions with
their expiry, quarantines, recent actions and the true number of parked payloads.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

import jinja2

from wifguard.domain.model import Severity
from wifguard.notify.privilege import from_role_assignment, scope_words
from wifguard.notify.trustpath import KIND_WORDS, issuer_words
from wifguard.reporting.diagram import TrustPathView, mermaid

PATHS_SHOWN = 4  # trust paths drawn per identity
ACTIONS_SHOWN = 20
QUIET_ACTIONS = frozenset({"notify"})  # one per delivery: counted, not listed

TEMPLATE = """\
# wifguard report — {{ tenant or "tenant" }}

**Scope:** {{ scope | md }} · **last sweep:** {{ swept_at or "none recorded yet" }} · generated {{ generated }}

| identities checked | clean | open findings | changes since the previous sweep | quarantined | parked |
|---:|---:|---:|---|---:|---:|
| {{ identities_checked if identities_checked is not none else "-" }} | {{ identities_clean if identities_clean is not none else "-" }} | {{ open_total }} | {% if changes %}{{ changes.new }} new, {{ changes.reopened }} reopened, {{ changes.resolved }} resolved{% else %}-{% endif %} | {{ quarantined_total }} | {{ parked_total }} |

## Open findings by severity

| severity | open | |
|---|---:|---|
{% for sev, n in by_severity.items() -%}
| {{ sev }} | {{ n }} | {{ bars[sev] }} |
{% endfor %}
{{ open_total }} open finding(s){% if by_severity %}: {% for sev, n in by_severity.items() if n %}{{ n }} {{ sev }}{% if not loop.last %}, {% endif %}{% endfor %}{% endif %}.
{{ quarantined_total }} quarantined, {{ exempted_total }} exempted, {{ resolved_total }} resolved.

## Riskiest identities
{% for i in identities %}
### {{ loop.index }}. {{ i.worst | upper }} · {{ i.name | md }} ({{ i.kind_words }})

- **Strongest privilege:** {{ (i.privilege or "none known") | md }}
- **Owners:** {% if i.owners is none %}unknown (not recorded by a sweep yet){% elif i.owners %}{{ i.owners | join(", ") | md }}{% else %}none recorded{% endif %}
- **Open ({{ i.open }}):** {% for f in i.findings %}{{ f.rule_id }} {{ f.severity }} — {{ f.title | md }}{% if not loop.last %}; {% endif %}{% endfor %}

```mermaid
{{ i.mermaid }}
```
{% else %}
No open findings.
{% endfor %}
## Open findings by rule

| rule | severity | open | title |
|---|---|---:|---|
{% for r in rules -%}
| {{ r.rule_id }} | {{ r.severity }} | {{ r.count }} | {{ r.title | md }} |
{% endfor %}
## Exemptions

{% if exemptions %}| rule | identity | credential | reason | approved by | expires |
|---|---|---|---|---|---|
{% for e in exemptions -%}
| {{ e.rule | md }} | {{ e.identity | md }} | {{ (e.credential or "any") | md }} | {{ e.reason | md }} | {{ (e.approved_by or "-") | md }} | {{ e.expires or "never" }}{% if e.expired %} **(expired)**{% endif %} |
{% endfor %}{% else %}No exemptions configured.
{% endif %}
## Quarantine

{% if backups %}| backup | state | identity | credential | rule | created |
|---|---|---|---|---|---|
{% for b in backups -%}
| `{{ b.id }}` | {{ b.state }} | {{ b.identity | md }} | {{ b.credential | md }} | {{ b.rule_id }} | {{ b.created }} |
{% endfor %}{% else %}No credential has been quarantined.
{% endif %}
## Recent actions

{% if actions %}| time | action | target | by |
|---|---|---|---|
{% for a in actions -%}
| {{ a.time }} | {{ a.kind | md }} | {{ a.target | md }} | {{ (a.actor or "-") | md }} |
{% endfor %}{% else %}No actions recorded.
{% endif %}{% if notify_deliveries %}
{{ notify_deliveries }} notification deliveries logged.
{% endif %}
## Parked payloads

{{ parked_total }} payload(s) could not be processed{% if parked_by_source %} ({% for s, n in parked_by_source.items() %}{{ s | md }}: {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}){% endif %}{% if parked %}; the latest:{% endif %}
{% for p in parked %}
- {{ p.time }} `{{ p.source }}` {{ p.reason | md }}
{%- endfor %}
"""


def _md(text: Any) -> str:
    """Tenant-controlled text in Markdown (tables, lists): no pipes, no markup, one line."""
    s = " ".join(str(text).split())
    for ch in "\\`*_[]<>|#":
        s = s.replace(ch, "\\" + ch)
    return s


_ENV = jinja2.Environment(autoescape=False, trim_blocks=False, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined)
_ENV.filters["md"] = _md


def _bar(n: int, largest: int, width: int = 20) -> str:
    return "\u2588" * max(1, round(width * n / largest)) if n > 0 and largest > 0 else ""


def _identity_entry(rows: Sequence[Any], profile: dict[str, Any] | None) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: (-int(r.severity), r.rule_id))
    first = rows[0]
    paths: list[dict[str, str]] = []
    for r in rows:
        if r.credential_issuer is None:
            continue
        p = {"issuer": issuer_words(r.credential_issuer),
             "subject": r.credential_subject or "any matching subject (claims expression)"}
        if p not in paths:
            paths.append(p)
    privilege = (profile or {}).get("privilege")
    if not privilege:
        privs = [from_role_assignment({"role": r.role_assignment_role or "", "scope": r.role_assignment_scope or ""})
                 for r in rows if r.role_assignment_role]
        best = max((p for p in privs if p), key=lambda p: p.rank, default=None)
        privilege = f"{best.name} @ {scope_words(best.scope)}" if best else None
    kind_words = KIND_WORDS.get(first.identity_kind, first.identity_kind)
    name = first.identity_name or first.identity_id
    crit = sum(1 for r in rows if r.severity is Severity.CRITICAL)
    high = sum(1 for r in rows if r.severity is Severity.HIGH)
    return {
        "id": first.identity_id, "name": name, "kind": first.identity_kind, "kind_words": kind_words,
        "critical": crit, "high": high, "open": len(rows), "rules": sorted({r.rule_id for r in rows}),
        "worst": max(r.severity for r in rows).label,
        "owners": (profile or {}).get("owners") if profile and profile.get("owners_known", True) else None,
        "privilege": privilege, "privileged": bool((profile or {}).get("privileged")),
        "paths": paths[:PATHS_SHOWN],
        "findings": [{"rule_id": r.rule_id, "severity": r.severity.label, "title": r.title} for r in rows[:6]],
        "mermaid": mermaid(f"{name} ({kind_words})", privilege or "no Azure role known",
                           [TrustPathView(p["issuer"], p["subject"]) for p in paths[:PATHS_SHOWN]]),
    }


async def build_report(store: Any, *, top: int = 15, config: Any = None, tenant_id: str = "",
                       now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    rows = await store.query()
    status = Counter(r.status.value for r in rows)
    open_rows = [r for r in rows if r.status.value == "open"]
    sev = Counter(r.severity for r in open_rows)
    by_rule: dict[str, dict[str, Any]] = {}
    for r in open_rows:
        e = by_rule.setdefault(r.rule_id, {"rule_id": r.rule_id, "severity": r.severity.label, "count": 0,
                                           "title": r.title, "rank": int(r.severity)})
        e["count"] += 1
    sweeps = await store.list_actions(kind="digest")
    last = sweeps[-1].detail if sweeps else {}
    profiles: dict[str, Any] = dict(last.get("profiles") or {})
    grouped: dict[str, list[Any]] = {}
    for r in open_rows:
        grouped.setdefault(r.identity_id.lower(), []).append(r)
    entries = [_identity_entry(rs, profiles.get(key)) for key, rs in grouped.items()]
    ranked = sorted(entries, key=lambda i: (-i["critical"], -i["high"], -i["open"], str(i["name"]).lower()))[:top]
    backups = await store.list_backups()
    parked = await store.list_rejected()  # all of them: the count is the true count
    recent = await store.list_actions(since=now - dt.timedelta(days=14))
    loud = [a for a in recent if a.kind not in QUIET_ACTIONS]
    exemptions = []
    for ex in (config.exemptions if config is not None else ()):
        exemptions.append({"rule": ex.rule, "identity": ex.identity, "credential": ex.credential, "reason": ex.reason,
                           "approved_by": ex.approved_by, "expires": ex.expires.isoformat() if ex.expires else None,
                           "expired": ex.expired(now.date())})
    by_severity = {s.label: sev.get(s, 0) for s in sorted(Severity, reverse=True)}
    largest = max(by_severity.values(), default=0)
    changes = last.get("changes")
    return {
        "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
        "tenant": last.get("tenant_id") or tenant_id,
        "scope": last.get("scope") or "whole tenant",
        "swept_at": _when(last.get("time")),
        "identities_checked": last.get("identities_checked"),
        "identities_clean": last.get("identities_clean"),
        "changes": {**changes, "since": _when(changes.get("since"))} if changes else None,
        "open_total": len(open_rows),
        "by_severity": by_severity,
        "bars": {k: _bar(n, largest) for k, n in by_severity.items()},
        "quarantined_total": status.get("quarantined", 0),
        "exempted_total": status.get("exempted", 0),
        "resolved_total": status.get("resolved", 0),
        "rules": sorted(by_rule.values(), key=lambda e: (-e["rank"], -e["count"], e["rule_id"])),
        "identities": ranked,
        "exemptions": sorted(exemptions, key=lambda e: (e["expires"] or "9999", e["rule"])),
        "backups": [{"id": b.id, "state": b.state.value, "identity": b.identity_name, "credential": b.credential_name,
                     "rule_id": b.rule_id, "created": f"{b.created_at:%Y-%m-%d %H:%M}"} for b in backups],
        "actions": [{"time": f"{a.time:%Y-%m-%d %H:%M}", "kind": a.kind, "target": a.target, "actor": a.actor}
                    for a in loud[-ACTIONS_SHOWN:][::-1]],
        "notify_deliveries": sum(1 for a in recent if a.kind == "notify"),
        "parked_total": len(parked),
        "parked_by_source": dict(sorted(Counter(p.source for p in parked).items())),
        "parked": [{"time": f"{p.received_at:%Y-%m-%d %H:%M}", "source": p.source, "reason": p.reason}
                   for p in parked[:10]],
    }


def _when(value: Any) -> str | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(value)


def render_markdown(data: dict[str, Any]) -> str:
    return _ENV.from_string(TEMPLATE).render(**data)
