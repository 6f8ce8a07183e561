"""Privilege data of the simulated tenant, served in Graph's shapes: app role assignments
granted to service principals (``/servicePrincipals/{id}/appRoleAssignments``, the resource's
``appRoleAssignedTo`` and ``$expand=appRoleAssignments``), service principal owners and ``ownedObjects``, and Entra role
management (``/roleManagement/directory/roleAssignments``, ``roleEligibilitySchedules``,
``roleDefinitions``).

Seed keys (DESIGN.md, "privilege additions"): ``servicePrincipals[].appRoleAssignments`` /
``owners``, ``directoryRoleAssignments``, ``directoryRoleEligibilitySchedules``,
``directoryRoleDefinitions``. Built-in Entra roles are known by template id without a seed entry
(names from wifguard's tiering table), and a Microsoft Graph service principal without
``appRoles`` gets the well-known Graph application permissions below.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import SimError

if TYPE_CHECKING:
    from .graph import GraphApi
    from .state import Tenant
    from .wire import Req, Resp

MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
_CREATED = "2024-01-01T00:00:00Z"

# Microsoft Graph application permissions (appRole id → value), as listed in Microsoft Learn,
# "Microsoft Graph permissions reference" (https://learn.microsoft.com/graph/permissions-reference).
GRAPH_APP_ROLES: dict[str, str] = {
    "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8": "RoleManagement.ReadWrite.Directory",
    "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9": "Application.ReadWrite.All",
    "18a4783c-866b-4cc7-a460-3d5e5662c884": "Application.ReadWrite.OwnedBy",
    "06b708a9-e830-4db3-a914-8e69da51d44f": "AppRoleAssignment.ReadWrite.All",
    "19dbc75e-c2e2-444c-a770-ec69d8559fc7": "Directory.ReadWrite.All",
    "62a82d76-70ea-41e2-9197-370581804d09": "Group.ReadWrite.All",
    "dbaae8cf-10b5-4b86-a4a1-f871c94c6695": "GroupMember.ReadWrite.All",
    "741f803b-c850-494e-b5df-cde7c675a1ca": "User.ReadWrite.All",
    "50483e42-d915-4231-9639-7fdb7fd190e5": "UserAuthenticationMethod.ReadWrite.All",
    "7e05723c-0bb0-42da-be95-ae9f08a6e53c": "Domain.ReadWrite.All",
    "dd199f4a-f148-40a4-a2ec-f0069cc799ec": "RoleAssignmentSchedule.ReadWrite.Directory",
    "fee28b28-e1f3-4841-818e-2704dc62245f": "RoleEligibilitySchedule.ReadWrite.Directory",
    "a402ca1c-2696-4531-972d-6e5ee4aa11ea": "Policy.ReadWrite.PermissionGrant",
    "01c0a623-fc9b-48e9-b794-0756f8e8f067": "Policy.ReadWrite.ConditionalAccess",
    "9492366f-7969-46a4-8d15-ed1a20078fff": "Sites.ReadWrite.All",
    "75359482-378d-4052-8f01-80520e7db3cd": "Files.ReadWrite.All",
    "e2a3a72e-5f79-4c64-b1b1-878b674786c9": "Mail.ReadWrite",
    "810c84a8-4a9e-49e6-bf7d-12d183f40d01": "Mail.Read",
    "df021288-bdef-4463-88db-98f22de89214": "User.Read.All",
    "7ab1d382-f21e-4acd-a863-ba3e13f7da61": "Directory.Read.All",
    "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30": "Application.Read.All",
    "5b567255-7703-4780-807c-7be8301ae99b": "Group.Read.All",
}

_SP_NAV_RE = re.compile(
    r"^/servicePrincipals(?:/(?P<id>[^/(]+)|\(appId='(?P<appid>[^']*)'\))/(?P<nav>appRoleAssignments|appRoleAssignedTo|ownedObjects|owners)$")
_ROLE_MGMT_RE = re.compile(r"^/roleManagement/directory/(?P<coll>roleAssignments|roleEligibilitySchedules|roleDefinitions)"
                           r"(?:/(?P<id>[^/]+))?$")


def graph_app_roles() -> list[dict[str, Any]]:
    return [{"id": rid, "value": value, "displayName": value, "description": value,
             "allowedMemberTypes": ["Application"], "isEnabled": True, "origin": "Application"}
            for rid, value in GRAPH_APP_ROLES.items()]


class PrivilegeState:
    """Indexes kept beside ``Tenant``: grants to service principals, SP owners, directory roles."""

    def __init__(self) -> None:
        self.app_role_assignments: dict[str, list[dict[str, Any]]] = {}  # principal SP key → assignments
        self.sp_owners: dict[str, list[str]] = {}  # SP key → owner ids
        self.role_assignments: list[dict[str, Any]] = []
        self.eligibility: list[dict[str, Any]] = []
        self.definitions: dict[str, dict[str, Any]] = {}  # custom/seeded, by id

    def take_sp_fields(self, sp: dict[str, Any]) -> None:
        """Split the seed's privilege fields off a service principal (Graph serves them as relations)."""
        key = str(sp["id"]).lower()
        grants = sp.pop("appRoleAssignments", None) or []
        owners = sp.pop("owners", None) or []
        if str(sp.get("appId", "")).lower() == MICROSOFT_GRAPH_APP_ID and not sp.get("appRoles"):
            sp["appRoles"] = graph_app_roles()
        sp.setdefault("appRoles", [])
        for n, a in enumerate(grants):
            ra = dict(a)
            ra.setdefault("id", f"{key}-ara-{n}")
            ra["principalId"] = sp["id"]
            ra.setdefault("principalType", "ServicePrincipal")
            ra.setdefault("principalDisplayName", sp.get("displayName"))
            ra.setdefault("createdDateTime", _CREATED)
            ra.setdefault("deletedDateTime", None)
            ra.setdefault("resourceDisplayName", None)
            self.app_role_assignments.setdefault(key, []).append(ra)
        self.sp_owners[key] = [str(o.get("id") if isinstance(o, Mapping) else o).lower() for o in owners]

    def load(self, seed: Mapping[str, Any], tenant: Tenant) -> None:
        for n, a in enumerate(seed.get("directoryRoleAssignments") or []):
            ra = dict(a)
            ra.setdefault("id", f"dra-{n}")
            ra.setdefault("directoryScopeId", "/")
            ra.setdefault("appScopeId", None)
            ra.setdefault("condition", None)
            self.role_assignments.append(ra)
        for n, e in enumerate(seed.get("directoryRoleEligibilitySchedules") or []):
            es = dict(e)
            es.setdefault("id", f"drs-{n}")
            es.setdefault("directoryScopeId", "/")
            es.setdefault("appScopeId", None)
            es.setdefault("status", "Provisioned")
            es.setdefault("memberType", "Direct")
            es.setdefault("createdUsing", es["id"])
            es.setdefault("createdDateTime", _CREATED)
            es.setdefault("modifiedDateTime", None)
            es.setdefault("scheduleInfo", {"startDateTime": _CREATED, "recurrence": None,
                                           "expiration": {"type": "noExpiration", "endDateTime": None,
                                                          "duration": None}})
            self.eligibility.append(es)
        for d in seed.get("directoryRoleDefinitions") or []:
            rd = dict(d)
            rid = str(rd.get("id") or rd.get("templateId") or "")
            if not rid:
                raise ValueError("directoryRoleDefinitions: every definition needs an 'id'")
            self.definitions[rid.lower()] = _definition(rid, str(rd.get("displayName") or rid), rd)
        # Resource display names on grants, as Graph fills them.
        for grants in self.app_role_assignments.values():
            for ra in grants:
                res = tenant.sps.get(str(ra.get("resourceId", "")).lower())
                if res is not None and not ra.get("resourceDisplayName"):
                    ra["resourceDisplayName"] = res.get("displayName")

    def all_definitions(self) -> dict[str, dict[str, Any]]:
        from wifguard.sources.privilege.tiering import shipped_tiering

        out = {tid: _definition(tid, name, {"isBuiltIn": True})
               for tid, name in shipped_tiering().directory_role_names.items()}
        out.update(self.definitions)
        return out

    def owned_by(self, tenant: Tenant, owner_key: str) -> list[str]:
        """Object ids (apps, then service principals) that list ``owner_key`` among their owners."""
        apps = [k for k in tenant.app_ids if owner_key in tenant.app_owners.get(k, [])]
        sps = [k for k in tenant.sp_ids if owner_key in self.sp_owners.get(k, [])]
        return apps + sps

    def snapshot_into(self, out: dict[str, Any]) -> None:
        for sp in out.get("servicePrincipals") or []:
            key = str(sp["id"]).lower()
            if key in self.app_role_assignments:
                sp["appRoleAssignments"] = copy.deepcopy(self.app_role_assignments[key])
            if self.sp_owners.get(key):
                sp["owners"] = list(self.sp_owners[key])
        out["directoryRoleAssignments"] = copy.deepcopy(self.role_assignments)
        out["directoryRoleEligibilitySchedules"] = copy.deepcopy(self.eligibility)
        out["directoryRoleDefinitions"] = copy.deepcopy(list(self.definitions.values()))


def _definition(rid: str, name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": rid,
        "description": given.get("description") or name,
        "displayName": name,
        "isBuiltIn": bool(given.get("isBuiltIn", False)),
        "isEnabled": bool(given.get("isEnabled", True)),
        "resourceScopes": list(given.get("resourceScopes") or ["/"]),
        "templateId": given.get("templateId") or rid,
        "version": given.get("version") or "1",
        "rolePermissions": list(given.get("rolePermissions") or [{"allowedResourceActions": [], "condition": None}]),
    }


def expand_sp(api: GraphApi, sp: dict[str, Any], expand: Mapping[str, list[str] | None]) -> dict[str, Any]:
    """``$expand=appRoleAssignments`` / ``owners`` on a service principal (Graph caps at 20 owners)."""
    from .graph import MAX_EXPANDED_OWNERS, _project

    key = str(sp["id"]).lower()
    priv: PrivilegeState = api.t.privilege
    if "appRoleAssignments" in expand:
        sp["appRoleAssignments"] = [_project(a, expand["appRoleAssignments"])
                                    for a in priv.app_role_assignments.get(key, [])]
    if "owners" in expand:
        owners = [o for o in (api.t.directory_object(oid) for oid in priv.sp_owners.get(key, [])) if o is not None]
        sp["owners"] = [_project(o, expand["owners"], keep_type=True) for o in owners[:MAX_EXPANDED_OWNERS]]
    return sp


def route(api: GraphApi, req: Req) -> Resp | None:
    """Privilege endpoints; None when the path is not one of them."""
    from .graph import _project, not_found
    from .odata import parse_select

    if req.method != "GET":
        return None
    t = api.t
    priv: PrivilegeState = t.privilege
    m = _SP_NAV_RE.match(req.path)
    if m:
        key = m.group("id").lower() if m.group("id") else t.sp_by_appid.get((m.group("appid") or "").lower(), "")
        if key not in t.sps:
            raise not_found("servicePrincipal", m.group("id") or m.group("appid") or "")
        nav = m.group("nav")
        if nav in ("appRoleAssignments", "appRoleAssignedTo"):
            items = priv.app_role_assignments.get(key, []) if nav == "appRoleAssignments" else [
                a for grants in priv.app_role_assignments.values() for a in grants
                if str(a.get("resourceId", "")).lower() == key]
            table = {str(n): a for n, a in enumerate(items)}
            return api._list(req, f"servicePrincipals('{key}')/{nav}", list(table), table, api._render_plain, {})
        ids = priv.owned_by(t, key) if nav == "ownedObjects" else priv.sp_owners.get(key, [])
        ids = [i for i in ids if t.directory_object(i) is not None]
        return api._list(req, "directoryObjects", ids, None,
                         lambda k, _o, r: _project(t.directory_object(k), parse_select(r.query.get("$select")),
                                                   keep_type=True), {})
    m = _ROLE_MGMT_RE.match(req.path)
    if m:
        coll = m.group("coll")
        if coll == "roleDefinitions":
            table = priv.all_definitions()
        else:
            items = priv.role_assignments if coll == "roleAssignments" else priv.eligibility
            table = {str(a["id"]).lower(): a for a in items}
        if m.group("id"):
            obj = table.get(m.group("id").lower())
            if obj is None:
                raise SimError(404, "Request_ResourceNotFound", f"Resource '{m.group('id')}' does not exist.")
            return api._single(req, f"roleManagement/directory/{coll}", _project(obj, parse_select(
                req.query.get("$select"))))
        return api._list(req, f"roleManagement/directory/{coll}", list(table), table, api._render_plain, {})
    return None
