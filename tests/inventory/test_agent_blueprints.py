"""Entra agent identity blueprints inherit from ``application`` and hold federated credentials:
listings, single reads and findings cover them and say what they are."""

from __future__ import annotations

from typing import Any

from wifguard.catalogue.engine import Engine
from wifguard.config import load_config
from wifguard.sim import SimTenant
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.tenant import Inventory

TENANT = "11111111-1111-4111-8111-111111111111"
BLUEPRINT = "aaaaaaaa-0000-4000-8000-0000000000b1"
PLAIN = "aaaaaaaa-0000-4000-8000-0000000000b2"
EVIL = "https://agentx.blob.core.windows.net/oidc"


def _seed() -> dict[str, Any]:
    fic = {"name": "agent-fic", "issuer": EVIL, "subject": "agent", "audiences": ["api://AzureADTokenExchange"]}
    return {"tenantId": TENANT, "users": [], "subscriptions": [], "applications": [
        {"@odata.type": "#microsoft.graph.agentIdentityBlueprint", "id": BLUEPRINT,
         "appId": "bbbbbbbb-0000-4000-8000-0000000000b1", "displayName": "travel-agent-blueprint",
         "federatedIdentityCredentials": [fic], "owners": []},
        {"id": PLAIN, "appId": "bbbbbbbb-0000-4000-8000-0000000000b2", "displayName": "plain-app",
         "federatedIdentityCredentials": [dict(fic, name="plain-fic")], "owners": []},
    ]}


async def test_sweep_and_single_reads_name_agent_identity_blueprints() -> None:
    with SimTenant.start(_seed()) as sim:
        async with Inventory(Connection.from_sim(sim)) as inv:
            swept = await inv.sweep()
            one = await inv.application_context(BLUEPRINT)
            many = await inv.application_contexts([BLUEPRINT, PLAIN])
    by_id = {c.identity.id: c for c in swept.contexts}
    assert by_id[BLUEPRINT].identity.subtype == "agentIdentityBlueprint"
    assert by_id[PLAIN].identity.subtype is None
    assert one is not None and one.identity.subtype == "agentIdentityBlueprint"
    assert many[BLUEPRINT] is not None and many[BLUEPRINT].identity.subtype == "agentIdentityBlueprint"
    engine = Engine(load_config(overrides={"home_tenant_id": TENANT}))
    findings = engine.evaluate(by_id[BLUEPRINT]).findings
    wif102 = next(f for f in findings if f.rule_id == "WIF102")
    assert wif102.to_dict()["identity"] == {"id": BLUEPRINT, "name": "travel-agent-blueprint",
                                            "kind": "application", "type": "agentIdentityBlueprint"}
    plain = next(f for f in engine.evaluate(by_id[PLAIN]).findings if f.rule_id == "WIF102")
    assert "type" not in plain.to_dict()["identity"]
