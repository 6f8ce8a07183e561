"""Benchmark: the event path under real faults, with the issue's full durations.

Each scenario runs real processes (``wifguard replay`` / ``wifguard parked retry``, Azurite, the
simulated tenant) on a 120-record batch of credential changes, injects one fault, then recovers
the way the platform and an operator would (the batch delivered again, ``wifguard parked retry``)
and prints: records lost (a credential without its findings), findings wrongly resolved, records
parked during the fault, records re-driven, duplicate deliveries (same CloudEvents id).

Run: ``python bench/bench_chaos.py``; the last line is the table as JSON. Nothing is asserted.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "chaos"))

from chaos_helpers import (  # noqa: E402
    EXPECTED_RULES,
    SUB,
    TENANT,
    app_ids,
    azurite_process,
    cli_env,
    kill_when,
    parked_rows,
    receiver,
    run,
    seed,
    stored_findings,
    wait_until,
    wifguard,
    write_inputs,
)

from wifguard.sim import SimTenant  # noqa: E402

N = 120


def _outcome(name: str, conn: str, prefix: str, hook: Any, parked_during: int, redriven: int,
             seconds: float) -> dict[str, Any]:
    findings = stored_findings(conn, prefix)
    by_app: dict[str, set[str]] = {}
    for f in findings:
        by_app.setdefault(f.identity_id, set()).add(f.rule_id)
    lost = sum(1 for i in range(N) if not by_app.get(app_ids(i)[0], set()) >= EXPECTED_RULES)
    return {"fault": name, "lost": lost, "wrongly_resolved": sum(1 for f in findings if f.status.value != "open"),
            "parked": parked_during, "redriven": redriven, "duplicates": hook.duplicates(),
            "notifications": hook.count(), "seconds": round(seconds, 1)}


def _recover(env: dict[str, str], replay: tuple[str, ...], conn: str, prefix: str, config: Path,
             sim_args: tuple[str, ...]) -> tuple[int, int]:
    parked = sum(1 for p in parked_rows(conn, prefix) if p.state == "parked")
    run(*replay, env=env)  # the platform delivers the batch again
    _, data, _ = run("parked", "retry", *sim_args, "--store", conn, "--config", str(config), env=env)
    return parked, int((data.get("summary") or {}).get("done", 0))


def kill_scenario(folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)  # the helpers write into an existing folder
    seed_path, body, config = write_inputs(folder, N)
    with azurite_process(folder / "az") as az, receiver() as hook:
        t0 = time.monotonic()
        env = cli_env(az.connection_string, "benchkill", hook.url)
        replay = ("replay", "audit-log", str(body), "--sim", str(seed_path), "--store", az.connection_string,
                  "--config", str(config))
        for point in (1, 100, 250):  # several points of the batch, each on a fresh delivery
            before = hook.count()
            kill_when(wifguard(*replay, env=env), lambda before=before, point=point: hook.count() >= before + point)
        parked, redriven = _recover(env, replay, az.connection_string, "benchkill", config,
                                    ("--sim", str(seed_path)))
        return _outcome("SIGKILL x3 mid-batch", az.connection_string, "benchkill", hook, parked, redriven,
                        time.monotonic() - t0)


def store_scenario(folder: Path, sim: SimTenant, down_s: float = 12.0) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)  # the helpers write into an existing folder
    _, body, config = write_inputs(folder, N)
    with azurite_process(folder / "az") as az, receiver() as hook:
        t0 = time.monotonic()
        env = _live(az.connection_string, "benchstore", hook.url, sim)
        replay = ("replay", "audit-log", str(body), "--store", az.connection_string, "--config", str(config))
        proc = wifguard(*replay, env=env)
        wait_until(proc, lambda: hook.count() >= 30)
        az.stop()
        time.sleep(down_s)
        az.start()
        proc.communicate(timeout=600)
        parked, redriven = _recover(env, replay, az.connection_string, "benchstore", config, ())
        return _outcome(f"store stopped {down_s:.0f} s", az.connection_string, "benchstore", hook, parked,
                        redriven, time.monotonic() - t0)


def api_scenario(folder: Path, sim: SimTenant, api: str, down_s: float = 20.0) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)  # the helpers write into an existing folder
    _, body, config = write_inputs(folder, N)
    with azurite_process(folder / "az") as az, receiver() as hook:
        t0 = time.monotonic()
        prefix = f"bench{api}"
        env = _live(az.connection_string, prefix, hook.url, sim)
        replay = ("replay", "audit-log", str(body), "--store", az.connection_string, "--config", str(config))
        sim.outage(api, down_s, after=None)  # from the delivery's first request to that API
        wifguard(*replay, env=env).communicate(timeout=600)
        sim.outage(api, 0)
        parked, redriven = _recover(env, replay, az.connection_string, prefix, config, ())
        label = "Graph down" if api == "graph" else "ARM down, Graph up"
        return _outcome(f"{label} {down_s:.0f} s", az.connection_string, prefix, hook, parked, redriven,
                        time.monotonic() - t0)


def _live(conn: str, prefix: str, hook: str, sim: SimTenant) -> dict[str, str]:
    return cli_env(conn, prefix, hook, WIFGUARD_GRAPH_URL=sim.graph_url, WIFGUARD_ARM_URL=sim.arm_url,
                   WIFGUARD_CA_BUNDLE=sim.ca_path, WIFGUARD_STATIC_TOKEN=sim.token, WIFGUARD_TENANT_ID=TENANT,
                   WIFGUARD_SUBSCRIPTIONS=SUB)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="wifguard-chaos-") as tmp:
        root = Path(tmp)
        rows.append(kill_scenario(root / "kill"))
        with SimTenant.start(seed(N), mode="process") as sim:
            rows.append(store_scenario(root / "store", sim))
            rows.append(api_scenario(root / "graph", sim, "graph"))
            rows.append(api_scenario(root / "arm", sim, "arm"))
    print(f"{'fault':<24} {'lost':>5} {'resolved':>9} {'parked':>7} {'re-driven':>10} {'duplicates':>11}")
    for r in rows:
        print(f"{r['fault']:<24} {r['lost']:>5} {r['wrongly_resolved']:>9} {r['parked']:>7} {r['redriven']:>10} "
              f"{r['duplicates']:>11}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
