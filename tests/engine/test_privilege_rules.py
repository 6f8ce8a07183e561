"""Catalogue section 6: privilege rules WIF601-WIF605 (credentials joined with role assignments)."""

from __future__ import annotations

import pytest
from engine_helpers import (
    AKS,
    AKS_CLUSTER_ADMIN,
    CONTRIBUTOR,
    DEFAULT_PRIVILEGED,
    EVIL,
    GITLAB,
    HOME,
    KV_DATA_ACCESS_ADMIN,
    KV_SECRETS_OFFICER,
    MG_SCOPE,
    MI_CONTRIBUTOR,
    OWNER,
    RBAC_ADMIN,
    READER,
    RESOURCE_SCOPE,
    RG_SCOPE,
    ROOT_MG_SCOPE,
    ROOT_SCOPE,
    STORAGE_BLOB_DATA_OWNER,
    SUB_SCOPE,
    UAA,
    arm_fic,
    assert_finding,
    ctx,
    custom_role,
    engine,
    evaluate,
    findings_of,
    graph_fic,
    one,
    role,
    rule_ids,
)

from wifguard.domain.model import IdentityKind

PRIVILEGE_RULES = {"WIF601", "WIF602", "WIF603", "WIF604", "WIF605"}
BIG_THREE = [OWNER, CONTRIBUTOR, UAA]
ROLE_NAMES = {OWNER: "Owner", CONTRIBUTOR: "Contributor", UAA: "User Access Administrator"}
CUSTOM = "c0ffee00-0000-4000-8000-0000000000aa"


def ev_roles(*roles, creds=None, **kw):
    return evaluate(ctx(graph_fic() if creds is None else creds, roles, **kw))


# -- WIF601 and its escalation -----------------------------------------------------------------
@pytest.mark.parametrize("guid", BIG_THREE)
def test_wif601_high_at_subscription(guid: str) -> None:
    ra = role(guid, SUB_SCOPE)
    c = ctx(graph_fic(), [ra])
    f = one(evaluate(c), "WIF601")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, role_assignment=ra, offending=SUB_SCOPE)
    assert f.role_assignment["role"] in {ROLE_NAMES[guid], guid}


@pytest.mark.parametrize("guid", BIG_THREE)
def test_wif601_critical_at_management_group(guid: str) -> None:
    ra = role(guid, MG_SCOPE)
    c = ctx(graph_fic(), [ra])
    ev = evaluate(c)
    f = one(ev, "WIF601")
    assert f.severity.label == "critical"
    assert_finding(f, c.identity, role_assignment=ra, offending=MG_SCOPE)
    assert "WIF604" not in rule_ids(ev)


@pytest.mark.parametrize("scope", [ROOT_SCOPE, ROOT_MG_SCOPE])
@pytest.mark.parametrize("guid", BIG_THREE)
def test_wif601_critical_and_wif604_at_root(guid: str, scope: str) -> None:
    ra = role(guid, scope)
    c = ctx(graph_fic(), [ra])
    ev = evaluate(c)
    assert one(ev, "WIF601").severity.label == "critical"
    f = one(ev, "WIF604")
    assert f.severity.label == "critical"
    assert_finding(f, c.identity, role_assignment=ra)


@pytest.mark.parametrize("scope", [RG_SCOPE, RESOURCE_SCOPE])
@pytest.mark.parametrize("guid", BIG_THREE)
def test_wif601_not_below_subscription(guid: str, scope: str) -> None:
    ids = rule_ids(ev_roles(role(guid, scope)))
    assert "WIF601" not in ids
    assert "WIF604" not in ids


@pytest.mark.parametrize("guid", DEFAULT_PRIVILEGED)
def test_wif601_every_default_privileged_role(guid: str) -> None:
    assert one(ev_roles(role(guid, SUB_SCOPE)), "WIF601").severity.label == "high"


@pytest.mark.parametrize("scope", [SUB_SCOPE, MG_SCOPE, RG_SCOPE])
def test_reader_is_never_privileged(scope: str) -> None:
    ev = evaluate(ctx(graph_fic(subject="repo:contoso/app:pull_request"), [role(READER, scope)]))
    assert not PRIVILEGE_RULES & rule_ids(ev)
    assert "WIF202" not in rule_ids(ev)


def test_wif601_tenant_root_group_is_root_only_for_the_home_tenant() -> None:
    other_tenant_root = "/providers/Microsoft.Management/managementGroups/99999999-8888-4777-8666-555555555555"
    ev = ev_roles(role(OWNER, other_tenant_root))
    assert one(ev, "WIF601").severity.label == "critical"  # management group level
    assert "WIF604" not in rule_ids(ev)
    # With no home tenant configured the tenant root group is just a management group.
    ev = evaluate(ctx(graph_fic(), [role(OWNER, ROOT_MG_SCOPE)]), engine(home_tenant_id=None))
    assert "WIF604" not in rule_ids(ev)


def test_root_management_group_ids_config_counts_as_root() -> None:
    ev = evaluate(ctx(graph_fic(), [role(OWNER, MG_SCOPE)]), engine(root_management_group_ids=["mg-platform"]))
    assert "WIF604" in rule_ids(ev)


def test_wif601_message_names_role_and_scope() -> None:
    f = one(ev_roles(role(CONTRIBUTOR, SUB_SCOPE)), "WIF601")
    assert SUB_SCOPE in f.message
    assert "Contributor" in f.message or CONTRIBUTOR in f.message


def test_wif601_managed_identity_with_arm_credential() -> None:
    ra = role(OWNER, SUB_SCOPE)
    c = ctx(arm_fic(), [ra], kind=IdentityKind.MANAGED_IDENTITY)
    f = one(evaluate(c), "WIF601")
    assert f.identity["kind"] == "managedIdentity"
    assert_finding(f, c.identity, role_assignment=ra)


def test_wif601_one_finding_per_privileged_assignment() -> None:
    a, b = role(OWNER, SUB_SCOPE), role(CONTRIBUTOR, MG_SCOPE)
    found = findings_of(ev_roles(a, b, role(READER, SUB_SCOPE)), "WIF601")
    assert {f.role_assignment["id"]: f.severity.label for f in found} == {a.id: "high", b.id: "critical"}
    assert len({f.fingerprint for f in found}) == 2


# -- custom definitions -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "actions",
    [
        ["*"],
        ["Microsoft.Authorization/*"],
        ["Microsoft.Authorization/roleAssignments/write"],
        ["microsoft.authorization/ROLEASSIGNMENTS/*"],  # globs, case-insensitive
        ["Microsoft.Authorization/role*/write"],
        ["Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"],
        ["Microsoft.ManagedIdentity/userAssignedIdentities/*"],
        ["Microsoft.ManagedIdentity/*"],
    ],
)
def test_custom_role_privileged_by_its_actions(actions: list[str]) -> None:
    ev = ev_roles(role(CUSTOM, SUB_SCOPE), role_definitions={CUSTOM: custom_role(CUSTOM, actions)})
    assert one(ev, "WIF601").severity.label == "high"


@pytest.mark.parametrize(
    ("actions", "not_actions"),
    [
        (["*/read"], []),
        (["Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/start/action"], []),
        (["Microsoft.Compute/virtualMachines/*"], ["Microsoft.Compute/virtualMachines/runCommand/action",
                                                   "Microsoft.Compute/virtualMachines/extensions/*"]),
        (["Microsoft.Authorization/*/read"], []),
        (["Microsoft.Authorization/roleAssignments/write"], ["Microsoft.Authorization/roleAssignments/write"]),
        (["Microsoft.Authorization/roleAssignments/*"], ["Microsoft.Authorization/roleAssignments/write"]),
    ],
)
def test_custom_role_not_privileged(actions: list[str], not_actions: list[str]) -> None:
    ev = ev_roles(role(CUSTOM, SUB_SCOPE), role_definitions={CUSTOM: custom_role(CUSTOM, actions, not_actions)})
    assert not PRIVILEGE_RULES & rule_ids(ev)


@pytest.mark.parametrize("actions", [
    ["Microsoft.Compute/virtualMachines/*"],  # run command / extensions: code as the VM's identity
    ["Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action"],  # attach any managed identity
    ["Microsoft.Web/sites/*"],
])
def test_custom_role_privileged_by_a_sensitive_operation(actions: list[str]) -> None:
    ev = ev_roles(role(CUSTOM, SUB_SCOPE), role_definitions={CUSTOM: custom_role(CUSTOM, actions)})
    assert "WIF601" in rule_ids(ev)


def test_configured_privileged_role() -> None:
    assert "WIF601" not in rule_ids(ev_roles(role(READER, SUB_SCOPE)))
    ev = evaluate(ctx(graph_fic(), [role(READER, SUB_SCOPE)]), engine(privileged_roles=[READER]))
    assert "WIF601" in rule_ids(ev)


# -- WIF603 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("guid", [UAA, RBAC_ADMIN])
@pytest.mark.parametrize("scope", [RESOURCE_SCOPE, RG_SCOPE, SUB_SCOPE])
def test_wif603_access_admin_without_condition(guid: str, scope: str) -> None:
    ra = role(guid, scope)
    c = ctx(graph_fic(), [ra])
    f = one(evaluate(c), "WIF603")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, role_assignment=ra, offending=scope)


ABAC = ("((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
        "ForAnyOfAnyValues:GuidEquals {acdd72a7-3385-48ef-bd42-f606fba81ae7}))")


@pytest.mark.parametrize("guid", [UAA, RBAC_ADMIN])
def test_wif603_not_with_an_abac_condition(guid: str) -> None:
    ev = ev_roles(role(guid, SUB_SCOPE, condition=ABAC))
    assert "WIF603" not in rule_ids(ev)
    assert "WIF601" in rule_ids(ev)  # still privileged


@pytest.mark.parametrize("guid", [UAA, RBAC_ADMIN])
def test_wif603_empty_condition_is_no_condition(guid: str) -> None:
    assert "WIF603" in rule_ids(ev_roles(role(guid, SUB_SCOPE, condition="")))


@pytest.mark.parametrize("guid", [OWNER, CONTRIBUTOR, MI_CONTRIBUTOR, READER])
def test_wif603_only_for_access_admin_roles(guid: str) -> None:
    assert "WIF603" not in rule_ids(ev_roles(role(guid, SUB_SCOPE)))


# -- WIF604 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("scope", [ROOT_SCOPE, ROOT_MG_SCOPE, f"/providers/Microsoft.Management/managementGroups/{HOME.upper()}"])
def test_wif604_any_role_at_root_even_reader(scope: str) -> None:
    ra = role(READER, scope)
    c = ctx(graph_fic(), [ra])
    ev = evaluate(c)
    f = one(ev, "WIF604")
    assert f.severity.label == "critical"
    assert_finding(f, c.identity, role_assignment=ra)
    assert "WIF601" not in rule_ids(ev)  # Reader is not privileged


def test_wif604_custom_non_privileged_role_at_root() -> None:
    d = custom_role(CUSTOM, ["Microsoft.Compute/*/read"])
    ev = ev_roles(role(CUSTOM, ROOT_SCOPE), role_definitions={CUSTOM: d})
    assert "WIF604" in rule_ids(ev)
    assert "WIF601" not in rule_ids(ev)


@pytest.mark.parametrize("scope", [MG_SCOPE, SUB_SCOPE, RG_SCOPE])
def test_wif604_not_below_root(scope: str) -> None:
    assert "WIF604" not in rule_ids(ev_roles(role(OWNER, scope)))


# -- WIF605 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("guid", "definitions"),
    [
        (MI_CONTRIBUTOR, {}),
        (KV_DATA_ACCESS_ADMIN, {}),  # roleAssignments/write
        # (UAA and RBAC Administrator without a condition are WIF603, which says it: see below.)
        (OWNER, {}),  # actions `*` match role-assignment writes
        (CONTRIBUTOR, {}),  # actions `*` minus notActions still match the FIC write action
        (CUSTOM, {CUSTOM: custom_role(CUSTOM, ["Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"])}),
        (CUSTOM, {CUSTOM: custom_role(CUSTOM, ["Microsoft.Authorization/roleAssignments/write"])}),
        (CUSTOM, {CUSTOM: custom_role(CUSTOM, ["Microsoft.ManagedIdentity/userAssignedIdentities/*/write"])}),
    ],
)
@pytest.mark.parametrize("scope", [RESOURCE_SCOPE, RG_SCOPE])
def test_wif605_can_write_credentials_or_role_assignments(guid: str, definitions, scope: str) -> None:
    ra = role(guid, scope)
    c = ctx(graph_fic(), [ra], role_definitions=definitions)
    f = one(evaluate(c), "WIF605")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, role_assignment=ra, offending=scope)


@pytest.mark.parametrize("guid", [UAA, RBAC_ADMIN])
def test_wif605_access_admin_with_a_condition(guid: str) -> None:
    """With an ABAC condition WIF603 is quiet, and the write right is still WIF605."""
    ev = ev_roles(role(guid, RG_SCOPE, condition="@Resource[x] StringEquals 'y'"))
    assert "WIF605" in rule_ids(ev) and "WIF603" not in rule_ids(ev)


@pytest.mark.parametrize("guid", [READER, KV_SECRETS_OFFICER, STORAGE_BLOB_DATA_OWNER, AKS_CLUSTER_ADMIN])
def test_wif605_not_for_roles_that_cannot_write_credentials_or_assignments(guid: str) -> None:
    assert "WIF605" not in rule_ids(ev_roles(role(guid, SUB_SCOPE)))


def test_wif605_custom_role_with_not_action_excluding_the_write() -> None:
    d = custom_role(CUSTOM, ["Microsoft.ManagedIdentity/userAssignedIdentities/*"],
                    ["Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/*"])
    assert "WIF605" not in rule_ids(ev_roles(role(CUSTOM, RG_SCOPE), role_definitions={CUSTOM: d}))


# -- not federated: no privilege findings -----------------------------------------------------
@pytest.mark.parametrize("kind", [IdentityKind.APPLICATION, IdentityKind.MANAGED_IDENTITY])
def test_identity_without_credentials_gets_no_privilege_findings(kind: IdentityKind) -> None:
    roles = [role(OWNER, ROOT_SCOPE), role(UAA, MG_SCOPE), role(MI_CONTRIBUTOR, SUB_SCOPE),
             role(RBAC_ADMIN, ROOT_MG_SCOPE)]
    ev = evaluate(ctx((), roles, kind=kind))
    assert not PRIVILEGE_RULES & rule_ids(ev)


# -- WIF602 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cred", "trigger"),
    [
        (graph_fic(name="risky", issuer="https://idp.example.com"), "WIF101"),
        (graph_fic(name="risky", issuer=EVIL), "WIF102"),
        (graph_fic(name="risky", issuer="http://token.actions.githubusercontent.com"), "WIF103"),
        (graph_fic(name="risky", issuer="https://login.microsoftonline.com/99999999-8888-4777-8666-555555555555/v2.0",
                   subject="5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c"), "WIF105"),
        (graph_fic(name="risky", subject="repository_owner:contoso:environment:prod"), "WIF204"),
        (graph_fic(name="risky", subject="repo:contoso/app:pull_request"), "WIF202"),
        (graph_fic(name="risky", issuer="https://app.terraform.io",
                   subject="organization:contoso:project:infra:workspace:prod:run_phase:plan"), "WIF207"),
        (graph_fic(name="risky", expression="claims['sub'] matches 'repo:*'"), "WIF302"),
        (graph_fic(name="risky", expression="claims['sub'] matches 'repo:contoso/*:environment:prod'"), "WIF303"),
    ],
)
def test_wif602_privileged_identity_with_high_risk_credential(cred, trigger: str) -> None:
    c = ctx([cred, graph_fic(name="clean")], [role(CONTRIBUTOR, RG_SCOPE)])
    ev = evaluate(c)
    assert trigger in rule_ids(ev)
    f = one(ev, "WIF602")
    assert f.severity.label == "critical"
    assert_finding(f, c.identity, credential=cred)
    assert f.credential["name"] == "risky"  # only the risky credential, not the clean one
    assert trigger in f.message


def test_wif602_for_wif201_and_wif208_under_config() -> None:
    eng = engine(github={"allowed_owners": ["contoso"]}, azure_devops={"allowed_organizations": ["contoso"]})
    for cred, trigger in [
        (graph_fic(subject="repo:fabrikam/app:environment:prod"), "WIF201"),
        (graph_fic(issuer="https://vstoken.dev.azure.com/0d3c9a1e-4b6f-4c0b-9d5e-3f2a1b7c8e90",
                   subject="sc://fabrikam/infra/conn"), "WIF208"),
    ]:
        ev = evaluate(ctx(cred, [role(OWNER, SUB_SCOPE)]), eng)
        assert {trigger, "WIF602"} <= rule_ids(ev)


@pytest.mark.parametrize(
    "cred",
    [
        graph_fic(),  # clean
        graph_fic(subject="repo:contoso/app:environment:prod"),  # WIF205 low
        graph_fic(audiences=["api://other"]),  # WIF401: section 4, not 1-3
        graph_fic(description=None),  # WIF502 info
        graph_fic(expression="claims['sub'] matches 'repo:contoso/app:ref:refs/heads/*'"),  # WIF301 low
        graph_fic(subject="system:serviceaccount:default:default", issuer=AKS),  # WIF206 medium
        graph_fic(subject="sc://contoso/p/c", issuer=GITLAB),  # WIF209 low
        graph_fic(subject="repo:contoso/app:ref:refs/heads/main"),  # WIF203 medium
    ],
)
def test_wif602_not_for_low_or_medium_or_non_section_1_3_findings(cred) -> None:
    ev = evaluate(ctx(cred, [role(OWNER, SUB_SCOPE)]))
    assert "WIF602" not in rule_ids(ev)


@pytest.mark.parametrize("roles", [(), (role(READER, SUB_SCOPE),)])
def test_wif602_not_without_privileged_role(roles) -> None:
    ev = evaluate(ctx(graph_fic(issuer=EVIL), roles))
    assert "WIF102" in rule_ids(ev)
    assert "WIF602" not in rule_ids(ev)


def test_wif602_fingerprint_differs_per_credential() -> None:
    a = graph_fic(name="a", issuer=EVIL)
    b = graph_fic(name="b", issuer="https://idp.example.com")
    found = findings_of(evaluate(ctx([a, b], [role(OWNER, RG_SCOPE)])), "WIF602")
    assert sorted(f.credential["name"] for f in found) == ["a", "b"]
    assert len({f.fingerprint for f in found}) == 2


def test_privilege_findings_fingerprints_stable_and_distinct() -> None:
    roles = [role(OWNER, SUB_SCOPE), role(UAA, MG_SCOPE)]
    first = {(f.rule_id, f.fingerprint) for f in ev_roles(*roles).findings}
    again = {(f.rule_id, f.fingerprint) for f in ev_roles(*roles).findings}
    assert first == again
    assert len({fp for _, fp in first}) == len(first)
