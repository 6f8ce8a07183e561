"""Finding output formats besides table, JSON and SARIF: CSV, JUnit XML and Markdown.

Each takes the rows ``EvaluateResult.to_json`` / ``SweepReport.to_json`` produce (findings as
dicts, with an optional ``location``), so every command renders the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

COLUMNS = ("severity", "rule_id", "title", "identity", "credential", "role_assignment", "location", "message",
           "fingerprint")


def _flat(f: Mapping[str, Any]) -> dict[str, str]:
    ident = f.get("identity") or {}
    cred = f.get("credential") or {}
    ra = f.get("role_assignment") or {}
    loc = f.get("location") or {}
    return {
        "severity": str(f.get("severity", "")),
        "rule_id": str(f.get("rule_id", "")),
        "title": str(f.get("title", "")),
        "identity": str(ident.get("name") or ident.get("id") or ""),
        "credential": str(cred.get("name") or ""),
        "role_assignment": str(ra.get("role") or ra.get("id") or ""),
        "location": f"{loc['path']}:{loc['line']}:{loc['column']}" if loc else "",
        "message": str(f.get("message", "")),
        "fingerprint": str(f.get("fingerprint", "")),
    }


def to_csv(findings: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for f in findings:
        # Cells starting with = + - @ are read as formulas by spreadsheets: tenant text is data.
        w.writerow({k: ("'" + v if v[:1] in ("=", "+", "-", "@") else v) for k, v in _flat(f).items()})
    return buf.getvalue()


def to_junit(findings: Iterable[Mapping[str, Any]], *, suite: str = "wifguard", checked: int = 0) -> str:
    """One test case per finding (a failure), plus one passing case when nothing was found."""
    rows = [_flat(f) for f in findings]
    cases = []
    for r in rows:
        name = f"{r['rule_id']} {r['identity']}" + (f" / {r['credential']}" if r["credential"] else "")
        body = escape(f"{r['message']}\n{r['location']}".strip())
        cases.append(f"  <testcase classname={quoteattr(r['rule_id'])} name={quoteattr(name)}>\n"
                     f"    <failure type={quoteattr(r['severity'])} message={quoteattr(r['title'])}>{body}</failure>\n"
                     "  </testcase>")
    if not rows:
        cases.append(f"  <testcase classname=\"wifguard\" name={quoteattr(f'{checked} credential(s) checked')}/>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name={quoteattr(suite)} '
            f'tests="{max(1, len(rows))}" failures="{len(rows)}">\n' + "\n".join(cases) + "\n</testsuite>\n")


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def to_markdown(findings: Iterable[Mapping[str, Any]], *, title: str = "wifguard findings") -> str:
    rows = [_flat(f) for f in findings]
    lines = [f"## {title}", "", f"{len(rows)} finding(s)", ""]
    if rows:
        lines += ["| severity | rule | identity | credential | location | message |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {_md(r['severity'])} | {_md(r['rule_id'])} | {_md(r['identity'])} | {_md(r['credential'])} | "
                  f"{_md(r['location'])} | {_md(r['message'])} |" for r in rows]
    return "\n".join(lines) + "\n"
