"""WIF606-WIF609: Graph application permissions, Entra directory roles, ownership and managed
identities trusted by privileged apps; `identity.privileged` counting every source."""

from __future__ import annotations

from dataclasses import replace

import pytest
from engine_helpers import (
    CONTRIBUTOR,
    HOME,
    READER,
    SUB_SCOPE,
    ctx,
    engine,
    evaluate,
    graph_fic,
    one,
    role,
    rule_ids,
    uami_ctx,
)

from wifguard.domain.model import TrustContext
from wifguard.domain.privilege import (
    MICROSOFT_GRAPH_APP_ID,
    AppPermission,
    DirectoryRole,
    Holdings,
    Ownership,
    Privilege,
    TrustedBy,
)

GRAPH_SP = "90000000-0000-4000-8000-000000000001"
GA = "62e90394-69f5-4237-9190-012177145e10"
PRA = "e8611ab8-c189-46e8-94e1-60213ab1f814"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
NEW = {"WIF606", "WIF607", "WIF608", "WIF609"}


def perm(value: str, *, resource_app: str = MICROSOFT_GRAPH_APP_ID, resource: str = "Microsoft Graph") -> AppPermission:
    return AppPermission(f"ara-{value}", "0000", value, value, GRAPH_SP, resource_app, resource)


def drole(template: str, name: str, scope: str = "/", eligible: bool = False) -> DirectoryRole:
    return DirectoryRole(f"dra-{template}", template, name, scope, eligible)


def with_priv(c: TrustContext, **kw: object) -> TrustContext:
    return replace(c, privilege=Privilege(**kw))  # type: ignore[arg-type]


def app(**kw: object) -> TrustContext:
    return with_priv(ctx(graph_fic()), **kw)


# -- WIF606 -----------------------------------------------------------------------------------
def test_wif606_tier0_permission_is_critical_and_names_the_path() -> None:
    f = one(evaluate(app(app_permissions=(perm("RoleManagement.ReadWrite.Directory"),))), "WIF606")
    assert f.severity.label == "critical"
    assert "'RoleManagement.ReadWrite.Directory' (Tier 0, Microsoft Graph" in f.message
    assert "issuer 'https://token.actions.githubusercontent.com' → credential" in f.message
    assert f.evidence["privilege_paths"]


def test_wif606_tier1_permission_is_high() -> None:
    f = one(evaluate(app(app_permissions=(perm("Sites.ReadWrite.All"),))), "WIF606")
    assert f.severity.label == "high"


@pytest.mark.parametrize("p", [
    perm("User.Read.All"),  # tier 2
    perm("Orders.ReadWrite", resource_app="c0000000-0000-4000-8000-0000000000b2", resource="Contoso Orders API"),
    perm("RoleManagement.ReadWrite.Directory", resource_app="c0000000-0000-4000-8000-0000000000b2",
         resource="Look-alike API"),  # same value on a line-of-business API
])
def test_wif606_near_misses(p: AppPermission) -> None:
    ev = evaluate(app(app_permissions=(p,)))
    assert not NEW & rule_ids(ev)
    assert "WIF601" not in rule_ids(ev)


def test_wif606_needs_a_federated_identity() -> None:
    assert "WIF606" not in rule_ids(evaluate(with_priv(ctx(()), app_permissions=(perm("Directory.ReadWrite.All"),))))


def test_wif606_config_override_lowers_and_raises_tiers() -> None:
    c = app(app_permissions=(perm("RoleManagement.ReadWrite.Directory"), perm("User.Read.All")))
    ev = evaluate(c, engine(privilege={"graph_permissions": {"RoleManagement.ReadWrite.Directory": 2,
                                                              "User.Read.All": 1}}))
    assert one(ev, "WIF606").severity.label == "high"
    assert "User.Read.All" in one(ev, "WIF606").message


# -- WIF607 -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("r", "severity"), [
    (drole(GA, "Global Administrator"), "critical"),
    (drole(PRA, "Privileged Role Administrator", "/administrativeUnits/au1"), "high"),
    (drole(GLOBAL_READER, "Global Reader"), "high"),
    (drole(GA, "Global Administrator", eligible=True), "high"),
    (drole(GLOBAL_READER, "Global Reader", eligible=True), "medium"),
])
def test_wif607_severity(r: DirectoryRole, severity: str) -> None:
    f = one(evaluate(app(directory_roles=(r,))), "WIF607")
    assert f.severity.label == severity
    assert r.name in f.message
    assert ("eligible" if r.eligible else "active") in f.message


def test_wif607_near_miss_unprivileged_role_and_custom_role() -> None:
    ev = evaluate(app(directory_roles=(drole(DIRECTORY_READERS, "Directory Readers"),
                                       drole("c0ffee00-0000-4000-8000-000000000001", "Contoso Helpdesk"))))
    assert not NEW & rule_ids(ev)


def test_wif607_custom_role_tiered_in_config() -> None:
    c = app(directory_roles=(drole("c0ffee00-0000-4000-8000-000000000001", "Contoso Helpdesk"),))
    ev = evaluate(c, engine(privilege={"directory_roles": {"Contoso Helpdesk": 0}}))
    assert one(ev, "WIF607").severity.label == "critical"


# -- WIF608 -----------------------------------------------------------------------------------
def owned(**holdings: object) -> Ownership:
    return Ownership("a0000000-0000-4000-8000-000000000004", "application", "tier0-app",
                     Holdings("91000000-0000-4000-8000-000000000004", "tier0-app", "application", **holdings))  # type: ignore[arg-type]


def test_wif608_owns_a_tier0_app() -> None:
    f = one(evaluate(app(owns=(owned(app_permissions=(perm("Application.ReadWrite.All"),)),))), "WIF608")
    assert f.severity.label == "high"
    assert "tier0-app" in f.message and "Application.ReadWrite.All" in f.message


def test_wif608_owned_app_privileged_by_azure_role() -> None:
    o = owned(role_assignments=(role(CONTRIBUTOR, SUB_SCOPE, principal="91000000-0000-4000-8000-000000000004"),))
    f = one(evaluate(app(owns=(o,))), "WIF608")
    assert "Contributor" in f.message


def test_wif608_near_miss_owns_an_unprivileged_app() -> None:
    o = owned(app_permissions=(perm("User.Read.All"),),
              role_assignments=(role(READER, SUB_SCOPE, principal="91000000-0000-4000-8000-000000000004"),))
    assert not NEW & rule_ids(evaluate(app(owns=(o,))))


# -- WIF609 -----------------------------------------------------------------------------------
def trusted(**holdings: object) -> TrustedBy:
    return TrustedBy("a0000000-0000-4000-8000-000000000005", "ga-app", "mi-trust",
                     f"https://login.microsoftonline.com/{HOME}/v2.0", "b0000000-0000-4000-8000-000000000001",
                     Holdings("91000000-0000-4000-8000-000000000005", "ga-app", "application", **holdings))  # type: ignore[arg-type]


def test_wif609_mi_trusted_by_global_admin_app_is_critical_even_without_credentials() -> None:
    c = with_priv(uami_ctx(), trusted_by=(trusted(directory_roles=(drole(GA, "Global Administrator"),)),))
    f = one(evaluate(c), "WIF609")
    assert f.severity.label == "critical"
    assert "'ga-app'" in f.message and "Global Administrator" in f.message and "mi-trust" in f.message


def test_wif609_severity_follows_the_app_privilege() -> None:
    c = with_priv(uami_ctx(), trusted_by=(trusted(app_permissions=(perm("Mail.ReadWrite"),)),))
    assert one(evaluate(c), "WIF609").severity.label == "high"


def test_wif609_near_miss_unprivileged_app() -> None:
    c = with_priv(uami_ctx(), trusted_by=(trusted(app_permissions=(perm("User.Read.All"),)),))
    assert not NEW & rule_ids(evaluate(c))


# -- identity.privileged counts every source ------------------------------------------------
@pytest.mark.parametrize("kw", [
    {"app_permissions": (perm("AppRoleAssignment.ReadWrite.All"),)},
    {"directory_roles": (drole(GA, "Global Administrator", eligible=True),)},
    {"owns": (owned(directory_roles=(drole(GA, "Global Administrator"),)),)},
])
def test_wif602_and_wif202_see_graph_side_privilege(kw: dict[str, object]) -> None:
    c = with_priv(ctx(graph_fic(subject="repo:contoso/api:pull_request")), **kw)
    ev = evaluate(c)
    assert {"WIF202", "WIF602"} <= rule_ids(ev)
    assert one(ev, "WIF202").severity.label == "critical"


def test_wif602_near_miss_lob_permission_only() -> None:
    c = with_priv(ctx(graph_fic(subject="repo:contoso/api:pull_request")),
                  app_permissions=(perm("Orders.ReadWrite", resource_app="c0000000-0000-4000-8000-0000000000b2",
                                        resource="Contoso Orders API"),))
    assert "WIF602" not in rule_ids(evaluate(c))
