"""Every real public sample in tests/data/real (see SOURCES.md) goes through exactly the code the
Functions run, and through the ``wifguard`` command: no crash, every record reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline_helpers import base_seed

from wifguard.pipeline.runtime import process_audit_bodies, process_event_grid

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
REPO = Path(__file__).resolve().parents[2]
AUDIT_SAMPLES = ["stratus-entra-backdoor-application-fic.json", "elastic-azure-auditlogs-raw.ndjson"]
EVENT_GRID_SAMPLES = ["ms-learn-eventgrid-subscription-resource-delete-success.json"]
CREDENTIAL_SAMPLES = ["azure-rest-api-specs-msi-2023-01-31-FederatedIdentityCredentialList.json",
                      "azure-rest-api-specs-msi-2025-01-31-preview-FlexibleFederatedIdentityCredentialGet.json",
                      "gitlab-docs-azure-federated-credential-body.json"]


def test_every_sample_is_listed_with_its_source() -> None:
    listed = (REAL / "SOURCES.md").read_text()
    files = sorted(p.name for p in REAL.iterdir() if p.name != "SOURCES.md")
    assert files == sorted(AUDIT_SAMPLES + EVENT_GRID_SAMPLES + CREDENTIAL_SAMPLES)
    assert all(f"`{f}`" in listed for f in files)


async def test_audit_samples_replay_without_crash(responder: Any) -> None:
    stratus = await process_audit_bodies(responder, [(REAL / AUDIT_SAMPLES[0]).read_bytes()])
    assert [e.status for e in stratus.events] == ["processed"]
    assert not stratus.errors, stratus.errors
    elastic = await process_audit_bodies(responder, [(REAL / AUDIT_SAMPLES[1]).read_bytes()])
    # three records, one per line; the second and third share the first's id (a duplicate)
    assert [e.status for e in elastic.events] == ["ignored"] * 3
    assert all("Update device" in e.reason for e in elastic.events)


async def test_event_grid_sample_replays_without_crash(responder: Any) -> None:
    raw = (REAL / EVENT_GRID_SAMPLES[0]).read_bytes()
    result = await process_event_grid(responder, raw)
    [event] = result.events
    assert event.id == "19a69642-1aad-4a96-a5ab-8d05494513ce"
    assert event.status == "ignored" and "Microsoft.Storage/storageAccounts/delete" in event.reason


def _cli(*args: str, env_extra: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIFGUARD_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "wifguard.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_cli_replay_of_the_stratus_record_yields_wif102_from_the_events_evidence(
        azurite: Any, tmp_path: Path, prefix: str) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(base_seed()))
    out = tmp_path / "out.json"
    r = _cli("replay", "audit-log", str(REAL / AUDIT_SAMPLES[0]), "--sim", str(seed), "--store",
             azurite.connection_string, "--format", "json", "-o", str(out),
             env_extra={"WIFGUARD_TABLE_PREFIX": prefix}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert [e["status"] for e in data["events"]] == ["processed"]
    wif102 = [f for f in data["findings"] if f["rule_id"] == "WIF102"]
    assert wif102 and wif102[0]["evidence"] == "event"


def test_cli_evaluate_of_the_credential_samples(tmp_path: Path) -> None:
    r = _cli("evaluate", *[str(REAL / f) for f in CREDENTIAL_SAMPLES], "--format", "json", "--fail-on", "critical",
             cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr  # findings, never "unusable input"
    data = json.loads(r.stdout)
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for f in data["findings"]:
        by_rule.setdefault(f["rule_id"], []).append(f)
    assert "WIF502" not in by_rule  # the ARM credentials have no description field; the GitLab one has one
    assert "WIF401" in by_rule  # GitLab's tutorial uses its own URL as the audience
    assert "WIF301" in by_rule  # the flexible ARM credential
