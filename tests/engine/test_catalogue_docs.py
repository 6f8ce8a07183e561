"""The README's rule table is generated from rules/*.yaml (`wifguard rules docs`) and cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import REPO, wifguard_cli

from wifguard.catalogue.docs import END, START, rules_table, with_table
from wifguard.catalogue.rules import load_rules
from wifguard.errors import InputError
from wifguard.package_data import rules_dir

DOCS = ("rules", "docs")


def test_readme_rule_table_is_generated_from_the_rule_files() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert with_table(readme, rules_table(load_rules([rules_dir()]))) == readme, (
        "README rule table drifted from rules/*.yaml: run `wifguard rules docs --readme README.md`")


def test_table_has_one_row_per_rule_with_severity_attack_and_fires_when() -> None:
    rules = load_rules([rules_dir()])
    rows = [ln for ln in rules_table(rules).splitlines() if ln.startswith("| WIF")]
    assert [r.split(" | ")[0][2:] for r in rows] == sorted(r.id for r in rules)
    wif212 = next(r for r in rows if r.startswith("| WIF212 "))
    assert "high, critical on a privileged identity" in wif212 and "T1195.002" in wif212
    assert "does not exist" in wif212


def test_markers_are_required(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        with_table("# no markers\n", "| t |\n")
    with pytest.raises(InputError):
        with_table(f"{END}\n{START}\n", "| t |\n")


def test_rules_docs_command_checks_and_rewrites_a_readme(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    current = (REPO / "README.md").read_text(encoding="utf-8")
    readme.write_text(current, encoding="utf-8")
    assert wifguard_cli(*DOCS, "--readme", "README.md", "--check", cwd=tmp_path).returncode == 0

    # Drift: a hand edit of one row.
    readme.write_text(current.replace("| WIF101 | high |", "| WIF101 | low |"), encoding="utf-8")
    drift = wifguard_cli(*DOCS, "--readme", "README.md", "--check", cwd=tmp_path)
    assert drift.returncode == 1 and "differs" in drift.stderr
    assert readme.read_text(encoding="utf-8") != current  # --check writes nothing
    fixed = wifguard_cli(*DOCS, "--readme", "README.md", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert readme.read_text(encoding="utf-8") == current

    printed = wifguard_cli(*DOCS, cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout.startswith("| id | severity | ATT&CK | fires when |")
    missing = wifguard_cli(*DOCS, "--readme", "nope.md", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.md" in missing.stderr
