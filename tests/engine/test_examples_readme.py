"""The example credential files give exactly the rule ids their README promises."""

from __future__ import annotations

import re

from wifguard.catalogue.engine import Engine
from wifguard.config import load_config
from wifguard.offline.evaluate import evaluate_paths
from wifguard.package_data import data_file, examples_dir

_ITEM = re.compile(r"^- `(?P<file>[^`]+\.json)`: (?P<text>.*)$", re.M)


def test_examples_readme_lists_the_rules_each_file_triggers() -> None:
    engine = Engine(load_config(data_file("demo-config.yaml")))
    readme = (examples_dir() / "README.md").read_text(encoding="utf-8")
    items = {m["file"]: set(re.findall(r"\bWIF\d{3}\b", m["text"])) for m in _ITEM.finditer(readme)}
    files = sorted(p.name for p in examples_dir().glob("*.json"))
    assert sorted(items) == files
    for name in files:
        result = evaluate_paths(engine, [examples_dir() / name])
        assert result.errors == [], name
        assert {f.rule_id for f, _ in result.located} == items[name], name
