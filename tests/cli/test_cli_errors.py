"""Bad input and failed dependencies: one line `wifguard: <what> (<where>)` on stderr, exit 2,
never a traceback (exit 1 means findings to CI)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

DOWN_STORE = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
              "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
              "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;")
GOOD_CRED = {"name": "ok", "issuer": "https://token.actions.githubusercontent.com",
             "subject": "repo:contoso/app:environment:prod", "audiences": ["api://AzureADTokenExchange"]}


def _cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "AZURE_CONFIG_DIR": str(cwd / ".azure")}
    return subprocess.run([sys.executable, "-m", "wifguard.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=180)


def _one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    lines = out.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, out.stderr
    assert lines[-1].startswith("wifguard: "), out.stderr
    for n in needles:
        assert n in out.stderr, out.stderr
    return out.stderr


@pytest.fixture
def cred(tmp_path: Path) -> Path:
    p = tmp_path / "cred.json"
    p.write_text(json.dumps(GOOD_CRED), encoding="utf-8")
    return p


def test_bad_choice_is_one_line(tmp_path: Path) -> None:
    out = _cli(["quarantine", "list", "--store", DOWN_STORE, "--state", "gone"], tmp_path)
    _one_line_error(out, "--state", "gone")


def test_store_down(tmp_path: Path) -> None:
    _one_line_error(_cli(["report", "--store", DOWN_STORE], tmp_path), "cannot reach")


def test_malformed_connection_string(tmp_path: Path) -> None:
    _one_line_error(_cli(["quarantine", "list", "--store", "AccountName=;nonsense"], tmp_path), "connection string")


def test_bad_table_prefix(tmp_path: Path) -> None:
    out = _cli(["report", "--store", DOWN_STORE], tmp_path, {"WIFGUARD_TABLE_PREFIX": "9-bad"})
    _one_line_error(out, "WIFGUARD_TABLE_PREFIX", "(environment)")


def test_non_utf8_config(tmp_path: Path, cred: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"home_tenant_id: \xff\xfe\n")
    _one_line_error(_cli(["evaluate", str(cred), "--config", str(cfg)], tmp_path), str(cfg), "UTF-8")


def test_output_into_a_missing_folder(tmp_path: Path, cred: Path) -> None:
    out = _cli(["evaluate", str(cred), "-o", str(tmp_path / "nope" / "out.sarif"), "--format", "sarif"], tmp_path)
    _one_line_error(out, "nope", "No such file")


def test_sim_serve_busy_port_and_bad_seeds(tmp_path: Path, cred: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        seed = tmp_path / "seed.json"
        seed.write_text(json.dumps({"tenantId": "t", "applications": []}), encoding="utf-8")
        _one_line_error(_cli(["sim", "serve", "--seed", str(seed), "--port", str(port)], tmp_path), str(port))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    _one_line_error(_cli(["sim", "serve", "--seed", str(bad)], tmp_path), "not valid JSON")
    _one_line_error(_cli(["sweep", "--sim", str(cred)], tmp_path), "not a tenant seed")


def test_bad_settings_values(tmp_path: Path, cred: Path) -> None:
    out = _cli(["evaluate", str(cred)], tmp_path, {"WIFGUARD_SWEEP_SHARD_SIZE": "many"})
    _one_line_error(out, "WIFGUARD_SWEEP_SHARD_SIZE")


def test_live_sweep_without_credentials_says_what_to_do(tmp_path: Path) -> None:
    out = _cli(["sweep"], tmp_path, {"WIFGUARD_TENANT_ID": "5a0b6c7d-1e2f-4a3b-8c4d-9e0f1a2b3c4d"})
    err = _one_line_error(out, "az login", "--sim", "WIFGUARD_TENANT_ID")
    assert "Task exception was never retrieved" not in err


def test_restore_without_login(tmp_path: Path) -> None:
    out = _cli(["quarantine", "restore", "nope", "--store", DOWN_STORE], tmp_path)
    _one_line_error(out)


def test_empty_directory_is_not_clean(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _one_line_error(_cli(["evaluate", str(tmp_path / "empty")], tmp_path), "no *.json")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    out = _cli(["--debug", "report", "--store", "AccountName=;nonsense"], tmp_path)
    assert out.returncode == 2 and "Traceback" in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("wifguard: ")
