"""`wifguard report` from a store the pipeline filled."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from pipeline_helpers import PAYMENTS, audit_record, fic

from wifguard.pipeline.runtime import process_audit_bodies
from wifguard.reporting.markdown import build_report, render_markdown


async def test_report_from_the_store(responder: Any, env: dict[str, str]) -> None:
    evil = fic("x|y*_[evil]", "https://evil0x.blob.core.windows.net/oidc", "attacker",
               "f1000000-0000-4000-8000-000000000002")
    body = json.dumps({"records": [audit_record("r-1", PAYMENTS, "payments", [], [evil])]}).encode()
    await process_audit_bodies(responder, [body, b"garbage"])
    data = await build_report(responder.store)
    assert data["open_total"] >= 3 and data["by_severity"]["critical"] >= 1
    assert data["identities"][0]["id"] == PAYMENTS  # the Owner app with the backdoor ranks first
    assert data["parked_total"] == 1
    md = render_markdown(data)
    assert "| WIF102 | critical |" in md and "payments-deployer" in md
    # tenant text cannot break the table
    assert all(line.count("|") in (4, 5, 7, 8) for line in md.splitlines() if line.startswith("|"))
    assert data["parked_by_source"] and sum(data["parked_by_source"].values()) == data["parked_total"]

    out = subprocess.run([sys.executable, "-m", "wifguard.cli", "report", "--store", env["WIFGUARD_STORAGE"],
                          "--format", "json"], capture_output=True, text=True,
                         env={"WIFGUARD_TABLE_PREFIX": env["WIFGUARD_TABLE_PREFIX"], "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["open_total"] == data["open_total"]


def test_sweep_store_then_findings_list(env: dict[str, str], tmp_path: Any) -> None:
    from pipeline_helpers import base_seed

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(base_seed()))
    run_env = {"WIFGUARD_TABLE_PREFIX": env["WIFGUARD_TABLE_PREFIX"], "PATH": "/usr/bin:/bin"}
    swept = subprocess.run([sys.executable, "-m", "wifguard.cli", "sweep", "--sim", str(seed), "--store",
                            env["WIFGUARD_STORAGE"], "--format", "json"], capture_output=True, text=True, env=run_env)
    assert swept.returncode == 0, swept.stderr
    n = len(json.loads(swept.stdout)["findings"])
    listed = subprocess.run([sys.executable, "-m", "wifguard.cli", "findings", "list", "--store",
                             env["WIFGUARD_STORAGE"], "--status", "open", "--format", "json"],
                            capture_output=True, text=True, env=run_env)
    assert listed.returncode == 0, listed.stderr
    assert n > 0 and len(json.loads(listed.stdout)["findings"]) == n
