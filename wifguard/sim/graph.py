"""Microsoft Graph (v1.0 and beta) handlers: applications, FICs, owners, service principals,
users, directoryObjects/getByIds and ``$batch``, with resource-unit throttling.

Handlers work on ``Req``/``Resp`` so that a ``$batch`` sub-request runs through exactly the same
code (and the same throttle) as a top-level request.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from multidict import CIMultiDict

from . import privilege
from .errors import SimError
from .faults import FaultInjector
from .odata import parse_expand, parse_filter, parse_select
from .state import Tenant
from .stats import Stats
from .strict import require_object_id
from .throttle import TokenBucket, graph_cost, retry_after_seconds
from .wire import Req, Resp, decode_skiptoken, encode_skiptoken, next_link

MAX_TOP = 999
DEFAULT_TOP = 100
MAX_EXPANDED_OWNERS = 20
MAX_BATCH = 20
FIC_WRITABLE = {"name", "issuer", "subject", "description", "audiences"}
_APP_RE = re.compile(r"^/applications(?:/(?P<id>[^/(]+)|\(appId='(?P<appid>[^']*)'\))(?P<rest>/.*)?$")
_SP_RE = re.compile(r"^/servicePrincipals(?:/(?P<id>[^/(]+)|\(appId='(?P<appid>[^']*)'\))$")
_FIC_BY_NAME_RE = re.compile(r"^\(name='(?P<name>[^']*)'\)$")


def graph_error_body(err: SimError, headers: CIMultiDict[str] | None = None, request_id: str = "") -> dict:
    return {"error": {
        "code": err.code,
        "message": err.message,
        "innerError": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id or str(uuid.uuid4()),
            "client-request-id": (headers or {}).get("client-request-id") or request_id or str(uuid.uuid4()),
        },
    }}


def not_found(what: str, ref: str) -> SimError:
    return SimError(404, "Request_ResourceNotFound",
                    f"Resource '{ref}' does not exist or one of its queried reference-property objects "
                    f"are not present.") if what else SimError(404, "Request_ResourceNotFound", ref)


class GraphApi:
    def __init__(self, tenant: Tenant, stats: Stats, faults: FaultInjector) -> None:
        self.t = tenant
        self.stats = stats
        self.faults = faults
        rus = tenant.sim.graph_resource_units_per_10s
        self.bucket = TokenBucket(rus, rus / 10.0) if rus else None

    def reset_throttle(self) -> None:
        rus = self.t.sim.graph_resource_units_per_10s
        self.bucket = TokenBucket(rus, rus / 10.0) if rus else None

    # -- entry points -----------------------------------------------------------------------------

    async def dispatch(self, req: Req) -> Resp:
        """One Graph request (top-level or inside ``$batch``): throttle, route, render errors."""
        if req.path == "/$batch" and req.method == "POST":
            return await self._batch(req)
        cost = graph_cost(req.method, req.path, req.query)
        if self.bucket is not None:
            wait = self.bucket.take(cost)
            if wait:
                self.stats.throttled("graph")
                retry = "" if self.faults.empty_retry_after() else retry_after_seconds(wait)
                err = SimError(429, "TooManyRequests",
                               "Too many requests. Please retry after the number of seconds in Retry-After.",
                               {"Retry-After": retry})
                return self._error(req, err)
        self.stats.ru(cost)
        route = f"{req.method} {_route_name(req.path)}"
        self.stats.request("graph", route)
        if self.t.sim.denies("graph", route):
            return self._error(req, SimError(403, "Authorization_RequestDenied",
                                             "Insufficient privileges to complete the operation."))
        try:
            resp = self._route(req)
        except SimError as err:
            resp = self._error(req, err)
        resp.headers["x-ms-resource-unit"] = str(cost)
        return resp

    def _error(self, req: Req, err: SimError) -> Resp:
        rid = str(uuid.uuid4())
        headers = {"request-id": rid, **err.headers}
        return Resp(err.status, graph_error_body(err, req.headers, rid), headers)

    # -- routing ----------------------------------------------------------------------------------

    def _route(self, req: Req) -> Resp:
        path, m = req.path, req.method
        am = _APP_RE.match(path)
        if path == "/applications":
            if m == "GET":
                return self._list(req, "applications", self.t.app_ids, self.t.apps, self._render_app,
                                  {"id": self._by_key(self.t.apps), "appId": self._by_index(self.t.app_by_appid)},
                                  self._app_resolver)
            raise _method_not_allowed()
        if am:
            if am.group("id") is not None:
                require_object_id(am.group("id"))
            key = self._app_key(am.group("id"), am.group("appid"))
            rest = am.group("rest") or ""
            return self._app_item(req, key, rest)
        if path == "/servicePrincipals" and m == "GET":
            return self._list(req, "servicePrincipals", self.t.sp_ids, self.t.sps, self._render_sp,
                              {"id": self._by_key(self.t.sps), "appId": self._by_index(self.t.sp_by_appid)})
        sm = _SP_RE.match(path)
        if sm and m == "GET":
            if sm.group("id"):
                require_object_id(sm.group("id"))
                key = sm.group("id").lower()
            else:
                key = self.t.sp_by_appid.get((sm.group("appid") or "").lower(), "")
            if key not in self.t.sps:
                raise not_found("servicePrincipal", sm.group("id") or sm.group("appid"))
            return self._single(req, "servicePrincipals", self._render_sp(key, self.t.sps[key], req))
        if path == "/users" and m == "GET":
            return self._list(req, "users", self.t.user_ids, self.t.users, self._render_plain,
                              {"id": self._by_key(self.t.users)})
        if path.startswith("/users/") and m == "GET" and path.count("/") == 2:
            ref = path.split("/")[2].lower()
            key = ref if ref in self.t.users else next(
                (k for k, u in self.t.users.items() if str(u.get("userPrincipalName", "")).lower() == ref), None)
            if key is None:
                raise not_found("user", ref)
            return self._single(req, "users", self._render_plain(key, self.t.users[key], req))
        if path == "/directoryObjects/getByIds" and m == "POST":
            return self._get_by_ids(req)
        resp = privilege.route(self, req)
        if resp is not None:
            return resp
        raise SimError(400, "BadRequest", f"Resource not found for the segment '{path.strip('/').split('/')[0]}'.")

    def _app_key(self, oid: str | None, app_id: str | None) -> str:
        key = self.t.apps.get((oid or "").lower()) and (oid or "").lower()
        if app_id is not None:
            key = self.t.app_by_appid.get(app_id.lower())
        if not key:
            raise not_found("application", oid or app_id or "")
        return key

    def _app_item(self, req: Req, key: str, rest: str) -> Resp:
        m = req.method
        if rest == "":
            if m == "GET":
                return self._single(req, "applications", self._render_app(key, self.t.apps[key], req))
            raise _method_not_allowed()
        if rest == "/owners" and m == "GET":
            owners = [o for o in self.t.app_owners.get(key, []) if self.t.directory_object(o) is not None]
            return self._list(req, "directoryObjects", owners, None,
                              lambda k, _o, r: _project(self.t.directory_object(k), parse_select(
                                  r.query.get("$select")), keep_type=True), {})
        if rest == "/federatedIdentityCredentials":
            if m == "GET":
                fics = [self._fic_view(f, req.version) for f in self.t.app_fics[key]]
                select = parse_select(req.query.get("$select"))
                return Resp(200, {"@odata.context": self._context(req, f"applications('{key}')/"
                                                                       "federatedIdentityCredentials"),
                                  "value": [_project(f, select) for f in fics]})
            if m == "POST":
                body = self._fic_body(req)
                fic = self.t.graph_add_fic(key, body)
                self.stats.mutation("graph_fic_create")
                view = {"@odata.context": self._context(req, f"applications('{key}')/federatedIdentityCredentials"
                                                             "/$entity"), **self._fic_view(fic, req.version)}
                loc = f"{req.base_url}/{req.version}/applications/{key}/federatedIdentityCredentials/{fic['id']}"
                return Resp(201, view, {"Location": loc})
            raise _method_not_allowed()
        if rest.startswith("/federatedIdentityCredentials"):
            tail = rest[len("/federatedIdentityCredentials"):]
            nm = _FIC_BY_NAME_RE.match(tail)
            ref = nm.group("name") if nm else tail.lstrip("/")
            if not ref or "/" in ref:
                raise SimError(400, "BadRequest", f"Resource not found for the segment '{tail}'.")
            fic = self.t.graph_find_fic(key, ref)
            if fic is None:
                raise not_found("federatedIdentityCredential", ref)
            if m == "GET":
                return self._single(req, f"applications('{key}')/federatedIdentityCredentials",
                                    _project(self._fic_view(fic, req.version),
                                             parse_select(req.query.get("$select"))))
            if m == "PATCH":
                body = self._fic_body(req, patch=True)
                self.t.graph_patch_fic(key, fic, body)
                self.stats.mutation("graph_fic_update")
                return Resp(204)
            if m == "DELETE":
                self.t.graph_delete_fic(key, fic)
                self.stats.mutation("graph_fic_delete")
                return Resp(204)
            raise _method_not_allowed()
        raise SimError(400, "BadRequest", f"Resource not found for the segment '{rest.strip('/')}'.")

    # -- rendering --------------------------------------------------------------------------------

    def _fic_body(self, req: Req, patch: bool = False) -> dict[str, Any]:
        body = req.body
        if not isinstance(body, dict):
            raise SimError(400, "BadRequest", "Write requests (excluding DELETE) must contain the "
                                              "Content-Type header declaration.")
        allowed = FIC_WRITABLE | ({"claimsMatchingExpression"} if req.version == "beta" else set())
        out = {}
        for k, v in body.items():
            if k.startswith("@odata.") or k == "id":
                continue
            if k not in allowed:
                raise SimError(400, "Request_BadRequest", f"Property '{k}' does not exist on type "
                                                          "'microsoft.graph.federatedIdentityCredential'.")
            out[k] = v
        return out

    @staticmethod
    def _fic_view(fic: dict[str, Any], version: str) -> dict[str, Any]:
        if version == "beta":
            return fic if "claimsMatchingExpression" in fic else {**fic, "claimsMatchingExpression": None}
        if "claimsMatchingExpression" in fic:  # v1.0 does not know the property
            return {k: v for k, v in fic.items() if k != "claimsMatchingExpression"}
        return fic

    def _render_app(self, key: str, app: dict[str, Any], req: Req) -> dict[str, Any]:
        select = parse_select(req.query.get("$select"))
        expand = _cached_expand(req)
        # Derived types (agentIdentityBlueprint inherits from application) carry their
        # @odata.type in a base-type collection, as Graph does.
        obj = _project(app, select, keep_type=True) if select else dict(app)
        if "federatedIdentityCredentials" in expand:
            fsel = expand["federatedIdentityCredentials"]
            obj["federatedIdentityCredentials"] = [_project(self._fic_view(f, req.version), fsel)
                                                   for f in self.t.app_fics[key]]
        if "owners" in expand:
            osel = expand["owners"]
            owners = []
            for oid in self.t.app_owners.get(key, []):
                o = self.t.directory_object(oid)
                if o is not None:
                    owners.append(_project(o, osel, keep_type=True))
                if len(owners) >= MAX_EXPANDED_OWNERS:  # Graph caps expanded references at 20
                    break
            obj["owners"] = owners
        return obj

    @staticmethod
    def _render_plain(_key: str, obj: dict[str, Any], req: Req) -> dict[str, Any]:
        return _project(obj, parse_select(req.query.get("$select")))

    def _render_sp(self, _key: str, sp: dict[str, Any], req: Req) -> dict[str, Any]:
        expand = _cached_expand(req)
        obj = _project(sp, parse_select(req.query.get("$select")))
        if expand:
            obj = privilege.expand_sp(self, dict(obj), expand)
        return obj

    def _app_resolver(self, obj: dict[str, Any], name: str) -> Any:
        if name == "federatedIdentityCredentials":
            return self.t.app_fics.get(obj["id"].lower(), [])
        return obj.get(name)

    def _context(self, req: Req, what: str) -> str:
        return f"{req.base_url}/{req.version}/$metadata#{what}"

    def _single(self, req: Req, entity_set: str, obj: dict[str, Any]) -> Resp:
        return Resp(200, {"@odata.context": self._context(req, f"{entity_set}/$entity"), **obj})

    @staticmethod
    def _by_key(table: dict[str, Any]) -> Callable[[list[str]], list[str]]:
        return lambda values: [v.lower() for v in values if v.lower() in table]

    @staticmethod
    def _by_index(index: dict[str, str]) -> Callable[[list[str]], list[str]]:
        return lambda values: [index[v.lower()] for v in values if v.lower() in index]

    def _list(self, req: Req, entity_set: str, keys: list[str], table: dict[str, dict] | None,
              render: Callable[[str, Any, Req], dict[str, Any]],
              indexes: dict[str, Callable[[list[str]], list[str]]],
              resolver: Callable[[Any, str], Any] | None = None) -> Resp:
        q = req.query
        top = _top(q.get("$top"))
        offset = decode_skiptoken(q.get("$skiptoken"), "Request_BadRequest")
        selected: list[str] = keys
        if q.get("$filter"):
            flt = parse_filter(q["$filter"])
            if flt.advanced and (req.headers.get("ConsistencyLevel", "").lower() != "eventual"
                                 or q.get("$count", "").lower() != "true"):
                raise SimError(400, "Request_UnsupportedQuery",
                               "Unsupported or invalid query filter clause specified; advanced queries need "
                               "the ConsistencyLevel: eventual header and $count=true.")
            if flt.index_hint and flt.index_hint[0] in indexes:
                selected = list(dict.fromkeys(indexes[flt.index_hint[0]](flt.index_hint[1])))
            else:
                res = resolver or (lambda o, n: o.get(n) if isinstance(o, dict) else None)
                src = table if table is not None else {k: self.t.directory_object(k) for k in keys}
                selected = [k for k in keys if flt.predicate(src[k], res)]
        page = selected[offset:offset + top]
        src_table = table
        value = [render(k, src_table[k] if src_table is not None else None, req) for k in page]
        select = parse_select(q.get("$select"))
        ctx = entity_set + (f"({','.join(select)})" if select else "")
        body: dict[str, Any] = {"@odata.context": self._context(req, ctx)}
        if q.get("$count", "").lower() == "true":
            body["@odata.count"] = len(selected)
        if offset + top < len(selected):
            body["@odata.nextLink"] = next_link(f"{req.base_url}/{req.version}{req.path}", q, "$skiptoken",
                                                encode_skiptoken(offset + top))
        body["value"] = value
        return Resp(200, body)

    def _get_by_ids(self, req: Req) -> Resp:
        body = req.body if isinstance(req.body, dict) else {}
        ids = body.get("ids")
        if not isinstance(ids, list) or not ids:
            raise SimError(400, "Request_BadRequest", "The 'ids' property is required.")
        if len(ids) > 1000:
            raise SimError(400, "Request_BadRequest", "Too many ids: at most 1000 are allowed.")
        for i in ids:
            require_object_id(str(i))
        types = {str(t).lower() for t in body.get("types") or []}
        out = []
        for oid in ids:
            o = self.t.directory_object(str(oid))
            if o is None:
                continue
            if types and o["@odata.type"].rsplit(".", 1)[-1].lower() not in types:
                continue
            out.append(o)
        return Resp(200, {"@odata.context": self._context(req, "directoryObjects"), "value": out})

    # -- $batch -----------------------------------------------------------------------------------

    async def _batch(self, req: Req) -> Resp:
        self.stats.request("graph", "POST /$batch")
        body = req.body
        if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
            raise SimError(400, "BadRequest", "Invalid batch payload format.")
        items = body["requests"]
        if len(items) > MAX_BATCH:
            raise SimError(400, "BadRequest", f"Too many requests in the batch; the limit is {MAX_BATCH}.")
        ids = [str(it.get("id", "")) for it in items if isinstance(it, dict)]
        if len(ids) != len(items) or len(set(ids)) != len(ids) or "" in ids:
            raise SimError(400, "BadRequest", "Each batch request needs a unique, non-empty 'id'.")
        for it in items:
            for dep in _deps(it):
                if dep not in ids:
                    raise SimError(400, "BadRequest", f"Request '{it['id']}' depends on unknown id '{dep}'.")
        results: dict[str, dict[str, Any]] = {}
        pending = list(items)
        while pending:
            progressed = False
            for it in list(pending):
                deps = _deps(it)
                if any(d not in results for d in deps):
                    continue
                pending.remove(it)
                progressed = True
                if any(results[d]["status"] >= 400 for d in deps):
                    err = SimError(424, "FailedDependency", "Failed dependency: a request this one depends on "
                                                            "did not succeed.")
                    results[it["id"]] = {"id": it["id"], "status": 424, "headers": {},
                                         "body": graph_error_body(err, req.headers)}
                    continue
                results[it["id"]] = await self._batch_item(req, it)
            if not progressed:
                raise SimError(400, "BadRequest", "The dependsOn graph of the batch has a cycle.")
        return Resp(200, {"responses": [results[i] for i in ids]})

    async def _batch_item(self, outer: Req, it: dict[str, Any]) -> dict[str, Any]:
        self.stats.batch_subrequest()
        url = str(it.get("url", ""))
        parts = urlsplit(url)
        path = parts.path
        if parts.scheme:  # an absolute URL: drop the version segment
            path = re.sub(r"^/(v1\.0|beta)", "", path)
        path = "/" + path.lstrip("/")
        if path.rstrip("/") == "/$batch":
            err = SimError(400, "BadRequest", "A batch request cannot contain another batch request.")
            return {"id": it["id"], "status": 400, "headers": {}, "body": graph_error_body(err, outer.headers)}
        headers = CIMultiDict({str(k): str(v) for k, v in (it.get("headers") or {}).items()})
        headers.setdefault("ConsistencyLevel", outer.headers.get("ConsistencyLevel", ""))
        sub_body = it.get("body")
        if isinstance(sub_body, str):  # base64 body (msgraph-core sends non-JSON bodies that way)
            try:
                sub_body = orjson.loads(base64.b64decode(sub_body))
            except (ValueError, orjson.JSONDecodeError):
                sub_body = None
        sub = Req(method=str(it.get("method", "GET")).upper(), path=_unescape_path(path),
                  query=dict(parse_qsl(parts.query, keep_blank_values=True)), headers=headers, body=sub_body,
                  base_url=outer.base_url, version=outer.version)
        resp = await self.dispatch(sub)
        out: dict[str, Any] = {"id": it["id"], "status": resp.status,
                               "headers": {k: v for k, v in resp.headers.items()
                                           if k in ("Retry-After", "Location", "x-ms-resource-unit")}}
        if resp.body is not None:
            out["headers"]["Content-Type"] = "application/json"
            out["body"] = resp.body
        return out


# -- helpers -------------------------------------------------------------------------------------------

def _deps(it: dict[str, Any]) -> list[str]:
    return [str(d) for d in it.get("dependsOn") or []]


def _unescape_path(path: str) -> str:
    from urllib.parse import unquote
    return unquote(path)


def _method_not_allowed() -> SimError:
    return SimError(405, "Request_BadRequest", "The HTTP method is not allowed for this resource.")


def _top(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_TOP
    try:
        top = int(raw)
    except ValueError:
        raise SimError(400, "Request_BadRequest", f"Invalid page size specified: '{raw}'.") from None
    if not 1 <= top <= MAX_TOP:
        raise SimError(400, "Request_BadRequest",
                       f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_TOP} inclusive.")
    return top


def _project(obj: dict[str, Any] | None, select: Iterable[str] | None, keep_type: bool = False) -> dict[str, Any]:
    if obj is None:
        return {}
    if not select:
        return obj
    out = {"@odata.type": obj["@odata.type"]} if keep_type and "@odata.type" in obj else {}
    for k in select:
        out[k] = obj.get(k)
    return out


def _cached_expand(req: Req) -> dict[str, list[str] | None]:
    # Parsed once per request, not once per rendered application.
    cache = req.__dict__.get("_expand_cache")
    if cache is None:
        cache = req.__dict__["_expand_cache"] = parse_expand(req.query.get("$expand"))
    return cache


_COLLECTIONS = {"applications", "federatedIdentityCredentials", "owners", "servicePrincipals", "users",
                "directoryObjects", "getByIds", "$batch", "appRoleAssignments", "appRoleAssignedTo", "ownedObjects", "roleManagement",
                "directory", "roleAssignments", "roleEligibilitySchedules", "roleDefinitions"}


def _route_name(path: str) -> str:
    """`/applications/{id}/federatedIdentityCredentials/{id}`: a route label for request statistics."""
    segs = [s if s in _COLLECTIONS else ("{id}" if s and "(" not in s else s.split("(")[0] + "({key})")
            for s in path.strip("/").split("/")]
    return "/" + "/".join(segs)
