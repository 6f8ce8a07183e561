"""Shipped data: read through importlib.resources, and the config schema file is current."""

from __future__ import annotations

import json

from wifguard.config import DEFAULT_CONFIG_PATH, load_config
from wifguard.config_schema import SCHEMA_FILE, config_json_schema, render
from wifguard.package_data import data_file, examples_dir, rules_dir


def test_shipped_schema_is_current() -> None:
    shipped = data_file(SCHEMA_FILE).read_text(encoding="utf-8")
    assert shipped == render(), "config changed: regenerate with `python -m wifguard.config_schema`"


def test_schema_describes_the_config_users_write() -> None:
    schema = config_json_schema()
    assert schema["$defs"]["Severity"]["enum"] == ["info", "low", "medium", "high", "critical"]
    assert "source" not in schema["properties"] and "quarantine" in schema["properties"]
    json.dumps(schema)


def test_package_data_locations() -> None:
    assert rules_dir() / "config.default.yaml" == DEFAULT_CONFIG_PATH
    assert sorted(p.name for p in rules_dir().glob("*.yaml"))[0] == "10-issuer.yaml"
    assert any(examples_dir().glob("*.json"))
    assert load_config().source == str(DEFAULT_CONFIG_PATH)
