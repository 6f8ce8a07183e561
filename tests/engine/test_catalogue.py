"""The catalogue test: every shipped rule has fixtures that fire it and near misses that do not
(``rules/tests/<RULE>.yaml``, format in ``catalogue_cases.py``), and every example credential file
is folded in with the rule ids it is expected to give."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue_cases import Case, Fixture, evaluate_case, fixtures_dir, load_fixture
from engine_helpers import assert_one_sentence

from wifguard.catalogue.rules import load_rules
from wifguard.package_data import examples_dir, rules_dir

SHIPPED = sorted(r.id for r in load_rules([rules_dir()]))
FIXTURES: dict[str, Fixture] = {p.stem: load_fixture(p) for p in sorted(fixtures_dir().glob("*.yaml"))}


def _cases(kind: str) -> list[pytest.param]:
    out = []
    for rule_id, fx in FIXTURES.items():
        for i, c in enumerate(getattr(fx, kind)):
            out.append(pytest.param(rule_id, c, id=f"{rule_id}-{kind}-{i}"))
    return out


def test_every_shipped_rule_has_fires_and_passes_fixtures() -> None:
    assert sorted(FIXTURES) == SHIPPED
    thin = [rid for rid, fx in FIXTURES.items() if not fx.fires or not fx.passes]
    assert thin == [], f"rules without a firing case or a near miss: {thin}"


@pytest.mark.parametrize(("rule_id", "case"), _cases("fires"))
def test_fires(rule_id: str, case: Case) -> None:
    found = [f for f in evaluate_case(case) if f[0] == rule_id]
    assert found, f"{rule_id} did not fire: {case.label}"
    for _, severity, message in found:
        assert_one_sentence(message)
        if case.severity is not None:
            assert severity == case.severity, (case.label, message)


@pytest.mark.parametrize(("rule_id", "case"), _cases("passes"))
def test_passes(rule_id: str, case: Case) -> None:
    found = [f for f in evaluate_case(case) if f[0] == rule_id]
    assert found == [], f"{rule_id} fired on a near miss: {case.label}"


def test_a_near_miss_with_a_typo_fails_to_load(tmp_path: Path) -> None:
    # Strict fixtures: a misspelt key must not turn a case into a vacuous pass.
    p = tmp_path / "WIF999.yaml"
    p.write_text("passes:\n  - case: typo\n    credentail: {issuer: https://x.example}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="credentail"):
        load_fixture(p)


def test_example_files_give_exactly_the_rule_ids_their_fixtures_cite() -> None:
    """Each example file is cited by the fixtures of every rule it fires (``fires``), and by at least
    one rule in all (a clean file as a near miss): the expected ids live with the rules."""
    cited: dict[str, set[str]] = {p.name: set() for p in examples_dir().glob("*.json")}
    mentioned: set[str] = set()
    for rule_id, fx in FIXTURES.items():
        for c in fx.fires:
            if c.example is not None:
                cited[c.example].add(rule_id)
        mentioned |= {c.example for c in (*fx.fires, *fx.passes) if c.example is not None}
    assert mentioned == set(cited), f"examples no fixture cites: {sorted(set(cited) - mentioned)}"
    for name, expected in sorted(cited.items()):
        got = {rid for rid, _, _ in evaluate_case(Case(example=name))}
        assert got == expected, name
