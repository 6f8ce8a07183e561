"""Fixtures for the simulated-tenant tests: running simulators over the small hand-written seed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_fixtures import small_seed

from wifguard.sim import SimTenant


def pytest_configure(config: pytest.Config) -> None:
    # msgraph-sdk warns about its own generated request-configuration classes at import time.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:msgraph.*")
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:kiota_abstractions.*")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimTenant]:
    """A simulator per test module (mutations persist within the module, as in a real tenant)."""
    with SimTenant.start(small_seed()) as s:
        yield s


@pytest.fixture
def fresh_sim() -> Iterator[SimTenant]:
    with SimTenant.start(small_seed()) as s:
        yield s
