"""The habits of mature CLIs: rules/config commands, selection flags, baselines, formats, stdin."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

EVIL = {"name": "backdoor", "issuer": "https://evil0x.blob.core.windows.net/oidc", "subject": "attacker",
        "audiences": ["api://AzureADTokenExchange"]}
GOOD = {"name": "ok", "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:contoso/app:environment:prod", "audiences": ["api://AzureADTokenExchange"],
        "description": "deploy"}


def _cli(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wifguard.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)}, input=stdin, timeout=180)


@pytest.fixture
def creds(tmp_path: Path) -> Path:
    p = tmp_path / "creds.json"
    p.write_text(json.dumps([EVIL, GOOD], indent=2), encoding="utf-8")
    return p


def test_rules_list_and_show(tmp_path: Path) -> None:
    out = _cli(["rules", "list", "-f", "json"], tmp_path)
    assert out.returncode == 0, out.stderr
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert rows["WIF102"]["severity"] == "critical" and rows["WIF102"]["title"]
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rules:\n  WIF102: {severity: high}\n", encoding="utf-8")
    out = _cli(["rules", "list", "-f", "json", "--config", str(cfg)], tmp_path)
    assert {r["id"]: r for r in json.loads(out.stdout)}["WIF102"]["severity"] == "high"
    shown = _cli(["rules", "show", "wif102"], tmp_path)
    assert shown.returncode == 0 and "WIF102" in shown.stdout and "remediation:" in shown.stdout
    missing = _cli(["rules", "show", "WIF999"], tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("wifguard: no rule 'WIF999'")


def test_config_validate_and_schema(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("quarantine: {mode: dry-run}\n", encoding="utf-8")
    out = _cli(["config", "validate", str(good)], tmp_path)
    assert out.returncode == 0 and "valid" in out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("quarantine: {mode: sometimes}\n", encoding="utf-8")
    out = _cli(["config", "validate", str(bad)], tmp_path)
    assert out.returncode == 2 and str(bad) in out.stderr and "quarantine.mode" in out.stderr
    schema = _cli(["config", "schema"], tmp_path)
    assert schema.returncode == 0 and "quarantine" in json.loads(schema.stdout)["properties"]


def test_selection_flags(tmp_path: Path, creds: Path) -> None:
    def ids(*extra: str) -> set[str]:
        out = _cli(["evaluate", str(creds), "-f", "json", "--fail-on", "none", *extra], tmp_path)
        assert out.returncode == 0, out.stderr
        return {f["rule_id"] for f in json.loads(out.stdout)["findings"]}

    everything = ids()
    assert {"WIF102", "WIF101"} <= everything and len(everything) > 2
    assert ids("--severity", "critical") == {"WIF102"}
    assert ids("--rule", "WIF10*") == {r for r in everything if r.startswith("WIF10")}
    assert "WIF102" not in ids("--skip-rule", "wif102")
    bad = _cli(["evaluate", str(creds), "--severity", "severe"], tmp_path)
    assert bad.returncode == 2 and "--severity" in bad.stderr


def test_baseline_fails_only_on_new_findings(tmp_path: Path, creds: Path) -> None:
    first = _cli(["evaluate", str(creds), "-f", "sarif", "-o", str(tmp_path / "base.sarif")], tmp_path)
    assert first.returncode == 1
    again = _cli(["evaluate", str(creds), "--baseline", str(tmp_path / "base.sarif")], tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    creds.write_text(json.dumps([EVIL, GOOD, {**EVIL, "name": "second"}]), encoding="utf-8")
    new = _cli(["evaluate", str(creds), "-f", "json", "--baseline", str(tmp_path / "base.sarif")], tmp_path)
    assert new.returncode == 1
    assert {f["credential"]["name"] for f in json.loads(new.stdout)["findings"]} == {"second"}


def test_formats_and_stdin(tmp_path: Path, creds: Path) -> None:
    text = creds.read_text()
    out = _cli(["evaluate", "-", "-f", "csv", "--fail-on", "none"], tmp_path, stdin=text)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert any(r["rule_id"] == "WIF102" and r["location"].startswith("<stdin>:") for r in rows)
    junit = _cli(["evaluate", str(creds), "-f", "junit", "--fail-on", "none"], tmp_path)
    suite = ET.fromstring(junit.stdout)
    assert int(suite.get("failures") or 0) == len(suite.findall("testcase")) >= 2
    md = _cli(["evaluate", str(creds), "-f", "markdown", "--fail-on", "none", "-o", str(tmp_path / "r.md")], tmp_path)
    assert md.returncode == 0 and "| critical | WIF102 |" in (tmp_path / "r.md").read_text()


def test_quiet_and_no_color(tmp_path: Path, creds: Path) -> None:
    out = _cli(["--quiet", "--no-color", "evaluate", str(creds), "--fail-on", "none"], tmp_path)
    assert out.returncode == 0 and "credential(s)" not in out.stdout and "\x1b[" not in out.stdout
    assert "WIF102" in out.stdout
