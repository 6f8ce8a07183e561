"""Azure Resource Manager reads and writes: user-assigned identities, their federated
credentials (azure-mgmt-msi) and role assignments/definitions (azure-mgmt-authorization).

SDK models are turned back into the REST shape (``serialize(keep_readonly=True)``) so the rest
of wifguard sees one shape whether data came from ARM, a seed or a file, and quarantine backups
hold exactly what ARM returned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from wifguard.errors import SourceReadError
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.graph import HttpStats, backoff
from wifguard.sources.inventory.permissions import PermissionDenied

log = logging.getLogger(__name__)

T = TypeVar("T")
ROLE_API = "2022-04-01"
SUBSCRIPTIONS_API = "2022-12-01"
RESOURCE_GROUPS_API = "2021-04-01"


class TokenBucket:
    """Client-side pacing to ARM's documented read limit (per subscription and principal:
    a bucket of 250 refilled at 25/s), so a sweep waits exactly as long as needed instead of
    collecting 429s and sleeping whole-second Retry-After values."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def observe(self, remaining: float | None, retry_after: float | None) -> None:
        """Follow what ARM says about the bucket, not only our own count: another client of
        the same principal, or a smaller real limit, drains it faster than we assume. Without
        this every throttled request retries on its own schedule and an unlucky one can lose
        every race until its attempts run out."""
        self._refill()
        if remaining is not None:
            self.tokens = min(self.tokens, remaining)
        if retry_after is not None:
            # Everyone queues behind the refusal, in order (asyncio.Lock is FIFO).
            self.tokens = min(self.tokens, -retry_after * self.rate)

    async def take(self) -> float:
        async with self._lock:
            self._refill()
            self.tokens -= 1
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
        if wait > 0:
            await asyncio.sleep(wait)
        return wait


class ArmError(SourceReadError):
    """ARM answered an error (``status``)."""

    api = "arm"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status=status)


def parse_uami_id(resource_id: str) -> tuple[str, str, str]:
    """``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{n}``."""
    parts = resource_id.strip("/").split("/")
    low = [p.lower() for p in parts]
    try:
        s = parts[low.index("subscriptions") + 1]
        rg = parts[low.index("resourcegroups") + 1]
        n = parts[low.index("userassignedidentities") + 1]
    except (ValueError, IndexError):
        raise ValueError(f"not a user-assigned identity resource id: {resource_id!r}") from None
    return s, rg, n


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None  # Retry-After may be an HTTP date; the remaining-reads header still paces


def _pacing_policy(client: ArmClient) -> Any:
    from urllib.parse import urlsplit

    from azure.core.pipeline.policies import AsyncHTTPPolicy

    class PacingPolicy(AsyncHTTPPolicy):
        """Waits for the subscription's read bucket before every attempt (pages included)."""

        async def send(self, request: Any) -> Any:
            http = request.http_request
            subscription: str | None = None
            if http.method in ("GET", "HEAD"):
                parts = urlsplit(http.url).path.strip("/").split("/")
                if len(parts) >= 2 and parts[0].lower() == "subscriptions":
                    subscription = parts[1]
                    await client.pace(subscription)
            response = await self.next.send(request)
            if subscription is not None:
                headers = response.http_response.headers
                client.observe(subscription, _number(headers.get("x-ms-ratelimit-remaining-subscription-reads")),
                               _number(headers.get("Retry-After")) if response.http_response.status_code == 429
                               else None)
            return response

    return PacingPolicy()


def _counting_policy(stats: HttpStats) -> Any:
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class CountingPolicy(SansIOHTTPPolicy):
        """Counts every attempt (it sits inside the retry policy) and every 429."""

        def on_request(self, request: Any) -> None:
            stats.count("arm")

        def on_response(self, request: Any, response: Any) -> None:
            status = response.http_response.status_code
            if status == 429:
                stats.throttled += 1
                stats.retries += 1
            elif status >= 500:
                stats.faults += 1
                stats.retries += 1

    return CountingPolicy()


class ArmClient:
    """One per inventory; SDK clients are created per subscription on first use and reused."""

    def __init__(self, conn: Connection, stats: HttpStats | None = None) -> None:
        self.conn = conn
        self.stats = stats or HttpStats()
        self._credential = conn.credential()
        self._msi: dict[str, Any] = {}
        self._auth: dict[str, Any] = {}
        self._sem = asyncio.Semaphore(conn.arm_concurrency)
        self._session: Any = None
        self._buckets: dict[str, TokenBucket] = {}
        self.paced_seconds = 0.0

    def _bucket(self, subscription_id: str) -> TokenBucket:
        b = self._buckets.get(subscription_id.lower())
        if b is None:
            # A little under the documented limits: requests reach ARM with jitter.
            b = self._buckets[subscription_id.lower()] = TokenBucket(
                self.conn.arm_reads_bucket * 0.95, self.conn.arm_reads_per_s * 0.9)
        return b

    async def pace(self, subscription_id: str) -> None:
        self.paced_seconds += await self._bucket(subscription_id).take()

    def observe(self, subscription_id: str, remaining: float | None, retry_after: float | None) -> None:
        self._bucket(subscription_id).observe(remaining, retry_after)

    async def __aenter__(self) -> ArmClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        for c in [*self._msi.values(), *self._auth.values()]:
            await c.close()
        self._msi.clear()
        self._auth.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        close = getattr(self._credential, "close", None)
        if close is not None:
            await close()

    def _kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "base_url": self.conn.arm_url,
            "per_retry_policies": [_pacing_policy(self), _counting_policy(self.stats)],
            "retry_total": self.conn.max_attempts,
            "retry_backoff_factor": 0.2,
        }
        kw["transport"] = self._transport()
        if self.conn.simulated:
            # The simulator is not a real cloud: skip resource-provider registration and
            # authentication-challenge discovery, keep everything else.
            kw["credential_scopes"] = ["https://management.azure.com/.default"]
        return kw

    def _transport(self) -> Any:
        """One aiohttp session (one connection pool, one TLS context) for every ARM client.

        Passing ``connection_verify=<path>`` instead would make azure-core build a new TLS
        context per request, and aiohttp would open a new connection for each.
        """
        import ssl

        import aiohttp
        from azure.core.pipeline.transport import AioHttpTransport

        if self._session is None:
            ctx = ssl.create_default_context(cafile=self.conn.ca_path) if self.conn.ca_path else ssl.create_default_context()
            connector = aiohttp.TCPConnector(ssl=ctx, limit=self.conn.arm_concurrency * 2)
            self._session = aiohttp.ClientSession(connector=connector)
        return AioHttpTransport(session=self._session, session_owner=False)

    def msi(self, subscription_id: str) -> Any:
        c = self._msi.get(subscription_id)
        if c is None:
            from azure.mgmt.msi.aio import ManagedServiceIdentityClient

            c = ManagedServiceIdentityClient(self._credential, subscription_id, **self._kwargs())
            self._msi[subscription_id] = c
        return c

    def auth(self, subscription_id: str = "00000000-0000-0000-0000-000000000000") -> Any:
        c = self._auth.get(subscription_id)
        if c is None:
            from azure.mgmt.authorization.aio import AuthorizationManagementClient

            c = AuthorizationManagementClient(self._credential, subscription_id, **self._kwargs())
            self._auth[subscription_id] = c
        return c

    async def call(self, fn: Callable[[], Awaitable[T]], subscription_id: str | None = None) -> T:
        """Run one SDK call with our own retry for what azure-core's policy does not retry
        (a truncated body fails to decode after a 200)."""
        from azure.core.exceptions import (
            DecodeError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceResponseError,
        )

        for attempt in range(self.conn.max_attempts):
            try:
                async with self._sem:
                    return await fn()
            except ResourceNotFoundError:
                raise
            except HttpResponseError as exc:
                if exc.status_code == 403:
                    # A missing role, never "nothing there": name it and stop.
                    request = getattr(exc.response, "request", None)
                    raise PermissionDenied("arm", getattr(request, "method", "GET"), str(getattr(request, "url", "")),
                                           str(getattr(exc.error, "code", "") or exc.reason or "")) from exc
                if isinstance(exc, DecodeError):
                    self.stats.faults += 1
                    if attempt + 1 >= self.conn.max_attempts:
                        log.warning("ARM call gave up after %d attempt(s): %s", attempt + 1, type(exc).__name__)
                        raise
                    self.stats.retries += 1
                    await asyncio.sleep(backoff(attempt, None))
                    continue
                raise
            except (DecodeError, ServiceResponseError) as exc:
                self.stats.faults += 1
                if attempt + 1 >= self.conn.max_attempts:
                    log.warning("ARM call gave up after %d attempt(s): %s", attempt + 1, type(exc).__name__)
                    raise
                self.stats.retries += 1
                await asyncio.sleep(backoff(attempt, None))
        raise ArmError(0, "retries exhausted")  # pragma: no cover

    async def collect(self, make_pager: Callable[[], Any], subscription_id: str | None = None) -> list[dict[str, Any]]:
        """Drain an SDK pager into REST-shaped dicts, restarting on transient decode faults."""

        async def run() -> list[dict[str, Any]]:
            return [m.serialize(keep_readonly=True) async for m in make_pager()]

        return await self.call(run, subscription_id)

    async def raw_get(self, url: str, subscription_id: str | None = None) -> dict[str, Any]:
        """A GET through the SDK pipeline for endpoints the pinned SDKs do not cover."""
        from azure.core.rest import HttpRequest

        client = self.msi(self.conn.subscriptions[0] if self.conn.subscriptions else "0")

        async def run() -> dict[str, Any]:
            # The multi-API clients do not expose send_request; their pipeline client does.
            pipeline = client._client
            resp = await pipeline.send_request(HttpRequest("GET", pipeline.format_url(url)))
            if resp.status_code == 404:
                from azure.core.exceptions import ResourceNotFoundError

                raise ResourceNotFoundError(f"{url}: not found")
            if resp.status_code == 403:
                raise PermissionDenied("arm", "GET", url, resp.text()[:300])
            if resp.status_code >= 400:
                raise ArmError(resp.status_code, f"ARM {resp.status_code} for {url}: {resp.text()[:300]}")
            data: dict[str, Any] = resp.json()
            return data

        return await self.call(run, subscription_id)

    # -- reads -------------------------------------------------------------------------------------
    async def subscriptions(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = f"/subscriptions?api-version={SUBSCRIPTIONS_API}"
        while url:
            data = await self.raw_get(url)
            out += data.get("value", [])
            url = data.get("nextLink")
        return out

    async def resource_groups(self, subscription_id: str) -> dict[str, dict[str, str]]:
        """Tags of every resource group of a subscription (lower-cased name → tags), in one listing."""
        out: dict[str, dict[str, str]] = {}
        url: str | None = f"/subscriptions/{subscription_id}/resourcegroups?api-version={RESOURCE_GROUPS_API}"
        while url:
            data = await self.raw_get(url, subscription_id)
            for rg in data.get("value", []):
                out[str(rg.get("name", "")).lower()] = dict(rg.get("tags") or {})
            url = data.get("nextLink")
        return out

    async def resource_group_tags(self, subscription_id: str, rg: str) -> dict[str, str]:
        data = await self.raw_get(f"/subscriptions/{subscription_id}/resourcegroups/{rg}?api-version={RESOURCE_GROUPS_API}",
                                  subscription_id)
        return dict(data.get("tags") or {})

    async def identities(self, subscription_id: str) -> list[dict[str, Any]]:
        msi = self.msi(subscription_id)
        return await self.collect(lambda: msi.user_assigned_identities.list_by_subscription(), subscription_id)

    async def identity(self, resource_id: str) -> dict[str, Any]:
        s, rg, n = parse_uami_id(resource_id)
        msi = self.msi(s)
        m = await self.call(lambda: msi.user_assigned_identities.get(rg, n))
        data: dict[str, Any] = m.serialize(keep_readonly=True)
        return data

    async def credentials(self, resource_id: str) -> list[dict[str, Any]]:
        s, rg, n = parse_uami_id(resource_id)
        msi = self.msi(s)
        return await self.collect(lambda: msi.federated_identity_credentials.list(rg, n), s)

    async def credential(self, resource_id: str, name: str) -> dict[str, Any]:
        s, rg, n = parse_uami_id(resource_id)
        msi = self.msi(s)
        m = await self.call(lambda: msi.federated_identity_credentials.get(rg, n, name))
        data: dict[str, Any] = m.serialize(keep_readonly=True)
        return data

    async def role_assignments(self, scope: str, *, principal_id: str | None = None,
                               at_scope: bool = False) -> list[dict[str, Any]]:
        flt = None
        if principal_id:
            flt = f"principalId eq '{principal_id}'"
        elif at_scope:
            flt = "atScope()"
        auth = self.auth(_sub_of(scope))
        return await self.collect(lambda: auth.role_assignments.list_for_scope(scope, filter=flt), _sub_of(scope))

    async def role_assignment(self, assignment_id: str) -> dict[str, Any]:
        auth = self.auth(_sub_of(assignment_id))
        m = await self.call(lambda: auth.role_assignments.get_by_id(assignment_id))
        data: dict[str, Any] = m.serialize(keep_readonly=True)
        return data

    async def role_definitions(self, scope: str) -> list[dict[str, Any]]:
        """Every role definition assignable at ``scope``: built-in and custom."""
        auth = self.auth(_sub_of(scope))
        return await self.collect(lambda: auth.role_definitions.list(scope))

    # -- writes (quarantine / restore) -------------------------------------------------------------
    async def delete_credential(self, resource_id: str, name: str) -> None:
        s, rg, n = parse_uami_id(resource_id)
        msi = self.msi(s)
        await self.call(lambda: msi.federated_identity_credentials.delete(rg, n, name))

    async def put_credential(self, resource_id: str, name: str, properties: dict[str, Any]) -> dict[str, Any]:
        s, rg, n = parse_uami_id(resource_id)
        msi = self.msi(s)
        body = {"properties": properties}
        m = await self.call(lambda: msi.federated_identity_credentials.create_or_update(rg, n, name, body))
        data: dict[str, Any] = m.serialize(keep_readonly=True)
        return data


def _sub_of(scope: str) -> str:
    parts = scope.strip("/").split("/")
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1]
    return "00000000-0000-0000-0000-000000000000"
