"""Catalogue section 2: subject rules WIF201-WIF209."""

from __future__ import annotations

import pytest
from engine_helpers import (
    ADO,
    AKS,
    AKS_OLD,
    CONTRIBUTOR,
    ENTRA_HOME,
    GH,
    GITLAB,
    GOOGLE,
    MG_SCOPE,
    OWNER,
    READER,
    RESOURCE_SCOPE,
    RG_SCOPE,
    ROOT_MG_SCOPE,
    ROOT_SCOPE,
    SUB_SCOPE,
    TFC,
    TFC_EU,
    UAA,
    UAMI_ID,
    arm_fic,
    assert_finding,
    ctx,
    engine,
    evaluate,
    graph_fic,
    ids_for,
    one,
    role,
    rule_ids,
    severity,
)

from wifguard.domain.model import IdentityKind

OWNERS_CONTOSO = {"github": {"allowed_owners": ["Contoso"]}}


# -- WIF201 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "subject",
    [
        "repo:contoso/app:environment:prod",
        "repo:Contoso/app:ref:refs/heads/main",
        "repo:CONTOSO/app:pull_request",
        "repo:contoso@1001/app@2002:environment:prod",  # immutable form: compare the name part
        "repo:CONTOSO@1001/app@2002:ref:refs/tags/v1",
    ],
)
def test_wif201_allowed_owner_case_insensitive(subject: str) -> None:
    assert "WIF201" not in ids_for(GH, subject, **OWNERS_CONTOSO)


@pytest.mark.parametrize(
    ("subject", "owner"),
    [
        ("repo:fabrikam/app:environment:prod", "fabrikam"),
        ("repo:fabrikam/app:ref:refs/heads/main", "fabrikam"),
        ("repo:contoso-evil/app:environment:prod", "contoso-evil"),
        ("repo:fabrikam@1001/app@2002:environment:prod", "fabrikam"),
        ("repo:fabrikam@1001/contoso@2002:environment:prod", "fabrikam"),
    ],
)
def test_wif201_fires_for_other_owners(subject: str, owner: str) -> None:
    cred = graph_fic(name="foreign-owner", subject=subject)
    c = ctx(cred)
    ev = evaluate(c, engine(**OWNERS_CONTOSO))
    f = one(ev, "WIF201")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, credential=cred, offending=owner)


def test_wif201_needs_a_non_empty_allowed_owners_list() -> None:
    assert "WIF201" not in ids_for(GH, "repo:fabrikam/app:environment:prod")
    assert "WIF201" not in ids_for(GH, "repo:fabrikam/app:environment:prod", github={"allowed_owners": []})


def test_wif201_only_for_the_github_issuer() -> None:
    # A GitHub-looking subject on another issuer is WIF209's business, not WIF201's.
    assert "WIF201" not in ids_for(GITLAB, "repo:fabrikam/app:environment:prod", **OWNERS_CONTOSO)


def test_wif201_customised_template_owner_claim() -> None:
    assert "WIF201" in ids_for(GH, "repository_owner:fabrikam:environment:prod", **OWNERS_CONTOSO)
    assert "WIF201" not in ids_for(GH, "repository_owner:contoso:environment:prod", **OWNERS_CONTOSO)


def test_wif201_several_allowed_owners() -> None:
    ov = {"github": {"allowed_owners": ["contoso", "Fabrikam"]}}
    assert "WIF201" not in ids_for(GH, "repo:fabrikam/app:environment:prod", **ov)
    assert "WIF201" in ids_for(GH, "repo:northwind/app:environment:prod", **ov)


# -- WIF202 ------------------------------------------------------------------------------------
PR = "repo:contoso/app:pull_request"


@pytest.mark.parametrize(
    "ra",
    [
        role(OWNER, RESOURCE_SCOPE),
        role(CONTRIBUTOR, RG_SCOPE),
        role(CONTRIBUTOR, SUB_SCOPE),
        role(UAA, MG_SCOPE),
    ],
)
def test_wif202_pull_request_on_privileged_identity_any_scope(ra) -> None:
    cred = graph_fic(name="pr", subject=PR)
    c = ctx(cred, [ra])
    f = one(evaluate(c), "WIF202")
    assert f.severity.label == "critical"
    assert_finding(f, c.identity, credential=cred, offending="contoso/app")


@pytest.mark.parametrize("roles", [(), (role(READER, SUB_SCOPE),), (role(READER, ROOT_SCOPE),)])
def test_wif202_not_without_a_privileged_role(roles) -> None:
    assert "WIF202" not in ids_for(GH, PR, roles)


@pytest.mark.parametrize(
    "subject",
    ["repo:contoso/app:environment:prod", "repo:contoso/app:ref:refs/heads/main", "repo:contoso/app:ref:refs/tags/v1"],
)
def test_wif202_not_for_other_github_contexts(subject: str) -> None:
    assert "WIF202" not in ids_for(GH, subject, [role(OWNER, SUB_SCOPE)])


def test_wif202_immutable_pull_request_subject() -> None:
    assert "WIF202" in ids_for(GH, "repo:contoso@1001/app@2002:pull_request", [role(CONTRIBUTOR, RG_SCOPE)])


def test_wif202_privileged_by_configured_role() -> None:
    custom = "c0ffee00-0000-4000-8000-000000000001"
    assert "WIF202" not in ids_for(GH, PR, [role(custom, RG_SCOPE)])
    assert "WIF202" in ids_for(GH, PR, [role(custom, RG_SCOPE)], privileged_roles=[custom])


def test_wif202_on_a_managed_identity() -> None:
    cred = arm_fic(name="pr", issuer=GH, subject=PR)
    c = ctx(cred, [role(CONTRIBUTOR, RG_SCOPE)], kind=IdentityKind.MANAGED_IDENTITY)
    f = one(evaluate(c), "WIF202")
    assert f.identity == {"id": UAMI_ID, "name": "id-deploy", "kind": "managedIdentity"}


# -- WIF203 ------------------------------------------------------------------------------------
BRANCH = "repo:contoso/app:ref:refs/heads/main"
TAG = "repo:contoso/app:ref:refs/tags/v1.2.3"


@pytest.mark.parametrize("subject", [BRANCH, TAG, "repo:contoso@1001/app@2002:ref:refs/heads/main"])
@pytest.mark.parametrize("scope", [SUB_SCOPE, MG_SCOPE, ROOT_SCOPE, ROOT_MG_SCOPE])
def test_wif203_branch_or_tag_with_privileged_role_at_subscription_or_above(subject: str, scope: str) -> None:
    cred = graph_fic(name="branch", subject=subject)
    c = ctx(cred, [role(OWNER, scope)])
    f = one(evaluate(c), "WIF203")
    assert f.severity.label == "medium"
    assert_finding(f, c.identity, credential=cred)


@pytest.mark.parametrize("scope", [RG_SCOPE, RESOURCE_SCOPE])
def test_wif203_not_for_privileged_role_below_subscription(scope: str) -> None:
    assert "WIF203" not in ids_for(GH, BRANCH, [role(OWNER, scope)])
    assert "WIF203" not in ids_for(GH, TAG, [role(CONTRIBUTOR, scope)])


def test_wif203_privileged_role_at_rg_and_reader_at_subscription_does_not_fire() -> None:
    assert "WIF203" not in ids_for(GH, BRANCH, [role(OWNER, RG_SCOPE), role(READER, SUB_SCOPE)])


@pytest.mark.parametrize("subject", ["repo:contoso/app:environment:prod", PR])
def test_wif203_not_for_environment_or_pull_request(subject: str) -> None:
    assert "WIF203" not in ids_for(GH, subject, [role(OWNER, SUB_SCOPE)])


def test_wif203_not_without_privileged_role() -> None:
    assert "WIF203" not in ids_for(GH, BRANCH, [role(READER, SUB_SCOPE)])
    assert "WIF203" not in ids_for(GH, BRANCH)


def test_wif203_message_names_the_branch() -> None:
    cred = graph_fic(name="main", subject="repo:contoso/app:ref:refs/heads/release-2024")
    f = one(evaluate(ctx(cred, [role(CONTRIBUTOR, SUB_SCOPE)])), "WIF203")
    assert "release-2024" in f.message


# -- WIF204 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "subject",
    [
        "repository_owner:contoso:environment:prod",
        "repository_owner_id:1001:context:prod",
        "job_workflow_ref:contoso/workflows/.github/workflows/deploy.yml@refs/heads/main",
        "context:prod",
        "environment:prod",
        "repository:contoso/app:environment:prod",  # `repository`, not the `repo` claim
    ],
)
def test_wif204_github_subject_without_repo_claim(subject: str) -> None:
    cred = graph_fic(name="custom-template", subject=subject)
    c = ctx(cred)
    f = one(evaluate(c), "WIF204")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, credential=cred, offending=subject)


@pytest.mark.parametrize(
    "subject",
    [
        "repo:contoso/app:environment:prod",
        "repo:contoso@1001/app@2002:ref:refs/heads/main",
        "repo:contoso/app:pull_request",
        "repository_owner:contoso:repo:contoso/app:environment:prod",  # custom template keeping repo
    ],
)
def test_wif204_not_when_repo_claim_present(subject: str) -> None:
    assert "WIF204" not in ids_for(GH, subject)


def test_wif204_only_for_the_github_issuer() -> None:
    assert "WIF204" not in ids_for(GITLAB, "project_path:contoso/app:ref_type:branch:ref:main")
    assert "WIF204" not in ids_for("https://idp.example.com", "repository_owner:contoso:environment:prod")


# -- WIF205 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("issuer", "subject"),
    [
        (GH, "repo:contoso/app:environment:prod"),
        (GH, "repo:contoso/app:ref:refs/heads/main"),
        (GH, "repo:contoso/app:pull_request"),
        (GITLAB, "project_path:contoso/app:ref_type:branch:ref:main"),
        (GITLAB, "project_path:contoso/sub/app:ref_type:tag:ref:v1"),
    ],
)
def test_wif205_name_based_subjects(issuer: str, subject: str) -> None:
    cred = graph_fic(name="by-name", issuer=issuer, subject=subject)
    c = ctx(cred)
    f = one(evaluate(c), "WIF205")
    assert f.severity.label == "low"
    assert_finding(f, c.identity, credential=cred, offending=subject)


@pytest.mark.parametrize(
    ("issuer", "subject"),
    [
        (GH, "repo:contoso@1001/app@2002:environment:prod"),
        (GH, "repo:contoso@1001/app@2002:ref:refs/heads/main"),
        (GITLAB, "project_id:42:ref_type:branch:ref:main"),
        (AKS, "system:serviceaccount:payments:payments-api"),
        (TFC, "organization:contoso:project:infra:workspace:prod:run_phase:apply"),
        (ADO, "sc://contoso/infra/prod"),
        (GOOGLE, "112233445566778899001"),
    ],
)
def test_wif205_not_for_immutable_or_other_subjects(issuer: str, subject: str) -> None:
    assert "WIF205" not in ids_for(issuer, subject)


# -- WIF206 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "subject",
    [
        "system:serviceaccount:default:payments-api",
        "system:serviceaccount:kube-system:payments-api",
        "system:serviceaccount:kube-public:payments-api",
        "system:serviceaccount:payments:default",
        "system:serviceaccount:default:default",
    ],
)
@pytest.mark.parametrize("issuer", [AKS, AKS_OLD])
def test_wif206_shared_namespace_or_default_service_account(issuer: str, subject: str) -> None:
    cred = arm_fic(name="k8s", issuer=issuer, subject=subject)
    c = ctx(cred, kind=IdentityKind.MANAGED_IDENTITY)
    f = one(evaluate(c), "WIF206")
    assert f.severity.label == "medium"
    assert_finding(f, c.identity, credential=cred)
    assert subject.split(":")[2] in f.message and subject.split(":")[3] in f.message


@pytest.mark.parametrize(
    "subject",
    [
        "system:serviceaccount:payments:payments-api",
        "system:serviceaccount:defaults:api",  # not exactly `default`
        "system:serviceaccount:payments:default-api",
        "system:serviceaccount:kube-systems:api",
    ],
)
def test_wif206_not_for_dedicated_namespace_and_service_account(subject: str) -> None:
    assert "WIF206" not in ids_for(AKS, subject)


def test_wif206_kubernetes_subject_on_a_self_hosted_issuer() -> None:
    issuer = "https://myoidc.blob.core.windows.net/issuer"
    assert "WIF206" in ids_for(issuer, "system:serviceaccount:kube-system:api", allowed_issuers=[issuer])


def test_wif206_configured_namespaces_replace_the_default_list() -> None:
    ov = {"kubernetes": {"disallowed_namespaces": ["shared"]}}
    assert "WIF206" in ids_for(AKS, "system:serviceaccount:shared:api", **ov)
    assert "WIF206" not in ids_for(AKS, "system:serviceaccount:default:api", **ov)
    assert "WIF206" in ids_for(AKS, "system:serviceaccount:payments:default", **ov)  # SA `default` still


# -- WIF207 ------------------------------------------------------------------------------------
PLAN = "organization:contoso:project:infra:workspace:prod:run_phase:plan"
APPLY = "organization:contoso:project:infra:workspace:prod:run_phase:apply"
NO_PHASE = "organization:contoso:project:infra:workspace:prod"


@pytest.mark.parametrize("subject", [PLAN, NO_PHASE])
@pytest.mark.parametrize("ra", [role(OWNER, SUB_SCOPE), role(CONTRIBUTOR, RG_SCOPE), role(UAA, RESOURCE_SCOPE)])
@pytest.mark.parametrize("issuer", [TFC, TFC_EU])
def test_wif207_plan_or_missing_phase_on_privileged_identity(issuer: str, subject: str, ra) -> None:
    cred = graph_fic(name="tfc", issuer=issuer, subject=subject)
    c = ctx(cred, [ra])
    f = one(evaluate(c), "WIF207")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, credential=cred, offending="prod")


def test_wif207_not_for_apply_phase() -> None:
    assert "WIF207" not in ids_for(TFC, APPLY, [role(OWNER, SUB_SCOPE)])


@pytest.mark.parametrize("roles", [(), (role(READER, SUB_SCOPE),)])
def test_wif207_not_without_privileged_role(roles) -> None:
    assert "WIF207" not in ids_for(TFC, PLAN, roles)
    assert "WIF207" not in ids_for(TFC, NO_PHASE, roles)


# -- WIF208 ------------------------------------------------------------------------------------
ADO_CONTOSO = {"azure_devops": {"allowed_organizations": ["contoso"]}}


def test_wif208_allowed_organization() -> None:
    assert "WIF208" not in ids_for(ADO, "sc://contoso/infra/prod-connection", **ADO_CONTOSO)


@pytest.mark.parametrize("subject", ["sc://fabrikam/infra/prod-connection", "sc://contoso-evil/infra/prod"])
def test_wif208_other_organization(subject: str) -> None:
    cred = graph_fic(name="ado", issuer=ADO, subject=subject)
    c = ctx(cred)
    f = one(evaluate(c, engine(**ADO_CONTOSO)), "WIF208")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, credential=cred, offending=subject.split("/")[2])


def test_wif208_needs_non_empty_allowed_organizations() -> None:
    assert "WIF208" not in ids_for(ADO, "sc://fabrikam/infra/prod-connection")


def test_wif208_not_for_other_providers() -> None:
    assert "WIF208" not in ids_for(GH, "repo:fabrikam/app:environment:prod", **ADO_CONTOSO)


# -- WIF209 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("issuer", "subject"),
    [
        (GH, "system:serviceaccount:payments:api"),
        (GH, "deploy-prod"),
        (AKS, "system:serviceaccount:payments:api:extra"),
        (GH, "project_path:contoso/app:ref_type:branch:ref:main"),
        (GITLAB, "repo:contoso/app:ref:refs/heads/main"),
        (GITLAB, "project_path:contoso/app:ref_type:commit:ref:abc"),
        (GITLAB, "system:serviceaccount:payments:api"),
        (TFC, "repo:contoso/app:environment:prod"),
        (TFC, "workspace:prod"),
        (AKS, "repo:contoso/app:environment:prod"),
        (AKS, "payments-api"),
        (AKS_OLD, "system:serviceaccount:payments"),
        (ADO, "system:serviceaccount:payments:api"),
        (ADO, "contoso/infra/prod"),
        (ADO, "repo:contoso/app:environment:prod"),
    ],
)
def test_wif209_subject_of_the_wrong_format_for_a_known_provider(issuer: str, subject: str) -> None:
    cred = graph_fic(name="mismatch", issuer=issuer, subject=subject)
    c = ctx(cred)
    f = one(evaluate(c), "WIF209")
    assert f.severity.label == "low"
    assert_finding(f, c.identity, credential=cred, offending=subject)


@pytest.mark.parametrize(
    ("issuer", "subject"),
    [
        (GH, "repo:contoso/app:environment:prod"),
        (GH, "repo:contoso/app:ref:refs/heads/main"),
        (GH, "repo:contoso/app:ref:refs/tags/v1"),
        (GH, "repo:contoso/app:pull_request"),
        (GH, "repo:contoso@1001/app@2002:environment:prod"),
        (GITLAB, "project_path:contoso/app:ref_type:branch:ref:main"),
        (GITLAB, "project_id:42:ref_type:tag:ref:v1"),
        (TFC, PLAN),
        (TFC, APPLY),
        (AKS, "system:serviceaccount:payments:api"),
        (AKS_OLD, "system:serviceaccount:payments:api"),
        (ADO, "sc://contoso/infra/prod-connection"),
        # Not known providers: WIF209 never applies.
        (GOOGLE, "repo:contoso/app:environment:prod"),
        ("https://idp.example.com", "anything at all"),
        (ENTRA_HOME, "5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c"),
    ],
)
def test_wif209_not_for_matching_formats_or_unknown_providers(issuer: str, subject: str) -> None:
    assert "WIF209" not in ids_for(issuer, subject)


# -- severities in one place -------------------------------------------------------------------
def test_subject_rule_default_severities() -> None:
    ev = evaluate(ctx(graph_fic(subject="repo:contoso/app:pull_request"), [role(OWNER, SUB_SCOPE)]),
                  engine(**OWNERS_CONTOSO))
    assert severity(ev, "WIF202") == "critical"
    assert severity(ev, "WIF205") == "low"
    assert "WIF201" not in rule_ids(ev)
