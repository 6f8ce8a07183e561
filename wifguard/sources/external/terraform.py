"""Terraform Cloud / Enterprise: do the organisation and workspace a subject names exist?

The HCP Terraform API (JSON:API) over httpx: ``GET /api/v2/organizations/{name}`` and
``GET /api/v2/organizations/{org}/workspaces/{name}``. Every call needs a token (a team or
organisation token that can read the trusted organisations); without one every answer is
"unknown". Terraform Enterprise: the issuer ``https://HOST`` of a Terraform-shaped subject names the
host; its API is ``https://HOST/api/v2`` and its token comes from ``hosts: {HOST: SETTING}``.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import quote

from wifguard.sources.external.base import Answer, Budget, ProviderConfig, Target, register_provider, unknown
from wifguard.sources.external.http import RestClient, found, not_found

PUBLIC_HOSTS = ("app.terraform.io", "app.eu.terraform.io")


class TerraformCloudConfig(ProviderConfig):
    token_setting: str | None = "WIFGUARD_TFC_TOKEN"


@register_provider("terraform_cloud", TerraformCloudConfig,
                   "a team or organisation API token that can read the trusted organisations and workspaces")
class TerraformCloudProvider:
    name: ClassVar[str] = "terraform_cloud"
    config_model: ClassVar[type[ProviderConfig]] = TerraformCloudConfig

    def __init__(self, config: TerraformCloudConfig, host: str, *, env: Mapping[str, str],
                 sim_url: str | None = None, sim_token: str | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.host = host
        if sim_url:
            base, token = sim_url, sim_token
        else:
            public = host in PUBLIC_HOSTS
            base = (config.api_url or f"https://{host}/api/v2") if public else f"https://{host}/api/v2"
            name = config.token_setting if public else config.hosts.get(host)
            token = (env.get(name) or None) if name else None
        self.api_url = base.rstrip("/")
        self.token = token
        self.budget = Budget(config.max_requests, config.reserve)
        headers = {"Content-Type": "application/vnd.api+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._rest = RestClient(self.api_url, headers=headers, budget=self.budget, timeout=config.timeout_seconds,
                                ssl_context=ssl_context, concurrency=config.concurrency)

    async def lookup(self, target: Target) -> Answer:
        if target.kind == "organization":
            path = "/organizations/" + quote(target.name, safe="")
        elif target.kind == "workspace":
            org, _, ws = target.name.partition("/")
            path = f"/organizations/{quote(org, safe='')}/workspaces/{quote(ws, safe='')}"
        else:
            raise ValueError(f"terraform_cloud cannot look up a {target.kind!r}")
        if not self.token:
            return unknown(f"GET {self.api_url}{path}", "no token configured (the API needs one)")
        failed, status, body, request = await self._rest.get(path)
        if failed is not None:
            return failed
        if status == 404:
            return not_found(request, True, "")
        data = (body or {}).get("data") if isinstance(body, Mapping) else None
        data = data if isinstance(data, Mapping) else {}
        return found(request, f"200 OK ({data.get('type', target.kind)} {data.get('id', '')})",
                     {"id": str(data.get("id", ""))})

    async def close(self) -> None:
        await self._rest.close()
