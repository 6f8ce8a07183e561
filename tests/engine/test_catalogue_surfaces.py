"""The rule metadata reaches SARIF (fullDescription, help in Markdown, ATT&CK tags) and
`wifguard rules show`; rules without metadata keep the previous descriptors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from engine_helpers import REPO, wifguard_cli

from wifguard.catalogue.rules import load_rule_file, load_rules
from wifguard.package_data import rules_dir
from wifguard.reporting.sarif import build_sarif, help_uri

SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def descriptors() -> dict[str, dict]:
    rules = load_rules([rules_dir()])
    log = build_sarif([], rules, {})
    jsonschema.validate(log, json.loads(SCHEMA.read_text(encoding="utf-8")), cls=jsonschema.Draft7Validator)
    return {d["id"]: d for d in log["runs"][0]["tool"]["driver"]["rules"]}


def test_full_description_says_when_the_rule_fires(descriptors: dict[str, dict]) -> None:
    d = descriptors["WIF101"]["fullDescription"]
    assert d["text"] == "Fires when the issuer matches no entry of allowed_issuers."
    assert d["markdown"] == "Fires when the issuer matches no entry of `allowed_issuers`."
    # A README-relative link points into the README; the plain text keeps only the words.
    d212 = descriptors["WIF212"]["fullDescription"]
    assert "[outside checks](https://github.com/wifguard/wifguard#outside-checks)" in d212["markdown"]
    assert "outside checks" in d212["text"] and "](" not in d212["text"]


def test_help_has_remediation_triage_false_positives_attack_and_references(descriptors: dict[str, dict]) -> None:
    h = descriptors["WIF102"]["help"]
    md = h["markdown"]
    assert md.startswith("**Remediation.** Treat this as a possible backdoor")
    assert "**Triage.** Treat as an active backdoor" in md
    assert "**False positives.**\n- A self-managed cluster" in md
    assert ("[T1098.001 Account Manipulation: Additional Cloud Credentials]"
            "(https://attack.mitre.org/techniques/T1098/001/)") in md
    assert "- <https://dirkjanm.io/persisting-with-federated-credentials-entra-apps-managed-identities/>" in md
    assert h["text"].startswith("Treat this as a possible backdoor") and "Triage: Treat as an active" in h["text"]
    assert descriptors["WIF102"]["helpUri"] == help_uri("WIF102")


def test_attack_ids_are_tags(descriptors: dict[str, dict]) -> None:
    tags = descriptors["WIF104"]["properties"]["tags"]
    assert {"external/mitre-attack/T1484.002", "external/mitre-attack/T1098.001", "security"} <= set(tags)
    assert not [t for t in descriptors["WIF502"]["properties"]["tags"] if "mitre" in t]  # cites none


def test_a_rule_without_metadata_keeps_the_plain_descriptor(tmp_path: Path) -> None:
    p = tmp_path / "acme.yaml"
    p.write_text("rules:\n  - {id: ACME001, title: Custom rule, severity: low, applies_to: credential,\n"
                 "     condition: credential.flexible, message: Flexible., remediation: Review it.}\n",
                 encoding="utf-8")
    d = build_sarif([], load_rule_file(p), {})["runs"][0]["tool"]["driver"]["rules"][0]
    assert d["fullDescription"] == {"text": "Review it."}
    assert d["help"] == {"text": "Review it.", "markdown": "**Remediation.** Review it."}


def test_rules_show_prints_the_metadata() -> None:
    out = wifguard_cli("rules", "show", "WIF212")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for heading in ("fires when:", "triage:", "remediation:", "false positives:", "MITRE ATT&CK:",
                    "references:", "condition:"):
        assert f"\n{heading}\n" in text, heading
    assert "default severity: high, critical on a privileged identity" in text
    assert ("  T1195.002  Supply Chain Compromise: Compromise Software Supply Chain  "
            "https://attack.mitre.org/techniques/T1195/002/") in text

    row = json.loads(wifguard_cli("rules", "show", "WIF212", "-f", "json").stdout)
    assert row["attack"][0] == {"id": "T1195.002", "name": "Supply Chain Compromise: Compromise Software Supply Chain",
                                "url": "https://attack.mitre.org/techniques/T1195/002/"}
    assert row["false_positives"] and row["triage"] and row["fires_when"] and row["references"]
