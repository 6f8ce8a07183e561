"""Benchmark: record 1,000 new findings (about 50 identities) into Table Storage on Azurite.

Run: ``python bench/bench_store.py``. Prints one line with the wall time against the target.
Nothing here is asserted by the test suite.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wifguard.azurite import run_azurite
from wifguard.domain.model import Finding, Severity, fingerprint
from wifguard.store import EvaluationScope, Store

TARGET_SECONDS = 5.0
IDENTITIES = 50
FINDINGS = 1000
CONCURRENCY = 8


def make_findings(identity_id: str, name: str, count: int) -> list[Finding]:
    out = []
    for i in range(count):
        cred = {
            "name": f"fic-{i:03d}",
            "issuer": "https://token.actions.githubusercontent.com",
            "subject": f"repo:contoso/{name}:pull_request",
        }
        rule = f"WIF-{(i % 7) + 1:03d}"
        out.append(
            Finding(
                rule_id=rule,
                severity=Severity(i % 5),
                title="Pull-request subject trusted",
                message=f"Credential 'fic-{i:03d}' trusts pull requests of contoso/{name}.",
                identity={"id": identity_id, "name": name, "kind": "application"},
                remediation="Trust a protected environment instead.",
                fingerprint=fingerprint(rule, identity_id, cred),
                credential=cred,
                evidence={"source": "bench", "i": i},
            )
        )
    return out


async def run(conn: str) -> tuple[float, int]:
    per_identity = FINDINGS // IDENTITIES
    work = []
    for n in range(IDENTITIES):
        identity_id = str(uuid.UUID(int=n + 1))
        work.append((identity_id, make_findings(identity_id, f"app-{n:02d}", per_identity)))
    async with Store.from_connection_string(conn, prefix="bench") as store:
        await store.ensure()
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(identity_id: str, findings: list[Finding]) -> int:
            async with gate:
                result = await store.record(identity_id, findings, scope=EvaluationScope.whole_identity())
                return len(result.new)

        start = time.perf_counter()
        new = sum(await asyncio.gather(*(one(i, f) for i, f in work)))
        elapsed = time.perf_counter() - start
    return elapsed, new


def main() -> None:
    with run_azurite() as azurite:
        elapsed, new = asyncio.run(run(azurite.connection_string))
    status = "ok" if elapsed <= TARGET_SECONDS else "SLOW"
    print(
        f"store.record {new} new findings ({IDENTITIES} identities): {elapsed:.2f} s "
        f"(target ≤ {TARGET_SECONDS:g} s, batched by partition) {status}"
    )


if __name__ == "__main__":
    main()
