"""Findings on a terminal (rich table) and as JSON, shared by every command."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from wifguard.domain.model import Finding, Severity

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (-int(f.severity), f.rule_id, str(f.identity.get("name")),
                       str((f.credential or {}).get("name") or "")),
    )


def by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {s.label: counts.get(s, 0) for s in sorted(Severity, reverse=True)}


def summary(findings: Sequence[Finding], **extra: Any) -> dict[str, Any]:
    return {
        "findings": len(findings),
        "by_severity": by_severity(findings),
        "by_rule": dict(sorted(Counter(f.rule_id for f in findings).items())),
        **extra,
    }


def render_table(findings: Sequence[Finding], title: str = "wifguard findings") -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Identity", overflow="fold", max_width=30)
    table.add_column("Credential / role", overflow="fold", max_width=30)
    table.add_column("Finding", overflow="fold", min_width=40)
    for f in sort_findings(findings):
        target = ""
        if f.credential:
            target = str(f.credential.get("name") or "")
        elif f.role_assignment:
            target = f"{f.role_assignment.get('role')} @ {f.role_assignment.get('scope')}"
        # Text() keeps tenant-controlled strings from being read as rich markup.
        table.add_row(
            Text(f.severity.label, style=SEVERITY_STYLE[f.severity]),
            Text(f.rule_id),
            Text(f"{f.identity.get('name')} ({f.identity.get('kind')})"),
            Text(target),
            Text(f.message),
        )
    return table


def summary_line(findings: Sequence[Finding]) -> str:
    counts = by_severity(findings)
    parts = [f"{n} {label}" for label, n in counts.items() if n]
    return f"{len(findings)} finding(s)" + (": " + ", ".join(parts) if parts else "")
