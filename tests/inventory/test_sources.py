"""Sources register by name behind Protocols: a new source (and the fact it feeds) is a module of
its own, read once per batch or sweep through the real SDKs against the simulated tenant, and
``TrustContext``/``Inventory`` stay as they are."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from wifguard.catalogue.engine import Engine
from wifguard.catalogue.facts import registry
from wifguard.catalogue.facts.providers import FactField, fact_provider
from wifguard.config import load_config
from wifguard.domain.model import IdentityKind, TrustContext
from wifguard.registry import Registry, UnknownName
from wifguard.sim import SimTenant
from wifguard.sources import ContextSource, context_sources, identity_sources, privilege_sources
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.tenant import Inventory
from wifguard.sources.privilege.reader import PrivilegeRun, read_all

SEED = Path(__file__).with_name("data") / "privilege-tenant.json"


class ServicePrincipalNames:
    """A toy context source: each app registration's display name, read again from Graph."""

    def __init__(self) -> None:
        self.calls = 0

    async def read(self, inventory: Inventory, contexts: Sequence[TrustContext], errors: list[str]
                   ) -> Mapping[str, Any]:
        self.calls += 1
        out: dict[str, Any] = {}
        for c in contexts:
            if c.identity.kind is IdentityKind.APPLICATION:
                app = await inventory.graph.get(f"/applications/{c.identity.id}?$select=id,displayName")
                out[c.identity.id] = {"sp_name": (app or {}).get("displayName", "")}
        return out


class Broken:
    async def read(self, inventory: Inventory, contexts: Sequence[TrustContext], errors: list[str]
                   ) -> Mapping[str, Any]:
        raise ConnectionResetError("usage API unreachable")


@pytest.fixture
def sp_source() -> Iterator[ServicePrincipalNames]:
    src = ServicePrincipalNames()
    context_sources.add("sp", src)
    try:
        yield src
    finally:
        context_sources.remove("sp")


def test_shipped_sources_are_registered_and_unknown_names_list_them() -> None:
    assert identity_sources.names() == ["application", "managedIdentity"]
    assert identity_sources.get(IdentityKind.MANAGED_IDENTITY.value).kind is IdentityKind.MANAGED_IDENTITY
    assert privilege_sources.names() == ["app_permissions", "directory_roles", "ownership"]
    with pytest.raises(UnknownName, match=r"unknown identity source 'servicePrincipal'; valid: application, "
                                          r"managedIdentity"):
        identity_sources.get("servicePrincipal")


async def test_an_unknown_privilege_source_fails_listing_the_valid_ones() -> None:
    with pytest.raises(UnknownName, match="unknown privilege source 'usage'; valid: app_permissions, directory_roles"):
        await read_all(PrivilegeRun(graph=None), [], sources=["usage"])  # type: ignore[arg-type]


def test_a_registry_keeps_one_plugin_per_name() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    reg.add("a", 1)  # the same one again: fine
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        reg.add("a", 2)
    assert reg.names() == ["a"] and "a" in reg and len(reg) == 1


async def test_a_context_source_is_read_once_per_batch_and_lands_in_extras(sp_source: ServicePrincipalNames) -> None:
    seed = json.loads(SEED.read_text())
    with SimTenant.start(seed) as sim:
        errors: list[str] = []
        async with Inventory(Connection.from_sim(sim)) as inv:
            ctxs = await inv.application_contexts([a["id"] for a in seed["applications"]], errors=errors)
            single = await inv.application_context(seed["applications"][0]["id"], errors=errors)
            swept = await inv.sweep()
    assert errors == [] and swept.errors == []
    assert sp_source.calls == 3  # the batch, the single read, the sweep: never once per identity
    by_name = {c.identity.name: c for c in ctxs.values() if c is not None}
    assert by_name["graph-writer"].extras["sp"] == {"sp_name": "graph-writer"}
    assert single is not None and single.extras["sp"] == {"sp_name": "graph-writer"}
    swept_by_name = {c.identity.name: c for c in swept.contexts}
    assert swept_by_name["graph-writer"].extras["sp"] == {"sp_name": "graph-writer"}


async def test_a_failed_source_is_an_error_never_no_data() -> None:
    seed = json.loads(SEED.read_text())
    context_sources.add("usage", Broken())
    try:
        with SimTenant.start(seed) as sim:
            errors: list[str] = []
            async with Inventory(Connection.from_sim(sim)) as inv:
                ctx = await inv.application_context(seed["applications"][0]["id"], errors=errors)
    finally:
        context_sources.remove("usage")
    assert ctx is not None and "usage" not in ctx.extras
    assert errors == ["context source usage failed: usage API unreachable"]


async def test_a_new_source_and_its_fact_are_two_modules(sp_source: ServicePrincipalNames, tmp_path: Path) -> None:
    # The fact provider reads what the source put in extras; absent means "not read".
    def sp_vars(ctx: TrustContext, cf: Any) -> dict[str, Any]:
        got = ctx.extras.get("sp")
        return {"sp_read": got is not None, "sp_name": (got or {}).get("sp_name", "")}

    fact_provider("sp", variable="identity", targets=("credential", "tenant", "role_assignment", "identity",
                                                      "change"), inline=False, description="toy",
                  fields=(FactField("sp_read", "bool", "read"), FactField("sp_name", "string", "name")))(sp_vars)
    rules = tmp_path / "sp.yaml"
    rules.write_text("""rules:
  - id: ACME901
    title: Service principal named like a writer
    severity: low
    applies_to: identity
    condition: "identity.sp_read && identity.sp_name.endsWith('-writer')"
    message: "{identity[sp_name]!r} writes."
    remediation: Rename it.
""", encoding="utf-8")
    try:
        engine = Engine(load_config(overrides={"rule_paths": [str(rules)]}))
        seed = json.loads(SEED.read_text())
        with SimTenant.start(seed) as sim:
            async with Inventory(Connection.from_sim(sim)) as inv:
                ctxs = await inv.application_contexts([a["id"] for a in seed["applications"]])
        fired = {c.identity.name for c in ctxs.values() if c is not None
                 for f in engine.evaluate(c).findings if f.rule_id == "ACME901"}
        assert fired == {"graph-writer"}
    finally:
        registry.remove("sp")


def test_the_protocol_is_structural() -> None:
    src: ContextSource = ServicePrincipalNames()  # mypy checks the shape; no base class needed
    assert callable(src.read)
