"""GitHub: do the owner, the repository and the environment a subject names exist, with which ids?

Talks to the GitHub REST API through ``githubkit`` (async), imported only when a check runs.
Authentication, per host: a GitHub App installation token (``app_id`` + the app setting holding
its private key; the installation of the owner is looked up, so each owner is read with the
installation that can see its private repositories), else a token from an app setting (a Key
Vault reference in Azure), else unauthenticated (60 requests per hour on github.com: the budget
stops before the quota does).

What a 404 means: an owner (user or organisation) is public, so a 404 on ``/users/{owner}`` is
"missing". A repository may be private: a 404 on ``/repos/{owner}/{repo}`` is "missing" only when
read with credentials that see the owner's private repositories (an installation on that owner,
or a configured token); unauthenticated it is "unknown" (private or deleted cannot be told apart).

Enterprise Server: the issuer ``https://HOST/_services/token`` names the host; its API is
``https://HOST/api/v3`` and its token comes from ``hosts: {HOST: SETTING}``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from wifguard.sources.external.base import (
    Answer,
    Budget,
    ProviderConfig,
    State,
    Target,
    register_provider,
    unknown,
    utc_now_iso,
)

log = logging.getLogger(__name__)

PUBLIC_HOST = "github.com"
PUBLIC_API = "https://api.github.com"
ACTIONS_ISSUER_HOST = "token.actions.githubusercontent.com"


class GitHubConfig(ProviderConfig):
    token_setting: str | None = "WIFGUARD_GITHUB_TOKEN"
    app_id: str | None = None  # GitHub App: its id ...
    app_private_key_setting: str | None = None  # ... and the app setting holding its PEM private key


def host_of_issuer(issuer: str) -> str | None:
    """github.com for the Actions issuer (also ``/{enterprise}`` unique issuers); HOST for GHES."""
    from urllib.parse import urlsplit

    try:
        u = urlsplit(issuer.strip())
    except ValueError:
        return None
    host = (u.hostname or "").lower()
    if u.scheme != "https" or not host:
        return None
    if host == ACTIONS_ISSUER_HOST:
        return PUBLIC_HOST
    if u.path.rstrip("/") == "/_services/token":
        return host
    return None


def api_url_for(host: str, config: GitHubConfig, sim_url: str | None) -> str:
    if sim_url:
        return sim_url
    if host == PUBLIC_HOST:
        return (config.api_url or PUBLIC_API).rstrip("/")
    return f"https://{host}/api/v3"


def _protected(env: Mapping[str, Any]) -> bool:
    """Required reviewers, or a branch/tag policy: otherwise any workflow may deploy to it."""
    for rule in env.get("protection_rules") or []:
        if not isinstance(rule, Mapping):
            continue
        if rule.get("type") == "required_reviewers" and rule.get("reviewers"):
            return True
        if rule.get("type") == "branch_policy":
            return True
    return bool(env.get("deployment_branch_policy"))


@register_provider("github", GitHubConfig,
                   "none for public repositories (60 requests/hour unauthenticated); for private ones a GitHub App "
                   "installed on the owners with Metadata: read and Environments: read (or Administration: read "
                   "for OIDC subject templates), or a token with the same read access")
class GitHubProvider:
    name: ClassVar[str] = "github"
    config_model: ClassVar[type[ProviderConfig]] = GitHubConfig

    def __init__(self, config: GitHubConfig, host: str, *, env: Mapping[str, str], sim_url: str | None = None,
                 sim_token: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.host = host
        self.api_url = api_url_for(host, config, sim_url)
        self.budget = Budget(config.max_requests, config.reserve)
        self._env = env
        self._ssl = ssl_context
        self._token = sim_token if sim_url else self._setting_token()
        self._app_key = None if sim_url else self._setting(config.app_private_key_setting)
        self._clients: dict[str, Any] = {}  # "" (token/unauthenticated) or an installation id -> GitHub
        self._installations: dict[str, str | None] = {}
        self._app: Any = None
        self._transport: Any = None
        self._sem = asyncio.Semaphore(config.concurrency)

    # -- credentials ---------------------------------------------------------------------------
    def _setting(self, name: str | None) -> str | None:
        return (self._env.get(name) or None) if name else None

    def _setting_token(self) -> str | None:
        if self.host != PUBLIC_HOST:
            return self._setting(self.config.hosts.get(self.host))
        return self._setting(self.config.token_setting)

    @property
    def authenticated(self) -> bool:
        return bool(self._token or (self.config.app_id and self._app_key))

    def _new(self, auth: Any) -> Any:
        from githubkit import GitHub

        if self._transport is None:
            self._transport = _shared_transport(self._ssl)
        return GitHub(auth, base_url=self.api_url + "/", ssl_verify=self._ssl or True, http_cache=False,
                      auto_retry=False, timeout=self.config.timeout_seconds, user_agent="wifguard",
                      async_transport=self._transport)

    async def _client_for(self, owner: str) -> tuple[Any, bool]:
        """The client to read ``owner`` with, and whether it sees the owner's private repositories."""
        if self.config.app_id and self._app_key:
            inst = await self._installation(owner)
            if inst is not None:
                if inst not in self._clients:
                    self._clients[inst] = self._new(self._app_auth().as_installation(int(inst)))
                return self._clients[inst], True
        if "" not in self._clients:
            self._clients[""] = self._new(self._token)
        return self._clients[""], bool(self._token)

    def _app_auth(self) -> Any:
        from githubkit import AppAuthStrategy

        return AppAuthStrategy(str(self.config.app_id), str(self._app_key))

    async def _installation(self, owner: str) -> str | None:
        key = owner.lower()
        if key not in self._installations:
            if self._app is None:
                self._app = self._new(self._app_auth())
            inst: str | None = None
            if self.budget.take():
                try:
                    resp = await self._app.arequest("GET", f"/users/{quote(owner, safe='')}/installation")
                    inst = str(resp.json()["id"])
                except Exception as exc:  # not installed there (404), or unreachable: read without it
                    log.debug("no GitHub App installation for %s: %s", owner, type(exc).__name__)
            self._installations[key] = inst
        return self._installations[key]

    # -- lookups ---------------------------------------------------------------------------------
    async def lookup(self, target: Target) -> Answer:
        owner = target.name.split("/", 1)[0]
        if target.kind == "owner":
            path = f"/users/{quote(owner, safe='')}"
        elif target.kind == "repo":
            o, _, r = target.name.partition("/")
            path = f"/repos/{quote(o, safe='')}/{quote(r, safe='')}"
        elif target.kind == "environments":
            o, _, r = target.name.partition("/")
            path = f"/repos/{quote(o, safe='')}/{quote(r, safe='')}/environments?per_page=100"
        else:
            raise ValueError(f"github cannot look up a {target.kind!r}")
        request = f"GET {self.api_url}{path}"
        async with self._sem:
            try:
                client, sees_private = await self._client_for(owner)
            except Exception as exc:
                return unknown(request, f"cannot authenticate: {type(exc).__name__}")
            if not self.budget.take():
                return unknown(request, self.budget.exhausted_reason)
            return await self._get(client, path, request, target, sees_private)

    async def _get(self, client: Any, path: str, request: str, target: Target, sees_private: bool) -> Answer:
        from githubkit.exception import RequestFailed, RequestTimeout

        try:
            resp = await client.arequest("GET", path)
            status, headers, body = resp.status_code, resp.headers, resp.json()
        except RequestFailed as exc:
            r = exc.response
            status, headers = r.status_code, r.headers
            try:
                body = r.json()
            except ValueError:
                body = {}
        except RequestTimeout:
            return unknown(request, f"unreachable: no answer within {self.config.timeout_seconds:g} s")
        except Exception as exc:
            cause = exc.__cause__ or exc
            return unknown(request, f"unreachable: {type(cause).__name__}")
        self.budget.observe(headers)
        now = utc_now_iso()
        if status == 200:
            return self._found(target, body, request, now)
        message = str(body.get("message", "")) if isinstance(body, Mapping) else ""
        if status == 404:
            if target.kind == "owner" or sees_private:
                return Answer(State.MISSING, request, "404 Not Found", now, 404)
            return Answer(State.UNKNOWN, request, "404 Not Found (private or deleted: not visible without a token "
                          "that can read the owner's private repositories)", now, 404)
        if status in (403, 429) and ("rate limit" in message.lower() or headers.get("x-ratelimit-remaining") == "0"):
            return Answer(State.UNKNOWN, request, f"{status} rate limited: {message[:200]}", now, status)
        return Answer(State.UNKNOWN, request, f"{status} {message[:200]}".strip(), now, status)

    def _found(self, target: Target, body: Any, request: str, now: str) -> Answer:
        if target.kind == "owner":
            data = {"id": str(body.get("id", "")), "login": body.get("login"), "type": body.get("type")}
            return Answer(State.EXISTS, request, f"200 OK ({data['type']} {data['login']!r}, id {data['id']})",
                          now, 200, data)
        if target.kind == "repo":
            owner = body.get("owner") or {}
            data = {"id": str(body.get("id", "")), "full_name": body.get("full_name"),
                    "owner_id": str(owner.get("id", "")), "owner": owner.get("login"),
                    "private": bool(body.get("private"))}
            if str(data["full_name"] or "").lower() != target.name.lower():
                # GitHub redirects a renamed repository's old name: the name itself holds nothing.
                return Answer(State.MISSING, request, f"moved: the name now redirects to {data['full_name']!r}",
                              now, 301, data)
            return Answer(State.EXISTS, request, f"200 OK (id {data['id']}, owner id {data['owner_id']})",
                          now, 200, data)
        envs = {}
        for e in body.get("environments") or []:
            if isinstance(e, Mapping) and e.get("name"):
                envs[str(e["name"]).lower()] = {"name": e["name"], "protected": _protected(e),
                                                "rules": sorted({str(r.get("type")) for r in
                                                                 e.get("protection_rules") or []
                                                                 if isinstance(r, Mapping)})}
        total = body.get("total_count", len(envs))
        return Answer(State.EXISTS, request, f"200 OK ({total} environment(s))", now, 200, {"environments": envs})

    async def get_json(self, path: str, owner: str) -> tuple[int, Any]:
        """One uncached GET (``migrate`` reads subject templates with it); counts against the budget."""
        from githubkit.exception import RequestFailed

        client, _ = await self._client_for(owner)
        if not self.budget.take():
            raise RuntimeError(self.budget.exhausted_reason)
        try:
            resp = await client.arequest("GET", path)
        except RequestFailed as exc:
            self.budget.observe(exc.response.headers)
            return exc.response.status_code, None
        self.budget.observe(resp.headers)
        return resp.status_code, resp.json()

    async def close(self) -> None:
        self._clients.clear()
        self._app = None
        if self._transport is not None:
            await self._transport.close_pool()
            self._transport = None


def _shared_transport(ssl_context: ssl.SSLContext | None) -> Any:
    """One connection pool for every request of a provider.

    githubkit opens a client per request unless used as a context manager (a ContextVar, which
    concurrent tasks do not share); a transport that outlives those clients keeps connections
    (and TLS sessions) alive between requests."""
    import httpx

    class SharedTransport(httpx.AsyncHTTPTransport):
        async def aclose(self) -> None:  # the per-request client closing: keep the pool
            return None

        async def close_pool(self) -> None:
            await super().aclose()

    return SharedTransport(verify=ssl_context or True, limits=httpx.Limits(max_connections=64))
