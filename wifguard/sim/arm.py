"""Azure Resource Manager handlers: subscriptions, resource groups, user-assigned identities and
their FICs (Microsoft.ManagedIdentity), role assignments and role definitions
(Microsoft.Authorization), with per-subscription read/write token buckets.

Paths compare case-insensitively, as ARM does; ids keep the casing they were created with.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from .errors import SimError
from .state import RA_MARKER, Tenant, _norm_scope, uami_resource_id
from .stats import Stats
from .strict import check_arm_api_version, uami_view
from .throttle import TokenBucket, retry_after_seconds
from .wire import Req, Resp, decode_skiptoken, encode_skiptoken, next_link

FIC_API_VERSIONS = ("2022-01-31-preview", "2023-01-31", "2023-07-31-preview", "2024-11-30", "2025-01-31-preview")
CME_API_VERSIONS = ("2025-01-31-preview",)
RA_PAGE_SIZE = 500
_TAG = "arm"
_PRINCIPAL_RE = re.compile(r"^\s*(?:principalId\s+eq\s+'([^']*)'|assignedTo\('([^']*)'\))\s*$", re.IGNORECASE)
_ROLENAME_RE = re.compile(r"^\s*roleName\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_ROLETYPE_RE = re.compile(r"^\s*type\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


def arm_error_body(err: SimError) -> dict[str, Any]:
    return {"error": {"code": err.code, "message": err.message}}


class ArmApi:
    def __init__(self, tenant: Tenant, stats: Stats) -> None:
        self.t = tenant
        self.stats = stats
        self.reads: dict[str, TokenBucket] = {}
        self.writes: dict[str, TokenBucket] = {}
        self._writing: set[str] = set()

    def reset_throttle(self) -> None:
        self.reads.clear()
        self.writes.clear()

    def _bucket(self, sub: str, write: bool) -> TokenBucket:
        sim = self.t.sim
        table = self.writes if write else self.reads
        b = table.get(sub)
        if b is None:
            b = table[sub] = (TokenBucket(sim.arm_writes_bucket, sim.arm_writes_per_s) if write
                              else TokenBucket(sim.arm_reads_bucket, sim.arm_reads_per_s))
        return b

    async def dispatch(self, req: Req) -> Resp:
        parts = [p for p in req.path.split("/") if p]
        low = [p.lower() for p in parts]
        sub = parts[1].lower() if len(parts) >= 2 and low[0] == "subscriptions" else "_tenant"
        write = req.method in ("PUT", "PATCH", "POST", "DELETE")
        kind = {"PUT": "writes", "PATCH": "writes", "POST": "writes", "DELETE": "deletes"}.get(req.method, "reads")
        bucket = self._bucket(sub, write)
        wait = bucket.take(1)
        headers = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-correlation-request-id": str(uuid.uuid4()),
                   f"x-ms-ratelimit-remaining-subscription-{kind}": str(bucket.remaining)}
        if wait:
            self.stats.throttled("arm")
            headers["Retry-After"] = retry_after_seconds(wait)
            err = SimError(429, "SubscriptionRequestsThrottled",
                           f"Number of '{'write' if write else 'read'}' requests for subscription '{sub}' exceeded."
                           f" Please try again after '{headers['Retry-After']}' seconds after the additional "
                           "tokens are available. Refer to https://aka.ms/arm-throttling")
            return Resp(429, arm_error_body(err), headers)
        route = f"{req.method} {_route_name(low)}"
        self.stats.request("arm", route)
        if self.t.sim.denies("arm", route):
            err = SimError(403, "AuthorizationFailed",
                           "The client 'wifguard' with object id '00000000-0000-0000-0000-000000000000' does not have authorization "
                           f" to perform action "
                           f"'{_arm_action(parts, req.method)}' over scope '{req.path}' or the scope is invalid. "
                           "If access was recently granted, please refresh your credentials.")
            resp = Resp(403, arm_error_body(err), {})
            resp.headers.update(headers)
            return resp
        try:
            if "api-version" not in req.query:
                raise SimError(400, "MissingApiVersionParameter",
                               "The api-version query parameter (?api-version=) is required for all requests.")
            check_arm_api_version(low, req.query.get("api-version", ""))
            resp = await self._route(req, parts, low)
        except SimError as err:
            resp = Resp(err.status, arm_error_body(err), dict(err.headers))
        if not self._is_fic_write(req, low):
            await self._latency()
        resp.headers.update(headers)
        return resp

    async def _latency(self) -> None:
        if self.t.sim.latency_ms:
            await asyncio.sleep(self.t.sim.latency_ms / 1000.0)

    @staticmethod
    def _is_fic_write(req: Req, low: list[str]) -> bool:
        return req.method in ("PUT", "DELETE") and len(low) >= 2 and low[-2] == "federatedidentitycredentials"

    # -- routing ----------------------------------------------------------------------------------

    async def _route(self, req: Req, parts: list[str], low: list[str]) -> Resp:
        m = req.method
        if "microsoft.authorization" in low:
            i = len(low) - 1 - low[::-1].index("microsoft.authorization")
            if i >= 1 and low[i - 1] == "providers":
                scope = "/" + "/".join(parts[: i - 1])
                return self._authorization(req, scope if scope != "/" else "", parts[i + 1:], low[i + 1:])
        if low == ["subscriptions"] and m == "GET":
            subs = [self._sub_view(s) for s in self.t.subscriptions.values()]
            return Resp(200, {"value": subs, "count": {"type": "Total", "value": len(subs)}})
        if not low or low[0] != "subscriptions":
            raise SimError(404, "InvalidResourceType", f"The resource type could not be found for '{req.path}'.")
        sub = self._sub(parts[1])
        rest, rest_low = parts[2:], low[2:]
        if not rest and m == "GET":
            return Resp(200, self._sub_view(sub))
        if rest_low == ["resourcegroups"] and m == "GET":
            rgs = [rg for (sk, _), rg in self.t.resource_groups.items() if sk == sub["subscriptionId"].lower()]
            return Resp(200, {"value": rgs})
        rg = None
        if len(rest_low) >= 2 and rest_low[0] == "resourcegroups":
            rg = self._rg(sub, rest[1])
            if len(rest_low) == 2 and m == "GET":
                return Resp(200, rg)
            rest, rest_low = rest[2:], rest_low[2:]
        if rest_low[:3] == ["providers", "microsoft.managedidentity", "userassignedidentities"]:
            return await self._identities(req, sub, rg, rest[3:], rest_low[3:])
        raise SimError(404, "InvalidResourceType", f"The resource type could not be found for '{req.path}'.")

    def _sub(self, sub_id: str) -> dict[str, Any]:
        sub = self.t.subscriptions.get(sub_id.lower())
        if sub is None:
            raise SimError(404, "SubscriptionNotFound", f"The subscription '{sub_id}' could not be found.")
        return sub

    @staticmethod
    def _sub_view(sub: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in sub.items() if not k.startswith("_")}

    def _rg(self, sub: dict[str, Any], name: str) -> dict[str, Any]:
        rg = self.t.resource_groups.get((sub["subscriptionId"].lower(), name.lower()))
        if rg is None:
            raise SimError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
        return rg

    # -- Microsoft.ManagedIdentity ----------------------------------------------------------------

    async def _identities(self, req: Req, sub: dict[str, Any], rg: dict[str, Any] | None,
                          rest: list[str], rest_low: list[str]) -> Resp:
        m = req.method
        skey = sub["subscriptionId"].lower()
        if not rest:
            if m != "GET":
                raise _method_not_allowed()
            keys = self.t.uamis_by_sub.get(skey, [])
            if rg is not None:
                rg_l = f"/resourcegroups/{rg['name'].lower()}/"
                keys = [k for k in keys if rg_l in k]
            version = req.query.get("api-version", "")
            return self._page(req, [uami_view(self.t.uamis[k], version) for k in keys], self.t.sim.arm_page_size)
        ukey = self._uami_key(sub, rg, rest[0])
        uami = self.t.uamis.get(ukey) if ukey else None
        if uami is None:
            raise SimError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/{rest[0]}' under "
                           f"resource group '{rg['name'] if rg else '?'}' was not found. For more details please "
                           "go to https://aka.ms/ARMResourceNotFoundFix")
        if len(rest) == 1:
            if m == "GET":
                return Resp(200, uami_view(uami, req.query.get("api-version", "")))
            raise _method_not_allowed()
        if rest_low[1] != "federatedidentitycredentials" or len(rest) > 3:
            raise SimError(404, "InvalidResourceType", f"The resource type could not be found for '{req.path}'.")
        fics = self.t.uami_fics[ukey]
        if len(rest) == 2:
            if m != "GET":
                raise _method_not_allowed()
            _check_fic_api_version(req)
            top = req.query.get("$top")
            size = int(top) if top and top.isdigit() and int(top) > 0 else 20
            return self._page(req, list(fics.values()), size)
        name = rest[2]
        _check_fic_api_version(req)
        if m == "GET":
            fic = fics.get(name.lower())
            if fic is None:
                raise SimError(404, "NotFound", f"Federated Identity Credential '{name}' was not found under "
                                                f"the managed identity '{uami['name']}'.")
            return Resp(200, fic)
        if m in ("PUT", "DELETE"):
            return await self._fic_write(req, ukey, uami, name)
        raise _method_not_allowed()

    def _uami_key(self, sub: dict[str, Any], rg: dict[str, Any] | None, name: str) -> str | None:
        if rg is None:
            return None
        return uami_resource_id(sub["subscriptionId"], rg["name"], name).lower()

    async def _fic_write(self, req: Req, ukey: str, uami: dict[str, Any], name: str) -> Resp:
        """ARM rejects a second concurrent FIC write on one identity with 409; simulate by holding a
        per-identity flag for the write's duration."""
        if ukey in self._writing:
            self.stats.conflicts += 1
            raise SimError(409, "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
                           f"Too many Federated Identity Credentials are written concurrently for the managed "
                           f"identity '{uami['id']}'. Concurrent Federated Identity Credentials writes under the "
                           "same managed identity are not supported.")
        self._writing.add(ukey)
        try:
            hold = max(self.t.sim.fic_write_hold_s, self.t.sim.latency_ms / 1000.0)
            if hold:
                await asyncio.sleep(hold)
            fics = self.t.uami_fics[ukey]
            if req.method == "DELETE":
                gone = fics.pop(name.lower(), None)
                if gone is not None:
                    self.stats.mutation("arm_fic_delete")
                return Resp(200 if gone is not None else 204)
            body = req.body if isinstance(req.body, dict) else {}
            allow_cme = req.query.get("api-version") in CME_API_VERSIONS
            fic, created = self.t.arm_put_fic(ukey, name, body, allow_cme)
            self.stats.mutation("arm_fic_create" if created else "arm_fic_update")
            return Resp(201 if created else 200, fic)
        finally:
            self._writing.discard(ukey)

    def _page(self, req: Req, items: list[dict[str, Any]], size: int) -> Resp:
        offset = decode_skiptoken(req.query.get("$skiptoken"), "InvalidSkipToken", _TAG)
        body: dict[str, Any] = {"value": items[offset:offset + size]}
        if offset + size < len(items):
            body["nextLink"] = next_link(req.base_url + req.path, req.query, "$skiptoken",
                                         encode_skiptoken(offset + size, _TAG))
        return Resp(200, body)

    # -- Microsoft.Authorization ------------------------------------------------------------------

    def _authorization(self, req: Req, scope: str, rest: list[str], rest_low: list[str]) -> Resp:
        m = req.method
        sub_id = _sub_of(scope)
        if sub_id:
            self._sub(sub_id)
        if rest_low == ["roleassignments"] and m == "GET":
            at_scope, principal = _ra_filter(req.query.get("$filter"))
            items = self.t.list_role_assignments(scope, at_scope, principal)
            return self._page(req, items, RA_PAGE_SIZE)
        if len(rest_low) == 2 and rest_low[0] == "roleassignments":
            name = rest[1]
            rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
            key = self._ra_key(rid)
            if m == "GET":
                if key is None:
                    raise SimError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
                return Resp(200, self.t.role_assignments[key])
            if m == "DELETE":
                if key is None:
                    return Resp(204)
                self.stats.mutation("arm_role_assignment_delete")
                return Resp(200, self.t.role_assignments.pop(key))
            if m == "PUT":
                ra, created = self.t.put_role_assignment(scope or "/", name, req.body or {})
                self.stats.mutation("arm_role_assignment_create" if created else "arm_role_assignment_update")
                return Resp(201 if created else 200, ra)
            raise _method_not_allowed()
        if rest_low == ["roledefinitions"] and m == "GET":
            defs = self.t.all_role_definitions(scope)
            flt = req.query.get("$filter")
            if flt:
                nm, tm = _ROLENAME_RE.match(flt), _ROLETYPE_RE.match(flt)
                if nm:
                    wanted = nm.group(1).replace("''", "'").lower()
                    defs = [d for d in defs if str(d["properties"]["roleName"]).lower() == wanted]
                elif tm:
                    defs = [d for d in defs if d["properties"]["type"].lower() == tm.group(1).lower()]
                else:
                    raise SimError(400, "BadRequest", f"The filter '{flt}' is not supported.")
            return Resp(200, {"value": defs})
        if len(rest_low) == 2 and rest_low[0] == "roledefinitions" and m == "GET":
            rd = self.t.role_definition(rest[1], scope)
            if rd is None:
                raise SimError(404, "RoleDefinitionDoesNotExist",
                               f"The specified role definition with ID '{rest[1]}' does not exist.")
            return Resp(200, rd)
        raise SimError(404, "InvalidResourceType", f"The resource type could not be found for '{req.path}'.")

    def _ra_key(self, rid: str) -> str | None:
        key = rid.lower()
        if key in self.t.role_assignments:
            return key
        # Tolerate differences in scope spelling (double slashes, trailing slash).
        want = _norm_scope(rid)
        for k in self.t.role_assignments:
            if RA_MARKER in k and _norm_scope(k) == want:
                return k
        return None


def _check_fic_api_version(req: Req) -> None:
    v = req.query.get("api-version", "")
    if v not in FIC_API_VERSIONS:
        raise SimError(400, "InvalidApiVersionParameter",
                       f"The api-version '{v}' is invalid. The supported versions are '{', '.join(FIC_API_VERSIONS)}'.")


def _ra_filter(flt: str | None) -> tuple[bool, str | None]:
    at_scope, principal = False, None
    if not flt:
        return at_scope, principal
    for clause in re.split(r"\s+and\s+", flt.strip(), flags=re.IGNORECASE):
        if clause.strip().lower() == "atscope()":
            at_scope = True
            continue
        pm = _PRINCIPAL_RE.match(clause)
        if pm:
            principal = (pm.group(1) or pm.group(2)).lower()
            continue
        raise SimError(400, "UnsupportedQuery", f"The filter '{flt}' is not supported. Supported filters are "
                                                "atScope(), principalId eq '{id}' and assignedTo('{id}').")
    return at_scope, principal


def _sub_of(scope: str) -> str | None:
    parts = [p for p in scope.split("/") if p]
    return parts[1] if len(parts) >= 2 and parts[0].lower() == "subscriptions" else None


def _method_not_allowed() -> SimError:
    return SimError(405, "MethodNotAllowed", "The requested HTTP method is not supported for this resource.")


def _route_name(low: list[str]) -> str:
    names = {"subscriptions", "resourcegroups", "providers", "microsoft.managedidentity", "userassignedidentities",
             "federatedidentitycredentials", "microsoft.authorization", "roleassignments", "roledefinitions",
             "microsoft.management", "managementgroups"}
    return "/" + "/".join(s if s in names else "{}" for s in low)


def _arm_action(parts: list[str], method: str) -> str:
    """The RBAC action a request needs, as ARM names it in an AuthorizationFailed message."""
    verb = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(method.upper(), "write")
    low = [p.lower() for p in parts]
    if "providers" not in low:
        types = ["subscriptions"] + (["resourceGroups"] if "resourcegroups" in low else [])
        return "Microsoft.Resources/" + "/".join(types) + f"/{verb}"
    i = len(low) - 1 - low[::-1].index("providers")
    namespace, rest = parts[i + 1] if i + 1 < len(parts) else "", parts[i + 2:]
    return "/".join([namespace, *rest[::2], verb])
