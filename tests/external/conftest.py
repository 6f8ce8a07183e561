"""Azurite (the external cache), and a simulated tenant that serves GitHub, GitLab and Terraform Cloud."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from external_helpers import seed

from wifguard.azurite import Azurite, run_azurite
from wifguard.sim import SimTenant


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with run_azurite() as inst:
        yield inst


@pytest.fixture
def prefix() -> str:
    return "x" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimTenant]:
    with SimTenant.start(seed()) as s:
        yield s
