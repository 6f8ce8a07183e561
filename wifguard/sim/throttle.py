"""Token buckets and Graph's resource-unit cost model.

Graph (identity and access): one bucket of ``graph_resource_units_per_10s`` RU per app per
tenant; a request that would overdraw the bucket gets 429 with ``Retry-After``. ARM: one reads
bucket and one writes bucket per subscription (and principal; the simulator sees one client).
Rejected requests do not consume units, matching the documented token-bucket behaviour.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping


class TokenBucket:
    """Capacity ``capacity``, refilled continuously at ``rate`` units per second."""

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._clock = clock
        self._tokens = float(capacity)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    @property
    def remaining(self) -> int:
        self._refill()
        return int(self._tokens)

    def take(self, cost: float) -> float:
        """Consume ``cost`` units; returns 0.0 on success or the seconds to wait when refused."""
        self._refill()
        if self._tokens >= cost:
            self._tokens -= cost
            return 0.0
        missing = min(cost, self.capacity) - self._tokens
        return max(missing / self.rate, 0.001) if self.rate > 0 else 3600.0


def retry_after_seconds(wait: float) -> str:
    """Retry-After is whole seconds; never advertise 0 for a refused request."""
    return str(max(1, math.ceil(wait)))


def graph_cost(method: str, path: str, query: Mapping[str, str]) -> int:
    """Resource units of one Graph request (domain.md section 2).

    ``GET applications`` (the collection) costs 2, other identity GETs 1; ``$select`` -1,
    ``$expand`` +1, minimum 1. Writes are charged 3 (Graph documents per-operation write costs
    of 3-5 RU for application writes).
    """
    if method not in ("GET", "HEAD") and not path.endswith("/getByIds"):
        return 3
    segments = [s for s in path.split("/") if s]
    cost = 2 if segments == ["applications"] else 1
    if "$select" in query:
        cost -= 1
    if "$expand" in query:
        cost += 1
    return max(1, cost)
