"""The variables a rule condition sees, built from a trust context.

Each variable is a flat mapping of plain values (str, bool, int, tuples of str). Parsing is
cached per distinct issuer / subject / expression, so a tenant where thousands of credentials
share an issuer parses it once. Every field is declared (type, description, targets) by its
fact provider in ``wifguard.catalogue.facts.providers``; providers registered outside the fast path are
merged here (``registry.extensions``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from wifguard.catalogue.facts.registry import registry
from wifguard.config import Config
from wifguard.domain import flexible, issuers, subjects
from wifguard.domain.model import (
    Change,
    ChangeKind,
    Credential,
    IdentityKind,
    Owner,
    RoleAssignment,
    ScopeLevel,
    TrustContext,
    scope_level,
)
from wifguard.domain.roles import RoleFacts, role_facts
from wifguard.sources.privilege.facts import privilege_vars


class Quoted:
    """Message text for a list of values, built only if a message is rendered (format_map)."""

    __slots__ = ("empty", "values")

    def __init__(self, values: Iterable[str], empty: str = "(none)") -> None:
        self.values = values
        self.empty = empty

    def __format__(self, spec: str) -> str:
        return ", ".join(repr(v) for v in self.values) or self.empty

    __str__ = __repr__ = lambda self: self.__format__("")


GLOB_CHARS = frozenset("*?")
KNOWN_PROVIDERS = frozenset({"github", "gitlab", "terraform", "aks", "azure_devops"})
Vars = dict[str, Any]


class ConfigFacts:
    """Config-derived values and matchers, built once per engine."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.matcher = issuers.IssuerMatcher(config.resolved_issuers())
        self.home_tenant = (config.home_tenant_id or "").lower()
        from wifguard.sources.privilege.tiering import shipped_tiering

        self.tiering = shipped_tiering().with_overrides(config.privilege.model_dump())
        # Azure roles of tier 0/1 count as privileged like the configured list (a config may
        # lower a shipped role to tier 2; the explicit privileged_roles list always wins).
        self.privileged_roles = frozenset(g.lower() for g in config.privileged_roles) | \
            self.tiering.privileged_azure_roles()
        self.root_scopes = config.root_scopes()
        self.approved = frozenset(a.lower() for a in config.approved_actors)
        self.vars: Vars = {
            "home_tenant_id": self.home_tenant,
            "allowed_audiences": tuple(config.allowed_audiences),
            "github_allowed_owners": tuple(o.lower() for o in config.github.allowed_owners),
            "azure_devops_allowed_organizations": tuple(o.lower() for o in config.azure_devops.allowed_organizations),
            "gitlab_allowed_groups": tuple(g.lower().strip("/") for g in config.gitlab.allowed_groups),
            "terraform_cloud_allowed_organizations": tuple(
                o.lower() for o in config.terraform_cloud.allowed_organizations),
            "kubernetes_disallowed_namespaces": tuple(config.kubernetes.disallowed_namespaces),
            "kubernetes_disallowed_service_accounts": tuple(config.kubernetes.disallowed_service_accounts),
            "approved_actors": tuple(sorted(self.approved)),
            "add_remove_window_minutes": config.add_remove_window_minutes,
            "allowed_audiences_text": ", ".join(repr(a) for a in config.allowed_audiences) or "(none)",
            "home_tenant_label": repr(self.home_tenant) if self.home_tenant else "home_tenant_id is not configured",
        }
        self._issuer = lru_cache(maxsize=65536)(self._issuer_vars)

    def _issuer_vars(self, issuer: str) -> Vars:
        info = issuers.classify(issuer)
        allowed, exact = self.matcher.match(issuer)
        foreign_cluster = bool(self.home_tenant and info.cluster_tenant and info.cluster_tenant != self.home_tenant)
        return {
            "cluster_tenant": info.cluster_tenant,
            "cluster_kind": {"aks": "AKS", "arc": "Azure Arc"}.get(info.cluster_host, ""),
            # A Microsoft-hosted AKS/Arc issuer of another tenant's cluster (WIF107).
            "foreign_cluster": foreign_cluster,
            "value": issuer,
            "allowed": allowed,
            "listed_exactly": exact,
            "hosting": info.hosting,
            "well_formed": not info.problems,
            "problems": info.problems,
            "problem": "; ".join(info.problems),
            "provider": info.provider,
            "known_provider": info.provider in KNOWN_PROVIDERS,
            "host": info.host,
            "entra": info.provider == "entra",
            "entra_tenant": info.entra_tenant,
            "home_tenant": bool(info.entra_tenant) and info.entra_tenant == self.home_tenant,
            "github": info.provider == "github",
        }

    def issuer(self, issuer: str) -> Vars:
        return self._issuer(issuer)


@lru_cache(maxsize=131072)
def subject_vars(subject: str | None, provider: str) -> Vars:
    s = subjects.parse_subject(subject, provider)
    globs = "".join(sorted({ch for ch in (subject or "") if ch in GLOB_CHARS}))
    matches = subjects.matches_provider(s, provider) if subject else True
    if globs:
        problem = (f"which contains the glob character(s) {globs!r}: Entra compares subjects exactly, so it "
                   "matches no real token")
    else:
        problem = f"which is not a subject format that {provider} issues"
    return {
        "value": subject or "",
        "glob": bool(globs),
        "format_problem": problem,
        "format": s.format,
        "matches_provider": matches,
        "owner": s.owner,
        "owner_lc": s.owner.lower(),
        "repo": s.repo,
        "has_repo": s.has_repo,
        "context": s.context,
        "context_value": s.context_value,
        "immutable": s.immutable,
        "name_based": s.name_based,
        "namespace": s.namespace,
        "service_account": s.service_account,
        "organization": s.organization,
        "organization_lc": s.organization.lower(),
        "repo_lc": s.repo.lower(),
        "project": s.project,
        "workspace": s.workspace,
        "run_phase": s.run_phase,
        "run_phase_label": f"run phase {s.run_phase!r}" if s.run_phase else "every run phase",
        "repository": f"{s.owner}/{s.repo}" if s.repo else s.owner,
        "owner_label": repr(s.owner) if s.owner else "(none in the subject)",
    }


@lru_cache(maxsize=16384)
def flex_vars(expression: str | None, provider: str) -> Vars:
    if expression is None:
        return {"present": False, "valid": False, "wildcard_owner": False, "wildcard_repo": False,
                "gitlab": False, "constrains_ids": False, "patterns": (), "error": "",
                "can_pull_request": False, "can_branch_or_tag": False, "can_plan": False,
                "github_owners_lc": (), "gitlab_paths_lc": (), "tfc_organizations_lc": ()}
    f = flexible.analyse(expression, provider)
    return {
        "present": True,
        "valid": f.valid,
        "wildcard_owner": f.wildcard_owner,
        "wildcard_repo": f.wildcard_repo,
        "gitlab": f.gitlab,
        "constrains_ids": f.constrains_ids,
        "patterns": f.subject_patterns,
        "error": f.error,
        # What the expression can match (WIF202/WIF203/WIF207 for flexible credentials).
        "can_pull_request": "pull_request" in f.reaches,
        "can_branch_or_tag": bool({"branch", "tag"} & f.reaches),
        "can_plan": "plan" in f.reaches,
        # Owners the expression names (WIF201/WIF210/WIF211 for flexible credentials).
        "github_owners_lc": tuple(o.lower() for o in f.github_owners),
        "gitlab_paths_lc": tuple(p.lower() for p in f.gitlab_paths),
        "tfc_organizations_lc": tuple(o.lower() for o in f.tfc_organizations),
    }


def credential_vars(c: Credential) -> Vars:
    desc = c.description or ""
    out: Vars = {
        "name": c.name,
        "issuer": c.issuer,
        "subject": c.subject or "",
        "has_subject": bool(c.subject),
        "audiences": c.audiences,
        "audience_count": len(c.audiences),
        "audiences_text": Quoted(c.audiences),
        "description": desc,
        "has_description": bool(desc.strip()),
        "flexible": c.claims_matching_expression is not None,
        "expression": c.claims_matching_expression.value if c.claims_matching_expression else "",
        "shape": c.shape,
        # What the credential trusts, for messages shared by fixed and flexible credentials.
        "trust_text": f"expression {c.claims_matching_expression.value!r}" if c.claims_matching_expression
        else f"subject {c.subject!r}",
    }
    for build in registry.extensions("credential"):
        out.update(build(c))
    return out


@dataclass(frozen=True)
class RoleView:
    assignment: RoleAssignment
    facts: RoleFacts
    level: ScopeLevel


@dataclass
class IdentityView:
    """Identity-level facts plus per-assignment role facts, computed once per evaluation."""

    vars: Vars
    roles: list[RoleView] = field(default_factory=list)
    ref: dict[str, str] = field(default_factory=dict)  # the finding's `identity` value, built once
    evidence: dict[str, Any] = field(default_factory=dict)  # privilege paths, for privilege findings


def identity_view(ctx: TrustContext, cf: ConfigFacts) -> IdentityView:
    privileged_roles = cf.privileged_roles
    roots = cf.root_scopes | {ctx.tenant_id} if ctx.tenant_id else cf.root_scopes
    views: list[RoleView] = []
    for ra in ctx.role_assignments:
        rf = role_facts(ra.role_guid, ctx.role_definitions, privileged_roles)
        views.append(RoleView(ra, rf, scope_level(ra.scope, roots)))
    priv = [v for v in views if v.facts.privileged]
    max_level = max((int(v.level) for v in priv), default=-1)
    pv = privilege_vars(ctx, cf.tiering, privileged_roles, frozenset(roots))
    other_names: tuple[str, ...] = pv.pop("_privileged_names")
    paths: tuple[str, ...] = pv.pop("_privilege_paths")
    role_names = sorted({v.facts.name for v in priv})
    all_names = role_names + [n for n in other_names if n not in role_names]
    owners: tuple[Owner, ...] | None = ctx.owners
    ident = ctx.identity
    vars_: Vars = {
        "id": ident.id,
        "name": ident.name,
        "kind": ident.kind.value,
        # What it is, for messages: agent identity blueprints are applications of a derived type.
        "kind_label": {"agentIdentityBlueprint": "agent identity blueprint"}.get(ident.subtype or "", "")
        or ("app registration" if ident.kind is IdentityKind.APPLICATION else "managed identity"),
        "application": ident.kind is IdentityKind.APPLICATION,
        "managed_identity": ident.kind is IdentityKind.MANAGED_IDENTITY,
        "credential_count": len(ctx.credentials),
        "federated": len(ctx.credentials) > 0,
        "owners_known": owners is not None,
        "owner_count": len(owners) if owners is not None else -1,
        # Every source counts: Azure roles, Graph permissions, Entra roles, ownership, trust chains.
        "privileged": bool(all_names),
        "privileged_level": max_level,
        "privileged_level_name": ScopeLevel(max_level).label if max_level >= 0 else "",
        "privileged_roles": tuple(all_names),
        "privileged_roles_text": ", ".join(all_names) or "no privileged role",
        "role_count": len(views),
        **pv,
    }
    for build in registry.extensions("identity"):
        vars_.update(build(ctx, cf))
    return IdentityView(vars_, views, ident.to_ref(), {"privilege_paths": list(paths)} if paths else {})


def role_vars(v: RoleView) -> Vars:
    ra = v.assignment
    return {
        "id": ra.id,
        "guid": v.facts.guid,
        "name": v.facts.name,
        "scope": ra.scope,
        "level": int(v.level),
        "level_name": v.level.label,
        "privileged": v.facts.privileged,
        "access_admin": v.facts.access_admin,
        "has_condition": bool((ra.condition or "").strip()),
        "can_write_credentials": v.facts.can_write_credentials,
        "can_write_role_assignments": v.facts.can_write_role_assignments,
        "principal_type": ra.principal_type or "",
        "write_kind": "write federated credentials" if v.facts.can_write_credentials else "write role assignments",
        # WIF605 folds into WIF601/WIF603/WIF604: their message says it instead.
        "write_note": (f"; it can also {'write federated credentials' if v.facts.can_write_credentials else ''}"
                       f"{' and ' if v.facts.can_write_credentials and v.facts.can_write_role_assignments else ''}"
                       f"{'write role assignments' if v.facts.can_write_role_assignments else ''}"
                       ", so it can persist or escalate")
        if (v.facts.can_write_credentials or v.facts.can_write_role_assignments) else "",
    }


def change_vars(change: Change, owners: tuple[Owner, ...] | None, cf: ConfigFacts) -> Vars:
    a = change.actor
    ids = {x.lower() for x in (a.id, a.user_principal_name, a.app_id) if x} if a else set()
    owner_keys: set[str] = set()
    for o in owners or ():
        owner_keys |= {x.lower() for x in (o.id, o.user_principal_name, o.mail) if x}
    old, new = change.old_credential, change.new_credential
    out: Vars = {
        "kind": change.kind.value,
        "source": change.source,
        # Removals cannot grant access (and quarantine itself removes credentials).
        "credential_change": change.kind
        in {ChangeKind.CREDENTIAL_ADDED, ChangeKind.CREDENTIAL_CHANGED, ChangeKind.CREDENTIAL_WRITTEN},
        "removal": change.kind is ChangeKind.CREDENTIAL_REMOVED,
        "actor_known": a is not None,
        "actor_kind": a.kind if a else "",
        "actor_id": (a.id or "") if a else "",
        "actor_name": (a.display_name or "") if a else "",
        "actor_upn": (a.user_principal_name or "") if a else "",
        "actor_app_id": (a.app_id or "") if a else "",
        "actor_display": repr(a.user_principal_name or a.display_name or a.app_id or a.id or "unknown")
        if a else "an unknown actor",
        "actor_is_owner": bool(ids & owner_keys),
        "actor_approved": bool(ids & cf.approved),
        "owners_known": owners is not None,
        "old_issuer": old.issuer if old else "",
        "new_issuer": new.issuer if new else "",
        # The same credential (same Id, else same name) now trusting another issuer.
        "issuer_changed": bool(old and new and old.issuer != new.issuer and (
            (old.id is not None and new.id is not None and old.id.lower() == new.id.lower())
            or ((old.id is None or new.id is None) and old.name.lower() == new.name.lower()))),
        "time": change.time or "",
        "readded_after_quarantine": bool(change.quarantined_backup),
        "quarantine_backup": change.quarantined_backup or "",
        **lifetime_vars(change),
    }
    for build in registry.extensions("change"):
        out.update(build(change, owners, cf))
    return out


def lifetime_vars(change: Change) -> Vars:
    """WIF703: seconds between the credential's addition and removal (audit trail), -1 unknown."""
    return {"lifetime_seconds": _lifetime_seconds(change), "lifetime_text": _lifetime_text(change)}


def _lifetime_seconds(change: Change) -> int:
    v = change.evidence.get("credentialLifetimeMinutes")
    return round(float(v) * 60) if isinstance(v, int | float) else -1


def _lifetime_text(change: Change) -> str:
    secs = _lifetime_seconds(change)
    if secs < 0:
        return "an unknown time"
    return f"{secs} seconds" if secs < 120 else f"{secs / 60:.0f} minutes"


@dataclass(frozen=True)
class TenantIndex:
    """Tenant-wide facts for tenant rules (WIF503, WIF106), built by a sweep."""

    pair_identities: Mapping[tuple[str, str], frozenset[str]]
    uami_principal_ids: frozenset[str]

    @classmethod
    def build(cls, contexts: list[TrustContext]) -> TenantIndex:
        pairs: dict[tuple[str, str], set[str]] = {}
        principals: set[str] = set()
        for ctx in contexts:
            if ctx.identity.kind is IdentityKind.MANAGED_IDENTITY and ctx.identity.principal_id:
                principals.add(ctx.identity.principal_id.lower())
            for c in ctx.credentials:
                if c.subject:
                    pairs.setdefault((c.issuer, c.subject), set()).add(ctx.identity.id)
        return cls({k: frozenset(v) for k, v in pairs.items()}, frozenset(principals))

    def vars(self, ctx: TrustContext, c: Credential) -> Vars:
        others = self.pair_identities.get((c.issuer, c.subject or ""), frozenset())
        rest = tuple(sorted(others - {ctx.identity.id})) if len(others) > 1 else ()
        return {
            "available": True,
            "pair_identity_count": len(rest) + 1 if c.subject else 0,
            "pair_identities": rest,
            "pair_identities_text": Quoted(rest),
            "subject_is_known_uami": (c.subject or "").lower() in self.uami_principal_ids,
        }
