"""The catalogue lint (wifguard.catalogue.lint, `wifguard rules lint`) and the rule schema's metadata
fields: the shipped catalogue is clean, and each check catches what it is for (with near misses)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_helpers import REPO, wifguard_cli

from wifguard.catalogue.engine import Engine
from wifguard.catalogue.lint import attack_techniques, attack_url, lint_rules
from wifguard.catalogue.rules import Rule, RuleError, load_rule_file, load_rules, rule_json_schema
from wifguard.config import load_config
from wifguard.package_data import rules_dir


def _rule_yaml(**fields: object) -> str:
    base: dict[str, object] = {
        "id": "ACME001", "title": "Custom rule", "severity": "medium", "applies_to": "credential",
        "condition": "credential.flexible", "message": "Credential {credential[name]!r}.", "remediation": "Fix it.",
    }
    base.update(fields)
    lines = ["rules:", "  -"]
    for k, v in base.items():
        if isinstance(v, (list, tuple)):
            lines.append(f"    {k}: [{', '.join(repr(x) for x in v)}]")
        else:
            lines.append(f"    {k}: {v!r}" if isinstance(v, str) else f"    {k}: {v}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def user_rule(tmp_path: Path) -> Callable[..., Rule]:
    def _load(**fields: object) -> Rule:
        p = tmp_path / f"r{len(list(tmp_path.iterdir()))}.yaml"
        p.write_text(_rule_yaml(**fields), encoding="utf-8")
        return load_rule_file(p)[0]

    return _load


def problems(rule: Rule, shipped: bool = False) -> list[str]:
    return [p.problem for p in lint_rules([rule], shipped=[rule.id] if shipped else [])]


# -- the shipped catalogue ---------------------------------------------------------------------
def test_shipped_catalogue_is_lint_clean() -> None:
    shipped = load_rules([rules_dir()])
    assert lint_rules(shipped, shipped=[r.id for r in shipped]) == []


def test_every_shipped_rule_carries_the_metadata() -> None:
    known = attack_techniques().techniques
    for r in load_rules([rules_dir()]):
        s = r.spec
        assert s.references and all(u.startswith("https://") for u in s.references), r.id
        assert s.false_positives and s.triage.strip() and s.remediation.strip() and s.fires_when.strip(), r.id
        assert all(t in known for t in s.attack), r.id


def test_attack_list_cites_its_source_and_links_each_technique() -> None:
    cat = attack_techniques()
    assert cat.source.startswith("https://attack.mitre.org/")
    assert cat.name("T1098.001") == "Account Manipulation: Additional Cloud Credentials"
    assert attack_url("T1098.001") == "https://attack.mitre.org/techniques/T1098/001/"
    assert attack_url("T1199") == "https://attack.mitre.org/techniques/T1199/"


# -- each check, with its near miss -----------------------------------------------------------
def test_unknown_attack_technique_is_reported(user_rule: Callable[..., Rule]) -> None:
    assert any("T1999.001" in p for p in problems(user_rule(attack=["T1999.001"])))
    assert problems(user_rule(attack=["T1098.001"])) == []


def test_attack_id_listed_twice_is_reported(user_rule: Callable[..., Rule]) -> None:
    assert any("twice" in p for p in problems(user_rule(attack=["T1199", "T1199"])))


def test_http_reference_is_reported(user_rule: Callable[..., Rule]) -> None:
    assert any("https" in p for p in problems(user_rule(references=["http://example.com/doc"])))
    assert problems(user_rule(references=["https://example.com/doc"])) == []


@pytest.mark.parametrize("severity", ["high", "critical"])
def test_high_and_critical_rules_need_a_triage_note(user_rule: Callable[..., Rule], severity: str) -> None:
    assert any("triage" in p for p in problems(user_rule(severity=severity)))
    assert problems(user_rule(severity=severity, triage="Check who added it.")) == []


def test_a_rule_that_escalates_to_high_needs_a_triage_note(tmp_path: Path) -> None:
    p = tmp_path / "esc.yaml"
    p.write_text(_rule_yaml() + "    escalate: [{severity: high, when: 'identity.privileged'}]\n", encoding="utf-8")
    rule = load_rule_file(p)[0]
    assert any("triage" in x for x in problems(rule))


def test_user_rules_may_omit_the_metadata(user_rule: Callable[..., Rule]) -> None:
    assert problems(user_rule(severity="medium")) == []


def test_shipped_rules_must_carry_the_metadata(user_rule: Callable[..., Rule]) -> None:
    found = " ".join(problems(user_rule(severity="medium"), shipped=True))
    for field in ("attack", "references", "triage", "false_positives", "fires_when"):
        assert f"{field}:" in found, field
    full = user_rule(severity="medium", attack=["T1199"], references=["https://example.com/doc"],
                     triage="Check it.", false_positives=["None known."], fires_when="the credential is flexible")
    assert problems(full, shipped=True) == []


def test_shipped_low_rule_may_cite_no_technique(user_rule: Callable[..., Rule]) -> None:
    low = user_rule(severity="low", references=["https://example.com/doc"], triage="Check it.",
                    false_positives=["None known."], fires_when="the credential is flexible")
    assert problems(low, shipped=True) == []


def test_duplicate_ids_are_reported(user_rule: Callable[..., Rule]) -> None:
    a, b = user_rule(), user_rule()
    found = lint_rules([a, b])
    assert [p.problem for p in found if "duplicate" in p.problem] and b.source in str(found[0])


# -- the schema validates the fields at load ---------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"attack": ["T98.1"]}, "attack"),
        ({"attack": ["attack.t1098.001"]}, "attack"),
        ({"references": ["not a url"]}, "references"),
        ({"references": ["ftp://example.com/x"]}, "references"),
        ({"false_positives": ["  "]}, "false_positives"),
    ],
)
def test_schema_rejects_malformed_metadata(user_rule: Callable[..., Rule], fields: dict[str, object],
                                           named: str) -> None:
    with pytest.raises(RuleError) as e:
        user_rule(**fields)
    assert "ACME001" in str(e.value) and named in str(e.value)


def test_rule_json_schema_names_the_metadata_fields() -> None:
    props = rule_json_schema()["properties"]
    assert {"references", "attack", "false_positives", "triage", "fires_when", "severity_note"} <= set(props)


# -- the command -------------------------------------------------------------------------------
def test_rules_lint_command(tmp_path: Path) -> None:
    clean = wifguard_cli("rules", "lint", cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert f"{len(Engine(load_config()).all_rules)} rules: no problems" in clean.stdout

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "acme.yaml").write_text(_rule_yaml(severity="high", attack=["T1999"]), encoding="utf-8")
    (tmp_path / "cfg.yaml").write_text(textwrap.dedent("""\
        rule_paths: [mine]
        """), encoding="utf-8")
    bad = wifguard_cli("rules", "lint", "--config", "cfg.yaml", cwd=tmp_path)
    assert bad.returncode == 1, bad.stderr
    assert "ACME001" in bad.stdout and "T1999" in bad.stdout and "triage" in bad.stdout
    assert "acme.yaml" in bad.stdout


def test_readme_example_rule_loads_and_lints_clean(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Writing rules"):]
    example = section[section.index("```yaml\n") + 8:section.index("```\n", section.index("```yaml\n") + 8)]
    p = tmp_path / "acme.yaml"
    p.write_text(example, encoding="utf-8")
    rules = load_rule_file(p)
    assert [r.id for r in rules] == ["ACME001"] and rules[0].spec.attack == ("T1078.004",)
    assert lint_rules(rules) == []
