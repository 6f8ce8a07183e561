"""How wifguard reaches Microsoft Graph and ARM: explicit configuration, no hidden globals.

Live: ``DefaultAzureCredential`` (managed identity in Azure, developer sign-in locally) and the
public cloud endpoints. Simulated: the simulator's base URLs, its throwaway CA and a static token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ARM_SCOPE = "https://management.azure.com/.default"


class StaticTokenCredential:
    """An async TokenCredential that hands out one fixed token (the simulated tenant's)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None


@dataclass(frozen=True)
class Connection:
    """Endpoints and trust for Graph and ARM."""

    graph_url: str = "https://graph.microsoft.com"
    arm_url: str = "https://management.azure.com"
    ca_path: str | None = None  # extra CA bundle (the simulator's); None: system trust
    static_token: str | None = None  # simulator only; live uses DefaultAzureCredential
    tenant_id: str | None = None
    subscriptions: tuple[str, ...] = ()  # restrict the sweep; empty: every visible subscription
    management_groups: tuple[str, ...] = ()  # extra management groups to read assignments at
    managed_identity_client_id: str | None = None  # the responder's user-assigned identity
    graph_concurrency: int = 16
    arm_concurrency: int = 32
    max_attempts: int = 8
    arm_reads_bucket: float = 250  # ARM's documented per-subscription read bucket ...
    arm_reads_per_s: float = 25  # ... and its refill rate
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_sim(cls, sim: Any, **kw: Any) -> Connection:
        return cls(graph_url=sim.graph_url, arm_url=sim.arm_url, ca_path=sim.ca_path, static_token=sim.token,
                   tenant_id=sim.tenant_id, **kw)

    @property
    def simulated(self) -> bool:
        return self.static_token is not None

    def credential(self) -> Any:
        if self.static_token is not None:
            return StaticTokenCredential(self.static_token)
        from azure.identity.aio import DefaultAzureCredential

        return DefaultAzureCredential(managed_identity_client_id=self.managed_identity_client_id)
