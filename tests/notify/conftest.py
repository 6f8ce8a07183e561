"""Fixtures for the notify tests: a real local HTTP(S) receiver, an httpx client, the schema."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import trustme
from notify_helpers import DATA, Receiver, serve


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async for r in serve(None):
        yield r


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
async def tls_receiver(ca: trustme.CA) -> AsyncIterator[Receiver]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    async for r in serve(ctx):
        yield r


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture(scope="session")
def card_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((DATA / "adaptive-card-1.5.schema.json").read_text())
    jsonschema.Draft6Validator.check_schema(schema)
    return schema


@pytest.fixture(scope="session")
def card_validator(card_schema: dict[str, Any]) -> Iterator[jsonschema.Draft6Validator]:
    yield jsonschema.Draft6Validator(card_schema)
