"""`wifguard sweep --store` resolves the quarantine mode like the Functions: config file, then
WIFGUARD_QUARANTINE_MODE, then --quarantine-mode; it says what it may do and lists what it did."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline_helpers import PAYMENTS

ENFORCE_CONFIG = "quarantine:\n  mode: enforce\n  min_severity: critical\n  max_per_hour: 50\n"
OFF_CONFIG = "quarantine:\n  mode: 'off'\n  min_severity: critical\n  max_per_hour: 50\n"


def _names(sim: Any, app: str) -> set[str]:
    return {f["name"] for f in sim.get_app_fics(app)}


def _sweep(env: dict[str, str], tmp_path: Path, config: str, *extra: str, **more_env: str
           ) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "wifguard.yaml"
    cfg.write_text(config, encoding="utf-8")
    run_env = {**env, "PATH": "/usr/bin:/bin", **more_env}
    return subprocess.run([sys.executable, "-m", "wifguard.cli", "sweep", "--config", str(cfg), "--store",
                           env["WIFGUARD_STORAGE"], "--format", "json", *extra],
                          capture_output=True, text=True, env=run_env, timeout=300)


def test_env_off_over_enforce_config_removes_nothing(env: dict[str, str], sim: Any, tmp_path: Path) -> None:
    before = _names(sim, PAYMENTS)
    out = _sweep(env, tmp_path, ENFORCE_CONFIG, WIFGUARD_QUARANTINE_MODE="off")
    assert out.returncode == 0, out.stderr
    assert _names(sim, PAYMENTS) == before and "backdoor" in before
    data = json.loads(out.stdout)
    assert data["quarantined"] == []
    assert data["run"]["quarantine_mode"] == "off"
    assert data["run"]["quarantine_mode_from"] == "WIFGUARD_QUARANTINE_MODE"
    assert "quarantine off: removes nothing (from WIFGUARD_QUARANTINE_MODE)" in out.stderr
    assert data["recorded"]["new"] > 0  # it did record


def test_flag_off_over_env_enforce_removes_nothing(env: dict[str, str], sim: Any, tmp_path: Path) -> None:
    out = _sweep(env, tmp_path, ENFORCE_CONFIG, "--quarantine-mode", "off", WIFGUARD_QUARANTINE_MODE="enforce")
    assert out.returncode == 0, out.stderr
    assert "backdoor" in _names(sim, PAYMENTS)
    assert json.loads(out.stdout)["run"]["quarantine_mode_from"] == "--quarantine-mode"


def test_env_enforce_over_off_config_removes_and_lists_it(env: dict[str, str], sim: Any, tmp_path: Path) -> None:
    out = _sweep(env, tmp_path, OFF_CONFIG, "--no-notify", WIFGUARD_QUARANTINE_MODE="enforce")
    assert out.returncode == 0, out.stderr
    assert "QUARANTINE ENFORCED" in out.stderr and "notifies no one (--no-notify" in out.stderr
    assert "backdoor" not in _names(sim, PAYMENTS)
    data = json.loads(out.stdout)
    done = [q for q in data["quarantined"] if q["status"] == "quarantined"]
    assert [q["credential"] for q in done] == ["backdoor"] and done[0]["backup_id"]


def test_table_output_lists_quarantine_actions(env: dict[str, str], sim: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "wifguard.yaml"
    cfg.write_text(ENFORCE_CONFIG.replace("enforce", "dry-run"), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "wifguard.cli", "sweep", "--config", str(cfg), "--store",
                          env["WIFGUARD_STORAGE"], "--no-notify"], capture_output=True, text=True,
                         env={**env, "PATH": "/usr/bin:/bin"}, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "quarantine" in out.stdout and "dry-run" in out.stdout and "backdoor" in out.stdout
    assert "notifications: 0 delivered" in out.stdout
    assert "backdoor" in _names(sim, PAYMENTS)


def test_dry_run_records_nothing_and_lists_what_it_would_remove(env: dict[str, str], sim: Any,
                                                                tmp_path: Path) -> None:
    out = _sweep(env, tmp_path, ENFORCE_CONFIG, "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "dry run: evaluates only" in out.stderr
    data = json.loads(out.stdout)
    planned = {q["credential"]: q["status"] for q in data["would_quarantine"]}
    assert planned == {"backdoor": "would-quarantine", "self-blob": "skipped"}  # the responder is never touched
    assert "recorded" not in data and "backdoor" in _names(sim, PAYMENTS)
    listed = subprocess.run([sys.executable, "-m", "wifguard.cli", "findings", "list", "--store",
                             env["WIFGUARD_STORAGE"], "--format", "json"], capture_output=True, text=True,
                            env={**env, "PATH": "/usr/bin:/bin"}, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["findings"] == []


def test_bad_quarantine_mode_setting_is_an_error(env: dict[str, str], sim: Any, tmp_path: Path) -> None:
    out = _sweep(env, tmp_path, ENFORCE_CONFIG, WIFGUARD_QUARANTINE_MODE="enforced")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "wifguard: WIFGUARD_QUARANTINE_MODE='enforced': expected off, dry-run or enforce (environment)"]
    assert "backdoor" in _names(sim, PAYMENTS)
