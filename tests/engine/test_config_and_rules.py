"""Configuration (overrides, exemptions, user rules) and rule-file / config-file errors, plus a
conformance check of the shipped catalogue against the specification table."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from engine_helpers import (
    EVIL,
    ctx,
    engine,
    evaluate,
    graph_fic,
    one,
    rule_ids,
    severity,
)

from wifguard.catalogue.engine import Engine
from wifguard.catalogue.rules import RuleError
from wifguard.config import ConfigError, load_config

# The catalogue: every rule id with its default severity (rules-catalogue.md).
CATALOGUE = {
    "WIF101": "high", "WIF102": "critical", "WIF103": "high", "WIF104": "high", "WIF105": "high",
    "WIF106": "medium", "WIF107": "critical",
    "WIF201": "high", "WIF202": "critical", "WIF203": "medium", "WIF204": "high", "WIF205": "low",
    "WIF206": "medium", "WIF207": "high", "WIF208": "high", "WIF209": "low",
    "WIF210": "high", "WIF211": "high",
    "WIF301": "low", "WIF302": "critical", "WIF303": "high", "WIF304": "medium",
    "WIF401": "medium",
    "WIF501": "low", "WIF502": "info", "WIF503": "medium", "WIF504": "medium",
    "WIF601": "high", "WIF602": "critical", "WIF603": "high", "WIF604": "critical", "WIF605": "high",
    # Base severities; escalations: WIF606 critical for Tier 0, WIF607 high/critical (eligible one
    # level lower), WIF609 critical when the trusting app holds Tier 0.
    "WIF606": "high", "WIF607": "medium", "WIF608": "high", "WIF609": "high",
    "WIF701": "medium", "WIF702": "medium",
    "WIF212": "high", "WIF213": "critical", "WIF214": "high", "WIF215": "high", "WIF216": "high",
    "WIF704": "high",
}


def test_shipped_rules_match_the_catalogue() -> None:
    eng = Engine(load_config())
    shipped = {r.id: r.spec.severity.label for r in eng.all_rules}
    assert {k: shipped.get(k) for k in CATALOGUE} == CATALOGUE
    assert {r.id for r in eng.rules} >= set(CATALOGUE)  # all enabled by default


def test_shipped_default_config_matches_the_catalogue() -> None:
    cfg = load_config()
    assert set(cfg.allowed_issuers) == {
        "https://token.actions.githubusercontent.com", "https://gitlab.com", "https://app.terraform.io",
        "https://app.eu.terraform.io", "https://vstoken.dev.azure.com/*", "https://*.oic.prod-aks.azure.com/*",
        # AKS/Arc of the home tenant only: the shipped defaults trust no other tenant's clusters.
        "https://*.oic.prod-aks.azure.com/{home_tenant_id}/*", "https://*.oic.prod-arc.azure.com/{home_tenant_id}/*",
        "https://accounts.google.com",
        "https://login.microsoftonline.com/{home_tenant_id}/v2.0",
    }
    assert set(cfg.allowed_audiences) == {"api://AzureADTokenExchange", "api://AzureADTokenExchangeUSGov",
                                          "api://AzureADTokenExchangeChina"}
    assert len({g.lower() for g in cfg.privileged_roles}) == 13
    assert set(cfg.kubernetes.disallowed_namespaces) == {"default", "kube-system", "kube-public"}
    assert cfg.github.allowed_owners == () and cfg.azure_devops.allowed_organizations == ()
    assert cfg.gitlab.allowed_groups == () and cfg.terraform_cloud.allowed_organizations == ()


# -- overrides --------------------------------------------------------------------------------
def test_severity_override() -> None:
    cred = graph_fic(description=None)
    assert severity(evaluate(ctx(cred)), "WIF502") == "info"
    assert severity(evaluate(ctx(cred), engine(rules={"WIF502": {"severity": "high"}})), "WIF502") == "high"
    assert severity(evaluate(ctx(cred), engine(rules={"wif502": {"severity": "low"}})), "WIF502") == "low"


def test_disabling_a_rule() -> None:
    cred = graph_fic(issuer=EVIL)
    assert "WIF102" in rule_ids(evaluate(ctx(cred)))
    ev = evaluate(ctx(cred), engine(rules={"WIF102": {"enabled": False}}))
    assert "WIF102" not in rule_ids(ev)
    assert "WIF101" in rule_ids(ev)  # others unaffected


def test_override_of_an_unknown_rule_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="WIF999"):
        Engine(load_config(overrides={"rules": {"WIF999": {"enabled": False}}}))


# -- exemptions -------------------------------------------------------------------------------
def exemption(expires: str, **kw) -> dict:
    return {"rule": "WIF102", "identity": "app-deploy", "credential": "backdoor", "reason": "CAB-1234",
            "expires": expires, **kw}


def test_exemption_suppresses_until_it_expires() -> None:
    eng = engine(exemptions=[exemption("2030-06-30")])
    c = ctx(graph_fic(name="backdoor", issuer=EVIL))
    before = eng.evaluate(c, today=dt.date(2030, 6, 29))
    assert "WIF102" not in rule_ids(before)
    assert "WIF101" in rule_ids(before)  # only the exempted rule is suppressed
    assert [f.rule_id for f, _ in before.exempted] == ["WIF102"]
    assert eng.expired_exemptions(dt.date(2030, 6, 29)) == []

    after = eng.evaluate(c, today=dt.date(2030, 7, 1))
    assert "WIF102" in rule_ids(after)
    expired = eng.expired_exemptions(dt.date(2030, 7, 1))
    assert [e.reason for e in expired] == ["CAB-1234"]


def test_expired_exemption_is_reported_today() -> None:
    eng = engine(exemptions=[exemption("2001-01-01", reason="old review")])
    assert "WIF102" in rule_ids(evaluate(ctx(graph_fic(name="backdoor", issuer=EVIL)), eng))
    assert [e.reason for e in eng.expired_exemptions()] == ["old review"]


def test_exemption_for_another_credential_or_identity_does_not_suppress() -> None:
    eng = engine(exemptions=[exemption("2099-12-31")])
    assert "WIF102" in rule_ids(evaluate(ctx(graph_fic(name="other", issuer=EVIL)), eng))
    assert "WIF102" in rule_ids(evaluate(ctx(graph_fic(name="backdoor", issuer=EVIL), name="other-app"), eng))


def test_exemption_without_expiry_and_by_identity_id() -> None:
    eng = engine(exemptions=[{"rule": "WIF10*", "identity": "0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e",
                              "reason": "reviewed"}])
    ev = evaluate(ctx(graph_fic(name="backdoor", issuer=EVIL)), eng)
    assert not {"WIF101", "WIF102"} & rule_ids(ev)
    assert eng.expired_exemptions() == []


# -- user rules -------------------------------------------------------------------------------
USER_RULE = """
rules:
  - id: ACME001
    title: Temporary credential names are not allowed
    severity: medium
    applies_to: credential
    condition: "credential.name.startsWith('tmp-')"
    message: "Credential {credential[name]!r} has a temporary name."
    remediation: Rename or remove the credential.
"""


def test_user_rule_file_fires(write_rules) -> None:
    path = write_rules(USER_RULE)
    eng = Engine(load_config(overrides={"rule_paths": [str(path)]}))
    f = one(eng.evaluate(ctx(graph_fic(name="tmp-deploy"))), "ACME001")
    assert f.severity.label == "medium"
    assert "tmp-deploy" in f.message
    assert f.credential["name"] == "tmp-deploy"
    assert "ACME001" not in rule_ids(eng.evaluate(ctx(graph_fic(name="deploy"))))


def test_user_rule_directory_and_config_file(write_rules, tmp_path: Path) -> None:
    path = write_rules(USER_RULE)
    cfg_file = tmp_path / "wifguard.yaml"
    cfg_file.write_text(f"rule_paths: [{str(path.parent)!r}]\nrules:\n  ACME001: {{severity: critical}}\n")
    eng = Engine(load_config(cfg_file))
    assert one(eng.evaluate(ctx(graph_fic(name="tmp-x"))), "ACME001").severity.label == "critical"


def _rule(**fields: str) -> str:
    base = {
        "id": "ACME002",
        "title": "A custom rule",
        "severity": "high",
        "applies_to": "credential",
        "condition": "credential.name == 'x'",
        "message": "Credential {credential[name]!r} is bad.",
        "remediation": "Fix it.",
    }
    base.update(fields)
    body = "\n".join(f"    {k}: {v!r}" if k != "id" else f"  - {k}: {v}" for k, v in base.items() if v is not None)
    return "rules:\n" + body.replace("    id", "  - id", 1) + "\n"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"condition": "credential.name =="}, "CEL"),
        ({"condition": "credential.name == 'x' &&"}, "CEL"),
        ({"condition": "secrets.value == 'x'"}, "secrets"),  # unknown variable
        ({"applies_to": "role_assignment", "condition": "credential.name == 'x'"}, "credential"),
        ({"condition": "credential.no_such_field == 'x'"}, "no_such_field"),  # unknown field
        ({"condition": "credential.name"}, "boolean"),  # non-boolean condition
        ({"condition": "identity.credential_count + 1"}, "boolean"),
        ({"condition": None}, "condition"),  # missing required key
        ({"title": None}, "title"),
        ({"severity": "urgent"}, "severity"),  # bad severity
        ({"applies_to": "tenant_wide"}, "applies_to"),
    ],
)
def test_broken_rule_file_names_file_rule_and_problem(write_rules, fields: dict, problem: str) -> None:
    path = write_rules(_rule(**fields), name="broken.yaml")
    with pytest.raises((RuleError, ConfigError)) as info:
        Engine(load_config(overrides={"rule_paths": [str(path)]}))
    msg = str(info.value)
    assert "broken.yaml" in msg
    assert "ACME002" in msg
    assert problem in msg


def test_duplicate_rule_id_across_files(write_rules) -> None:
    path = write_rules(_rule(id="WIF101"), name="dup.yaml")
    with pytest.raises(RuleError) as info:
        Engine(load_config(overrides={"rule_paths": [str(path)]}))
    msg = str(info.value)
    assert "dup.yaml" in msg and "WIF101" in msg and "duplicate" in msg.lower()


def test_duplicate_rule_id_within_one_file(write_rules) -> None:
    text = _rule() + _rule().replace("rules:\n", "")
    path = write_rules(text, name="twice.yaml")
    with pytest.raises(RuleError) as info:
        Engine(load_config(overrides={"rule_paths": [str(path)]}))
    msg = str(info.value)
    assert "twice.yaml" in msg and "ACME002" in msg and "duplicate" in msg.lower()


def test_rule_file_that_is_not_yaml(write_rules) -> None:
    path = write_rules("rules: [\n  - id: {", name="garbage.yaml")
    with pytest.raises(RuleError, match=r"garbage\.yaml"):
        Engine(load_config(overrides={"rule_paths": [str(path)]}))


def test_missing_rule_path(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="nowhere"):
        Engine(load_config(overrides={"rule_paths": [str(tmp_path / "nowhere")]}))


# -- broken config files ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("allowed_issuer: ['https://x.example.com']\n", "allowed_issuer"),  # unknown key (typo)
        ("github:\n  allowed_owner: [contoso]\n", "allowed_owner"),
        ("github:\n  allowed_owners: 5\n", "allowed_owners"),  # bad type
        ("home_tenant_id: [1, 2]\n", "home_tenant_id"),
        ("approved_actors: {a: 1}\n", "approved_actors"),
        ("rules:\n  WIF101: {severity: urgent}\n", "severity"),
        ("quarantine:\n  max_per_hour: many\n", "max_per_hour"),
        ("exemptions:\n  - {rule: WIF101, reason: ok, expires: someday}\n", "expires"),
        ("allowed_issuers: ['not a url']\n", "allowed_issuers"),
    ],
)
def test_broken_config_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    p = tmp_path / "bad-config.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Engine(load_config(p))
    msg = str(info.value)
    assert "bad-config.yaml" in msg
    assert key in msg


def test_config_that_is_not_a_mapping(tmp_path: Path) -> None:
    p = tmp_path / "list.yaml"
    p.write_text(textwrap.dedent("""\
        - home_tenant_id
        - x
    """))
    with pytest.raises(ConfigError, match=r"list\.yaml"):
        load_config(p)


def test_user_allow_lists_add_to_defaults_from_a_file(tmp_path: Path) -> None:
    p = tmp_path / "cfg.yaml"
    p.write_text("allowed_issuers: ['https://idp.contoso.com']\nprivileged_roles: ['c0ffee00-0000-4000-8000-000000000001']\n")
    cfg = load_config(p)
    assert "https://idp.contoso.com" in cfg.allowed_issuers
    assert "https://token.actions.githubusercontent.com" in cfg.allowed_issuers
    assert "8e3af657-a8ff-443c-a75c-2fe8c4bcb635" in cfg.privileged_roles
    assert "c0ffee00-0000-4000-8000-000000000001" in cfg.privileged_roles
