"""A Graph read that fails its task (retries spent) raises a typed ``GraphError`` and says so once
at WARNING, naming the call, never the token."""

from __future__ import annotations

import logging

import pytest

from wifguard import errors
from wifguard.sim import SimTenant
from wifguard.sim.generate import generate_seed
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.graph import GraphClient, GraphError


async def test_graph_outage_is_a_typed_error_and_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    seed = generate_seed(apps=3, fics_per_app=1, uamis=1, subscriptions=1, role_assignments=2,
                         planted_attacker_issuers=0, seed=5)
    with SimTenant.start(seed) as sim:
        sim.outage("graph", 600)
        async with GraphClient(Connection.from_sim(sim, max_attempts=2)) as graph:
            with caplog.at_level(logging.WARNING, logger="wifguard.sources.inventory"), pytest.raises(GraphError) as info:
                await graph.get(f"{sim.graph_url}/v1.0/applications?$top=5")
    exc = info.value
    assert isinstance(exc, errors.SourceReadError) and (exc.api, exc.status) == ("graph", 503)
    assert errors.exit_code(exc) == 2 and errors.http_status(exc) == 500
    lines = [r for r in caplog.records if r.name == "wifguard.sources.inventory.graph"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    text = lines[0].getMessage()
    assert "GET /applications" in text and "2 attempt" in text and "503" in text
    assert sim.token not in text
