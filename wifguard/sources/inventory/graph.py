"""Microsoft Graph reads and writes for app registrations and their federated credentials.

Requests are *built* with msgraph-sdk's request builders and *sent* through msgraph-core's
httpx client (Graph middleware: redirects, parameter decoding, telemetry headers), but
responses are parsed as plain JSON: msgraph-sdk's model parsing costs ~4 ms of CPU per entity,
which would dominate a tenant-wide sweep. Retries are ours so that they can honour
``Retry-After`` (or back off with jitter when it is empty), retry throttled ``$batch`` items, and
be counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wifguard.errors import SourceReadError
from wifguard.sources.inventory.connection import GRAPH_SCOPE, Connection
from wifguard.sources.inventory.permissions import PermissionDenied, graph_route

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BATCH_LIMIT = 20


class GraphError(SourceReadError):
    """Graph answered an error: ``status``, the service's error ``code`` and ``message``."""

    api = "graph"

    def __init__(self, status: int, code: str, message: str, url: str = "") -> None:
        super().__init__(f"Graph {status} {code}: {message}" + (f" ({url})" if url else ""), status=status,
                         where=url or None)
        self.status = status
        self.code = code
        self.message = message


class NotFound(GraphError):
    """Graph answered 404: the object is not there (a read that succeeded, unlike other errors)."""


@dataclass
class HttpStats:
    """Counters shared by the Graph and ARM clients of one inventory."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    faults: int = 0
    by_api: dict[str, int] = field(default_factory=dict)

    def count(self, api: str) -> None:
        self.requests += 1
        self.by_api[api] = self.by_api.get(api, 0) + 1


def backoff(attempt: int, retry_after: str | None, *, base: float = 0.2, cap: float = 20.0) -> float:
    """Seconds to wait: Retry-After when given, else exponential backoff with full jitter."""
    if retry_after:
        try:
            return max(0.0, min(float(retry_after), 120.0))
        except ValueError:
            pass  # an HTTP date or garbage: fall back to backoff
    return random.uniform(0, min(cap, base * (2 ** attempt)))


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _error_of(status: int, body: Any, url: str, method: str = "GET") -> Exception:
    code, message = "unknown", ""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        code = str(body["error"].get("code", code))
        message = str(body["error"].get("message", ""))
    if status == 403:
        # A missing permission, never "nothing there": the caller must not go on with a partial view.
        return PermissionDenied("graph", method, url, f"{code}: {message}".strip(": "))
    cls = NotFound if status == 404 else GraphError
    return cls(status, code, message, url)


def raise_for_denied(item: Mapping[str, Any], method: str, url: str) -> None:
    """A ``$batch`` sub-response that is a 403 becomes :class:`PermissionDenied`."""
    if item.get("status") == 403:
        body = item.get("body")
        err = body.get("error") if isinstance(body, Mapping) else None
        detail = f"{err.get('code', '')}: {err.get('message', '')}" if isinstance(err, Mapping) else ""
        raise PermissionDenied("graph", method, url, detail)


class GraphClient:
    """Thin async Graph client: JSON in, JSON out, with retries and counters."""

    def __init__(self, conn: Connection, stats: HttpStats | None = None, *, version: str = "v1.0") -> None:
        self.conn = conn
        self.stats = stats or HttpStats()
        self.version = version
        self._credential = conn.credential()
        self._http: Any = None
        self._builder: Any = None
        self._sem = asyncio.Semaphore(conn.graph_concurrency)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        close = getattr(self._credential, "close", None)
        if close is not None:
            await close()

    def _client(self) -> Any:
        if self._http is None:
            import httpx
            from kiota_http.middleware import ParametersNameDecodingHandler, RedirectHandler, UserAgentHandler
            from msgraph_core import GraphClientFactory

            verify: Any = True
            if self.conn.ca_path:
                verify = ssl.create_default_context(cafile=self.conn.ca_path)
            client = httpx.AsyncClient(
                base_url=f"{self.conn.graph_url.rstrip('/')}/{self.version}",
                verify=verify,
                timeout=httpx.Timeout(30.0, connect=10.0),
                limits=httpx.Limits(max_connections=self.conn.graph_concurrency * 2),
                http2=False,
            )
            # Graph middleware without its RetryHandler: retries are handled (and counted) here.
            self._http = GraphClientFactory.create_with_custom_middleware(
                middleware=[RedirectHandler(), ParametersNameDecodingHandler(), UserAgentHandler()], client=client
            )
        return self._http

    @property
    def sdk(self) -> Any:
        """A GraphServiceClient used only to build requests (URLs, query options)."""
        if self._builder is None:
            from kiota_abstractions.authentication import AnonymousAuthenticationProvider
            from msgraph import GraphRequestAdapter, GraphServiceClient

            adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=self._client())
            self._builder = GraphServiceClient(request_adapter=adapter)
        return self._builder

    async def _headers(self, low_priority: bool) -> dict[str, str]:
        token = await self._credential.get_token(GRAPH_SCOPE)
        h = {"Authorization": f"Bearer {token.token}", "Accept": "application/json"}
        if low_priority:
            h["x-ms-throttle-priority"] = "Low"  # background sweep: Graph sheds it first under load
        return h

    # -- core request loop -------------------------------------------------------------------------
    async def request(self, method: str, url: str, body: Any = None, *, low_priority: bool = False,
                      consistency: bool = False) -> Any:
        import httpx

        http = self._client()
        attempts = self.conn.max_attempts
        for attempt in range(attempts):
            headers = await self._headers(low_priority)
            if consistency:
                headers["ConsistencyLevel"] = "eventual"
            try:
                async with self._sem:
                    self.stats.count("graph")
                    resp = await http.request(method, url, json=body, headers=headers)
                    raw = resp.content
            except (httpx.TransportError, httpx.DecodingError) as exc:
                self.stats.faults += 1
                if attempt + 1 >= attempts:
                    log.warning("Graph %s: gave up after %d attempt(s): %s", graph_route(method, url), attempts,
                                type(exc).__name__)
                    raise GraphError(0, "transport", str(exc) or type(exc).__name__, url) from exc
                self.stats.retries += 1
                await asyncio.sleep(backoff(attempt, None))
                continue
            status = resp.status_code
            if status in RETRY_STATUSES:
                if status == 429:
                    self.stats.throttled += 1
                else:
                    self.stats.faults += 1
                if attempt + 1 >= attempts:
                    log.warning("Graph %s: gave up after %d attempt(s): HTTP %d", graph_route(method, url), attempts,
                                status)
                    raise _error_of(status, _loads(raw), url)
                self.stats.retries += 1
                await asyncio.sleep(backoff(attempt, resp.headers.get("Retry-After")))
                continue
            if status == 204 or not raw:
                if status >= 400:
                    raise _error_of(status, None, url, method)
                return None
            try:
                data = json.loads(raw)
            except ValueError:
                # A truncated body: the request itself succeeded or not, we cannot tell; retry it
                # only when it is safe to repeat.
                self.stats.faults += 1
                if method not in {"GET", "DELETE"} or attempt + 1 >= attempts:
                    raise GraphError(status, "badBody", "response body is not valid JSON", url) from None
                self.stats.retries += 1
                await asyncio.sleep(backoff(attempt, None))
                continue
            if status >= 400:
                raise _error_of(status, data, url, method)
            return data
        raise GraphError(0, "exhausted", "retries exhausted", url)  # pragma: no cover - loop returns

    async def get(self, url: str, **kw: Any) -> Any:
        return await self.request("GET", url, **kw)

    async def pages(self, url: str, **kw: Any) -> AsyncIterator[list[dict[str, Any]]]:
        """Follow ``@odata.nextLink``; yields each page's ``value``."""
        next_url: str | None = url
        while next_url:
            data = await self.get(next_url, **kw)
            yield list(data.get("value", []))
            next_url = data.get("@odata.nextLink")

    async def batch(self, requests: Sequence[Mapping[str, Any]], *, low_priority: bool = False) -> dict[str, Any]:
        """Run sub-requests through ``$batch`` (≤ 20 each), retrying throttled items.

        Returns ``{id: {"status": int, "body": ...}}``. A throttled item comes back as 429
        *inside* a 200 envelope, which no HTTP-level retry sees; it is re-sent after its
        ``Retry-After``.
        """
        pending = {str(r["id"]): dict(r) for r in requests}
        results: dict[str, Any] = {}
        attempt = 0
        while pending:
            ids = list(pending)
            waits: list[float] = []

            async def send(chunk: list[dict[str, Any]], attempt: int = attempt, waits: list[float] = waits) -> None:
                envelope = await self.request("POST", "/$batch", {"requests": chunk}, low_priority=low_priority)
                for item in (envelope or {}).get("responses", []):
                    rid = str(item.get("id"))
                    status = int(item.get("status", 0))
                    if status in RETRY_STATUSES and attempt + 1 < self.conn.max_attempts:
                        if status == 429:
                            self.stats.throttled += 1
                        self.stats.retries += 1
                        headers = {str(k).lower(): v for k, v in (item.get("headers") or {}).items()}
                        waits.append(backoff(attempt, headers.get("retry-after")))
                        continue
                    results[rid] = {"status": status, "body": item.get("body")}
                    pending.pop(rid, None)

            # Envelopes go out concurrently (the client's semaphore bounds them).
            await asyncio.gather(*(send([pending[x] for x in ids[i:i + BATCH_LIMIT]])
                                   for i in range(0, len(ids), BATCH_LIMIT)))
            if pending:
                attempt += 1
                if attempt >= self.conn.max_attempts:
                    for rid in pending:
                        results[rid] = {"status": 429, "body": {"error": {"code": "throttled"}}}
                    break
                await asyncio.sleep(max(waits, default=backoff(attempt, None)))
        return results

    # -- request building with the SDK -------------------------------------------------------------
    def url(self, build: Callable[[Any], Any]) -> str:
        """Build a request with the SDK (``lambda g: g.applications.to_get_request_information(...)``)."""
        info = build(self.sdk)
        return str(info.url)


def applications_url(g: GraphClient, *, select: Sequence[str], expand: Sequence[str] = (), top: int = 999,
                     filter: str | None = None) -> str:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder

    qp = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
        select=list(select), expand=list(expand) or None, top=top, filter=filter
    )
    return g.url(lambda s: s.applications.to_get_request_information(RequestConfiguration(query_parameters=qp)))
