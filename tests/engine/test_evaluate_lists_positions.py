"""`evaluate` inputs: a JSON list of credentials is separate credentials; positions come from
one pass over the text and stay exact with braces and quotes inside strings."""

from __future__ import annotations

import json
from pathlib import Path

from wifguard.catalogue.engine import Engine
from wifguard.config import load_config
from wifguard.offline.evaluate import evaluate_paths
from wifguard.offline.inputs import line_col, loads_with_positions

GH = "https://token.actions.githubusercontent.com"
AUD = ["api://AzureADTokenExchange"]


def test_positions_survive_braces_quotes_and_escapes() -> None:
    text = '[\n  {"a": "x{\\"}", "b": {"c": "}}"}},\n\t{"d": "\\\\"}\n]'
    data = loads_with_positions(text)
    assert text[data[0].pos] == "{" and line_col(text, data[0].pos) == (2, 3)
    assert text[data[0]["b"].pos:].startswith('{"c"')
    assert line_col(text, data[1].pos) == (3, 2) and data[1] == {"d": "\\"}


def test_a_list_of_credentials_is_separate_credentials(tmp_path: Path) -> None:
    # Twenty unrelated credentials in one file are not one identity near the 20-credential limit.
    creds = [{"name": f"c{i}", "issuer": GH, "subject": f"repo:contoso/r{i}:environment:prod", "audiences": AUD,
              "description": "d"} for i in range(20)]
    creds.append({"name": "bad", "issuer": "https://evil0x.blob.core.windows.net/oidc", "subject": "x",
                  "audiences": AUD, "description": "d"})
    p = tmp_path / "many.json"
    p.write_text(json.dumps(creds, indent=2), encoding="utf-8")
    result = evaluate_paths(Engine(load_config()), [p])
    assert result.identities == 21 and result.credentials == 21
    assert "WIF501" not in {f.rule_id for f, _ in result.located}
    bad = [(f, loc) for f, loc in result.located if f.rule_id == "WIF102"]
    assert len(bad) == 1
    f, loc = bad[0]
    assert f.identity["name"] == "many[20]" and loc is not None
    assert p.read_text().splitlines()[loc.line - 1][loc.column - 1] == "{"


def test_a_trust_document_keeps_its_credentials_together(tmp_path: Path) -> None:
    doc = {"identity": {"id": "app-1", "displayName": "deployer"}, "owners": [],
           "federatedIdentityCredentials": [{"name": f"c{i}", "issuer": GH, "subject": f"repo:contoso/r{i}:ref:main",
                                             "audiences": AUD} for i in range(19)]}
    p = tmp_path / "trust.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    result = evaluate_paths(Engine(load_config()), [p])
    assert result.identities == 1 and "WIF501" in {f.rule_id for f, _ in result.located}
