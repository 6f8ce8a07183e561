"""GitLab: does the project (or group) a subject or flexible expression names exist?

GitLab REST v4 over httpx: ``GET /api/v4/projects/{url-encoded path or id}`` and
``GET /api/v4/groups/{url-encoded full path}``. Private projects and groups answer 404 to callers
who cannot see them, so a 404 is "missing" only when read with a token (``read_api`` scope, on an
account that can see the groups you trust); unauthenticated it is "unknown".

Self-managed GitLab: the issuer ``https://HOST`` of a GitLab-shaped subject names the host; its
API is ``https://HOST/api/v4`` and its token comes from ``hosts: {HOST: SETTING}``.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import quote

from wifguard.sources.external.base import Answer, Budget, ProviderConfig, Target, register_provider
from wifguard.sources.external.http import RestClient, found, not_found

PUBLIC_HOST = "gitlab.com"


class GitLabConfig(ProviderConfig):
    token_setting: str | None = "WIFGUARD_GITLAB_TOKEN"


@register_provider("gitlab", GitLabConfig, "a token with read_api on an account that can see the trusted groups "
                                            "and projects (public ones are read without a token)")
class GitLabProvider:
    name: ClassVar[str] = "gitlab"
    config_model: ClassVar[type[ProviderConfig]] = GitLabConfig

    def __init__(self, config: GitLabConfig, host: str, *, env: Mapping[str, str], sim_url: str | None = None,
                 sim_token: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.host = host
        if sim_url:
            base, token = sim_url, sim_token
        else:
            base = (config.api_url or f"https://{host}/api/v4") if host == PUBLIC_HOST else f"https://{host}/api/v4"
            name = config.token_setting if host == PUBLIC_HOST else config.hosts.get(host)
            token = (env.get(name) or None) if name else None
        self.api_url = base.rstrip("/")
        self.authenticated = bool(token)
        self.budget = Budget(config.max_requests, config.reserve)
        self._rest = RestClient(self.api_url, headers={"PRIVATE-TOKEN": token} if token else {}, budget=self.budget,
                                timeout=config.timeout_seconds, ssl_context=ssl_context,
                                concurrency=config.concurrency)

    async def lookup(self, target: Target) -> Answer:
        if target.kind == "project":
            path = "/projects/" + quote(target.name, safe="")
        elif target.kind == "group":
            path = "/groups/" + quote(target.name, safe="")
        else:
            raise ValueError(f"gitlab cannot look up a {target.kind!r}")
        failed, status, body, request = await self._rest.get(path)
        if failed is not None:
            return failed
        if status == 404:
            return not_found(request, self.authenticated, "private or deleted: not visible without a token")
        body = body if isinstance(body, Mapping) else {}
        if target.kind == "project":
            ns = body.get("namespace") or {}
            data = {"id": str(body.get("id", "")), "path_with_namespace": body.get("path_with_namespace"),
                    "namespace_id": str(ns.get("id", "")), "namespace": ns.get("full_path")}
            return found(request, f"200 OK (project id {data['id']})", data)
        data = {"id": str(body.get("id", "")), "full_path": body.get("full_path")}
        return found(request, f"200 OK (group id {data['id']})", data)

    async def close(self) -> None:
        await self._rest.close()
