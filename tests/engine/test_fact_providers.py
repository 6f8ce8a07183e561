"""The fact-provider registry: declarations match what the builders produce, the rule-variable
schema and the README follow from it, and a new fact is one new module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wifguard.catalogue import facts as F
from wifguard.catalogue.engine import Engine
from wifguard.catalogue.facts import registry
from wifguard.catalogue.facts.providers import FactField, FactRegistry, UnknownFact, fact_provider
from wifguard.catalogue.facts.providers.__main__ import BEGIN, END
from wifguard.catalogue.facts.registry import TARGETS, markdown_table
from wifguard.catalogue.rules import RuleError, load_rule_file
from wifguard.config import load_config
from wifguard.domain.model import Credential, Identity, IdentityKind, TrustContext

ROOT = Path(__file__).resolve().parents[2]
GH = "https://token.actions.githubusercontent.com"

# What each target's conditions could read before the registry existed (wifguard.catalogue.rules.VARIABLES).
BEFORE = {
    "credential": {"credential", "issuer", "subject", "flex", "identity", "config", "prior", "external"},
    "tenant": {"credential", "issuer", "subject", "flex", "identity", "config", "tenant"},
    "role_assignment": {"role", "identity", "config"},
    "identity": {"identity", "config"},
    "change": {"change", "credential", "issuer", "subject", "flex", "identity", "config"},
}


def _sample_ctx() -> tuple[TrustContext, Credential]:
    cred = Credential("c", GH, "repo:o/r:pull_request", ("api://AzureADTokenExchange",))
    return TrustContext(Identity("i", "i", IdentityKind.APPLICATION), (cred,), (), ()), cred


def test_the_schema_per_target_is_what_it_was() -> None:
    assert {t: set(registry.variables_for(t)) for t in TARGETS} == BEFORE


def test_the_groups_are_one_module_each() -> None:
    mods = {p.name: p.module.rsplit(".", 1)[-1] for p in registry.providers()}
    for group in ("issuers", "subjects", "flexible", "roles", "privilege", "external", "evidence"):
        assert mods[group] == group
    assert {p.name for p in registry.of("identity")} == {"identity", "privilege"}
    assert {p.name for p in registry.of("change")} == {"changes", "evidence"}


def _check_type(kind: str, value: Any) -> bool:
    return {
        "string": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "list<string>": lambda v: isinstance(v, list | tuple) and all(isinstance(x, str) for x in v),
        "text": lambda v: isinstance(v, F.Quoted),
    }[kind](value)


def test_declared_fields_are_exactly_what_the_builders_produce() -> None:
    ctx, cred = _sample_ctx()
    samples = registry.samples(F.ConfigFacts(load_config()), ctx, cred)
    assert set(samples) == set(registry.variables())
    for var, value in samples.items():
        if registry.of(var)[0].shape == "list":
            continue
        declared = registry.fields(var)
        assert set(value) == set(declared), var
        wrong = [f"{var}.{n}: {f.type} but {type(value[n]).__name__}" for n, f in declared.items()
                 if not _check_type(f.type, value[n])]
        assert wrong == []
        assert all(f.description for f in declared.values())


def test_every_provider_builds_its_own_fields_from_real_inputs() -> None:
    # The builders, called as the engine calls them, produce what their module declares.
    ctx, cred = _sample_ctx()
    cf = F.ConfigFacts(load_config())
    privilege = registry.provider("privilege")
    built = privilege.build(ctx, cf.tiering, cf.privileged_roles, frozenset(cf.root_scopes))
    assert privilege.field_names <= set(built)
    evidence = registry.provider("evidence")
    from wifguard.catalogue.facts.providers.changes import sample_change

    assert set(evidence.build(sample_change(cred))) == evidence.field_names


def test_readme_variables_table_is_generated_from_the_registry() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip()
    assert shown == markdown_table(), "run: python -m wifguard.catalogue.facts.providers README.md"


def test_unknown_names_fail_listing_the_valid_ones() -> None:
    with pytest.raises(UnknownFact, match=r"no rule variable 'secrets'; variables: change, config, credential"):
        registry.of("secrets")
    with pytest.raises(UnknownFact, match=r"no fact provider 'usage'; registered: .*privilege"):
        registry.provider("usage")
    with pytest.raises(UnknownFact, match="targets: credential, tenant"):
        registry.variables_for("subscription")


def test_a_bad_declaration_fails_at_registration() -> None:
    reg = FactRegistry()
    fact_provider("a", variable="v", targets=("credential",), fields=(FactField("x", "bool", "x"),),
                  description="a", into=reg)(lambda c: {"x": True})
    with pytest.raises(ValueError, match=r"unknown target.*valid: credential, tenant"):
        fact_provider("b", variable="w", targets=("subscription",), fields=(), description="b", into=reg)(len)
    with pytest.raises(ValueError, match=r"field\(s\) x of v are already declared by a"):
        fact_provider("c", variable="v", targets=("credential",), fields=(FactField("x", "int", "x"),),
                      description="c", into=reg)(len)
    with pytest.raises(ValueError, match="type 'float' is not one of"):
        FactField("y", "float", "y")
    with pytest.raises(ValueError, match="only credential, identity, change take new fields"):
        fact_provider("d", variable="role", targets=("role_assignment",), fields=(), description="d",
                      inline=False, into=reg)(len)


def _rule_file(tmp_path: Path, condition: str, applies_to: str = "identity") -> Path:
    p = tmp_path / "acme.yaml"
    p.write_text(f"""rules:
  - id: ACME900
    title: Dormant federated identity
    severity: medium
    applies_to: {applies_to}
    condition: "{condition}"
    message: "{{identity[name]!r}} was last used {{identity[usage_days_text]}}."
    remediation: Remove it.
""", encoding="utf-8")
    return p


def test_an_unknown_field_fails_at_load_naming_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match=r"ACME900: condition uses unknown field\(s\) identity.usage_days; "
                                        r"identity has application, credential_count"):
        load_rule_file(_rule_file(tmp_path, "identity.usage_days > 90"))
    with pytest.raises(RuleError, match="a identity rule may use config, identity"):
        load_rule_file(_rule_file(tmp_path, "role.privileged"))


@pytest.fixture
def usage_provider() -> Iterator[None]:
    """A new fact group as a user would add it: one module registering one builder."""

    def usage_vars(ctx: TrustContext, cf: F.ConfigFacts) -> dict[str, Any]:
        days = {"dormant-app": 400}.get(ctx.identity.name, 3)
        return {"usage_days": days, "usage_days_text": f"{days} days ago"}

    fact_provider("usage", variable="identity", targets=TARGETS, inline=False,
                  description="Days since the identity last signed in.",
                  fields=(FactField("usage_days", "int", "days since the last sign-in"),
                          FactField("usage_days_text", "string", "the same, for messages")))(usage_vars)
    try:
        yield
    finally:
        registry.remove("usage")


def test_a_new_fact_is_one_new_module(usage_provider: None, tmp_path: Path) -> None:
    assert "usage_days" in registry.fields("identity")
    path = _rule_file(tmp_path, "identity.usage_days > 90")
    engine = Engine(load_config(overrides={"rule_paths": [str(path)]}))
    dormant = TrustContext(Identity("d", "dormant-app", IdentityKind.APPLICATION), (), (), ())
    busy = TrustContext(Identity("b", "busy-app", IdentityKind.APPLICATION), (), (), ())
    (hit,) = [f for f in engine.evaluate(dormant).findings if f.rule_id == "ACME900"]
    assert hit.message == "'dormant-app' was last used 400 days ago."
    assert not [f for f in engine.evaluate(busy).findings if f.rule_id == "ACME900"]


def test_the_new_fact_leaves_with_its_module(tmp_path: Path) -> None:
    assert "usage_days" not in registry.fields("identity")
    ctx, _ = _sample_ctx()
    assert "usage_days" not in F.identity_view(ctx, F.ConfigFacts(load_config())).vars
