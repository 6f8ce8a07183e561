"""Reading Graph-side privilege in bulk, once per run.

Sources register with ``@register`` (into ``wifguard.sources.privilege_sources``) and follow
``wifguard.sources.PrivilegeSource``: each reads one kind of
privilege for a set of service principals into the shared ``PrivilegeRun`` (Prowler's "read
everything once into one service object"; Custodian's decorator registry). Caches live on the
run: a resource's ``appRoles`` are read once per resource, the tenant's directory role
assignments, eligibility schedules and definitions once per run.

A sweep reads tenant-wide listings (Microsoft Graph's ``appRoleAssignedTo``, the directory role
listings, ``servicePrincipals?$expand=owners``); a batch of events reads its principals with
``$batch``.
Failed reads are recorded in ``errors`` and never turn into "no privilege" silently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wifguard.domain.privilege import (
    MICROSOFT_GRAPH_APP_ID,
    AppPermission,
    DirectoryRole,
    Holdings,
    Ownership,
    Privilege,
    TrustedBy,
    app_permission_from_graph,
)
from wifguard.sources.inventory.graph import GraphClient, GraphError, NotFound, raise_for_denied
from wifguard.sources.inventory.permissions import PermissionDenied
from wifguard.sources.protocols import PrivilegeSource, privilege_sources

log = logging.getLogger(__name__)


def _short(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


@dataclass
class OwnedObject:
    object_id: str
    object_type: str  # application | servicePrincipal
    name: str
    app_id: str = ""


@dataclass
class PrivilegeRun:
    """What the sources read, keyed by lower-cased service principal id."""

    graph: GraphClient
    errors: list[str] = field(default_factory=list)
    sp_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)  # id, appId, displayName, type
    sp_by_app_id: dict[str, str] = field(default_factory=dict)
    permissions: dict[str, list[AppPermission]] = field(default_factory=dict)
    raw_grants: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    directory: dict[str, list[DirectoryRole]] = field(default_factory=dict)
    owned: dict[str, list[OwnedObject]] = field(default_factory=dict)
    resources: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # resource SP id → SP with appRoles
    tenant_wide: bool = False

    def remember_sp(self, sp: Mapping[str, Any]) -> None:
        key = str(sp.get("id", "")).lower()
        if not key:
            return
        self.sp_by_id[key] = {k: sp.get(k) for k in ("id", "appId", "displayName", "servicePrincipalType")}
        if sp.get("appId"):
            self.sp_by_app_id.setdefault(str(sp["appId"]).lower(), key)


def register(name: str) -> Callable[[type[PrivilegeSource]], type[PrivilegeSource]]:
    """Class decorator: a privilege source under ``name`` (``wifguard.sources.privilege_sources``)."""
    def deco(cls: type[PrivilegeSource]) -> type[PrivilegeSource]:
        if name in privilege_sources:
            raise ValueError(f"privilege source {name!r} is registered twice")
        cls.name = name
        return privilege_sources.add(name, cls)
    return deco


async def batch_get(run: PrivilegeRun, urls: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """GET many URLs through ``$batch``; ``{key: {status, body}}``; follows nextLinks of lists."""
    keys = list(urls)
    res = await run.graph.batch([{"id": str(n), "method": "GET", "url": urls[k]} for n, k in enumerate(keys)],
                                low_priority=True)
    out: dict[str, dict[str, Any]] = {}
    for n, k in enumerate(keys):
        r = res.get(str(n), {"status": 0, "body": None})
        if not _licence_error(r):
            raise_for_denied(r, "GET", urls[k])
        body = r.get("body") or {}
        if 0 < r["status"] < 400 and isinstance(body, dict) and body.get("@odata.nextLink"):
            values = list(body.get("value") or [])
            async for page in run.graph.pages(body["@odata.nextLink"]):
                values += page
            body = {**body, "value": values, "@odata.nextLink": None}
        out[k] = {"status": r["status"], "body": body}
    return out


@register("app_permissions")
class AppPermissionsSource:
    """``appRoleAssignments`` of each principal, resolved through the resource's ``appRoles``."""

    name = "app_permissions"

    async def read(self, run: PrivilegeRun, principals: Sequence[str]) -> None:
        if run.tenant_wide:
            # From the resource's side: every grant of a Microsoft Graph permission in one listing
            # (appRoleAssignedTo), instead of every service principal's grants.
            try:
                graph_sp = await run.graph.get(
                    f"/servicePrincipals(appId='{MICROSOFT_GRAPH_APP_ID}')?$select=id,appId,displayName,appRoles",
                    low_priority=True)
            except NotFound:
                return  # a tenant without the Microsoft Graph service principal has no Graph grants
            except GraphError as exc:
                run.errors.append(f"Microsoft Graph permissions could not be read ({_short(exc)}); WIF606 is skipped")
                return
            gid = str(graph_sp["id"]).lower()
            run.resources[gid] = graph_sp
            try:
                async for page in run.graph.pages(f"/servicePrincipals/{gid}/appRoleAssignedTo?$top=999",
                                                  low_priority=True):
                    for a in page:
                        if str(a.get("principalType", "ServicePrincipal")) == "ServicePrincipal":
                            run.raw_grants.setdefault(str(a.get("principalId", "")).lower(), []).append(a)
            except GraphError as exc:
                run.errors.append(f"Microsoft Graph permission grants could not be listed ({_short(exc)}); "
                                  "WIF606 is skipped")
                return
        else:
            await self._read_lists(run, principals)
        await self._resolve(run)

    async def _read_lists(self, run: PrivilegeRun, principals: Sequence[str]) -> None:
        if not principals:
            return
        res = await batch_get(run, {p: f"/servicePrincipals/{p}/appRoleAssignments?$top=999" for p in principals})
        for p, r in res.items():
            if r["status"] == 404:
                continue
            if not 0 < r["status"] < 400:
                run.errors.append(f"application permissions of service principal {p}: Graph {r['status']}")
                continue
            run.raw_grants[p.lower()] = list((r["body"] or {}).get("value") or [])

    async def _resolve(self, run: PrivilegeRun) -> None:
        wanted = {str(a.get("resourceId", "")).lower() for gs in run.raw_grants.values() for a in gs}
        missing = [r for r in wanted if r and r not in run.resources]
        for i in range(0, len(missing), 200):
            chunk = missing[i:i + 200]
            res = await batch_get(run, {r: f"/servicePrincipals/{r}?$select=id,appId,displayName,appRoles"
                                         for r in chunk})
            for r, out in res.items():
                if 0 < out["status"] < 400:
                    run.resources[r] = out["body"]
                else:
                    run.resources[r] = None
                    run.errors.append(f"application roles of resource {r} could not be read (Graph {out['status']}); "
                                      "its permissions are named by id")
        for p, grants in run.raw_grants.items():
            run.permissions[p] = [app_permission_from_graph(a, run.resources.get(str(a.get("resourceId", "")).lower()))
                                  for a in grants]


@register("directory_roles")
class DirectoryRolesSource:
    """Active directory role assignments and PIM eligibility: one tenant-wide listing each per run."""

    name = "directory_roles"

    async def read(self, run: PrivilegeRun, principals: Sequence[str]) -> None:
        from wifguard.sources.privilege.tiering import shipped_tiering

        # One $batch for the three listings (their further pages are followed), tenant-wide: owned
        # and trusting identities need their roles too, and a tenant has few of them.
        res = await batch_get(run, {
            "definitions": "/roleManagement/directory/roleDefinitions?$select=id,templateId,displayName",
            "active": "/roleManagement/directory/roleAssignments?$top=999",
            "eligible": "/roleManagement/directory/roleEligibilitySchedules?$top=999",
        })
        names = dict(shipped_tiering().directory_role_names)
        if 0 < res["definitions"]["status"] < 400:
            for d in (res["definitions"]["body"] or {}).get("value") or []:
                for k in (d.get("id"), d.get("templateId")):
                    if k:
                        names[str(k).lower()] = str(d.get("displayName") or k)
        else:
            log.warning("directory role definitions could not be read (Graph %s); using the shipped names",
                        res["definitions"]["status"])
        for key, eligible in (("active", False), ("eligible", True)):
            r = res[key]
            if not 0 < r["status"] < 400:
                if eligible and _licence_error(r):
                    continue  # no Entra ID P2: the tenant has no PIM eligibility
                what = "eligible" if eligible else "active"
                run.errors.append(f"{what} directory role assignments could not be listed (Graph {r['status']}); "
                                  "WIF607 is incomplete")
                continue
            for a in (r["body"] or {}).get("value") or []:
                if eligible and str(a.get("status", "Provisioned")).lower() not in ("provisioned", "granted"):
                    continue
                rid = str(a.get("roleDefinitionId", ""))
                run.directory.setdefault(str(a.get("principalId", "")).lower(), []).append(DirectoryRole(
                    str(a.get("id", "")), rid, names.get(rid.lower(), rid), str(a.get("directoryScopeId") or "/"),
                    eligible))


def _licence_error(item: Mapping[str, Any]) -> bool:
    """Graph's answer when the tenant lacks the licence for a feature (not a missing permission)."""
    body = item.get("body")
    err = body.get("error") if isinstance(body, Mapping) else None
    text = f"{err.get('code', '')} {err.get('message', '')}" if isinstance(err, Mapping) else ""
    return "licen" in text.lower() or "premium" in text.lower()


@register("ownership")
class OwnershipSource:
    """Apps and service principals each principal owns (``ownedObjects``); tenant-wide from the
    owners of every service principal (apps' owners come with the application listing)."""

    name = "ownership"

    async def read(self, run: PrivilegeRun, principals: Sequence[str]) -> None:
        if run.tenant_wide:
            try:
                async for page in run.graph.pages(
                        "/servicePrincipals?$select=id,appId,displayName&$expand=owners($select=id)&$top=999",
                        low_priority=True):
                    for sp in page:
                        run.remember_sp(sp)
                        for o in sp.get("owners") or []:
                            run.owned.setdefault(str(o.get("id", "")).lower(), []).append(OwnedObject(
                                str(sp["id"]), "servicePrincipal", str(sp.get("displayName") or sp["id"]),
                                str(sp.get("appId") or "")))
            except GraphError as exc:
                run.errors.append(f"service principal owners could not be listed ({_short(exc)}); WIF608 is incomplete")
            return
        if not principals:
            return
        res = await batch_get(run, {p: f"/servicePrincipals/{p}/ownedObjects?$select=id,appId,displayName&$top=999"
                                     for p in principals})
        for p, r in res.items():
            if r["status"] == 404:
                continue
            if not 0 < r["status"] < 400:
                run.errors.append(f"objects owned by service principal {p}: Graph {r['status']}")
                continue
            for o in (r["body"] or {}).get("value") or []:
                kind = str(o.get("@odata.type", "")).rsplit(".", 1)[-1]
                if kind in ("application", "servicePrincipal"):
                    run.owned.setdefault(p.lower(), []).append(OwnedObject(
                        str(o["id"]), kind, str(o.get("displayName") or o["id"]), str(o.get("appId") or "")))


async def read_all(run: PrivilegeRun, principals: Sequence[str], sources: Iterable[str] | None = None) -> float:
    """Run every registered source (concurrently); returns the seconds spent."""
    t0 = time.perf_counter()
    names = list(sources) if sources is not None else privilege_sources.names()
    classes = [privilege_sources.get(n) for n in names]  # an unknown name fails listing the valid ones
    ps = list(dict.fromkeys(p.lower() for p in principals if p))
    results = await asyncio.gather(*(cls().read(run, ps) for cls in classes), return_exceptions=True)
    for n, r in zip(names, results, strict=True):
        if isinstance(r, PermissionDenied):
            raise r  # a missing permission blocks: never evaluate from a partial view
        if isinstance(r, BaseException):
            run.errors.append(f"privilege source {n} failed: {_short(r)}")
    return time.perf_counter() - t0


def holdings(run: PrivilegeRun, principal_id: str, name: str, kind: str,
             role_assignments: Mapping[str, Sequence[Any]]) -> Holdings:
    key = principal_id.lower()
    return Holdings(principal_id, name, kind, tuple(run.permissions.get(key, ())), tuple(run.directory.get(key, ())),
                    tuple(role_assignments.get(key, ())))


def privilege_of(run: PrivilegeRun, principal_id: str, *, role_assignments: Mapping[str, Sequence[Any]],
                 app_owned: Mapping[str, Sequence[tuple[str, str, str]]] | None = None,
                 trusted_by: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]] = ()) -> Privilege:
    """Assemble one principal's ``Privilege``.

    ``app_owned``: owner principal id → [(app object id, appId, name)] from the application
    listing (tenant-wide reads). ``trusted_by``: (app, credential) pairs whose credential
    trusts this principal as a managed identity.
    """
    key = principal_id.lower()
    owns: list[Ownership] = []
    seen: set[str] = set()
    objects = list(run.owned.get(key, []))
    for app_oid, app_id, app_name in (app_owned or {}).get(key, []):
        objects.append(OwnedObject(app_oid, "application", app_name, app_id))
    for o in objects:
        if o.object_id.lower() in seen:
            continue
        seen.add(o.object_id.lower())
        # An owned application's privilege is its service principal's.
        target_sp = o.object_id.lower() if o.object_type == "servicePrincipal" else \
            run.sp_by_app_id.get(o.app_id.lower(), "")
        if not target_sp:
            continue
        owns.append(Ownership(o.object_id, o.object_type, o.name,
                              holdings(run, target_sp, o.name, o.object_type, role_assignments)))
    trusts = []
    for app, cred in trusted_by:
        sp = run.sp_by_app_id.get(str(app.get("appId", "")).lower(), "")
        if not sp:
            continue
        name = str(app.get("displayName") or app.get("id"))
        trusts.append(TrustedBy(str(app.get("id")), name, str(cred.get("name", "")), str(cred.get("issuer", "")),
                                str(cred.get("subject", "")), holdings(run, sp, name, "application", role_assignments)))
    return Privilege(tuple(run.permissions.get(key, ())), tuple(run.directory.get(key, ())), tuple(owns),
                     tuple(trusts))


def entra_issuer_tenant(issuer: str) -> str | None:
    """The tenant of an Entra ID v2 issuer (``https://login.microsoftonline.com/{tid}/v2.0``)."""
    from wifguard.domain.issuers import classify

    info = classify(issuer)
    return info.entra_tenant if info.provider == "entra" else None
