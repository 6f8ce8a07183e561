"""Fixtures for the engine tests.

The builders (``graph_fic``, ``arm_fic``, ``role``, ``ctx``, ``engine`` cached per overrides,
``rule_ids`` ...) live in ``engine_helpers.py`` so that test modules can import them by a
unique module name (several ``conftest.py`` files in this tree share the module name
``conftest``); they are re-exported here for discoverability.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from engine_helpers import (  # noqa: F401  (re-exported builders)
    arm_fic,
    ctx,
    engine,
    evaluate,
    graph_fic,
    role,
    rule_ids,
    wifguard_cli,
)


@pytest.fixture
def write_rules(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a user rule YAML file into tmp_path and return its path."""

    def _write(text: str, name: str = "custom.yaml") -> Path:
        p = tmp_path / "rules" / name
        p.parent.mkdir(exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p

    return _write


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m wifguard.cli evaluate ...`` in tmp_path as a subprocess."""

    def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return wifguard_cli("evaluate", *map(str, args), cwd=tmp_path)

    return _run
