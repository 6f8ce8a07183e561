"""The README's rule table, generated from the rule files (one source of truth for the catalogue).

``wifguard rules docs`` prints the table; ``--readme README.md`` rewrites the part of the README
between the two markers below and ``--check`` only reports whether it is current (CI and a test
run it, so the README cannot drift from ``rules/*.yaml``).
"""

from __future__ import annotations

from collections.abc import Sequence

from wifguard.catalogue.rules import Rule
from wifguard.errors import InputError

START = "<!-- rules-table:start (generated from rules/*.yaml by `wifguard rules docs --readme README.md`) -->"
END = "<!-- rules-table:end -->"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def rules_table(rules: Sequence[Rule]) -> str:
    """The Markdown table: id, default severity (and how escalations change it), ATT&CK, fires when."""
    lines = ["| id | severity | ATT&CK | fires when |", "|---|---|---|---|"]
    for r in sorted(rules, key=lambda r: r.id):
        s = r.spec
        severity = s.severity_note or s.severity.label
        attack = ", ".join(s.attack) or "—"
        lines.append(f"| {r.id} | {_cell(severity)} | {attack} | {_cell(s.fires_when or s.title)} |")
    return "\n".join(lines) + "\n"


def with_table(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < 0 or end < start or readme.count(START) != 1 or readme.count(END) != 1:
        # An input problem (the README someone passed), not a new kind of error.
        raise InputError(f"the README needs exactly one pair of markers: {START} ... {END}",
                         what="rule-table markers missing or broken")
    head = readme[: start + len(START)]
    return f"{head}\n{table}{readme[end:]}"
