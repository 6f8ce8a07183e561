"""`wifguard report`: a posture report from the findings store (Markdown or JSON) for audits
and weekly reviews: open findings by severity and rule, the riskiest identities, quarantines,
parked payloads, and recent actions."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import jinja2

from wifguard.model import Severity

TEMPLATE = """\
# wifguard report — {{ generated }}

{{ open_total }} open finding(s){% if by_severity %}: {% for sev, n in by_severity.items() if n %}{{ n }} {{ sev }}{% if not loop.last %}, {% endif %}{% endfor %}{% endif %}.
{{ quarantined_total }} quarantined, {{ exempted_total }} exempted, {{ resolved_total }} resolved.

## Open findings by rule

| rule | severity | open | title |
|---|---|---:|---|
{% for r in rules -%}
| {{ r.rule_id }} | {{ r.severity }} | {{ r.count }} | {{ r.title | md }} |
{% endfor %}
## Riskiest identities

| identity | kind | critical | high | open | rules |
|---|---|---:|---:|---:|---|
{% for i in identities -%}
| {{ i.name | md }} | {{ i.kind }} | {{ i.critical }} | {{ i.high }} | {{ i.open }} | {{ i.rules | join(", ") }} |
{% endfor %}
## Quarantine

{% if backups %}| backup | state | identity | credential | rule | created |
|---|---|---|---|---|---|
{% for b in backups -%}
| `{{ b.id }}` | {{ b.state }} | {{ b.identity | md }} | {{ b.credential | md }} | {{ b.rule_id }} | {{ b.created }} |
{% endfor %}{% else %}No credential has been quarantined.
{% endif %}
## Parked payloads

{{ parked_total }} payload(s) could not be processed{% if parked %}; the latest:{% endif %}
{% for p in parked %}
- {{ p.time }} `{{ p.source }}` {{ p.reason | md }}
{%- endfor %}
"""


def _md(text: Any) -> str:
    """Tenant-controlled text in a Markdown table cell: no pipes, no markup, one line."""
    s = " ".join(str(text).split())
    for ch in "\\`*_[]<>|#":
        s = s.replace(ch, "\\" + ch)
    return s


_ENV = jinja2.Environment(autoescape=False, trim_blocks=False, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined)
_ENV.filters["md"] = _md


async def build_report(store: Any, *, top: int = 15) -> dict[str, Any]:
    rows = await store.query()
    status = Counter(r.status.value for r in rows)
    open_rows = [r for r in rows if r.status.value == "open"]
    sev = Counter(r.severity for r in open_rows)
    by_rule: dict[str, dict[str, Any]] = {}
    for r in open_rows:
        e = by_rule.setdefault(r.rule_id, {"rule_id": r.rule_id, "severity": r.severity.label, "count": 0,
                                           "title": r.title, "rank": int(r.severity)})
        e["count"] += 1
    idents: dict[str, dict[str, Any]] = {}
    for r in open_rows:
        e = idents.setdefault(r.identity_id, {"id": r.identity_id, "name": r.identity_name, "kind": r.identity_kind,
                                               "critical": 0, "high": 0, "open": 0, "rules": set()})
        e["open"] += 1
        e["rules"].add(r.rule_id)
        if r.severity is Severity.CRITICAL:
            e["critical"] += 1
        elif r.severity is Severity.HIGH:
            e["high"] += 1
    ranked = sorted(idents.values(), key=lambda i: (-i["critical"], -i["high"], -i["open"], i["name"]))[:top]
    for i in ranked:
        i["rules"] = sorted(i["rules"])
    backups = await store.list_backups()
    parked = await store.list_rejected(limit=10)
    return {
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "open_total": len(open_rows),
        "by_severity": {s.label: sev.get(s, 0) for s in sorted(Severity, reverse=True)},
        "quarantined_total": status.get("quarantined", 0),
        "exempted_total": status.get("exempted", 0),
        "resolved_total": status.get("resolved", 0),
        "rules": sorted(by_rule.values(), key=lambda e: (-e["rank"], -e["count"], e["rule_id"])),
        "identities": ranked,
        "backups": [{"id": b.id, "state": b.state.value, "identity": b.identity_name, "credential": b.credential_name,
                     "rule_id": b.rule_id, "created": f"{b.created_at:%Y-%m-%d %H:%M}"} for b in backups],
        "parked_total": len(parked),
        "parked": [{"time": f"{p.received_at:%Y-%m-%d %H:%M}", "source": p.source, "reason": p.reason}
                   for p in parked],
    }


def render_markdown(data: dict[str, Any]) -> str:
    return _ENV.from_string(TEMPLATE).render(**data)
