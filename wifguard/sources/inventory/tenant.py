"""Trust contexts, read live: one identity at a time (events) or the whole tenant (sweeps).

A sweep costs a handful of paged list calls, not one call per app: applications come with
their credentials (``$expand=federatedIdentityCredentials``) and, in a second listing, with
their owners (``$expand=owners``, capped at 20 by Graph, so an app showing 20 is re-read in
full). Role assignments are listed per subscription and per management group, and principals
are resolved in bulk with ``/servicePrincipals?$filter=id in (...)`` inside ``$batch``.

A 403 anywhere is :class:`PermissionDenied` and propagates: an identity is never evaluated from
a partial view (an unreadable owner list or role listing would silently drop findings).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wifguard.catalogue.facts import TenantIndex
from wifguard.domain.model import (
    Credential,
    Identity,
    IdentityKind,
    ModelError,
    Owner,
    RoleAssignment,
    RoleDefinition,
    TrustContext,
    graph_subtype,
)
from wifguard.domain.roles import definition_from_arm
from wifguard.sources.inventory.arm import ArmClient, parse_uami_id
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.gaps import ContextPart, gap
from wifguard.sources.inventory.graph import (
    GraphClient,
    GraphError,
    HttpStats,
    NotFound,
    applications_url,
    raise_for_denied,
)
from wifguard.sources.inventory.permissions import PermissionDenied

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
OWNER_SELECT = "id,displayName,userPrincipalName,mail"
EXPANDED_OWNER_CAP = 20
IN_FILTER_LIMIT = 15  # Graph's limit on the values of one `in` operator
OWNER_TAGS = ("owner", "Owner", "owners", "wifguard-owner")


@dataclass
class SweepResult:
    contexts: list[TrustContext]
    tenant: TenantIndex
    stats: HttpStats
    errors: list[str] = field(default_factory=list)
    identities: int = 0
    credentials: int = 0
    role_assignments: int = 0
    seconds: float = 0.0
    all_identity_ids: list[str] = field(default_factory=list)


def owners_from_tags(*tag_sets: Mapping[str, str]) -> tuple[Owner, ...]:
    """Managed identities have no owners in Entra: an ``owner`` tag (identity, then resource group)."""
    for tags in tag_sets:
        for key in OWNER_TAGS:
            value = tags.get(key) if tags else None
            if value:
                people = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
                return tuple(Owner(p, p, p, p if "@" in p else None, kind="tag") for p in people)
    return ()


def _credentials(items: Iterable[Mapping[str, Any]], arm: bool, errors: list[str], where: str) -> tuple[Credential, ...]:
    out = []
    for obj in items:
        try:
            out.append(Credential.from_arm(obj) if arm else Credential.from_graph(obj))
        except ModelError as exc:
            errors.append(f"{where}: skipped a malformed credential: {exc}")
    return tuple(out)


def _assignments(items: Iterable[Mapping[str, Any]], errors: list[str]) -> list[RoleAssignment]:
    out = []
    for obj in items:
        try:
            out.append(RoleAssignment.from_arm(obj))
        except ModelError as exc:
            errors.append(f"skipped a malformed role assignment: {exc}")
    return out


class Inventory:
    """Graph + ARM readers for one connection; clients are created once and reused."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.stats = HttpStats()
        # beta: v1.0 omits claimsMatchingExpression, so flexible credentials would look subject-less.
        self.graph = GraphClient(conn, self.stats, version="beta")
        self.arm = ArmClient(conn, self.stats)
        self._subscriptions: list[str] | None = None
        self._definitions: dict[str, RoleDefinition] = {}
        self._definition_scopes: set[str] = set()

    async def __aenter__(self) -> Inventory:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        await self.graph.close()
        await self.arm.close()

    # -- shared --------------------------------------------------------------------------------------
    async def subscription_ids(self) -> list[str]:
        if self._subscriptions is None:
            if self.conn.subscriptions:
                self._subscriptions = list(self.conn.subscriptions)
            else:
                subs = await self.arm.subscriptions()
                self._subscriptions = [s["subscriptionId"] for s in subs if s.get("state", "Enabled") == "Enabled"]
        return self._subscriptions

    def management_group_scopes(self) -> list[str]:
        """Only the management groups the deployment was told it may read.

        Reader on a management group (the tenant root group included, whose name is the tenant
        id) is an optional, separate grant: reading one that was not granted would fail on every
        run. Assignments made at the tenant root (and every management group above a monitored
        subscription) are inherited, so the subscription listings already return them.
        """
        ids = list(dict.fromkeys(self.conn.management_groups))
        return [f"/providers/Microsoft.Management/managementGroups/{m}" for m in ids]

    async def _mg_assignments(self, errors: list[str], principal_id: str | None = None) -> list[RoleAssignment]:
        out: list[RoleAssignment] = []
        for scope in self.management_group_scopes():
            try:
                out += _assignments(await self.arm.role_assignments(scope, principal_id=principal_id), errors)
            except PermissionDenied:
                raise  # a missing permission blocks: never evaluate from a partial view
            except Exception as exc:
                gap(errors, ContextPart.ROLE_ASSIGNMENTS, f"role assignments at {scope}: {_short(exc)}")
        return out

    async def _definitions_for(self, assignments: Sequence[RoleAssignment], errors: list[str]) -> dict[str, RoleDefinition]:
        """Every role definition (built-in and custom) the assignments reference, read live: one
        listing per definition scope per run. When a listing fails, the shipped table of
        built-in roles is the fallback (with a warning)."""
        missing = {ra.role_definition_id for ra in assignments if ra.role_guid not in self._definitions}
        scopes = {rd_id.lower().split("/providers/microsoft.authorization/roledefinitions/")[0] or "/"
                  for rd_id in missing} - self._definition_scopes
        for scope in sorted(scopes):
            self._definition_scopes.add(scope)
            try:
                for d in await self.arm.role_definitions(scope):
                    rd = definition_from_arm(d)
                    self._definitions.setdefault(rd.id, rd)
            except PermissionDenied:
                raise  # a missing permission blocks: never evaluate from a partial view
            except Exception as exc:
                log.warning("role definitions at %s could not be read (%s); using the shipped table of built-in "
                            "roles", scope, _short(exc))
                message = f"role definitions at {scope}: {_short(exc)}; built-in roles are named from the shipped table"
                from wifguard.domain.roles import BUILTIN_ROLES

                unknown = [ra for ra in assignments if ra.role_definition_id.lower().startswith(scope)
                           and ra.role_guid not in self._definitions and ra.role_guid not in BUILTIN_ROLES]
                if unknown:  # a custom role nobody could read: its privilege is unknown (fail closed)
                    gap(errors, ContextPart.ROLE_DEFINITIONS, message)
                else:
                    errors.append(message)
        return self._definitions

    # -- one identity (the event path) --------------------------------------------------------------
    async def application_context(self, object_id: str | None = None, *, app_id: str | None = None,
                                  errors: list[str] | None = None) -> TrustContext | None:
        """Re-read an app registration live; None when it no longer exists."""
        errors = errors if errors is not None else []
        if not _is_guid(object_id or app_id):
            # Graph answers 400 Request_BadRequest for an id that is not a GUID (a redacted
            # "[REMOVED]" in a published record): no such object can exist.
            return None
        select = "$select=id,appId,displayName&$expand=federatedIdentityCredentials"
        path = f"/applications/{object_id}" if object_id else f"/applications(appId='{app_id}')"
        res = await self.graph.batch([
            {"id": "app", "method": "GET", "url": f"{path}?{select}"},
            {"id": "owners", "method": "GET", "url": f"{path}/owners?$select={OWNER_SELECT}&$top=999"},
        ])
        app = res["app"]
        raise_for_denied(app, "GET", path)
        raise_for_denied(res["owners"], "GET", f"{path}/owners")
        if app["status"] == 404:
            return None
        if app["status"] >= 400:
            raise GraphError(app["status"], "batch", str(app.get("body")), path)
        body = app["body"]
        owners: tuple[Owner, ...] | None = None
        if res["owners"]["status"] < 400:
            owners = tuple(Owner.from_graph(o) for o in res["owners"]["body"].get("value", []))
        else:  # unknown owners are not "no owners" (WIF504, WIF701)
            gap(errors, ContextPart.OWNERS, f"owners of {path}: Graph {res['owners']['status']}")
        sp_id = await self._service_principal_of(body["appId"])
        ident = Identity(body["id"], body.get("displayName") or body["id"], IdentityKind.APPLICATION,
                         app_id=body.get("appId"), principal_id=sp_id, subtype=graph_subtype(body))
        creds = _credentials(body.get("federatedIdentityCredentials", []), False, errors, ident.name)
        ras = await self._assignments_of(sp_id, errors) if sp_id else []
        defs = await self._definitions_for(ras, errors)
        return (await self._finish([TrustContext(ident, creds, tuple(ras), owners, defs)], errors))[0]

    async def application_contexts(self, object_ids: Iterable[str], *, errors: list[str] | None = None
                                   ) -> dict[str, TrustContext | None]:
        """Many app registrations at once (a batch of events): $batch for apps, owners and
        service principals, and one role-assignment listing per subscription instead of one per
        principal. None for apps that no longer exist."""
        errors = errors if errors is not None else []
        wanted = list(dict.fromkeys(i for i in object_ids if i))
        ids = [i for i in wanted if _is_guid(i)]
        out: dict[str, TrustContext | None] = dict.fromkeys((i for i in wanted if not _is_guid(i)), None)
        select = "$select=id,appId,displayName&$expand=federatedIdentityCredentials"
        reqs: list[dict[str, Any]] = []
        for n, oid in enumerate(ids):
            reqs.append({"id": f"a{n}", "method": "GET", "url": f"/applications/{oid}?{select}"})
            reqs.append({"id": f"o{n}", "method": "GET",
                         "url": f"/applications/{oid}/owners?$select={OWNER_SELECT}&$top=999"})
        res = await self.graph.batch(reqs)
        bodies: dict[int, dict[str, Any]] = {}
        for n, oid in enumerate(ids):
            app = res.get(f"a{n}", {"status": 0})
            raise_for_denied(app, "GET", f"/applications/{oid}")
            raise_for_denied(res.get(f"o{n}", {}), "GET", f"/applications/{oid}/owners")
            if app["status"] == 404:
                out[oid] = None
            elif app["status"] < 400 and app["status"]:
                bodies[n] = app["body"]
            else:
                errors.append(f"application {oid}: Graph {app['status']}; read again one by one")
        sp_res = await self.graph.batch([
            {"id": f"s{n}", "method": "GET",
             "url": f"/servicePrincipals?$filter=appId eq '{b['appId']}'&$select=id,appId"}
            for n, b in bodies.items()])
        sps: dict[int, str | None] = {}
        for n in bodies:
            r = sp_res.get(f"s{n}", {"status": 0})
            raise_for_denied(r, "GET", "/servicePrincipals")
            values = (r.get("body") or {}).get("value", []) if r["status"] < 400 else []
            sps[n] = values[0]["id"] if values else None
        by_principal: dict[str, list[RoleAssignment]] = {}
        for ra in await self._assignments_of(None, errors):
            by_principal.setdefault(ra.principal_id.lower(), []).append(ra)
        for n, body in bodies.items():
            sp_id = sps.get(n)
            ident = Identity(body["id"], body.get("displayName") or body["id"], IdentityKind.APPLICATION,
                             app_id=body.get("appId"), principal_id=sp_id, subtype=graph_subtype(body))
            creds = _credentials(body.get("federatedIdentityCredentials", []), False, errors, ident.name)
            ores = res.get(f"o{n}", {"status": 0})
            if not 0 < ores["status"] < 400:
                # unknown owners are not "no owners": read this one again on its own
                errors.append(f"owners of application {ids[n]}: Graph {ores['status']}; read again one by one")
                continue
            owners = tuple(Owner.from_graph(o) for o in (ores.get("body") or {}).get("value", []))
            ras = by_principal.get(sp_id.lower(), []) if sp_id else []
            defs = await self._definitions_for(ras, errors)
            out[ids[n]] = TrustContext(ident, creds, tuple(ras), owners, defs)
        live = [c for c in out.values() if c is not None]
        done = {c.identity.id: c for c in await self._finish(live, errors)}
        return {k: (done.get(c.identity.id, c) if c is not None else None) for k, c in out.items()}

    async def _service_principal_of(self, app_id: str) -> str | None:
        data = await self.graph.get(f"/servicePrincipals?$filter=appId eq '{app_id}'&$select=id,appId")
        values = data.get("value", []) if data else []
        return values[0]["id"] if values else None

    async def _assignments_of(self, principal_id: str | None, errors: list[str]) -> list[RoleAssignment]:
        """Role assignments in every subscription and the management groups, de-duplicated by id:
        one principal's (filtered at ARM) or, with ``principal_id=None``, everyone's."""
        subs = await self.subscription_ids()

        async def one(s: str) -> list[RoleAssignment]:
            try:
                return _assignments(await self.arm.role_assignments(f"/subscriptions/{s}", principal_id=principal_id),
                                    errors)
            except PermissionDenied:
                raise  # a missing permission blocks: never evaluate from a partial view
            except Exception as exc:
                gap(errors, ContextPart.ROLE_ASSIGNMENTS, f"role assignments in subscription {s}: {_short(exc)}")
                return []

        parts = await asyncio.gather(*(one(s) for s in subs))
        seen: dict[str, RoleAssignment] = {}
        for ra in [x for p in parts for x in p] + await self._mg_assignments(errors, principal_id):
            if principal_id is None or ra.principal_id.lower() == principal_id.lower():
                seen.setdefault(ra.id.lower(), ra)
        return list(seen.values())

    async def managed_identity_context(self, resource_id: str, *, errors: list[str] | None = None) -> TrustContext | None:
        from azure.core.exceptions import ResourceNotFoundError

        errors = errors if errors is not None else []
        try:
            uami = await self.arm.identity(resource_id)
            fics = await self.arm.credentials(resource_id)
        except ResourceNotFoundError:
            return None
        return (await self._finish([await self._uami_context(uami, fics, errors, rg_tags=None)], errors))[0]

    async def _uami_context(self, uami: Mapping[str, Any], fics: Sequence[Mapping[str, Any]], errors: list[str],
                            rg_tags: Mapping[str, str] | None, assignments: Sequence[RoleAssignment] | None = None,
                            ) -> TrustContext:
        props = uami.get("properties") or {}
        tags = dict(uami.get("tags") or {})
        rid = str(uami["id"])
        if rg_tags is None and not owners_from_tags(tags):
            s, rg, _ = parse_uami_id(rid)
            try:
                rg_tags = await self.arm.resource_group_tags(s, rg)
            except PermissionDenied:
                raise  # a missing permission blocks: never evaluate from a partial view
            except Exception as exc:
                gap(errors, ContextPart.OWNERS, f"tags of resource group {rg}: {_short(exc)}")
                rg_tags = {}
        ident = Identity(rid, str(uami.get("name") or rid.rsplit("/", 1)[-1]), IdentityKind.MANAGED_IDENTITY,
                         app_id=props.get("clientId"), principal_id=props.get("principalId"), tags=tags,
                         resource_group_tags=dict(rg_tags or {}))
        creds = _credentials(fics, True, errors, ident.name)
        pid = ident.principal_id
        if assignments is None:
            ras = await self._assignments_of(pid, errors) if pid else []
        else:
            ras = list(assignments)
        defs = await self._definitions_for(ras, errors)
        owners = owners_from_tags(tags, rg_tags or {})
        return TrustContext(ident, creds, tuple(ras), owners, defs)

    async def principal_context(self, principal_id: str, *, errors: list[str] | None = None) -> TrustContext | None:
        """The identity behind a role assignment's principal (app service principal or UAMI)."""
        errors = errors if errors is not None else []
        if not _is_guid(principal_id):
            return None  # not an object id (Graph: 400 Request_BadRequest): no such principal
        try:
            sp = await self.graph.get(
                f"/servicePrincipals/{principal_id}?$select=id,appId,servicePrincipalType,alternativeNames")
        except NotFound:
            return None
        if str(sp.get("servicePrincipalType", "")).lower() == "managedidentity":
            rid = next((n for n in sp.get("alternativeNames", []) if str(n).lower().startswith("/subscriptions/")
                        and "/userassignedidentities/" in str(n).lower()), None)
            if rid is None:
                return None  # a system-assigned identity: no federated credentials possible
            return await self.managed_identity_context(rid, errors=errors)
        return await self.application_context(app_id=sp["appId"], errors=errors)

    async def role_assignment(self, assignment_id: str) -> RoleAssignment | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return RoleAssignment.from_arm(await self.arm.role_assignment(assignment_id))
        except ResourceNotFoundError:
            return None

    # -- the whole tenant (the sweep) ---------------------------------------------------------------
    async def sweep(self, progress: Progress | None = None) -> SweepResult:
        t0 = time.perf_counter()
        errors: list[str] = []
        report = progress or (lambda stage, done, total: None)
        apps_task = asyncio.create_task(self._all_apps(report))
        owners_task = asyncio.create_task(self._all_owners(errors))
        arm_task = asyncio.create_task(self._all_arm(errors, report))
        privilege_task = asyncio.create_task(self._privilege_run(tenant_wide=True))
        tasks = (apps_task, owners_task, arm_task, privilege_task)
        try:
            apps, owners, (uamis, assignments), privilege_run = await asyncio.gather(*tasks)
        except BaseException:
            # e.g. PermissionDenied: stop the other readers instead of leaving them running.
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        by_principal: dict[str, list[RoleAssignment]] = {}
        for ra in assignments:
            by_principal.setdefault(ra.principal_id.lower(), []).append(ra)
        uami_principals = {str((u.get("properties") or {}).get("principalId", "")).lower() for u, _, _ in uamis}
        sp_of_app = await self._resolve_principals(
            [p for p in by_principal if p not in uami_principals], errors)
        defs = await self._definitions_for(assignments, errors)
        contexts: list[TrustContext] = []
        all_contexts: list[TrustContext] = []
        n_creds = 0
        for app in apps:
            sp_id = sp_of_app.get(str(app.get("appId", "")).lower())
            ident = Identity(app["id"], app.get("displayName") or app["id"], IdentityKind.APPLICATION,
                             app_id=app.get("appId"), principal_id=sp_id, subtype=graph_subtype(app))
            creds = _credentials(app.get("federatedIdentityCredentials") or [], False, errors, ident.name)
            ras = tuple(by_principal.get(sp_id.lower(), [])) if sp_id else ()
            ctx = TrustContext(ident, creds, ras, owners.get(app["id"].lower()), defs)
            all_contexts.append(ctx)
            n_creds += len(creds)
            if creds:
                contexts.append(ctx)
        for uami, fics, rg_tags in uamis:
            pid = str((uami.get("properties") or {}).get("principalId", "")).lower()
            ctx = await self._uami_context(uami, fics, errors, rg_tags, by_principal.get(pid, []))
            all_contexts.append(ctx)
            n_creds += len(ctx.credentials)
            if ctx.credentials:
                contexts.append(ctx)
        contexts = self._with_privilege(privilege_run, apps, owners, by_principal, all_contexts, contexts, errors)
        contexts = await self._with_context_sources(contexts, errors)
        return SweepResult(
            contexts=contexts,
            tenant=TenantIndex.build(all_contexts),
            stats=self.stats,
            errors=errors,
            identities=len(all_contexts),
            credentials=n_creds,
            role_assignments=len(assignments),
            seconds=time.perf_counter() - t0,
            all_identity_ids=[c.identity.id for c in all_contexts],
        )

    async def _finish(self, contexts: list[TrustContext], errors: list[str]) -> list[TrustContext]:
        """The event path's last reads: Graph-side privilege, then the registered context sources."""
        return await self._with_context_sources(await self._event_privilege(contexts, errors), errors)

    async def _with_context_sources(self, contexts: list[TrustContext], errors: list[str]) -> list[TrustContext]:
        """Each registered ``ContextSource`` reads once for all ``contexts``; its answers land in
        ``TrustContext.extras[name]``. A source that fails is an error and leaves no entry (not
        read is never "nothing there"); a missing permission blocks like any other read."""
        from dataclasses import replace

        from wifguard.sources import context_sources

        if not contexts or not len(context_sources):
            return contexts
        extras: dict[str, dict[str, Any]] = {}
        for name, source in context_sources.items():
            try:
                got = await source.read(self, contexts, errors)
            except PermissionDenied:
                raise
            except Exception as exc:
                log.warning("context source %s failed: %s", name, type(exc).__name__)
                errors.append(f"context source {name} failed: {_short(exc)}")
                continue
            for ident_id, value in got.items():
                extras.setdefault(ident_id.lower(), {})[name] = value
        if not extras:
            return contexts
        return [replace(c, extras={**c.extras, **extras[c.identity.id.lower()]})
                if c.identity.id.lower() in extras else c for c in contexts]

    async def _event_privilege(self, contexts: list[TrustContext], errors: list[str]) -> list[TrustContext]:
        """Graph-side privilege for a few identities (the event path): ``$batch`` reads of their
        grants and owned objects, one directory-role listing, then the same for what they own
        and, for managed identities, the apps that trust them."""
        from dataclasses import replace

        from wifguard.sources.privilege.reader import PrivilegeRun, batch_get, privilege_of, read_all

        pids = [c.identity.principal_id for c in contexts if c.identity.principal_id]
        if not pids:
            return contexts
        run = PrivilegeRun(self.graph)
        await read_all(run, pids)
        owned = [o for p in pids for o in run.owned.get(p.lower(), [])]
        trusted: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
        for c in contexts:
            pid = (c.identity.principal_id or "").lower()
            if c.identity.kind is IdentityKind.MANAGED_IDENTITY and pid:
                trusted[pid] = [(app, f) for app in await self._apps_trusting(pid, errors)
                                for f in app.get("federatedIdentityCredentials") or []
                                if str(f.get("subject") or "").lower() == pid and self._home_issuer(str(f.get("issuer")), c)]
        app_ids = {o.app_id for o in owned if o.object_type == "application" and o.app_id}
        app_ids |= {str(app.get("appId")) for chain in trusted.values() for app, _ in chain if app.get("appId")}
        if app_ids:
            res = await batch_get(run, {a: f"/servicePrincipals(appId='{a}')?$select=id,appId,displayName"
                                        for a in sorted(app_ids)})
            for r in res.values():
                if 0 < r["status"] < 400:
                    run.remember_sp(r["body"])
        for o in owned:
            if o.object_type == "servicePrincipal":
                run.remember_sp({"id": o.object_id, "appId": o.app_id, "displayName": o.name})
        targets = [sp for a in app_ids if (sp := run.sp_by_app_id.get(a.lower()))]
        targets += [o.object_id.lower() for o in owned if o.object_type == "servicePrincipal"]
        targets = [t for t in dict.fromkeys(targets) if t not in run.raw_grants]
        if targets:
            await read_all(run, targets, sources=["app_permissions"])
        ras: dict[str, list[RoleAssignment]] = {t: await self._assignments_of(t, errors) for t in targets}
        await self._definitions_for([ra for v in ras.values() for ra in v], errors)
        errors += run.errors
        out = []
        for c in contexts:
            principal = c.identity.principal_id
            out.append(replace(c, privilege=privilege_of(run, principal, role_assignments=ras,
                                                         trusted_by=trusted.get(principal.lower(), []))
                               if principal else None))
        return out

    async def _apps_trusting(self, principal_id: str, errors: list[str]) -> list[dict[str, Any]]:
        """Apps with a federated credential whose subject is this managed identity's principal id."""
        url = (f"/applications?$filter=federatedIdentityCredentials/any(f:f/subject eq '{principal_id}')"
               "&$count=true&$select=id,appId,displayName&$expand=federatedIdentityCredentials&$top=999")
        apps: list[dict[str, Any]] = []
        try:
            async for page in self.graph.pages(url, consistency=True):
                apps += page
        except GraphError as exc:
            errors.append(f"apps trusting managed identity {principal_id}: {_short(exc)}; WIF609 is skipped")
        return apps

    async def _privilege_run(self, *, tenant_wide: bool, principals: Sequence[str] = ()) -> Any:
        from wifguard.sources.privilege.reader import PrivilegeRun, read_all

        run = PrivilegeRun(self.graph, tenant_wide=tenant_wide)
        await read_all(run, principals)
        return run

    def _with_privilege(self, run: Any, apps: Sequence[Mapping[str, Any]],
                        owners: Mapping[str, tuple[Owner, ...] | None],
                        by_principal: Mapping[str, Sequence[RoleAssignment]],
                        all_contexts: list[TrustContext], contexts: list[TrustContext],
                        errors: list[str]) -> list[TrustContext]:
        """Attach Graph-side privilege to the sweep's contexts; managed identities that an app
        trusts as its credential are evaluated too (WIF609), with or without credentials."""
        from dataclasses import replace

        from wifguard.sources.privilege.reader import privilege_of

        errors += run.errors
        app_owned: dict[str, list[tuple[str, str, str]]] = {}
        for app in apps:
            for o in owners.get(str(app["id"]).lower()) or ():
                if o.kind == "servicePrincipal":
                    app_owned.setdefault(o.id.lower(), []).append(
                        (str(app["id"]), str(app.get("appId") or ""), str(app.get("displayName") or app["id"])))
        uamis = {c.identity.principal_id.lower(): c for c in all_contexts
                 if c.identity.kind is IdentityKind.MANAGED_IDENTITY and c.identity.principal_id}
        trusted: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
        for app in apps:
            for f in app.get("federatedIdentityCredentials") or []:
                subject = str(f.get("subject") or "").lower()
                if subject in uamis and self._home_issuer(str(f.get("issuer") or ""), uamis[subject]):
                    trusted.setdefault(subject, []).append((app, f))
        evaluated = {id(c) for c in contexts}
        out: list[TrustContext] = []
        for ctx in all_contexts:
            ident = ctx.identity
            pid = ident.principal_id or (run.sp_by_app_id.get(str(ident.app_id or "").lower())
                                         if ident.kind is IdentityKind.APPLICATION else None)
            chain = trusted.get(str(pid or "").lower(), [])
            if id(ctx) not in evaluated and not chain:
                continue
            priv = privilege_of(run, pid, role_assignments=by_principal, app_owned=app_owned, trusted_by=chain) \
                if pid else None
            out.append(replace(ctx, privilege=priv))
        return out

    def _home_issuer(self, issuer: str, uami: TrustContext) -> bool:
        """Entra ID issuer of the home tenant (the tenant the managed identity lives in)."""
        from wifguard.sources.privilege.reader import entra_issuer_tenant

        tenant = entra_issuer_tenant(issuer)
        home = (self.conn.tenant_id or "").lower()
        return bool(tenant) and (tenant == home if home else True)

    async def _all_apps(self, report: Progress) -> list[dict[str, Any]]:
        url = applications_url(self.graph, select=["id", "appId", "displayName"],
                               expand=["federatedIdentityCredentials"], top=999)
        apps: list[dict[str, Any]] = []
        async for page in self.graph.pages(url, low_priority=True):
            apps += page
            report("applications", len(apps), 0)
        return apps

    async def _all_owners(self, errors: list[str]) -> dict[str, tuple[Owner, ...] | None]:
        url = applications_url(self.graph, select=["id"], expand=[f"owners($select={OWNER_SELECT})"], top=999)
        owners: dict[str, tuple[Owner, ...] | None] = {}
        capped: list[str] = []
        try:
            async for page in self.graph.pages(url, low_priority=True):
                for app in page:
                    raw = app.get("owners") or []
                    owners[app["id"].lower()] = tuple(Owner.from_graph(o) for o in raw)
                    if len(raw) >= EXPANDED_OWNER_CAP:
                        capped.append(app["id"])
        except GraphError as exc:  # (PermissionDenied is no GraphError: it propagates)
            gap(errors, ContextPart.OWNERS, f"owners could not be listed ({_short(exc)}); WIF504 is skipped")
            return {}
        for app_id in capped:  # $expand stops at 20: read the full list
            full: list[Owner] = []
            async for page in self.graph.pages(f"/applications/{app_id}/owners?$select={OWNER_SELECT}&$top=999"):
                full += [Owner.from_graph(o) for o in page]
            owners[app_id.lower()] = tuple(full)
        return owners

    async def _resolve_principals(self, principal_ids: list[str], errors: list[str]) -> dict[str, str]:
        """appId (lower) → service principal id, for the principals that hold role assignments.

        ``/servicePrincipals?$filter=id in (...)`` needs only Application.Read.All (what the app
        is granted), where ``directoryObjects/getByIds`` needs Directory.Read.All. Graph takes
        at most 15 values in an ``in``; the filters go 20 to a ``$batch`` envelope, and the
        envelopes concurrently, so 1,000 principals cost 4 requests.
        """
        out: dict[str, str] = {}
        reqs = []
        for n, i in enumerate(range(0, len(principal_ids), IN_FILTER_LIMIT)):
            chunk = ",".join(f"'{p}'" for p in principal_ids[i:i + IN_FILTER_LIMIT])
            reqs.append({"id": f"p{n}", "method": "GET",
                         "url": f"/servicePrincipals?$filter=id in ({chunk})&$select=id,appId&$top=999"})
        if not reqs:
            return out
        res = await self.graph.batch(reqs, low_priority=True)
        for req in reqs:
            r = res.get(req["id"], {"status": 0})
            raise_for_denied(r, "GET", "/servicePrincipals")
            if not 0 < r["status"] < 400:
                gap(errors, ContextPart.ROLE_ASSIGNMENTS, f"principals could not be resolved (Graph {r['status']})")
                continue
            for sp in (r.get("body") or {}).get("value", []):
                if sp.get("appId"):
                    out[str(sp["appId"]).lower()] = sp["id"]
        return out

    async def _all_arm(self, errors: list[str], report: Progress
                       ) -> tuple[list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]], list[RoleAssignment]]:
        try:
            subs = await self.subscription_ids()
        except PermissionDenied:
            raise  # a missing permission blocks: never evaluate from a partial view
        except Exception as exc:
            gap(errors, ContextPart.IDENTITIES, f"subscriptions could not be listed: {_short(exc)}")
            subs = []
        done = 0

        async def per_sub(s: str) -> tuple[list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]],
                                           list[RoleAssignment]]:
            nonlocal done
            try:
                identities, ras = await asyncio.gather(
                    self.arm.identities(s), self.arm.role_assignments(f"/subscriptions/{s}"))
            except PermissionDenied:
                raise  # a missing permission blocks: never evaluate from a partial view
            except Exception as exc:
                gap(errors, ContextPart.IDENTITIES, f"subscription {s} could not be read: {_short(exc)}")
                return [], []
            rg_tags: dict[str, dict[str, str]] = {}
            if any(not owners_from_tags(dict(u.get("tags") or {})) for u in identities):
                try:
                    rg_tags = await self.arm.resource_groups(s)
                except PermissionDenied:
                    raise  # a missing permission blocks: never evaluate from a partial view
                except Exception as exc:
                    gap(errors, ContextPart.OWNERS, f"resource groups of subscription {s}: {_short(exc)}")

            async def fics_of(u: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
                nonlocal done
                rid = str(u["id"])
                try:
                    fics = await self.arm.credentials(rid)
                except PermissionDenied:
                    raise  # a missing permission blocks: never evaluate from a partial view
                except Exception as exc:
                    gap(errors, ContextPart.CREDENTIALS, f"credentials of {rid}: {_short(exc)}")
                    fics = []
                tags = dict(u.get("tags") or {})
                rgt: dict[str, str] = {}
                if not owners_from_tags(tags):
                    _, rg, _ = parse_uami_id(rid)
                    rgt = rg_tags.get(rg.lower(), {})
                done += 1
                report("managed identities", done, 0)
                return u, fics, rgt

            found = await asyncio.gather(*(fics_of(u) for u in identities))
            return list(found), _assignments(ras, errors)

        parts = await asyncio.gather(*(per_sub(s) for s in subs))
        uamis = [u for p in parts for u in p[0]]
        seen: dict[str, RoleAssignment] = {}
        for ra in [ra for p in parts for ra in p[1]] + await self._mg_assignments(errors):
            seen.setdefault(ra.id.lower(), ra)
        return uamis, list(seen.values())


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


class CredentialWriter:
    """Reads, deletes and recreates one identity's federated credentials (quarantine, restore)."""

    def __init__(self, inventory: Inventory) -> None:
        self.inv = inventory

    async def read(self, identity: Identity, name: str) -> dict[str, Any] | None:
        """The credential exactly as the API returns it now; None when it does not exist."""
        from azure.core.exceptions import ResourceNotFoundError

        if identity.kind is IdentityKind.APPLICATION:
            try:
                data = await self.inv.graph.get(f"/applications/{identity.id}/federatedIdentityCredentials/{name}")
            except NotFound:
                return None
            return dict(data) if data else None
        try:
            return await self.inv.arm.credential(identity.id, name)
        except ResourceNotFoundError:
            return None

    async def list(self, identity: Identity) -> list[dict[str, Any]] | None:
        """All credentials of the identity; None when the identity itself is gone."""
        from azure.core.exceptions import ResourceNotFoundError

        if identity.kind is IdentityKind.APPLICATION:
            try:
                out: list[dict[str, Any]] = []
                async for page in self.inv.graph.pages(f"/applications/{identity.id}/federatedIdentityCredentials"):
                    out += page
                return out
            except NotFound:
                return None
        try:
            await self.inv.arm.identity(identity.id)
            return await self.inv.arm.credentials(identity.id)
        except ResourceNotFoundError:
            return None

    async def delete(self, identity: Identity, raw: Mapping[str, Any]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        name = str(raw.get("name", "")).rsplit("/", 1)[-1]
        if identity.kind is IdentityKind.APPLICATION:
            key = raw.get("id") or name
            try:
                await self.inv.graph.request("DELETE", f"/applications/{identity.id}/federatedIdentityCredentials/{key}")
            except NotFound:
                pass  # already gone: the goal state
            return
        try:
            await self.inv.arm.delete_credential(identity.id, name)
        except ResourceNotFoundError:
            pass

    async def create(self, identity: Identity, credential: Credential) -> dict[str, Any]:
        if identity.kind is IdentityKind.APPLICATION:
            data = await self.inv.graph.request(
                "POST", f"/applications/{identity.id}/federatedIdentityCredentials", credential.to_graph())
            return dict(data or {})
        return await self.inv.arm.put_credential(identity.id, credential.name, credential.to_arm_properties())


_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _is_guid(value: str | None) -> bool:
    return bool(value and _GUID_RE.match(value))
