"""What every outside provider shares: lookup targets, answers, the registry and rate budgets.

A federated credential trusts a *name* on another platform (a GitHub owner and repository, a
GitLab project, a Terraform Cloud workspace). A provider answers one question per target: does
that name exist there, and with which ids. The answer has three states, and ``unknown`` (the
provider was unreachable, no token, a private object not visible, the rate budget spent) is never
read as ``missing``: rules fire on ``missing`` only.

Providers register with ``@register_provider``; each declares its config model (validated at
config load, an unknown provider name fails listing the valid ones) and the tokens it needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field


class State(StrEnum):
    EXISTS = "exists"
    MISSING = "missing"
    UNKNOWN = "unknown"


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Target:
    """One name to look up: ``kind`` is owner | repo | environments | group | project |
    organization | workspace; ``host`` is the platform host the credential's issuer names."""

    provider: str
    host: str
    kind: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.host.lower()}|{self.kind}|{self.name.lower()}"

    def label(self) -> str:
        return f"{self.provider} {self.kind} {self.name!r} on {self.host}"


@dataclass(frozen=True, slots=True)
class Answer:
    """A provider's answer about one target: what was asked, when, and what came back."""

    state: State
    request: str  # e.g. "GET https://api.github.com/repos/contoso/payments"
    answer: str  # e.g. "404 Not Found", "200 OK (id 123)", "unreachable: ConnectError"
    checked_at: str
    status: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)  # ids and other facts (JSON-safe)
    cached: bool = False

    def evidence(self, target: Target) -> dict[str, Any]:
        return {"provider": target.provider, "checked": target.label(), "request": self.request,
                "at": self.checked_at, "answer": self.answer, "state": self.state.value, "cached": self.cached}

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state.value, "request": self.request, "answer": self.answer,
                "checked_at": self.checked_at, "status": self.status, "data": dict(self.data)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], *, cached: bool = True) -> Answer:
        return cls(State(d["state"]), str(d["request"]), str(d["answer"]), str(d["checked_at"]),
                   d.get("status"), dict(d.get("data") or {}), cached)


def unknown(request: str, why: str, status: int | None = None) -> Answer:
    return Answer(State.UNKNOWN, request, why, utc_now_iso(), status)


class ProviderConfig(BaseModel):
    """Settings every provider has (``external: {NAME: {...}}`` in the config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    api_url: str | None = None  # override the API base of the public host (a proxy; tests)
    token_setting: str | None = None  # app setting that holds a token (a Key Vault reference in Azure)
    hosts: dict[str, str | None] = Field(default_factory=dict)  # enterprise host -> app setting of its token
    cache_ttl_hours: float = Field(default=24.0, ge=0)  # existence changes slowly
    max_requests: int = Field(default=1000, ge=0)  # per run (sweep, batch of events)
    reserve: int = Field(default=50, ge=0)  # stop when the provider's own remaining quota falls to this
    concurrency: int = Field(default=8, ge=1, le=64)
    timeout_seconds: float = Field(default=10.0, gt=0)


class Budget:
    """A provider's request budget for one run, tightened by the rate-limit headers it sees."""

    def __init__(self, max_requests: int, reserve: int) -> None:
        self.max_requests = max_requests
        self.reserve = reserve
        self.used = 0
        self.remaining: int | None = None  # the provider's own count, from its headers
        self.limit: int | None = None
        self.reset_at: int | None = None  # epoch seconds
        self.exhausted_reason = ""

    def take(self) -> bool:
        """Reserve one request; False when the run's budget or the provider's quota is spent."""
        if self.used >= self.max_requests:
            self.exhausted_reason = f"rate budget of {self.max_requests} requests for this run spent"
            return False
        # The reserve leaves room for other users of the same quota; never more than a tenth of it
        # (Terraform's quota is 30 per second, GitHub's 60 or 5,000 per hour).
        reserve = min(self.reserve, (self.limit or 0) // 10)
        if self.remaining is not None and self.remaining <= reserve:
            when = dt.datetime.fromtimestamp(self.reset_at, dt.UTC).isoformat() if self.reset_at else "later"
            self.exhausted_reason = (f"provider rate limit nearly spent ({self.remaining} of {self.limit} left, "
                                     f"reserve {reserve}; resets {when})")
            return False
        self.used += 1
        if self.remaining is not None:
            self.remaining -= 1  # until the response tells the exact figure
        return True

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read GitHub/GitLab-style rate-limit headers (x-ratelimit-* or ratelimit-*)."""
        def num(*names: str) -> int | None:
            for n in names:
                v = headers.get(n)
                if v is not None:
                    try:
                        return int(float(v))
                    except ValueError:
                        return None
            return None

        remaining = num("x-ratelimit-remaining", "ratelimit-remaining")
        if remaining is not None:
            self.remaining = remaining
            self.limit = num("x-ratelimit-limit", "ratelimit-limit")
            self.reset_at = num("x-ratelimit-reset", "ratelimit-reset")

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.used, "max_requests": self.max_requests, "remaining": self.remaining,
                "limit": self.limit, "exhausted": self.exhausted_reason}


class Provider(Protocol):
    """One outside platform. ``lookup`` never raises for a provider-side problem: it answers
    ``unknown`` with the reason."""

    name: ClassVar[str]
    config_model: ClassVar[type[ProviderConfig]]
    budget: Budget

    async def lookup(self, target: Target) -> Answer: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    config_model: type[ProviderConfig]
    needs: str  # the tokens / permissions it needs (README table, error messages)
    factory: Callable[..., Provider]


PROVIDERS: dict[str, ProviderSpec] = {}


def register_provider(name: str, config_model: type[ProviderConfig], needs: str
                      ) -> Callable[[Callable[..., Provider]], Callable[..., Provider]]:
    """Class decorator: make a provider known under ``name`` (the key under ``external:``)."""
    def deco(factory: Callable[..., Provider]) -> Callable[..., Provider]:
        if name in PROVIDERS:
            raise ValueError(f"external provider {name!r} registered twice")
        PROVIDERS[name] = ProviderSpec(name, config_model, needs, factory)
        return factory
    return deco


def load_builtin_providers() -> dict[str, ProviderSpec]:
    """Import the shipped providers (their modules register themselves)."""
    from wifguard.sources.external import github, gitlab, terraform  # noqa: F401

    return PROVIDERS
