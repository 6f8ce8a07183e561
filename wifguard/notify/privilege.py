"""What an identity can do, reduced to what an owner needs first: its strongest privilege.

A card, a Slack message and the report all lead with one line, the trust path in words
(issuer → subject → identity → strongest privilege @ scope). The privilege part comes from
*privilege sources*: functions from a :class:`TrustContext` to :class:`Privilege` values. Azure
RBAC role assignments are the source that exists today; Graph application permissions and Entra
roles register their own source with :func:`register_source` and slot in without touching the
composers, because privileges only compare by ``rank``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from wifguard.domain.model import ScopeLevel, TrustContext, scope_level
from wifguard.domain.roles import role_facts

# Rank tiers: what holding the privilege lets an attacker do next.
TIER_GRANT = 4  # can grant itself (or anyone) more: role-assignment writes, access admins
TIER_CONTROL = 3  # full control of what is in scope (Owner-like "*", Contributor)
TIER_PRIVILEGED = 2  # privileged by definition or config (credential writes, listed roles)
TIER_OTHER = 1  # any other assignment

TENANT_SCOPE = "tenant"


@dataclass(frozen=True, slots=True)
class Privilege:
    """One thing an identity holds. ``scope`` is the raw scope (an ARM scope, or ``tenant``)."""

    name: str
    scope: str
    tier: int
    level: int  # scope breadth, ScopeLevel values (root = widest); tenant-wide sources use ROOT
    source: str = "azure-rbac"  # azure-rbac | graph-permission | entra-role | ...

    @property
    def rank(self) -> tuple[int, int]:
        return (self.tier, self.level)

    @property
    def scope_words(self) -> str:
        return scope_words(self.scope)

    def words(self) -> str:
        return f"{self.name} @ {self.scope_words}"


PrivilegeSource = Callable[[TrustContext, frozenset[str]], Iterable[Privilege]]
_SOURCES: dict[str, PrivilegeSource] = {}


def register_source(name: str) -> Callable[[PrivilegeSource], PrivilegeSource]:
    """Decorator: a function ``(ctx, privileged_role_ids) -> privileges`` becomes a source."""

    def deco(fn: PrivilegeSource) -> PrivilegeSource:
        _SOURCES[name] = fn
        return fn

    return deco


@register_source("azure-rbac")
def azure_role_privileges(ctx: TrustContext, privileged_roles: frozenset[str]) -> Iterable[Privilege]:
    roots = frozenset({ctx.tenant_id}) if ctx.tenant_id else frozenset()
    for ra in ctx.role_assignments:
        rf = role_facts(ra.role_guid, ctx.role_definitions, privileged_roles)
        if rf.can_write_role_assignments or rf.access_admin:
            tier = TIER_GRANT
        elif rf.privileged and rf.name in ("Owner", "Contributor"):
            tier = TIER_CONTROL
        elif rf.privileged:
            tier = TIER_PRIVILEGED
        else:
            tier = TIER_OTHER
        yield Privilege(rf.name, ra.scope, tier, int(scope_level(ra.scope, roots)))


@lru_cache(maxsize=1)
def _tiering() -> Any:
    from wifguard.sources.privilege.tiering import shipped_tiering

    return shipped_tiering()


def _from_tier(t: int) -> int:
    """The shipped tiering's Tier 0/1/2 (0 = control plane) as this module's rank tiers."""
    return TIER_GRANT if t == 0 else TIER_CONTROL if t == 1 else TIER_OTHER


@register_source("entra")
def entra_privileges(ctx: TrustContext, privileged_roles: frozenset[str]) -> Iterable[Privilege]:
    """Graph application permissions and Entra directory roles (when the sweep read them)."""
    held = ctx.privilege
    if held is None:
        return
    from wifguard.sources.privilege.facts import permission_tier

    tiering = _tiering()
    for perm in held.app_permissions:
        yield Privilege(perm.value or perm.display_name or perm.app_role_id, TENANT_SCOPE,
                        _from_tier(permission_tier(perm, tiering)), int(ScopeLevel.ROOT), "graph-permission")
    for role in held.directory_roles:
        tier = _from_tier(tiering.directory_role(role.role_id, role.name))
        if role.eligible and tier > TIER_OTHER:
            tier -= 1  # eligible: one activation away
        whole = role.scope in ("", "/")
        name = (role.name or role.role_id) + (" (eligible)" if role.eligible else "")
        yield Privilege(name, TENANT_SCOPE if whole else f"directory scope {role.scope}", tier,
                        int(ScopeLevel.ROOT if whole else ScopeLevel.MANAGEMENT_GROUP), "entra-role")


def privileges_of(ctx: TrustContext, privileged_roles: frozenset[str] = frozenset()) -> tuple[Privilege, ...]:
    """Every privilege the registered sources know, strongest first (ties: by name)."""
    out: list[Privilege] = []
    for source in _SOURCES.values():
        out += list(source(ctx, privileged_roles))
    return tuple(sorted(out, key=lambda p: (-p.tier, -p.level, p.name.lower(), p.scope.lower())))


def strongest(privileges: Iterable[Privilege]) -> Privilege | None:
    best: Privilege | None = None
    for p in privileges:
        if best is None or p.rank > best.rank:
            best = p
    return best


def from_role_assignment(ref: Mapping[str, str] | None) -> Privilege | None:
    """The privilege a finding's ``role_assignment`` names (when the context is not at hand)."""
    if not ref or not ref.get("role"):
        return None
    scope = ref.get("scope") or ""
    return Privilege(str(ref.get("role")), scope, TIER_OTHER, int(scope_level(scope)))


def _seg_after(parts: list[str], key: str) -> str:
    low = [p.lower() for p in parts]
    if key in low:
        i = low.index(key)
        if i + 1 < len(parts):
            return parts[i + 1]
    return ""


def scope_words(scope: str) -> str:
    """An ARM scope as a reader says it: "subscription 1111…", "resource group rg-ci", ..."""
    if scope == TENANT_SCOPE:
        return "the whole tenant"
    if scope.startswith("directory scope "):
        return scope
    parts = [p for p in scope.strip().split("/") if p]
    level = scope_level(scope)
    if level is ScopeLevel.ROOT:
        return "the tenant root"
    if level is ScopeLevel.MANAGEMENT_GROUP:
        return f"management group {_seg_after(parts, 'managementgroups')}"
    sub = _seg_after(parts, "subscriptions")
    if level is ScopeLevel.SUBSCRIPTION:
        return f"subscription {sub}"
    if level is ScopeLevel.RESOURCE_GROUP:
        return f"resource group {_seg_after(parts, 'resourcegroups')}"
    return f"resource {parts[-1]}" if parts else "an unknown scope"
