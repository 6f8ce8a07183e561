"""Fixtures for the deployment (infra/) tests: one checkov run per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import INFRA, ROOT

CHECKOV_TIMEOUT = 300


def _checkov_binary() -> str | None:
    """checkov lives in its own venv (.venv-checkov): its pins clash with the app's (pycep-parser)."""
    explicit = os.environ.get("WIFGUARD_CHECKOV")
    if explicit:
        return explicit
    local = ROOT / ".venv-checkov" / "bin" / "checkov"
    if local.exists():
        return str(local)
    return shutil.which("checkov")


@pytest.fixture(scope="session")
def checkov_report() -> dict[str, Any]:
    binary = _checkov_binary()
    if binary is None:
        pytest.fail("checkov not installed: `make setup` creates .venv-checkov from tests/infra/requirements-checkov.txt")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "WARNING"}
    proc = subprocess.run(
        [binary, "--directory", str(INFRA), "--framework", "bicep", "--output", "json", "--compact",
         "--skip-download", "--soft-fail"],
        capture_output=True, text=True, timeout=CHECKOV_TIMEOUT, cwd=ROOT, env=env, check=False,
    )
    assert proc.returncode == 0, f"checkov crashed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    data = json.loads(proc.stdout)
    reports = data if isinstance(data, list) else [data]
    (report,) = [r for r in reports if r.get("check_type") == "bicep"]
    return report


@pytest.fixture(scope="session")
def infra_dir() -> Path:
    return INFRA
