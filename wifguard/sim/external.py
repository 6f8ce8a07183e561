"""Simulated GitHub, GitLab and Terraform Cloud REST APIs, served over HTTPS on loopback.

Started with the simulated tenant (one port per provider, same throwaway CA) from the seed keys:

    "github": {"accounts": [{login, id, type}],
               "repositories": [{id, name, full_name, owner{login, id, type}, private,
                                 "environments": [{name, protection_rules, deployment_branch_policy}]}],
               "oidc_subject_templates": {"owner/repo": {"use_default": bool, "include_claim_keys": [...]}},
               "rate_limit": {"authenticated": 5000, "unauthenticated": 60}, "unavailable": false,
               "app_installations": {"owner login": installation id}}
    "gitlab": {"groups": [{id, name, path, full_path}],
               "projects": [{id, path_with_namespace, namespace{id, full_path}, visibility}]}
    "terraform_cloud": {"organizations": [{name} or {id, type, attributes{name}}],
                        "workspaces": [{name, organization} or {id, type, attributes{name},
                                        relationships{organization{data{id}}}}]}

Responses use the real shapes, rate-limit headers and error bodies (GitHub ``{"message": "Not
Found", "documentation_url"}``, GitLab ``{"message": "404 Project Not Found"}``, Terraform
``{"errors": [{"status": "404", "title": "not found"}]}``). A provider whose seed key is absent is
not served at all (its port refuses connections: "unreachable"). GitHub hides private
repositories from unauthenticated callers (404), like the real service; any bearer token counts
as authenticated. ``unavailable: true`` makes a provider answer 503.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web

GITHUB_DOCS = "https://docs.github.com/rest"
WINDOW_S = 3600


class _RateLimit:
    """GitHub's primary rate limit: a per-caller count per hour window."""

    def __init__(self, authenticated: int, unauthenticated: int) -> None:
        self.limits = {True: authenticated, False: unauthenticated}
        self.used: dict[str, int] = {}
        self.reset = int(time.time()) + WINDOW_S

    def hit(self, caller: str, authed: bool) -> tuple[bool, dict[str, str]]:
        now = int(time.time())
        if now >= self.reset:
            self.used.clear()
            self.reset = now + WINDOW_S
        limit = self.limits[authed]
        used = self.used.get(caller, 0)
        ok = used < limit
        if ok:
            used += 1
            self.used[caller] = used
        return ok, {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(0, limit - used)),
                    "x-ratelimit-reset": str(self.reset), "x-ratelimit-used": str(used),
                    "x-ratelimit-resource": "core"}


def _tfc_name(obj: Mapping[str, Any]) -> str:
    attrs = obj.get("attributes") or {}
    return str(attrs.get("name") or obj.get("name") or obj.get("id") or "")


def _tfc_org_of(ws: Mapping[str, Any]) -> str:
    rel = ((ws.get("relationships") or {}).get("organization") or {}).get("data") or {}
    return str(rel.get("id") or ws.get("organization") or ws.get("organization_name") or "")


class ExternalSim:
    """The three provider APIs of one seed; ``await start(ssl_context, host)``, ``await stop()``."""

    def __init__(self, seed: Mapping[str, Any]) -> None:
        self.github = seed.get("github")
        self.gitlab = seed.get("gitlab")
        self.tfc = seed.get("terraform_cloud")
        self.requests: dict[str, int] = {"github": 0, "gitlab": 0, "terraform_cloud": 0}
        gh = self.github or {}
        rl = gh.get("rate_limit") or {}
        self._gh_limit = _RateLimit(int(rl.get("authenticated", 5000)), int(rl.get("unauthenticated", 60)))
        self._accounts: dict[str, dict[str, Any]] = {}
        for repo in gh.get("repositories") or []:
            o = repo.get("owner") or {}
            if o.get("login"):
                self._accounts.setdefault(str(o["login"]).lower(), dict(o))
        for a in gh.get("accounts") or []:
            self._accounts[str(a["login"]).lower()] = dict(a)
        self._repos = {str(r["full_name"]).lower(): r for r in gh.get("repositories") or [] if r.get("full_name")}
        gl = self.gitlab or {}
        self._projects = {str(p.get("path_with_namespace", "")).lower(): p for p in gl.get("projects") or []}
        self._projects_by_id = {str(p.get("id")): p for p in gl.get("projects") or []}
        self._groups = {str(g.get("full_path") or g.get("path") or "").lower(): g for g in gl.get("groups") or []}
        for p in gl.get("projects") or []:
            ns = p.get("namespace") or {}
            if ns.get("full_path") and str(ns.get("kind", "group")) == "group":
                self._groups.setdefault(str(ns["full_path"]).lower(),
                                        {"id": ns.get("id"), "full_path": ns["full_path"],
                                         "path": str(ns["full_path"]).rsplit("/", 1)[-1],
                                         "name": ns.get("name") or str(ns["full_path"]).rsplit("/", 1)[-1]})
        tfc = self.tfc or {}
        self._orgs = {_tfc_name(o).lower(): o for o in tfc.get("organizations") or []}
        self._workspaces = {(_tfc_org_of(w).lower(), _tfc_name(w).lower()): w for w in tfc.get("workspaces") or []}
        self._runner: web.AppRunner | None = None
        self.urls: dict[str, str] = {}

    async def start(self, ssl_context: Any, host: str) -> None:
        served = {name: handler for name, handler, seed in (
            ("github", self._github, self.github), ("gitlab", self._gitlab, self.gitlab),
            ("terraform_cloud", self._tfc, self.tfc)) if seed is not None}
        if not served:
            return
        app = web.Application()
        ports: dict[int, str] = {}

        async def route(request: web.Request) -> web.StreamResponse:
            sock = request.transport.get_extra_info("sockname") if request.transport else None
            name = ports.get(int(sock[1])) if sock else None
            if name is None:
                return web.Response(status=404)
            self.requests[name] += 1
            seed = {"github": self.github, "gitlab": self.gitlab, "terraform_cloud": self.tfc}[name] or {}
            if seed.get("unavailable"):
                return web.Response(status=503, text="Service Unavailable")
            return await served[name](request)

        app.router.add_route("*", "/{tail:.*}", route)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        for name in served:
            site = web.TCPSite(self._runner, host, 0, ssl_context=ssl_context)
            await site.start()
            server = site._server
            assert server is not None and server.sockets
            port = int(server.sockets[0].getsockname()[1])
            ports[port] = name
            suffix = {"github": "", "gitlab": "/api/v4", "terraform_cloud": "/api/v2"}[name]
            self.urls[name] = f"https://{host}:{port}{suffix}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- GitHub ------------------------------------------------------------------------------------
    @staticmethod
    def _json(status: int, body: Any, headers: Mapping[str, str] | None = None,
              content_type: str = "application/json; charset=utf-8") -> web.Response:
        return web.Response(status=status, body=orjson.dumps(body), headers={**(headers or {}),
                                                                              "Content-Type": content_type})

    async def _github(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        authed = auth.lower().startswith(("bearer ", "token ")) and bool(auth.split(" ", 1)[1].strip())
        caller = auth if authed else (request.remote or "anonymous")
        ok, headers = self._gh_limit.hit(caller, authed)
        headers["x-github-api-version-selected"] = "2022-11-28"
        if not ok:
            return self._json(403, {"message": f"API rate limit exceeded for {request.remote}. (But here's the good "
                                               "news: Authenticated requests get a higher rate limit.)",
                                    "documentation_url": f"{GITHUB_DOCS}/overview/rate-limits-for-the-rest-api"},
                              headers)
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        app = self._github_app(request, parts, auth)
        if app is not None:
            return self._json(app[0], app[1], headers)
        if request.method != "GET":
            return self._json(404, {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"}, headers)
        body = self._github_get(parts, authed, request, auth)
        if body is None:
            return self._json(404, {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"}, headers)
        return self._json(200, body, headers)

    def _account(self, a: Mapping[str, Any], base: str) -> dict[str, Any]:
        login = a["login"]
        return {"login": login, "id": a["id"], "node_id": a.get("node_id", f"U_{a['id']}"),
                "type": a.get("type", "User"), "site_admin": False, "url": f"{base}/users/{login}",
                "html_url": f"https://github.com/{login}", "repos_url": f"{base}/users/{login}/repos"}

    def _repo(self, r: Mapping[str, Any], base: str) -> dict[str, Any]:
        owner = self._accounts.get(str(r["owner"]["login"]).lower(), r["owner"])
        out = {k: v for k, v in r.items() if k != "environments"}
        out.update({"id": r["id"], "node_id": r.get("node_id", f"R_{r['id']}"), "name": r["name"],
                    "full_name": r["full_name"], "owner": self._account(owner, base), "private": bool(r.get("private")),
                    "visibility": r.get("visibility", "private" if r.get("private") else "public"),
                    "html_url": f"https://github.com/{r['full_name']}", "url": f"{base}/repos/{r['full_name']}",
                    "default_branch": r.get("default_branch", "main"), "archived": bool(r.get("archived"))})
        return out

    def _github_app(self, request: web.Request, parts: list[str], auth: str) -> tuple[int, Any] | None:
        """GitHub App endpoints: an owner's installation (app JWT) and installation tokens."""
        installs = {str(k).lower(): int(v) for k, v in ((self.github or {}).get("app_installations") or {}).items()}
        jwt_like = auth.lower().startswith("bearer ") and auth[7:].count(".") == 2
        if len(parts) == 3 and parts[0] in ("users", "orgs") and parts[2] == "installation":
            if not jwt_like:
                return 401, {"message": "A JSON web token could not be decoded", "documentation_url": GITHUB_DOCS}
            inst = installs.get(parts[1].lower())
            if inst is None:
                return 404, {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"}
            account = self._accounts.get(parts[1].lower(), {"login": parts[1], "id": 0, "type": "Organization"})
            return 200, {"id": inst, "app_id": 1, "target_type": account.get("type", "Organization"),
                         "account": self._account(account, f"{request.scheme}://{request.host}"),
                         "repository_selection": "all", "permissions": {"metadata": "read", "environments": "read"},
                         "events": [], "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
                         "single_file_name": None, "access_tokens_url": "", "repositories_url": "", "html_url": "",
                         "target_id": account.get("id", 0), "app_slug": "wifguard"}
        if len(parts) == 4 and parts[:2] == ["app", "installations"] and parts[3] == "access_tokens":
            if request.method != "POST" or not jwt_like:
                return 401, {"message": "A JSON web token could not be decoded", "documentation_url": GITHUB_DOCS}
            if int(parts[2]) not in installs.values():
                return 404, {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"}
            return 201, {"token": f"ghs_sim_installation_{parts[2]}", "expires_at": "2099-01-01T00:00:00Z",
                         "permissions": {"metadata": "read", "environments": "read"}, "repository_selection": "all"}
        return None

    def _sees_private(self, auth: str, owner: str) -> bool:
        """A token sees private repositories; an installation token only those of its owner."""
        token = auth.split(" ", 1)[1].strip() if " " in auth else ""
        if not token.startswith("ghs_sim_installation_"):
            return True
        installs = {str(k).lower(): str(v) for k, v in ((self.github or {}).get("app_installations") or {}).items()}
        return installs.get(owner.lower()) == token.rsplit("_", 1)[-1]

    def _github_get(self, parts: list[str], authed: bool, request: web.Request, auth: str = "") -> Any:
        base = f"{request.scheme}://{request.host}"
        if len(parts) == 2 and parts[0] in ("users", "orgs"):
            a = self._accounts.get(parts[1].lower())
            if a is None or (parts[0] == "orgs" and a.get("type") != "Organization"):
                return None
            return self._account(a, base)
        if len(parts) >= 3 and parts[0] == "repos":
            r = self._repos.get(f"{parts[1]}/{parts[2]}".lower())
            if r is None or (r.get("private") and not (authed and self._sees_private(auth, parts[1]))):
                return None
            rest = parts[3:]
            if not rest:
                return self._repo(r, base)
            if rest == ["environments"]:
                envs = [self._environment(r, e, base) for e in r.get("environments") or []]
                return {"total_count": len(envs), "environments": envs}
            if len(rest) == 2 and rest[0] == "environments":
                e = next((e for e in r.get("environments") or [] if str(e["name"]).lower() == rest[1].lower()), None)
                return None if e is None else self._environment(r, e, base)
            if rest == ["actions", "oidc", "customization", "sub"]:
                tmpl = (self.github or {}).get("oidc_subject_templates", {})
                found = next((v for k, v in tmpl.items() if k.lower() == str(r["full_name"]).lower()), None)
                return dict(found) if found is not None else {"use_default": True}
            return None
        if len(parts) == 2 and parts[0] == "repositories":
            r = next((r for r in self._repos.values() if str(r["id"]) == parts[1]), None)
            return None if r is None or (r.get("private") and not authed) else self._repo(r, base)
        if len(parts) == 2 and parts[0] == "user":
            a = next((a for a in self._accounts.values() if str(a["id"]) == parts[1]), None)
            return None if a is None else self._account(a, base)
        if parts == ["rate_limit"]:
            return {"resources": {"core": {}}, "rate": {}}
        return None

    @staticmethod
    def _environment(r: Mapping[str, Any], e: Mapping[str, Any], base: str) -> dict[str, Any]:
        return {"id": e.get("id", zlib.crc32(f"{r['full_name']}|{e['name']}".encode())), "node_id": e.get("node_id", "EN_x"),
                "name": e["name"], "url": f"{base}/repos/{r['full_name']}/environments/{e['name']}",
                "html_url": f"https://github.com/{r['full_name']}/deployments/activity_log?environments_filter="
                            f"{e['name']}",
                "created_at": e.get("created_at", "2024-01-01T00:00:00Z"),
                "updated_at": e.get("updated_at", "2024-01-01T00:00:00Z"),
                "protection_rules": list(e.get("protection_rules") or []),
                "deployment_branch_policy": e.get("deployment_branch_policy")}

    # -- GitLab --------------------------------------------------------------------------------------
    async def _gitlab(self, request: web.Request) -> web.Response:
        authed = bool(request.headers.get("PRIVATE-TOKEN") or request.headers.get("Authorization"))
        headers = {"RateLimit-Limit": "2000", "RateLimit-Remaining": "1999", "RateLimit-Observed": "1",
                   "RateLimit-Reset": str(int(time.time()) + 60)}
        raw = request.raw_path.split("?", 1)[0]
        prefix = "/api/v4/"
        if not raw.startswith(prefix) or request.method != "GET":
            return self._json(404, {"error": "404 Not Found"}, headers)
        segs = raw[len(prefix):].split("/")
        if len(segs) == 2 and segs[0] == "projects":
            key = unquote(segs[1])
            p = self._projects_by_id.get(key) if key.isdigit() else self._projects.get(key.lower())
            if p is None or (p.get("visibility", "public") != "public" and not authed):
                return self._json(404, {"message": "404 Project Not Found"}, headers)
            return self._json(200, {"visibility": "public", **p}, headers)
        if len(segs) == 2 and segs[0] == "groups":
            key = unquote(segs[1]).lower()
            g = self._groups.get(key) or next((g for g in self._groups.values() if str(g.get("id")) == key), None)
            if g is None or (g.get("visibility", "public") != "public" and not authed):
                return self._json(404, {"message": "404 Group Not Found"}, headers)
            return self._json(200, {"visibility": "public", **g}, headers)
        return self._json(404, {"error": "404 Not Found"}, headers)

    # -- Terraform Cloud -------------------------------------------------------------------------------
    async def _tfc(self, request: web.Request) -> web.Response:
        ct = "application/vnd.api+json"
        headers = {"x-ratelimit-limit": "30", "x-ratelimit-remaining": "29", "x-ratelimit-reset": "0.9"}
        if not request.headers.get("Authorization", "").lower().startswith("bearer "):
            return self._json(401, {"errors": [{"status": "401", "title": "unauthorized"}]}, headers, ct)
        not_found = self._json(404, {"errors": [{"status": "404", "title": "not found"}]}, headers, ct)
        parts = [unquote(p) for p in request.path.strip("/").split("/")][2:]  # after api/v2
        if request.method != "GET" or not parts or parts[0] != "organizations":
            return not_found
        if len(parts) == 2:
            o = self._orgs.get(parts[1].lower())
            if o is None:
                return not_found
            name = _tfc_name(o)
            return self._json(200, {"data": {"id": name, "type": "organizations",
                                             "attributes": {"name": name, **(o.get("attributes") or {})}}},
                              headers, ct)
        if len(parts) == 4 and parts[2] == "workspaces":
            w = self._workspaces.get((parts[1].lower(), parts[3].lower()))
            if w is None or parts[1].lower() not in self._orgs:
                return not_found
            name = _tfc_name(w)
            wid = w.get("id") if str(w.get("id", "")).startswith("ws-") else f"ws-{zlib.crc32(name.encode()):010d}"
            return self._json(200, {"data": {"id": wid, "type": "workspaces",
                                             "attributes": {"name": name, **(w.get("attributes") or {})},
                                             "relationships": {"organization": {"data": {
                                                 "id": _tfc_org_of(w), "type": "organizations"}}}}}, headers, ct)
        return not_found
