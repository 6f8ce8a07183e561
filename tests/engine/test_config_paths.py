"""Config paths: relative ``rule_paths`` are relative to the config file, not to the working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wifguard.catalogue.engine import Engine
from wifguard.config import load_config

RULE = """\
- id: ACME001
  title: Acme subject
  severity: low
  applies_to: credential
  condition: credential.subject == "acme"
  message: acme
  remediation: none
"""


def test_relative_rule_paths_follow_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf_dir = tmp_path / "conf"
    (conf_dir / "my-rules").mkdir(parents=True)
    (conf_dir / "my-rules" / "acme.yaml").write_text(RULE, encoding="utf-8")
    cfg_file = conf_dir / "wifguard.yaml"
    cfg_file.write_text("rule_paths: [./my-rules]\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(cfg_file)
    assert cfg.rule_paths == (str(conf_dir / "my-rules"),)
    assert "ACME001" in {r.id for r in Engine(cfg).all_rules}
    assert os.getcwd() == str(elsewhere)
