"""A real Azurite and a small simulated tenant for the pipeline, quarantine and function tests."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pipeline_helpers import RESPONDER_APP, SUB, TENANT, base_seed

from wifguard.azurite import Azurite, run_azurite
from wifguard.sim import SimTenant


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with run_azurite() as inst:
        yield inst


@pytest.fixture
def sim() -> Iterator[SimTenant]:
    with SimTenant.start(copy.deepcopy(base_seed())) as s:
        yield s


@pytest.fixture
def prefix() -> str:
    return "p" + uuid.uuid4().hex[:12]


@pytest.fixture
def env(azurite: Azurite, sim: SimTenant, prefix: str) -> dict[str, str]:
    return {
        "WIFGUARD_STORAGE": azurite.connection_string,
        "WIFGUARD_TABLE_PREFIX": prefix,
        "WIFGUARD_TENANT_ID": TENANT,
        "WIFGUARD_GRAPH_URL": sim.graph_url,
        "WIFGUARD_ARM_URL": sim.arm_url,
        "WIFGUARD_CA_BUNDLE": sim.ca_path,
        "WIFGUARD_STATIC_TOKEN": sim.token,
        "WIFGUARD_SUBSCRIPTIONS": SUB,
        "WIFGUARD_RESPONDER_IDS": RESPONDER_APP,
    }


@pytest.fixture
async def responder(env: dict[str, str]) -> AsyncIterator[Any]:
    from wifguard.pipeline.runtime import build_responder
    from wifguard.settings import Settings

    r = await build_responder(Settings.from_env(env), compose_messages=True)
    try:
        yield r
    finally:
        await r.close()
        await r.store.close()
