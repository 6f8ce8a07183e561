"""A tenant-wide sweep: read every federated identity, evaluate it with tenant-level facts."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wifguard.catalogue.engine import Engine, Evaluation
from wifguard.domain.model import Finding, TrustContext
from wifguard.reporting.report import sort_findings, summary
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.tenant import Inventory, Progress, SweepResult


@dataclass
class SweepReport:
    result: SweepResult
    evaluations: list[tuple[TrustContext, Evaluation]]
    seconds: float
    evaluate_seconds: float
    errors: list[str] = field(default_factory=list)
    external: Any = None  # wifguard.sources.external.checks.ExternalFacts when outside checks ran

    @property
    def findings(self) -> list[Finding]:
        return [f for _, ev in self.evaluations for f in ev.findings]

    def to_json(self) -> dict[str, Any]:
        r = self.result
        findings = sort_findings(self.findings)
        return {
            "findings": [f.to_dict() for f in findings],
            "summary": summary(
                findings,
                identities=r.identities,
                federated_identities=len(r.contexts),
                credentials=r.credentials,
                role_assignments=r.role_assignments,
                exempted=sum(len(ev.exempted) for _, ev in self.evaluations),
                requests=r.stats.requests,
                requests_by_api=dict(r.stats.by_api),
                throttled_retries=r.stats.throttled,
                retries=r.stats.retries,
                transient_faults=r.stats.faults,
                read_seconds=round(r.seconds, 3),
                evaluate_seconds=round(self.evaluate_seconds, 3),
                duration_seconds=round(self.seconds, 3),
                peak_rss_mb=round(_peak_rss_mb(), 1),
                errors=len(self.errors),
                **({"external": self.external.stats} if self.external is not None else {}),
            ),
            "errors": self.errors,
        }


def _peak_rss_mb() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


async def sweep(conn: Connection, engine: Engine, progress: Progress | None = None,
                external: Any = None) -> SweepReport:
    """``external``: open ``wifguard.sources.external.checks.ExternalChecks``, resolved before evaluation."""
    t0 = time.perf_counter()
    async with Inventory(conn) as inv:
        result = await inv.sweep(progress)
    facts = None
    if external is not None:
        from wifguard.sources.external.runtime import privileged_by

        facts = await external.resolve(result.contexts, privileged_by(engine))
    t1 = time.perf_counter()
    evaluations = [(ctx, engine.evaluate(ctx, tenant=result.tenant, external=facts)) for ctx in result.contexts]
    t2 = time.perf_counter()
    errors = list(result.errors) + [e for _, ev in evaluations for e in ev.errors]
    return SweepReport(result, evaluations, t2 - t0, t2 - t1, errors, facts)


async def sweep_with_checks(conn: Connection, engine: Engine, progress: Progress | None = None, *,
                            env: Mapping[str, str] | None = None, store: str | None = None,
                            prefix: str = "wifguard") -> SweepReport:
    """A sweep with the outside checks the config enables (WIF212-216), cached in ``store`` if given."""
    import os

    from wifguard.sources.external.runtime import open_checks

    external = await open_checks(engine.config, conn=conn, env=os.environ if env is None else env,
                                 store_conn=store, prefix=prefix)
    try:
        return await sweep(conn, engine, progress, external)
    finally:
        if external is not None:
            await external.close()


@contextmanager
def connection_for(sim_seed: str | Path | None, mode: str = "process") -> Iterator[tuple[Connection, Any]]:
    """Live connection, or a simulated tenant started from a seed for the duration of the block."""
    if sim_seed is None:
        from wifguard.settings import Settings

        conn = Settings.from_env().connection()  # the same settings the Function App reads
        assert isinstance(conn, Connection)
        yield conn, None
        return
    from wifguard.sim import SimTenant

    with SimTenant.start(Path(sim_seed), mode=mode) as sim:  # type: ignore[arg-type]
        yield Connection.from_sim(sim), sim
