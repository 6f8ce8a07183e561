"""Quarantine guarantees across workers: re-adds are caught, the hourly limit is tenant-wide,
a restore is an exemption (not undone by its own audit record or a sweep), concurrent restores
conflict cleanly."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from pipeline_helpers import PAYMENTS, audit_record, base_seed, fic

from wifguard.actions.quarantine import RestoreConflict, restore
from wifguard.pipeline.responder import RunResult
from wifguard.pipeline.runtime import build_responder, process_audit_bodies, run_shard
from wifguard.settings import Settings
from wifguard.sim import SimTenant
from wifguard.store import BackupState, FindingStatus
from wifguard.store.entities import utcnow

BACKDOOR = fic("backdoor", "https://evil0x.blob.core.windows.net/oidc", "attacker",
               "f1000000-0000-4000-8000-000000000002", description="sync")
ROOT = Path(__file__).resolve().parents[2]


def _body(*records: dict[str, Any]) -> bytes:
    return json.dumps({"records": list(records)}).encode()


def _names(sim: Any, app: str) -> set[str]:
    return {f["name"] for f in sim.get_app_fics(app)}


async def _readd(sim: Any, app: str, cred: dict[str, Any]) -> None:
    """A person re-creates the credential through Graph."""
    async with httpx.AsyncClient(verify=sim.ssl_context(), headers={"Authorization": f"Bearer {sim.token}"}) as h:
        body = {k: cred[k] for k in ("name", "issuer", "subject", "audiences", "description") if k in cred}
        resp = await h.post(f"{sim.graph_url}/v1.0/applications/{app}/federatedIdentityCredentials", json=body)
        assert resp.status_code == 201, resp.text


async def _enforcing(env: dict[str, str], **extra: str) -> Any:
    return await build_responder(Settings.from_env({**env, "WIFGUARD_QUARANTINE_MODE": "enforce", **extra}))


async def _close(r: Any) -> None:
    await r.close()
    await r.store.close()


async def _quarantine_backdoor(r: Any, event_id: str = "g-1") -> str:
    res = await process_audit_bodies(r, [_body(audit_record(event_id, PAYMENTS, "p", [], [BACKDOOR]))])
    done = [q for q in res.quarantined if q["status"] == "quarantined"]
    assert [q["credential"] for q in done] == ["backdoor"], res.quarantined
    return str(done[0]["backup_id"])


async def _wif102(r: Any) -> Any:
    rows = await r.store.query(rule_id="WIF102", identity=PAYMENTS)
    assert len(rows) == 1
    return rows[0]


# -- 1. re-adds --------------------------------------------------------------------------------

async def test_readd_in_a_warm_worker_is_caught_reported_and_removed_again(env: dict[str, str], sim: Any) -> None:
    r = await _enforcing(env)
    try:
        first = await _quarantine_backdoor(r)
        before = await _wif102(r)
        assert before.status is FindingStatus.QUARANTINED and "backdoor" not in _names(sim, PAYMENTS)
        await _readd(sim, PAYMENTS, BACKDOOR)
        # the same worker receives the re-add's audit record (a new record id, the attacker as actor)
        rec = audit_record("g-readd", PAYMENTS, "p", [], [BACKDOOR], actor_user="mallory@contoso.com")
        rec["properties"]["activityDateTime"] = "2026-11-20T11:30:00Z"
        res = await process_audit_bodies(r, [_body(rec)])
        assert [e.status for e in res.events] == ["processed"]
        wif704 = [f for f in res.findings if f.rule_id == "WIF704"]
        assert len(wif704) == 1 and "mallory@contoso.com" in wif704[0].message and first in wif704[0].message
        told = {(n["rule_id"], n["kind"]) for n in res.notifications}
        assert {("WIF704", "new"), ("WIF102", "new"), ("WIF102", "quarantined")} <= told
        again = [q for q in res.quarantined if q["status"] == "quarantined"]
        assert [q["credential"] for q in again] == ["backdoor"] and again[0]["backup_id"] != first
        assert "backdoor" not in _names(sim, PAYMENTS)
        backups = await r.store.list_backups()
        assert [b.state for b in backups] == [BackupState.VERIFIED, BackupState.VERIFIED]
        after = await _wif102(r)
        assert after.status is FindingStatus.QUARANTINED and after.occurrences > before.occurrences
        readds = await r.store.list_actions(kind="quarantine.readded")
        assert len(readds) == 1 and readds[0].actor == "mallory@contoso.com"
        assert readds[0].detail["backup"] == first
        # delivered again: a duplicate, nothing more removed
        dup = await process_audit_bodies(r, [_body(rec)])
        assert [e.status for e in dup.events] == ["duplicate"]
        assert len(await r.store.list_backups()) == 2
    finally:
        await _close(r)


_CHILD = """
import asyncio, json, sys
from wifguard.pipeline.runtime import build_responder, process_audit_bodies
from wifguard.settings import Settings

async def main():
    r = await build_responder(Settings.from_env())
    try:
        res = await process_audit_bodies(r, [open(sys.argv[1], 'rb').read()])
        print(json.dumps({"quarantined": res.to_json()["quarantined"],
                          "rules": sorted({f.rule_id for f in res.findings})}))
    finally:
        await r.close()
        await r.store.close()

asyncio.run(main())
"""


async def test_readd_seen_by_another_process_and_by_a_sweep(env: dict[str, str], sim: Any, tmp_path: Path) -> None:
    r = await _enforcing(env)
    try:
        await _quarantine_backdoor(r)
        await _readd(sim, PAYMENTS, BACKDOOR)
        payload = tmp_path / "readd.json"
        payload.write_bytes(_body(audit_record("g-proc", PAYMENTS, "p", [], [BACKDOOR], actor_user="eve@contoso.com")))
        child = {**os.environ, **env, "WIFGUARD_QUARANTINE_MODE": "enforce"}
        out = subprocess.run([sys.executable, "-c", _CHILD, str(payload)], env=child, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout.strip().splitlines()[-1])
        assert "WIF704" in data["rules"]
        assert [q["status"] for q in data["quarantined"]] == ["quarantined"]
        assert "backdoor" not in _names(sim, PAYMENTS)

        # re-added once more; this time a sweep (no event) finds it
        await _readd(sim, PAYMENTS, BACKDOOR)
        res = await run_shard(r, {"kind": "applications", "ids": [PAYMENTS]})
        wif704 = [f for f in res.findings if f.rule_id == "WIF704"]
        assert wif704 and "unknown actor" in wif704[0].message
        assert [q["status"] for q in res.quarantined] == ["quarantined"]
        assert "backdoor" not in _names(sim, PAYMENTS)
        states = [b.state for b in await r.store.list_backups()]
        assert states == [BackupState.VERIFIED] * 3
        # nothing re-added since: the next sweep removes nothing and reports no re-add
        quiet = await run_shard(r, {"kind": "applications", "ids": [PAYMENTS]})
        assert quiet.quarantined == [] and not [f for f in quiet.findings if f.rule_id == "WIF704"]
    finally:
        await _close(r)


async def test_a_stale_context_is_not_a_readd(env: dict[str, str], sim: Any) -> None:
    """A worker whose context was read before another removed the credential reports nothing."""
    r = await _enforcing(env)
    try:
        stale = await r.inventory.application_context(PAYMENTS)
        await _quarantine_backdoor(r)
        assert stale is not None and "backdoor" in {c.name for c in stale.credentials}
        await r.respond(stale, [r.engine.evaluate(stale)], RunResult(), tenant_rules_ran=False)
        assert await r.store.list_actions(kind="quarantine.readded") == []
        assert len(await r.store.list_backups()) == 1
    finally:
        await _close(r)


# -- 3. restore is an exemption -------------------------------------------------------------------

async def test_restore_survives_its_own_audit_record_and_sweeps_then_expires(env: dict[str, str], sim: Any) -> None:
    r = await _enforcing(env)
    try:
        backup = await _quarantine_backdoor(r)
        out = await restore(r.store, r.writer, backup, reason="owner confirmed: sync job", actor="ada@contoso.com")
        assert out["exemption"]["by"] == "ada@contoso.com" and out["exemption"]["reason"] == "owner confirmed: sync job"
        assert "backdoor" in _names(sim, PAYMENTS)
        assert (await _wif102(r)).status is FindingStatus.EXEMPTED
        # the restore's own audit record arrives (the credential re-created, by the restorer)
        own = audit_record("g-own", PAYMENTS, "p", [], [BACKDOOR], actor_user="ada@contoso.com")
        res = await process_audit_bodies(r, [_body(own)])
        assert res.quarantined == [] and "WIF704" not in {f.rule_id for f in res.findings}
        assert "backdoor" in _names(sim, PAYMENTS)
        # and the next sweep
        swept = await run_shard(r, {"kind": "applications", "ids": [PAYMENTS]})
        assert swept.quarantined == [] and "backdoor" in _names(sim, PAYMENTS)
        assert (await _wif102(r)).status is FindingStatus.EXEMPTED
        actions = await r.store.list_actions(kind="restore")
        assert actions[0].detail["reason"] == "owner confirmed: sync job"
    finally:
        await _close(r)


async def test_expired_restore_exemption_reopens_tells_owners_and_quarantines(env: dict[str, str], sim: Any) -> None:
    r = await _enforcing(env)
    try:
        backup = await _quarantine_backdoor(r)
        # restored two days ago for one day: the exemption has expired
        await restore(r.store, r.writer, backup, reason="temporary migration", actor="ada@contoso.com",
                      expires_days=1, now=utcnow() - timedelta(days=2))
        assert "backdoor" in _names(sim, PAYMENTS)
        swept = await run_shard(r, {"kind": "applications", "ids": [PAYMENTS]})
        assert swept.recorded["reopened"] >= 1
        assert ("WIF102", "new") in {(n["rule_id"], n["kind"]) for n in swept.notifications}
        assert [q["status"] for q in swept.quarantined] == ["quarantined"]
        assert "backdoor" not in _names(sim, PAYMENTS)
        assert len(await r.store.list_actions(kind="exemption.expired")) == 1
    finally:
        await _close(r)


async def test_concurrent_restores_one_wins_the_other_conflicts(env: dict[str, str], sim: Any) -> None:
    r = await _enforcing(env)
    others = [await build_responder(Settings.from_env(env)) for _ in range(2)]
    try:
        backup = await _quarantine_backdoor(r)
        results = await asyncio.gather(
            *(restore(o.store, o.writer, backup, reason=f"restore {i}", actor=f"user{i}") for i, o in enumerate(others)),
            return_exceptions=True)
        ok = [x for x in results if isinstance(x, dict)]
        conflicts = [x for x in results if isinstance(x, RestoreConflict)]
        assert len(ok) == 1 and len(conflicts) == 1, results
        assert [f["name"] for f in sim.get_app_fics(PAYMENTS)].count("backdoor") == 1
        # the CLI says so with exit 2
        cli = subprocess.run([sys.executable, "-m", "wifguard.cli", "quarantine", "restore", backup,
                              "--reason", "me too"],
                             env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert cli.returncode == 2, cli.stderr
    finally:
        for o in others:
            await _close(o)
        await _close(r)


# -- 2. the tenant-wide hourly limit, 16 real processes ------------------------------------------

_WORKER = """
import asyncio, json, os, sys, time
from wifguard.pipeline.runtime import build_responder, run_shard
from wifguard.settings import Settings

async def main():
    r = await build_responder(Settings.from_env())
    try:
        ids = json.loads(os.environ["T_IDS"])
        open(sys.argv[1], "w").write("ready")
        while not os.path.exists(sys.argv[2]):
            time.sleep(0.02)
        res = await run_shard(r, {"kind": "applications", "ids": ids})
        print(json.dumps([q for q in res.quarantined if q["status"] == "quarantined"]))
    finally:
        await r.close()
        await r.store.close()

asyncio.run(main())
"""


def _many_seed() -> tuple[dict[str, Any], list[str]]:
    seed = copy.deepcopy(base_seed())
    ids = []
    for a in range(16):
        app_id = f"a2000000-0000-4000-8000-{a:012d}"
        ids.append(app_id)
        seed["applications"].append({
            "id": app_id, "appId": f"b2000000-0000-4000-8000-{a:012d}", "displayName": f"victim-{a}",
            "owners": ["c1000000-0000-4000-8000-000000000001"],
            "federatedIdentityCredentials": [
                fic(f"evil-{a}-{i}", f"https://evil{a}x{i}.blob.core.windows.net/oidc", f"attacker-{i}",
                    f"f2000000-0000-4000-8000-{a:06d}{i:06d}") for i in range(3)]})
    return seed, ids


def test_sixteen_processes_remove_exactly_the_limit_and_nothing_twice(env: dict[str, str], tmp_path: Path) -> None:
    seed, ids = _many_seed()
    cfg = tmp_path / "wifguard.yaml"
    cfg.write_text("quarantine:\n  mode: enforce\n  max_per_hour: 3\n")
    with SimTenant.start(seed, mode="process") as many:
        child = {**os.environ, **env, "WIFGUARD_GRAPH_URL": many.graph_url, "WIFGUARD_ARM_URL": many.arm_url,
                 "WIFGUARD_CA_BUNDLE": many.ca_path, "WIFGUARD_STATIC_TOKEN": many.token,
                 "WIFGUARD_CONFIG": str(cfg), "T_IDS": json.dumps(ids)}
        go = tmp_path / "go"
        procs = []
        for n in range(16):
            ready = tmp_path / f"ready-{n}"
            procs.append((ready, subprocess.Popen([sys.executable, "-c", _WORKER, str(ready), str(go)], env=child,
                                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                  text=True)))
        deadline = time.monotonic() + 300
        while not all(rd.exists() for rd, _ in procs):
            assert all(p.poll() is None for _, p in procs), [p.stderr.read() for _, p in procs if p.poll()]
            assert time.monotonic() < deadline, "workers never got ready"
            time.sleep(0.1)
        go.write_text("go")  # all 16 start at once
        removed: list[dict[str, Any]] = []
        for _, p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
            removed += json.loads(out.strip().splitlines()[-1])
        keys = [(q["identity"]["id"], q["credential"]) for q in removed]
        assert len(keys) == 3 and len(set(keys)) == 3, keys
        remaining = sum(len(many.get_app_fics(a)) for a in ids)
        assert remaining == 48 - 3

    async def check() -> None:
        from wifguard.store import Store

        async with Store.from_connection_string(env["WIFGUARD_STORAGE"], prefix=env["WIFGUARD_TABLE_PREFIX"]) as st:
            backups = await st.list_backups()
            assert len(backups) == 3 and {b.state for b in backups} == {BackupState.VERIFIED}
            assert len({(b.identity_id, b.credential_name) for b in backups}) == 3
            assert await st.ledger.removals_this_hour() == 3

    asyncio.run(check())

