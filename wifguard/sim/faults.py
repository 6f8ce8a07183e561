"""Deterministic fault injection: 503s with real error bodies, connection resets, truncated bodies.

Given the same ``fault_seed`` and the same order of requests, the same requests fail in the
same way, so a flaky-looking test is reproducible. Faults are drawn per HTTP request (a
``$batch`` envelope counts once) before the request touches state, so a failed write is never
half-applied.
"""

from __future__ import annotations

import random
from enum import StrEnum


class Fault(StrEnum):
    UNAVAILABLE = "503"
    RESET = "reset"
    TRUNCATED = "truncated"


class FaultInjector:
    def __init__(self, rate: float = 0.0, seed: int = 0, empty_retry_after_rate: float = 0.0,
                 kinds: tuple[Fault, ...] = (Fault.UNAVAILABLE, Fault.RESET, Fault.TRUNCATED)) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        self.rate = rate
        self.empty_retry_after_rate = empty_retry_after_rate
        self.kinds = kinds
        # Separate streams so that turning throttling on does not shift which requests fault.
        self._rng = random.Random(seed)
        self._retry_rng = random.Random(seed + 1)

    def draw(self) -> Fault | None:
        if self.rate <= 0.0 or not self.kinds:
            return None
        if self._rng.random() >= self.rate:
            return None
        return self.kinds[self._rng.randrange(len(self.kinds))]

    def empty_retry_after(self) -> bool:
        return self.empty_retry_after_rate > 0 and self._retry_rng.random() < self.empty_retry_after_rate
