"""A small shared HTTP path for the providers that speak plain REST over httpx (GitLab, Terraform)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from wifguard.sources.external.base import Answer, Budget, State, unknown, utc_now_iso


def https_host(issuer: str) -> str | None:
    """The host an ``https://`` issuer names (lower case), else None: GitLab and Terraform
    Cloud/Enterprise serve their API on the issuer's own host."""
    try:
        u = urlsplit(issuer.strip())
    except ValueError:
        return None
    host = (u.hostname or "").lower()
    return host if u.scheme == "https" and host else None


class RestClient:
    """GET with a bearer token (or none), a budget and honest failure states."""

    def __init__(self, base_url: str, *, headers: Mapping[str, str], budget: Budget, timeout: float,
                 ssl_context: ssl.SSLContext | None, concurrency: int) -> None:
        import asyncio

        import httpx

        self.base_url = base_url.rstrip("/")
        self.budget = budget
        self.timeout = timeout
        self._http = httpx.AsyncClient(headers=dict(headers), timeout=timeout, verify=ssl_context or True,
                                       limits=httpx.Limits(max_connections=concurrency), follow_redirects=False)
        self._sem = asyncio.Semaphore(concurrency)

    async def get(self, path: str) -> tuple[Answer | None, int, Any, str]:
        """(an ``unknown`` answer when no usable response came back, status, body, request text)."""
        import httpx

        request = f"GET {self.base_url}{path}"
        async with self._sem:
            if not self.budget.take():
                return unknown(request, self.budget.exhausted_reason), 0, None, request
            try:
                resp = await self._http.get(self.base_url + path)
            except httpx.TimeoutException:
                return unknown(request, f"unreachable: no answer within {self.timeout:g} s"), 0, None, request
            except httpx.HTTPError as exc:
                return unknown(request, f"unreachable: {type(exc).__name__}"), 0, None, request
        self.budget.observe(resp.headers)
        try:
            body = resp.json() if resp.content else None
        except ValueError:
            body = None
        if resp.status_code in (200, 404):
            return None, resp.status_code, body, request
        if resp.status_code == 429:
            return unknown(request, "429 rate limited", 429), 429, body, request
        if resp.status_code in (401, 403):
            return unknown(request, f"{resp.status_code} not authorised (token missing or without access)",
                           resp.status_code), resp.status_code, body, request
        return unknown(request, f"{resp.status_code} {resp.reason_phrase}", resp.status_code), resp.status_code, \
            body, request

    async def close(self) -> None:
        await self._http.aclose()


def found(request: str, answer: str, data: Mapping[str, Any]) -> Answer:
    return Answer(State.EXISTS, request, answer, utc_now_iso(), 200, dict(data))


def not_found(request: str, authoritative: bool, why_unknown: str) -> Answer:
    if authoritative:
        return Answer(State.MISSING, request, "404 Not Found", utc_now_iso(), 404)
    return Answer(State.UNKNOWN, request, f"404 Not Found ({why_unknown})", utc_now_iso(), 404)
