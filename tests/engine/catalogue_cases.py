"""Per-rule fixtures (``rules/tests/<RULE>.yaml``): the case format and how a case is evaluated.

A fixture file holds ``fires:`` and ``passes:`` lists (checkov's per-check pass/fail fixtures,
Sigma's regression data). A case is either an ``example:`` file of ``examples/credentials``
(evaluated like ``wifguard evaluate`` with the demo config) or a small description of one identity
built through the product's public constructors (``Credential.from_graph``/``from_arm``,
``RoleAssignment.from_arm``, the privilege model), optionally with a change event, the rest of the
tenant, outside-check answers and config overrides. Unknown keys are errors, so a typo cannot
turn a case into a vacuous pass.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from engine_helpers import (
    AKS_CLUSTER_ADMIN,
    APP_ID,
    AUD,
    AUTOMATION_CONTRIBUTOR,
    CONTRIBUTOR,
    GH,
    GOOD_GH_SUBJECT,
    KV_ADMIN,
    MG_SCOPE,
    MI_CONTRIBUTOR,
    OWNER,
    OWNER_USER,
    RBAC_ADMIN,
    READER,
    RESOURCE_SCOPE,
    RG_SCOPE,
    ROOT_MG_SCOPE,
    ROOT_SCOPE,
    SUB_SCOPE,
    UAA,
    UAMI_ID,
    arm_fic,
    change,
    ctx,
    engine,
    graph_fic,
    role,
    tenant,
)
from pydantic import BaseModel, ConfigDict, Field

from wifguard.catalogue.engine import Engine
from wifguard.config import load_config
from wifguard.domain.model import Actor, ChangeKind, Credential, IdentityKind, Owner, TrustContext
from wifguard.domain.privilege import (
    MICROSOFT_GRAPH_APP_ID,
    AppPermission,
    DirectoryRole,
    Holdings,
    Ownership,
    Privilege,
    TrustedBy,
)
from wifguard.offline.evaluate import evaluate_paths
from wifguard.package_data import data_file, examples_dir
from wifguard.sources.external.checks import ExternalFacts, cred_key
from wifguard.sources.external.facts import EXTERNAL_UNCHECKED

ROLES = {"Owner": OWNER, "Contributor": CONTRIBUTOR, "User Access Administrator": UAA,
         "Role Based Access Control Administrator": RBAC_ADMIN, "Managed Identity Contributor": MI_CONTRIBUTOR,
         "Key Vault Administrator": KV_ADMIN, "Azure Kubernetes Service Cluster Admin Role": AKS_CLUSTER_ADMIN,
         "Automation Contributor": AUTOMATION_CONTRIBUTOR, "Reader": READER}
SCOPES = {"resource": RESOURCE_SCOPE, "resource_group": RG_SCOPE, "subscription": SUB_SCOPE,
          "management_group": MG_SCOPE, "root": ROOT_SCOPE, "tenant_root_group": ROOT_MG_SCOPE}
GRAPH_SP = "90000000-0000-4000-8000-000000000001"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cred(_Strict):
    """A federated credential: Graph shape (app registration) unless ``shape: arm``."""

    name: str = "fic-1"
    issuer: str = GH
    subject: str | None = None
    expression: str | None = None
    audiences: tuple[str, ...] = (AUD,)
    description: str | None = "prod deploy from contoso/app, team platform"
    id: str | None = None
    shape: Literal["graph", "arm"] = "graph"

    def build(self, uami_id: str = UAMI_ID) -> Credential:
        subject = self.subject if self.subject is not None or self.expression is not None else GOOD_GH_SUBJECT
        if self.shape == "arm":
            return arm_fic(name=self.name, issuer=self.issuer, subject=subject, audiences=self.audiences,
                           expression=self.expression, uami_id=uami_id)
        return graph_fic(name=self.name, issuer=self.issuer, subject=subject, audiences=self.audiences,
                         description=self.description, expression=self.expression, id=self.id)


class Role(_Strict):
    role: str  # a name of ROLES or a role definition GUID
    scope: str = "subscription"  # a key of SCOPES or an ARM scope
    condition: str | None = None

    def build(self, principal: str) -> Any:
        return role(ROLES.get(self.role, self.role), SCOPES.get(self.scope, self.scope), self.condition,
                    principal=principal)


class Ident(_Strict):
    kind: Literal["application", "managedIdentity"] = "application"
    name: str | None = None
    id: str | None = None
    principal_id: str | None = None
    owners: int | None = 1  # how many owners (None: unknown, as when Graph could not be read)


class Grants(_Strict):
    """Graph-side privilege: application permissions (Microsoft Graph values) and directory roles."""

    app_permissions: tuple[str, ...] = ()
    directory_roles: tuple[DirRole, ...] = ()
    roles: tuple[Role, ...] = ()

    def holdings(self, principal: str, name: str, kind: str) -> Holdings:
        return Holdings(principal, name, kind, self._perms(), self._dirs(),
                        tuple(r.build(principal) for r in self.roles))

    def _perms(self) -> tuple[AppPermission, ...]:
        return tuple(AppPermission(f"ara-{v}", "0000", v, v, GRAPH_SP, MICROSOFT_GRAPH_APP_ID, "Microsoft Graph")
                     for v in self.app_permissions)

    def _dirs(self) -> tuple[DirectoryRole, ...]:
        return tuple(DirectoryRole(f"dra-{d.template}", d.template, d.name, d.scope, d.eligible)
                     for d in self.directory_roles)


class DirRole(_Strict):
    name: str
    template: str
    scope: str = "/"
    eligible: bool = False


class Priv(Grants):
    owns: tuple[Grants, ...] = ()  # apps this identity owns, with what they hold
    trusted_by: tuple[Grants, ...] = ()  # apps that trust this managed identity, with what they hold

    def build(self, home: str) -> Privilege:
        owns = tuple(Ownership(f"a0000000-0000-4000-8000-00000000010{i}", "application", f"owned-app-{i}",
                               g.holdings(f"91000000-0000-4000-8000-00000000010{i}", f"owned-app-{i}", "application"))
                     for i, g in enumerate(self.owns))
        trusted = tuple(TrustedBy(f"a0000000-0000-4000-8000-00000000020{i}", f"trusting-app-{i}", "mi-trust",
                                  f"https://login.microsoftonline.com/{home}/v2.0",
                                  f"b0000000-0000-4000-8000-00000000020{i}",
                                  g.holdings(f"91000000-0000-4000-8000-00000000020{i}", f"trusting-app-{i}",
                                             "application"))
                        for i, g in enumerate(self.trusted_by))
        return Privilege(app_permissions=self._perms(), directory_roles=self._dirs(), owns=owns, trusted_by=trusted)


class ActorSpec(_Strict):
    kind: Literal["user", "app"]
    id: str | None = None
    display_name: str | None = None
    upn: str | None = None
    app_id: str | None = None


class ChangeSpec(_Strict):
    """A change event; ``old``/``new`` default to nothing, ``new: live`` is the identity's first credential."""

    kind: ChangeKind
    old: Cred | None = None
    new: Cred | Literal["live"] | None = None
    actor: ActorSpec | None = None
    actor_is_owner: bool = False  # the actor is the identity's first owner
    quarantined_backup: str | None = None
    lifetime_minutes: float | None = None


class Other(_Strict):
    """Another identity of the tenant (tenant-wide rules)."""

    identity: Ident = Field(default_factory=Ident)
    credentials: tuple[Cred, ...] = ()


class Case(_Strict):
    case: str | None = None  # what the case shows (required unless it is an example file)
    example: str | None = None  # a file of examples/credentials, evaluated with the demo config
    severity: str | None = None  # expected severity (fires cases)
    config: dict[str, Any] = Field(default_factory=dict)
    identity: Ident = Field(default_factory=Ident)
    credentials: tuple[Cred, ...] = ()
    credential: Cred | None = None
    roles: tuple[Role, ...] = ()
    privilege: Priv | None = None
    change: ChangeSpec | None = None
    tenant: tuple[Other, ...] | None = None  # present: tenant-wide rules run (sweep)
    external: dict[str, Any] | None = None  # outside-check answers for the first credential

    @property
    def label(self) -> str:
        return self.case or f"example {self.example}"


Grants.model_rebuild()
Priv.model_rebuild()


class Fixture(_Strict):
    fires: tuple[Case, ...] = ()
    passes: tuple[Case, ...] = ()


def fixtures_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "rules" / "tests"


def load_fixture(path: Path) -> Fixture:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fx = Fixture.model_validate(data)
    for c in (*fx.fires, *fx.passes):
        if (c.example is None) == (c.case is None):
            raise ValueError(f"{path}: a case has either 'case' (a description) or 'example' (a file), not both")
    return fx


def _context(c: Case, home: str) -> TrustContext:
    kind = IdentityKind(c.identity.kind)
    ident_id = c.identity.id or (APP_ID if kind is IdentityKind.APPLICATION else UAMI_ID)
    creds = tuple(x.build(ident_id) for x in (*((c.credential,) if c.credential else ()), *c.credentials))
    owners = None if c.identity.owners is None else tuple(
        OWNER_USER if i == 0 else Owner(f"7a7a7a7a-0000-4000-8000-00000000000{i + 1}", f"Owner {i + 1}")
        for i in range(c.identity.owners))
    principal = c.identity.principal_id or ident_id
    context = ctx(creds, [r.build(principal) for r in c.roles], owners=owners, kind=kind, ident_id=ident_id,
                  name=c.identity.name, principal_id=c.identity.principal_id)
    if c.privilege is not None:
        context = dataclasses.replace(context, privilege=c.privilege.build(home))
    return context


def _change(c: Case, context: TrustContext) -> Any:
    s = c.change
    assert s is not None
    new = context.credentials[0] if s.new == "live" else (s.new.build() if isinstance(s.new, Cred) else None)
    actor = None
    if s.actor_is_owner:
        actor = Actor("user", OWNER_USER.id, OWNER_USER.display_name, OWNER_USER.user_principal_name)
    elif s.actor is not None:
        a = s.actor
        actor = Actor(a.kind, a.id, a.display_name, a.upn, a.app_id)
    ch = change(s.kind, old=s.old.build() if s.old else None, new=new, actor=actor,
                identity_id=context.identity.id)
    if s.quarantined_backup is not None:
        ch = dataclasses.replace(ch, quarantined_backup=s.quarantined_backup)
    if s.lifetime_minutes is not None:
        ch = dataclasses.replace(ch, evidence={"credentialLifetimeMinutes": s.lifetime_minutes})
    return ch


@cache
def _demo_engine() -> Engine:
    return Engine(load_config(data_file("demo-config.yaml")))


def evaluate_case(c: Case) -> list[tuple[str, str, str]]:
    """(rule id, severity, message) of every finding the case produces."""
    if c.example is not None:
        result = evaluate_paths(_demo_engine(), [examples_dir() / c.example])
        assert result.errors == [], result.errors
        return [(f.rule_id, f.severity.label, f.message) for f, _ in result.located]
    eng = engine(**c.config)
    home = eng.config.home_tenant_id or ""
    context = _context(c, home)
    kwargs: dict[str, Any] = {}
    if c.change is not None:
        kwargs["change"] = _change(c, context)
    if c.tenant is not None:
        others = [_context(Case(case="other", identity=o.identity, credentials=o.credentials), home)
                  for o in c.tenant]
        kwargs["tenant"] = tenant(context, *others)
    if c.external is not None:
        unknown = set(c.external) - set(EXTERNAL_UNCHECKED)
        assert not unknown, f"external: unknown fields {sorted(unknown)}"
        facts = ExternalFacts()
        facts.by_key[cred_key(context.credentials[0])] = ({**EXTERNAL_UNCHECKED, "checked": True, **c.external}, ())
        kwargs["external"] = facts
    ev = eng.evaluate(context, **kwargs)
    assert not ev.errors, ev.errors
    return [(f.rule_id, f.severity.label, f.message) for f in ev.findings]
