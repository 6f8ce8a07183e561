"""`wifguard report --format html`: the posture report as one self-contained HTML file.

No external assets (no scripts, fonts, images or style sheets are fetched): styles are inline, the
trust-path diagrams are inline SVG. Jinja2 autoescaping is on, so tenant text cannot add markup.
"""

from __future__ import annotations

from typing import Any

import jinja2

from wifguard.reporting.diagram import TrustPathView, svg

TEMPLATE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>wifguard report — {{ tenant or "tenant" }} — {{ generated }}</title>
<style>
  :root { --fg:#1f2328; --muted:#57606a; --line:#d0d7de; --bg:#ffffff; --panel:#f6f8fa;
          --critical:#b0001e; --high:#bc4c00; --medium:#7d5e00; --low:#0b5cad; --info:#57606a; }
  * { box-sizing: border-box; }
  body { margin: 0; padding: 24px; font: 14px/1.45 "Segoe UI", "Liberation Sans", "DejaVu Sans", sans-serif;
         color: var(--fg); background: var(--bg); max-width: 1100px; }
  h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
  .meta { color: var(--muted); margin: 0 0 16px; overflow-wrap: anywhere; }
  .figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 8px; }
  .figure { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
  .figure b { display: block; font-size: 22px; }
  .figure span { color: var(--muted); }
  .sev { display: grid; grid-template-columns: 90px 48px 1fr; gap: 4px 10px; align-items: center; max-width: 640px; }
  .bar { height: 14px; border-radius: 3px; }
  .label { font-weight: 700; }
  .critical { color: var(--critical); } .high { color: var(--high); } .medium { color: var(--medium); }
  .low { color: var(--low); } .info { color: var(--info); }
  .bar.critical { background: var(--critical); } .bar.high { background: var(--high); }
  .bar.medium { background: var(--medium); } .bar.low { background: var(--low); } .bar.info { background: var(--info); }
  .ident { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 10px 0; }
  .ident h3 { margin: 0 0 4px; font-size: 15px; overflow-wrap: anywhere; }
  .ident p { margin: 2px 0; overflow-wrap: anywhere; }
  .muted { color: var(--muted); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; border-bottom: 1px solid var(--line); padding: 5px 8px; vertical-align: top;
           overflow-wrap: anywhere; }
  th { background: var(--panel); }
  code { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
  .diagram { overflow-x: auto; margin-top: 8px; }
  svg.trust-path text { font: 12px "Segoe UI", "Liberation Sans", "DejaVu Sans", sans-serif; fill: #1f2328; }
  svg.trust-path rect { fill: #f6f8fa; stroke: #8c959f; }
  svg.trust-path .identity rect { fill: #ddf4ff; stroke: #0969da; }
  svg.trust-path .privilege.strong rect { fill: #ffebe9; stroke: #cf222e; }
  svg.trust-path path { stroke: #57606a; fill: #57606a; }
</style>
</head>
<body>
<h1>wifguard report</h1>
<p class="meta">Tenant <b>{{ tenant or "unknown" }}</b> · scope {{ scope }} ·
{% if swept_at %}last sweep {{ swept_at }}{% else %}no sweep recorded yet{% endif %} · generated {{ generated }}</p>

<div class="figures">
  <div class="figure"><b>{{ identities_checked if identities_checked is not none else "-" }}</b><span>identities checked</span></div>
  <div class="figure"><b>{{ identities_clean if identities_clean is not none else "-" }}</b><span>clean</span></div>
  <div class="figure"><b>{{ open_total }}</b><span>open findings</span></div>
  <div class="figure"><b>{% if changes %}+{{ changes.new + changes.reopened }} / &minus;{{ changes.resolved }}{% else %}&ndash;{% endif %}</b>
    <span>{% if changes and changes.since %}since {{ changes.since }}{% else %}changes since the previous sweep{% endif %}</span></div>
  <div class="figure"><b>{{ quarantined_total }}</b><span>quarantined</span></div>
  <div class="figure"><b>{{ parked_total }}</b><span>parked payloads</span></div>
</div>

<h2>Open findings by severity</h2>
<div class="sev">
{% for sev, n in by_severity.items() %}
  <span class="label {{ sev }}">{{ sev | upper }}</span><span>{{ n }}</span>
  <span><span class="bar {{ sev }}" style="display:inline-block;width:{{ (100 * n / max_count) | round(1) if max_count else 0 }}%"></span></span>
{% endfor %}
</div>

<h2>Riskiest identities</h2>
{% for i in identities %}
<div class="ident">
  <h3><span class="{{ i.worst }}">{{ i.worst | upper }}</span> · {{ i.name }} <span class="muted">({{ i.kind_words }})</span></h3>
  <p><b>Strongest privilege:</b> {{ i.privilege or "none known" }}</p>
  <p><b>Owners:</b> {% if i.owners is none %}<span class="muted">unknown (not recorded by a sweep yet)</span>{% elif i.owners %}{{ i.owners | join(", ") }}{% else %}none recorded{% endif %}</p>
  <p><b>Open:</b> {{ i.open }} — {% for f in i.findings %}<span class="{{ f.severity }}">{{ f.rule_id }}</span> {{ f.title }}{% if not loop.last %}; {% endif %}{% endfor %}</p>
  <div class="diagram">{{ i.svg }}</div>
</div>
{% else %}
<p>No open findings.</p>
{% endfor %}

<h2>Exemptions</h2>
{% if exemptions %}
<table><tr><th>rule</th><th>identity</th><th>credential</th><th>reason</th><th>approved by</th><th>expires</th></tr>
{% for e in exemptions %}<tr><td>{{ e.rule }}</td><td>{{ e.identity }}</td><td>{{ e.credential or "any" }}</td><td>{{ e.reason }}</td>
<td>{{ e.approved_by or "-" }}</td><td class="{{ 'critical' if e.expired else '' }}">{{ e.expires or "never" }}{% if e.expired %} (expired){% endif %}</td></tr>
{% endfor %}</table>
{% else %}<p>No exemptions configured.</p>{% endif %}

<h2>Quarantine</h2>
{% if backups %}
<table><tr><th>backup</th><th>state</th><th>identity</th><th>credential</th><th>rule</th><th>created</th></tr>
{% for b in backups %}<tr><td><code>{{ b.id }}</code></td><td>{{ b.state }}</td><td>{{ b.identity }}</td><td>{{ b.credential }}</td><td>{{ b.rule_id }}</td><td>{{ b.created }}</td></tr>
{% endfor %}</table>
{% else %}<p>No credential has been quarantined.</p>{% endif %}

<h2>Recent actions</h2>
{% if actions %}
<table><tr><th>time</th><th>action</th><th>target</th><th>by</th></tr>
{% for a in actions %}<tr><td>{{ a.time }}</td><td>{{ a.kind }}</td><td>{{ a.target }}</td><td>{{ a.actor or "-" }}</td></tr>
{% endfor %}</table>
{% else %}<p>No actions recorded.</p>{% endif %}

<h2>Parked payloads</h2>
<p>{{ parked_total }} payload(s) could not be processed{% if parked_by_source %} ({% for s, n in parked_by_source.items() %}{{ s }}: {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}){% endif %}.</p>
{% if parked %}<table><tr><th>received</th><th>source</th><th>reason</th></tr>
{% for p in parked %}<tr><td>{{ p.time }}</td><td>{{ p.source }}</td><td>{{ p.reason }}</td></tr>{% endfor %}</table>{% endif %}
</body>
</html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(data: dict[str, Any]) -> str:
    identities = []
    for i in data["identities"]:
        paths = [TrustPathView(p["issuer"], p["subject"]) for p in i.get("paths", [])]
        identities.append({**i, "svg": svg(f"{i['name']} ({i['kind_words']})", i.get("privilege") or "no Azure role known",
                                           paths, privileged=bool(i.get("privileged")))})
    max_count = max(data["by_severity"].values(), default=0)
    return _ENV.from_string(TEMPLATE).render(**{**data, "identities": identities, "max_count": max_count})
