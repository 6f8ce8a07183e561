"""Real outages during a real ``wifguard replay``: the store (the Azurite process) killed and
started again mid-batch, Graph down, ARM down while Graph is up (the simulated tenant's fault
windows). Each ends with nothing lost, nothing resolved, duplicates bounded by what was in
flight. Fault windows are short here (the bench runs the issue's full durations)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import (
    EXPECTED_RULES,
    SUB,
    TENANT,
    app_ids,
    azurite_process,
    cli_env,
    notification_id,
    parked_rows,
    receiver,
    run,
    seed,
    stored_findings,
    wait_until,
    wifguard,
    write_inputs,
)

from wifguard.pipeline.responder import NOTIFY_IN_FLIGHT
from wifguard.sim import SimTenant

N = 40
#: seconds Graph or ARM is down: longer than the clients' own retries (about 8 s), so records fail
WINDOW = 20


@pytest.fixture
def tenant() -> Iterator[SimTenant]:
    with SimTenant.start(seed(N), mode="process") as sim:
        yield sim


def live_env(conn: str, prefix: str, hook: str, sim: SimTenant) -> dict[str, str]:
    """The CLI reads the tenant the way the Function App does (settings), here our simulator."""
    return cli_env(conn, prefix, hook, WIFGUARD_GRAPH_URL=sim.graph_url, WIFGUARD_ARM_URL=sim.arm_url,
                   WIFGUARD_CA_BUNDLE=sim.ca_path, WIFGUARD_STATIC_TOKEN=sim.token, WIFGUARD_TENANT_ID=TENANT,
                   WIFGUARD_SUBSCRIPTIONS=SUB)


def finish(env: dict[str, str], conn: str, prefix: str, replay: tuple[str, ...], config: Path,
           hook: Any) -> dict[str, Any]:
    """Deliver the batch again, re-drive what is parked, and check that nothing was lost."""
    code, _, err = run(*replay, env=env)
    assert code == 0, err
    code, retried, err = run("parked", "retry", "--store", conn, "--config", str(config), env=env)
    assert code == 0, err
    assert [p.id for p in parked_rows(conn, prefix) if p.state == "parked"] == []
    findings = stored_findings(conn, prefix)
    by_app: dict[str, set[str]] = {}
    for f in findings:
        by_app.setdefault(f.identity_id, set()).add(f.rule_id)
    assert [i for i in range(N) if not by_app.get(app_ids(i)[0], set()) >= EXPECTED_RULES] == []
    assert [f.rule_id for f in findings if f.status.value != "open"] == []  # nothing resolved
    received = hook.distinct()
    assert [f.fingerprint for f in findings if notification_id(f.fingerprint) not in received] == []
    return retried


def test_store_killed_and_restarted_mid_batch(tmp_path: Path, tenant: SimTenant) -> None:
    _, body, config = write_inputs(tmp_path, N)
    with azurite_process(tmp_path / "azurite") as az, receiver() as hook:
        env = live_env(az.connection_string, "chaosstore", hook.url, tenant)
        replay = ("replay", "audit-log", str(body), "--store", az.connection_string, "--config", str(config))
        proc = wifguard(*replay, env=env)
        assert wait_until(proc, lambda: hook.count() >= 20)  # mid-batch: notifications are flowing
        az.stop()  # the store goes away mid-batch
        time.sleep(6)
        az.start()  # same ports, same data folder
        _, err = proc.communicate(timeout=300)
        # either it rode out the outage (client retries) or it failed so the batch is delivered again
        assert proc.returncode in (0, 2, 3), err.decode()[-2000:]
        if proc.returncode == 3:
            assert b"replay the same file again" in err
        finish(env, az.connection_string, "chaosstore", replay, config, hook)
        assert hook.duplicates() <= 2 * NOTIFY_IN_FLIGHT, hook.duplicates()


@pytest.mark.parametrize("api", ["graph", "arm"])
def test_api_down_mid_batch_parks_then_redrive(api: str, tmp_path: Path, tenant: SimTenant) -> None:
    _, body, config = write_inputs(tmp_path, N)
    with azurite_process(tmp_path / "azurite") as az, receiver() as hook:
        env = live_env(az.connection_string, f"chaos{api}", hook.url, tenant)
        replay = ("replay", "audit-log", str(body), "--store", az.connection_string, "--config", str(config))
        # a first, healthy delivery of a third of the records: their findings exist (open)
        (tmp_path / "first.json").write_text(json.dumps({"records": json.loads(body.read_bytes())["records"][: N // 3]}))
        code, _, err = run("replay", "audit-log", str(tmp_path / "first.json"), "--store", az.connection_string,
                           "--config", str(config), env=env)
        assert code == 0, err
        open_before = {f.fingerprint for f in stored_findings(az.connection_string, f"chaos{api}")}
        assert open_before

        # down from the delivery's first request to that API on, however long start-up takes
        tenant.outage(api, WINDOW, after=None)
        proc = wifguard(*replay, env=env)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, err.decode()[-2000:]  # records were parked: said, not hidden
        data = json.loads(out)
        parked = [e for e in data["events"] if e["status"] == "rejected"]
        assert parked, data["summary"]  # the outage hit records: parked, not lost, not guessed
        assert all("transient" in e["reason"] for e in parked)
        assert data["summary"]["recorded"]["resolved"] == 0
        # while it was down, no open finding was resolved
        now = {f.fingerprint: f.status.value for f in stored_findings(az.connection_string, f"chaos{api}")}
        assert all(now[fp] == "open" for fp in open_before)

        tenant.outage(api, 0)  # back up
        retried = finish(env, az.connection_string, f"chaos{api}", replay, config, hook)
        assert hook.duplicates() == 0  # no crash: nothing is sent twice
        assert retried["summary"]["parked"] == 0
