"""Quarantine: off by default, limited, never the responder itself, crash-safe, exactly restorable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import APPS, PAYMENTS, RESPONDER_APP, audit_record, fic

from wifguard.actions.quarantine import RestoreError, restore
from wifguard.pipeline.runtime import build_responder, process_audit_bodies
from wifguard.settings import Settings
from wifguard.store import BackupState

BACKDOOR = fic("backdoor", "https://evil0x.blob.core.windows.net/oidc", "attacker",
               "f1000000-0000-4000-8000-000000000002", description="sync")
SELF_BLOB = fic("self-blob", "https://wifguard0.blob.core.windows.net/oidc", "responder",
                "f1000000-0000-4000-8000-0000000000ff")


def _body(*records: dict[str, Any]) -> bytes:
    return json.dumps({"records": list(records)}).encode()


def _names(sim: Any, app: str) -> set[str]:
    return {f["name"] for f in sim.get_app_fics(app)}


async def _responder(env: dict[str, str], **extra: str) -> Any:
    return await build_responder(Settings.from_env({**env, **extra}))


async def test_quarantine_is_off_by_default(responder: Any, sim: Any) -> None:
    result = await process_audit_bodies(responder, [_body(audit_record("q-off", PAYMENTS, "p", [], [BACKDOOR]))])
    assert any(f.rule_id == "WIF102" for f in result.findings)
    assert result.quarantined == []
    assert "backdoor" in _names(sim, PAYMENTS)


async def test_dry_run_records_what_would_be_removed(env: dict[str, str], sim: Any) -> None:
    r = await _responder(env, WIFGUARD_QUARANTINE_MODE="dry-run")
    try:
        result = await process_audit_bodies(r, [_body(audit_record("q-dry", PAYMENTS, "p", [], [BACKDOOR]))])
        assert [q["status"] for q in result.quarantined] == ["dry-run"]
        assert "backdoor" in _names(sim, PAYMENTS)
        actions = await r.store.list_actions(kind="quarantine.dry-run")
        assert len(actions) == 1 and actions[0].target == "backdoor"
    finally:
        await r.close()
        await r.store.close()


async def test_enforce_removes_with_backup_and_restore_recreates_exactly(env: dict[str, str], sim: Any) -> None:
    before = next(f for f in sim.get_app_fics(PAYMENTS) if f["name"] == "backdoor")
    r = await _responder(env, WIFGUARD_QUARANTINE_MODE="enforce")
    try:
        result = await process_audit_bodies(r, [_body(audit_record("q-enf", PAYMENTS, "p", [], [BACKDOOR]))])
        done = [q for q in result.quarantined if q["status"] == "quarantined"]
        assert [q["credential"] for q in done] == ["backdoor"]
        assert "backdoor" not in _names(sim, PAYMENTS) and "prod" in _names(sim, PAYMENTS)
        backup = await r.store.get_backup(done[0]["backup_id"])
        assert backup is not None and backup.state is BackupState.VERIFIED
        assert backup.credential["issuer"] == before["issuer"]
        # owners were told, with the restore command
        kinds = {(n["fingerprint"], n["kind"]) for n in result.notifications}
        assert any(k == "quarantined" for _, k in kinds)

        out = await restore(r.store, r.writer, backup.id, actor="test", reason="owner confirmed")
        assert out["status"] == "restored"
        after = next(f for f in sim.get_app_fics(PAYMENTS) if f["name"] == "backdoor")
        for key in ("name", "issuer", "subject", "audiences", "description"):
            assert after[key] == before[key]
        with pytest.raises(RestoreError, match="already restored"):
            await restore(r.store, r.writer, backup.id, reason="again")
        actions = [a.kind for a in await r.store.list_actions()]
        assert "quarantine" in actions and "restore" in actions
    finally:
        await r.close()
        await r.store.close()


async def test_restore_refuses_conflicts_and_unknown_backups(env: dict[str, str], sim: Any) -> None:
    r = await _responder(env, WIFGUARD_QUARANTINE_MODE="enforce")
    try:
        result = await process_audit_bodies(r, [_body(audit_record("q-c", PAYMENTS, "p", [], [BACKDOOR]))])
        backup_id = next(q["backup_id"] for q in result.quarantined if q["status"] == "quarantined")
        # someone re-created a credential with the same name meanwhile
        import httpx

        async with httpx.AsyncClient(verify=sim.ssl_context(), headers={"Authorization": f"Bearer {sim.token}"}) as h:
            resp = await h.post(f"{sim.graph_url}/v1.0/applications/{PAYMENTS}/federatedIdentityCredentials",
                                json={"name": "backdoor", "issuer": "https://token.actions.githubusercontent.com",
                                      "subject": "repo:contoso/payments:environment:dev",
                                      "audiences": ["api://AzureADTokenExchange"]})
            assert resp.status_code == 201
        with pytest.raises(RestoreError, match="already has a credential named"):
            await restore(r.store, r.writer, backup_id, reason="owner confirmed")
        with pytest.raises(RestoreError, match="no quarantine backup"):
            await restore(r.store, r.writer, "qb-does-not-exist", reason="owner confirmed")
    finally:
        await r.close()
        await r.store.close()


async def test_responder_identity_is_never_touched_and_hourly_limit_holds(env: dict[str, str], sim: Any,
                                                                          tmp_path: Path) -> None:
    cfg = tmp_path / "wifguard.yaml"
    cfg.write_text("quarantine:\n  mode: enforce\n  max_per_hour: 1\n")
    r = await _responder(env, WIFGUARD_CONFIG=str(cfg))
    try:
        own = audit_record("q-self", RESPONDER_APP, APPS[RESPONDER_APP][0], [], [SELF_BLOB])
        result = await process_audit_bodies(r, [_body(own)])
        assert [q["status"] for q in result.quarantined] == ["skipped"]
        assert "responder" in result.quarantined[0]["reason"]
        assert "self-blob" in _names(sim, RESPONDER_APP)

        first = await process_audit_bodies(r, [_body(audit_record("q-1", PAYMENTS, "p", [], [BACKDOOR]))])
        assert [q["status"] for q in first.quarantined] == ["quarantined"]
        # a second risky credential in the same hour is left in place
        evil2 = fic("backdoor2", "https://evil1x.blob.core.windows.net/oidc", "x", "f1000000-0000-4000-8000-0000000000a2")
        import httpx

        async with httpx.AsyncClient(verify=sim.ssl_context(), headers={"Authorization": f"Bearer {sim.token}"}) as h:
            body = {k: evil2[k] for k in ("name", "issuer", "subject", "audiences", "description")}
            assert (await h.post(f"{sim.graph_url}/v1.0/applications/{PAYMENTS}/federatedIdentityCredentials",
                                 json=body)).status_code == 201
        second = await process_audit_bodies(r, [_body(audit_record("q-2", PAYMENTS, "p", [], [evil2]))])
        assert [q["status"] for q in second.quarantined] == ["skipped"]
        assert "hourly limit" in second.quarantined[0]["reason"]
        assert "backdoor2" in _names(sim, PAYMENTS)
    finally:
        await r.close()
        await r.store.close()


_CHILD = """
import asyncio, json, sys
from wifguard.pipeline.runtime import build_responder, process_audit_bodies
from wifguard.settings import Settings

async def main():
    r = await build_responder(Settings.from_env())
    res = await process_audit_bodies(r, [open(sys.argv[1], 'rb').read()])
    print(json.dumps(res.to_json()["quarantined"]))
    await r.close()
    await r.store.close()

asyncio.run(main())
"""


@pytest.mark.parametrize("step", ["backup", "delete", "verify"])
async def test_kill_during_quarantine_then_rerun_completes(step: str, env: dict[str, str], sim: Any,
                                                          tmp_path: Path) -> None:
    payload = tmp_path / "body.json"
    payload.write_bytes(_body(audit_record(f"q-kill-{step}", PAYMENTS, "p", [], [BACKDOOR])))
    marker = tmp_path / "paused"
    child_env = {**os.environ, **env, "WIFGUARD_QUARANTINE_MODE": "enforce",
                 "WIFGUARD_QUARANTINE_PAUSE_AFTER": step, "WIFGUARD_QUARANTINE_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(payload)], env=child_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240  # a loaded machine imports slowly
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "child exited"
        assert time.monotonic() < deadline, "child never reached the step"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # a real kill, mid-quarantine
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    r = await _responder(env, WIFGUARD_QUARANTINE_MODE="enforce")
    try:
        rerun = await process_audit_bodies(r, [payload.read_bytes()])
        # claimed before the kill but never done: processed again (idempotently), never lost
        assert rerun.events[0].status == "processed" and "retried" in rerun.events[0].reason
        backups = await r.store.list_backups()
        assert len(backups) == 1
        b = backups[0]
        # never deleted without a verified backup: either intact, or removed and verified
        assert "backdoor" not in _names(sim, PAYMENTS)
        assert b.state is BackupState.VERIFIED
        await restore(r.store, r.writer, b.id, reason="owner confirmed")
        after = next(f for f in sim.get_app_fics(PAYMENTS) if f["name"] == "backdoor")
        assert (after["issuer"], after["subject"], after["audiences"], after["description"]) == (
            BACKDOOR["issuer"], BACKDOOR["subject"], BACKDOOR["audiences"], BACKDOOR["description"])
    finally:
        await r.close()
        await r.store.close()
