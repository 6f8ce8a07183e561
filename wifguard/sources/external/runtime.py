"""Opening the outside checks for a run (sweep, event batch, shard) from the config and settings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from wifguard.sources.external.checks import ExternalChecks, ExternalFacts, SimEndpoints
from wifguard.sources.external.config import ExternalConfig

if TYPE_CHECKING:
    from wifguard.catalogue.engine import Engine
    from wifguard.config import Config
    from wifguard.domain.model import TrustContext
    from wifguard.sources.inventory.connection import Connection

log = logging.getLogger(__name__)

EXTERNAL_STATES = ("github_owner", "github_repo", "github_environment", "gitlab_group", "gitlab_project",
                   "tfc_organization", "tfc_workspace")


async def sim_endpoints(conn: Connection) -> SimEndpoints:
    """The simulated tenant's provider URLs (from its admin surface; every host maps there)."""
    import ssl

    import httpx

    ctx = ssl.create_default_context(cafile=conn.ca_path) if conn.ca_path else True
    async with httpx.AsyncClient(verify=ctx, timeout=10) as http:
        resp = await http.get(conn.graph_url.rstrip("/") + "/_sim/info",
                              headers={"Authorization": f"Bearer {conn.static_token}"})
        resp.raise_for_status()
        info = resp.json()
    return SimEndpoints(dict(info.get("external") or {}), str(conn.static_token), str(conn.ca_path or ""))


async def open_checks(config: Config, *, conn: Connection | None, env: Mapping[str, str],
                      store_conn: str | None = None, tables: Any = None, prefix: str = "wifguard"
                      ) -> ExternalChecks | None:
    """The checks the config enables (None when no provider is), with a Table Storage cache when a
    store is given (``store_conn``, or an open ``TableServiceClient`` in ``tables``)."""
    ext = ExternalConfig.from_mapping(config.external)
    if not ext.enabled:
        return None
    sim = await sim_endpoints(conn) if conn is not None and conn.simulated else None
    cache = None
    if store_conn or tables is not None:
        from wifguard.store.external_cache import ExternalCache

        try:
            cache = ExternalCache(tables, prefix=prefix, owned=False) if tables is not None else \
                ExternalCache.from_connection_string(store_conn or "", prefix=prefix)
            await cache.ensure()
        except Exception as exc:  # no cache is slower, not wrong
            log.warning("external cache unavailable (%s): every lookup goes to the providers", type(exc).__name__)
            cache = None
    return ExternalChecks(ext, env=env, sim=sim, cache=cache)


def privileged_by(engine: Engine) -> Callable[[TrustContext], bool]:
    from wifguard.catalogue import facts as F

    return lambda ctx: bool(F.identity_view(ctx, engine.cf).vars["privileged"])


def incomplete(facts: ExternalFacts | None, ctx: TrustContext) -> bool:
    """True when the outside checks did not give a definite answer for every credential of ``ctx``
    that names something outside: then stored WIF212-216 findings must not be resolved."""
    if facts is None:
        return True
    for c in ctx.credentials:
        got = facts.get(c)
        if got is not None and any(got[0].get(k) == "unknown" for k in EXTERNAL_STATES):
            return True
    return False
