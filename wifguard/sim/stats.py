"""Request counters that benchmarks and tests read back (`SimTenant.stats()`)."""

from __future__ import annotations

from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()  # by API: graph | arm
        self.routes: Counter[str] = Counter()  # "graph GET /applications"
        self.throttled_by_api: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.mutations: Counter[str] = Counter()
        self.conflicts = 0
        self.ru_spent = 0
        self.batch_subrequests = 0

    def request(self, api: str, route: str) -> None:
        self.requests[api] += 1
        self.routes[f"{api} {route}"] += 1

    def throttled(self, api: str) -> None:
        self.throttled_by_api[api] += 1

    def ru(self, cost: int) -> None:
        self.ru_spent += cost

    def fault(self, kind: str) -> None:
        self.faults[kind] += 1

    def mutation(self, kind: str) -> None:
        self.mutations[kind] += 1

    def batch_subrequest(self) -> None:
        self.batch_subrequests += 1

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "requests_total": sum(self.requests.values()),
            "routes": dict(self.routes),
            "throttled": dict(self.throttled_by_api),
            "throttled_total": sum(self.throttled_by_api.values()),
            "ru_spent": self.ru_spent,
            "faults": dict(self.faults),
            "faults_total": sum(self.faults.values()),
            "mutations": dict(self.mutations),
            "conflicts": self.conflicts,
            "batch_subrequests": self.batch_subrequests,
        }
