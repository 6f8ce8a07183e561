"""Identity variables for the privilege rules (WIF606-WIF609) and ``identity.privileged``.

Each source is turned into *grants*: one thing the identity can do, with a tier (0, 1, 2) and a
path an attacker would walk: issuer → credential → identity → permission/role → scope. Severity
ranks follow the catalogue: 4 critical, 3 high, 2 medium, 0 nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wifguard.domain.model import RoleDefinition, ScopeLevel, TrustContext, scope_level
from wifguard.domain.privilege import AppPermission, DirectoryRole, Holdings, Privilege
from wifguard.domain.roles import role_facts
from wifguard.sources.privilege.tiering import Tiering, tier_label


@dataclass(frozen=True, slots=True)
class Grant:
    source: str  # graph_permission | directory_role | azure_role | ownership | trust
    label: str  # display text, e.g. 'RoleManagement.ReadWrite.Directory' (Tier 0, Microsoft Graph)
    scope: str
    tier: int
    rank: int  # severity rank of holding it directly (4 critical, 3 high, 2 medium, 0 none)


def permission_tier(p: AppPermission, tiering: Tiering) -> int:
    if p.microsoft_graph:
        return tiering.permission(p.value) if p.value else 2
    # Other APIs: only what the config tiers explicitly ("<resource appId or name>/<value>").
    for key in (f"{p.resource_app_id}/{p.value}", f"{p.resource_name}/{p.value}"):
        t = tiering.graph_permissions.get(key.lower())
        if t is not None:
            return t
    return 2


def _graph_grants(perms: Iterable[AppPermission], tiering: Tiering) -> list[Grant]:
    out = []
    for p in perms:
        t = permission_tier(p, tiering)
        api = p.resource_name or p.resource_app_id or p.resource_id
        out.append(Grant("graph_permission", f"{p.label!r} ({tier_label(t)}, {api} application permission)",
                         "tenant", t, 4 if t == 0 else 3 if t == 1 else 0))
    return out


def _directory_grants(roles: Iterable[DirectoryRole], tiering: Tiering) -> list[Grant]:
    out = []
    for r in roles:
        t = tiering.directory_role(r.role_id, r.name)
        rank = 0
        if t <= 1:
            rank = 4 if t == 0 and r.tenant_scope else 3
            if r.eligible:
                rank -= 1
        state = "eligible" if r.eligible else "active"
        scope = "tenant scope '/'" if r.tenant_scope else f"scope {r.scope!r}"
        out.append(Grant("directory_role", f"{r.name or r.role_id!r} ({tier_label(t)}, {state}, {scope})",
                         r.scope or "/", t, rank))
    return out


def _azure_grants(h: Holdings, definitions: Mapping[str, RoleDefinition], privileged_roles: frozenset[str],
                  roots: frozenset[str]) -> list[Grant]:
    out = []
    for ra in h.role_assignments:
        rf = role_facts(ra.role_guid, definitions, privileged_roles)
        if not rf.privileged:
            continue
        level = scope_level(ra.scope, roots)
        t = 0 if level >= ScopeLevel.MANAGEMENT_GROUP else 1
        out.append(Grant("azure_role", f"{rf.name!r} (Azure role at {level.label} scope {ra.scope!r})", ra.scope, t,
                         4 if t == 0 else 3))
    return out


def holdings_grants(h: Holdings, tiering: Tiering, definitions: Mapping[str, RoleDefinition],
                    privileged_roles: frozenset[str], roots: frozenset[str]) -> list[Grant]:
    """The privileged grants (tier 0/1, privileged Azure roles) of an owned or trusting identity."""
    gs = _graph_grants(h.app_permissions, tiering) + _directory_grants(h.directory_roles, tiering)
    gs = [g for g in gs if g.rank > 0] + _azure_grants(h, definitions, privileged_roles, roots)
    return sorted(gs, key=lambda g: (-g.rank, g.label))


def trust_text(ctx: TrustContext) -> str:
    """issuer → credential, for the identity's credentials (first one named, the rest counted)."""
    creds = ctx.credentials
    if not creds:
        return ""
    c = creds[0]
    more = f" (+{len(creds) - 1} more credential{'s' if len(creds) > 2 else ''})" if len(creds) > 1 else ""
    return f"issuer {c.issuer!r} → credential {c.name!r}{more}"


def _path(head: str, ident: str, grants: Sequence[Grant]) -> str:
    parts = [p for p in (head, repr(ident)) if p]
    return "; ".join(" → ".join([*parts, g.label]) for g in grants)


def privilege_vars(ctx: TrustContext, tiering: Tiering, privileged_roles: frozenset[str],
                   roots: frozenset[str]) -> dict[str, Any]:
    """Identity variables from ``ctx.privilege`` (all empty/zero when it was not read)."""
    priv: Privilege = ctx.privilege or Privilege()
    if priv.empty:  # most identities: nothing to rank or describe (the engine's hot path)
        return {**_NOTHING, "privilege_read": ctx.privilege is not None}
    defs = ctx.role_definitions
    name = ctx.identity.name
    head = trust_text(ctx)
    graph = [g for g in _graph_grants(priv.app_permissions, tiering) if g.rank > 0]
    directory = [g for g in _directory_grants(priv.directory_roles, tiering) if g.rank > 0]
    owned: list[tuple[str, list[Grant]]] = []
    for o in priv.owns:
        gs = holdings_grants(o.target, tiering, defs, privileged_roles, roots)
        if gs:
            owned.append((f"owns {o.object_type} {o.name or o.object_id!r}", gs))
    trusting: list[tuple[str, str, list[Grant]]] = []
    for t in priv.trusted_by:
        gs = holdings_grants(t.target, tiering, defs, privileged_roles, roots)
        if gs:
            via = (f"trusted by app {t.app_name!r} (credential {t.credential_name!r}: issuer {t.issuer!r}, "
                   f"subject {t.subject!r})")
            trusting.append((t.app_name, via, gs))
    graph_tier = min((g.tier for g in graph), default=2)
    dir_rank = max((g.rank for g in directory), default=0)
    trust_rank = max((g.rank for _, _, gs in trusting for g in gs), default=0)
    names = [g.label.split(" (")[0].strip("'") for g in graph + directory]
    names += [f"owner of {label.split(' ', 2)[2]}" for label, _ in owned]
    names += [f"via app {app!r}" for app, _, _ in trusting]
    paths = [_path(head, name, graph), _path(head, name, directory)]
    paths += [" → ".join([p for p in (head, repr(name), label) if p]) + " → " + " | ".join(g.label for g in gs)
              for label, gs in owned]
    paths += [" → ".join([repr(name), via, " | ".join(g.label for g in gs)]) for _, via, gs in trusting]
    return {
        "privilege_read": ctx.privilege is not None,
        "graph_permission_tier": graph_tier,
        "graph_permissions_text": ", ".join(g.label for g in graph) or "(none)",
        "graph_path_text": _path(head, name, graph),
        "directory_role_rank": dir_rank,
        "directory_roles_text": ", ".join(g.label for g in directory) or "(none)",
        "directory_role_eligible_only": bool(directory) and all(", eligible," in g.label for g in directory),
        "directory_path_text": _path(head, name, directory),
        "owned_privileged_count": len(owned),
        "owned_privileged_text": "; ".join(f"{label.split(' ', 1)[1]}: {', '.join(g.label for g in gs)}"
                                           for label, gs in owned) or "(none)",
        "ownership_path_text": "; ".join(p for p in paths[2:2 + len(owned)]),
        "trusting_app_rank": trust_rank,
        "trusting_apps_text": "; ".join(f"{app!r} ({', '.join(g.label for g in gs)})" for app, _, gs in trusting)
        or "(none)",
        "trust_path_text": "; ".join(paths[2 + len(owned):]),
        "_privileged_names": tuple(names),
        "_privilege_paths": tuple(p for p in paths if p),
    }


# privilege_vars of an identity holding nothing (the same as the general case computes).
_NOTHING: dict[str, Any] = {
    "privilege_read": False, "graph_permission_tier": 2, "graph_permissions_text": "(none)", "graph_path_text": "",
    "directory_role_rank": 0, "directory_roles_text": "(none)", "directory_role_eligible_only": False,
    "directory_path_text": "", "owned_privileged_count": 0, "owned_privileged_text": "(none)",
    "ownership_path_text": "", "trusting_app_rank": 0, "trusting_apps_text": "(none)", "trust_path_text": "",
    "_privileged_names": (), "_privilege_paths": (),
}
