"""Simulated tenant: Microsoft Graph (v1.0, beta) and Azure Resource Manager over HTTPS on loopback.

The real SDK clients talk to it unchanged except for their base URL and trust store::

    from wifguard.sim import SimTenant

    with SimTenant.start("seed.json") as sim:          # or a dict; mode="process" for benchmarks
        sim.graph_url   # https://127.0.0.1:PORT   (clients append /v1.0 or /beta)
        sim.arm_url     # https://127.0.0.1:PORT2  (ARM root; azure-mgmt clients: base_url=sim.arm_url)
        sim.ca_path     # PEM of the throwaway CA  (httpx verify=ssl.create_default_context(cafile=...),
                        #  azure-core connection_verify=sim.ca_path, or SSL_CERT_FILE/REQUESTS_CA_BUNDLE)
        sim.token       # any "Authorization: Bearer <x>" is accepted; this one is handy

msgraph-sdk::

    import httpx
    from kiota_abstractions.authentication import (AccessTokenProvider, AllowedHostsValidator,
                                                   BaseBearerTokenAuthenticationProvider)
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory

    class StaticToken(AccessTokenProvider):
        async def get_authorization_token(self, uri, additional_authentication_context={}):
            return sim.token
        def get_allowed_hosts_validator(self):
            return AllowedHostsValidator([])      # empty list: every host allowed

    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(base_url=sim.graph_url + "/v1.0", verify=sim.ssl_context()))
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken()), client=http)
    graph = GraphServiceClient(request_adapter=adapter)

azure-mgmt-msi / azure-mgmt-authorization (aio)::

    from azure.core.credentials import AccessToken
    class StaticCredential:                       # AsyncTokenCredential protocol
        async def get_token(self, *scopes, **kw): return AccessToken(sim.token, int(time.time()) + 3600)
        async def close(self): pass
        async def __aenter__(self): return self
        async def __aexit__(self, *a): pass

    msi = ManagedServiceIdentityClient(StaticCredential(), sub_id, base_url=sim.arm_url,
                                       connection_verify=sim.ca_path)

Attributes are imported lazily so that the rule engine can import ``wifguard.sim.builtin_roles``
without loading aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .generate import generate_seed
    from .runner import SimTenant
    from .server import SimServer, serve
    from .state import service_principal_id_for, uami_client_id_for, uami_principal_id_for

__all__ = ["SimServer", "SimTenant", "generate_seed", "serve", "service_principal_id_for",
           "uami_client_id_for", "uami_principal_id_for"]

_LAZY = {
    "SimTenant": ".runner",
    "SimServer": ".server",
    "serve": ".server",
    "generate_seed": ".generate",
    "service_principal_id_for": ".state",
    "uami_principal_id_for": ".state",
    "uami_client_id_for": ".state",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
