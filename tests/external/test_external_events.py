"""Outside checks on the event path (the Responder the Functions run), with the cache in the store:
findings carry the provider's answer, and an "unknown" never resolves a stored WIF212."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

from external_helpers import CASES, CONFIG_ALL, TENANT, app_object_id, seed

from handlers.base import Decoded
from wifguard.azurite import Azurite
from wifguard.domain.model import Change, ChangeKind, IdentityKind
from wifguard.sim import SimTenant


def _env(azurite: Azurite, sim: SimTenant, prefix: str, config: Path) -> dict[str, str]:
    return {"WIFGUARD_STORAGE": azurite.connection_string, "WIFGUARD_TABLE_PREFIX": prefix,
            "WIFGUARD_TENANT_ID": TENANT, "WIFGUARD_GRAPH_URL": sim.graph_url, "WIFGUARD_ARM_URL": sim.arm_url,
            "WIFGUARD_CA_BUNDLE": sim.ca_path, "WIFGUARD_STATIC_TOKEN": sim.token, "WIFGUARD_CONFIG": str(config)}


def _decoded(i: int) -> Decoded:
    # A fresh event id per call (id(object()) repeats once the object is freed, and the ledger
    # would then rightly answer the second batch "duplicate").
    change = Change("audit-log", f"ev-{i}-{uuid.uuid4()}", ChangeKind.IDENTITY, identity_kind=IdentityKind.APPLICATION,
                    identity_id=app_object_id(i))
    return Decoded(change.event_id, "accepted", "", (change,), None, "audit-log")


async def _run(env: dict[str, str], indexes: list[int]) -> Any:
    from wifguard.pipeline.runtime import build_responder
    from wifguard.settings import Settings

    r = await build_responder(Settings.from_env(env))
    try:
        return await r.handle([_decoded(i) for i in indexes]), r
    finally:
        await r.close()
        await r.store.close()


def _index(name: str) -> int:
    return next(i for i, (n, *_) in enumerate(CASES, start=1) if n == name)


async def test_event_path_checks_and_caches(azurite: Azurite, prefix: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_ALL)
    ghost = _index("app-ghost-owner")
    with SimTenant.start(seed()) as sim:
        env = _env(azurite, sim, prefix, config)
        result, _ = await _run(env, [ghost])
        first = sim.stats()["external"]["github"]
        result2, _ = await _run(env, [ghost])
        second = sim.stats()["external"]["github"]
    assert [f.rule_id for f in result.findings if f.rule_id.startswith("WIF21")] == ["WIF212"]
    f = next(f for f in result.findings if f.rule_id == "WIF212")
    assert f.severity.label == "critical" and f.evidence["external"][0]["state"] in ("missing", "exists")
    assert any(e["answer"] == "404 Not Found" and not e["cached"] for e in f.evidence["external"])
    # The second batch reads the answers from the store's cache.
    f2 = next(f for f in result2.findings if f.rule_id == "WIF212")
    assert all(e["cached"] for e in f2.evidence["external"])
    assert first >= 2 and second == first  # the simulated GitHub saw no request the second time


async def test_unknown_never_resolves_a_stored_finding(azurite: Azurite, prefix: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_ALL.replace("{enabled: true}", "{enabled: true, cache_ttl_hours: 0}"))
    ghost = _index("app-ghost-owner")
    from wifguard.store import Store

    with SimTenant.start(seed()) as sim:
        await _run(_env(azurite, sim, prefix, config), [ghost])
    down = copy.deepcopy(seed())
    down["github"]["unavailable"] = True  # GitHub answers 503 now: "unknown"
    with SimTenant.start(down) as sim:
        result, _ = await _run(_env(azurite, sim, prefix, config), [ghost])
    assert not [f for f in result.findings if f.rule_id == "WIF212"]
    async with Store.from_connection_string(azurite.connection_string, prefix=prefix) as store:
        records = await store.query(status=("open",))
    assert any(r.rule_id == "WIF212" for r in records)  # still open: an outage is no all-clear
