"""Catalogue lint: checks on rule metadata that the loader's schema does not make (pySigma's
validators, Elastic's ``test_all_rules.py``).

Each check looks at one rule (or, for ids, across rules) and returns problems naming the rule, its
file and what to fix. The shipped catalogue is held to the full standard (references, ATT&CK ids,
false positives, triage, the README's "fires when"); user rules only to what they chose to write
(a cited ATT&CK id must exist, references must be https). ``wifguard rules lint`` and the catalogue
test run the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from wifguard.catalogue.rules import ATTACK_ID_RE, Rule
from wifguard.domain.model import Severity
from wifguard.package_data import data_file


@dataclass(frozen=True, slots=True)
class LintProblem:
    rule_id: str
    source: str
    problem: str

    def __str__(self) -> str:
        return f"{self.source}: rule {self.rule_id}: {self.problem}"


@dataclass(frozen=True)
class AttackCatalogue:
    source: str
    techniques: Mapping[str, str]

    def name(self, technique_id: str) -> str:
        return self.techniques.get(technique_id, "")


@cache
def attack_techniques() -> AttackCatalogue:
    """The ATT&CK techniques rules may cite (``wifguard/data/attack-techniques.yaml``)."""
    data: Any = yaml.safe_load(data_file("attack-techniques.yaml").read_text(encoding="utf-8"))
    techniques = {str(k): str(v) for k, v in data["techniques"].items()}
    bad = [k for k in techniques if not ATTACK_ID_RE.match(k)]
    if bad:
        raise ValueError(f"attack-techniques.yaml: not technique ids: {', '.join(bad)}")
    return AttackCatalogue(str(data["source"]), techniques)


def attack_url(technique_id: str) -> str:
    """The technique's page on attack.mitre.org (T1098.001 -> .../T1098/001/)."""
    return "https://attack.mitre.org/techniques/" + technique_id.replace(".", "/") + "/"


def _max_severity(rule: Rule) -> Severity:
    return max([rule.spec.severity, *(e.severity for e in rule.spec.escalate)])


def _check_attack(rule: Rule, shipped: bool) -> list[str]:
    known = attack_techniques().techniques
    out = [f"attack: {t} is not in wifguard/data/attack-techniques.yaml (a typo, or add it there with its name)"
           for t in rule.spec.attack if t not in known]
    if len(set(rule.spec.attack)) != len(rule.spec.attack):
        out.append("attack: an id is listed twice")
    if shipped and not rule.spec.attack and _max_severity(rule) >= Severity.MEDIUM:
        out.append("attack: a shipped rule of medium severity or above cites at least one ATT&CK technique")
    return out


def _check_references(rule: Rule, shipped: bool) -> list[str]:
    out = [f"references: {u!r} is not an https URL" for u in rule.spec.references
           if not u.lower().startswith("https://")]
    if shipped and not rule.spec.references:
        out.append("references: a shipped rule cites at least one public reference")
    return out


def _check_triage(rule: Rule, shipped: bool) -> list[str]:
    if rule.spec.triage.strip():
        return []
    if _max_severity(rule) >= Severity.HIGH:
        return [f"triage: a rule that can be {_max_severity(rule).label} needs a triage note (what to check first)"]
    if shipped:
        return ["triage: a shipped rule needs a triage note (what to check first)"]
    return []


def _check_shipped_text(rule: Rule, shipped: bool) -> list[str]:
    if not shipped:
        return []
    s = rule.spec
    out = []
    if not s.false_positives:
        out.append("false_positives: a shipped rule lists its known false positives (or 'None known ...')")
    if not s.fires_when.strip():
        out.append("fires_when: a shipped rule says when it fires (the README's rule table)")
    if s.escalate and not s.severity_note.strip():
        out.append("severity_note: a shipped rule with escalations says how its severity changes")
    return out


CHECKS: tuple[Callable[[Rule, bool], list[str]], ...] = (
    _check_attack, _check_references, _check_triage, _check_shipped_text,
)


def lint_rules(rules: Sequence[Rule], *, shipped: Iterable[str] = ()) -> list[LintProblem]:
    """Every problem of ``rules``; ids in ``shipped`` get the full standard."""
    strict = {s.upper() for s in shipped}
    problems: list[LintProblem] = []
    seen: dict[str, Rule] = {}
    for rule in rules:
        key = rule.id.upper()
        if key in seen:
            problems.append(LintProblem(rule.id, rule.source, f"duplicate id (already defined in {seen[key].source})"))
        else:
            seen[key] = rule
        for check in CHECKS:
            problems += [LintProblem(rule.id, rule.source, p) for p in check(rule, key in strict)]
    return problems
