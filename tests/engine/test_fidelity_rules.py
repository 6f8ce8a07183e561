"""Catalogue corrections from real samples (issue 16): WIF107 and Arc issuers, WIF209 for glob
characters, flexible credentials through WIF202/WIF203/WIF207, WIF210/WIF211 allow-lists, and
one root cause, one finding (WIF605 folded into WIF601/WIF603/WIF604). Each with near-misses."""

from __future__ import annotations

import pytest
from engine_helpers import (
    AKS_CLUSTER_UUID,
    CONTRIBUTOR,
    FOREIGN,
    GH,
    GITLAB,
    HOME,
    MG_SCOPE,
    MI_CONTRIBUTOR,
    OWNER,
    RBAC_ADMIN,
    READER,
    RG_SCOPE,
    ROOT_SCOPE,
    SUB_SCOPE,
    TFC,
    UAA,
    arm_fic,
    assert_finding,
    ctx,
    engine,
    evaluate,
    flex_fic,
    graph_fic,
    one,
    role,
    rule_ids,
)

from wifguard.domain.issuers import classify
from wifguard.domain.model import IdentityKind

ARC_HOME = f"https://westeurope.oic.prod-arc.azure.com/{HOME}/{AKS_CLUSTER_UUID}/"
ARC_FOREIGN = f"https://westeurope.oic.prod-arc.azure.com/{FOREIGN}/{AKS_CLUSTER_UUID}/"
AKS_FOREIGN = f"https://eastus.oic.prod-aks.azure.com/{FOREIGN}/{AKS_CLUSTER_UUID}/"
K8S_SUBJECT = "system:serviceaccount:payments:payments-api"


def k8s(issuer: str) -> set[str]:
    return rule_ids(evaluate(ctx(arm_fic(issuer=issuer, subject=K8S_SUBJECT), kind=IdentityKind.MANAGED_IDENTITY)))


# -- Arc issuers and WIF107 -------------------------------------------------------------------
def test_arc_issuer_is_recognised_as_kubernetes() -> None:
    info = classify(ARC_HOME)
    assert (info.provider, info.cluster_host, info.cluster_tenant) == ("aks", "arc", HOME)


def test_home_tenant_arc_issuer_is_allowed_and_clean() -> None:
    assert k8s(ARC_HOME) == set()


@pytest.mark.parametrize("issuer", [ARC_FOREIGN, AKS_FOREIGN])
def test_wif107_cluster_issuer_of_another_tenant(issuer: str) -> None:
    cred = arm_fic(issuer=issuer, subject=K8S_SUBJECT)
    c = ctx(cred, kind=IdentityKind.MANAGED_IDENTITY)
    ev = evaluate(c)
    f = one(ev, "WIF107")
    assert f.severity.label == "critical"
    assert_finding(f, c.identity, credential=cred, offending=FOREIGN)
    assert "WIF101" not in rule_ids(ev)  # one root cause, one finding


def test_wif107_needs_home_tenant_and_then_defaults_accept_any_cluster() -> None:
    ids = rule_ids(evaluate(ctx(arm_fic(issuer=AKS_FOREIGN, subject=K8S_SUBJECT), kind=IdentityKind.MANAGED_IDENTITY),
                            engine(home_tenant_id=None)))
    assert not {"WIF107", "WIF101"} & ids


def test_wif107_not_for_old_uuid_only_aks_issuer() -> None:
    assert "WIF107" not in k8s(f"https://eastus.oic.prod-aks.azure.com/{AKS_CLUSTER_UUID}/")


def test_arc_lookalike_hosts_are_not_kubernetes() -> None:
    assert classify(f"https://westeurope.oic.prod-arc.azure.com.evil.example/{HOME}/x/").provider == "unknown"
    assert "WIF101" in k8s(f"https://west.europe.oic.prod-arc.azure.com/{HOME}/{AKS_CLUSTER_UUID}/")


# -- WIF209: glob characters in a subject ------------------------------------------------------
@pytest.mark.parametrize(
    ("issuer", "subject"),
    [(GH, "repo:contoso/app:*"), (GH, "repo:contoso/*:environment:prod"), (GH, "repo:contoso/app:ref:refs/heads/rel?"),
     ("https://idp.example.com", "workload-*")],
)
def test_wif209_literal_glob_in_a_subject(issuer: str, subject: str) -> None:
    cred = graph_fic(issuer=issuer, subject=subject)
    c = ctx(cred)
    f = one(evaluate(c), "WIF209")
    assert f.severity.label == "low"
    assert_finding(f, c.identity, credential=cred, offending=subject)
    assert "glob" in f.message


def test_wif209_not_for_an_exact_subject() -> None:
    assert "WIF209" not in rule_ids(evaluate(ctx(graph_fic(subject="repo:contoso/app:environment:prod"))))


# -- flexible credentials through the subject rules ---------------------------------------------
@pytest.mark.parametrize("expr", ["claims['sub'] matches 'repo:contoso/app:*'",
                                  "claims['sub'] matches 'repo:contoso/*'",
                                  "claims['sub'] eq 'repo:contoso/app:pull_request'"])
def test_wif202_flexible_expression_that_can_match_pull_requests(expr: str) -> None:
    cred = flex_fic(expr)
    c = ctx(cred, [role(CONTRIBUTOR, RG_SCOPE)])
    f = one(evaluate(c), "WIF202")
    assert f.severity.label == "critical"
    assert_finding(f, c.identity, credential=cred)
    assert expr.split("'")[3] in f.message  # names the expression


@pytest.mark.parametrize("expr", ["claims['sub'] matches 'repo:contoso/app:environment:*'",
                                  "claims['sub'] matches 'repo:contoso/app:ref:refs/heads/*'"])
def test_wif202_not_when_the_expression_cannot_match_pull_requests(expr: str) -> None:
    assert "WIF202" not in rule_ids(evaluate(ctx(flex_fic(expr), [role(CONTRIBUTOR, RG_SCOPE)])))


def test_wif202_flexible_not_without_privilege() -> None:
    assert "WIF202" not in rule_ids(evaluate(ctx(flex_fic("claims['sub'] matches 'repo:contoso/app:*'"),
                                                 [role(READER, SUB_SCOPE)])))


def test_wif203_flexible_any_ref() -> None:
    cred = flex_fic("claims['sub'] matches 'repo:contoso/app:ref:*'")
    f = one(evaluate(ctx(cred, [role(OWNER, SUB_SCOPE)])), "WIF203")
    assert "repo:contoso/app:ref:*" in f.message
    assert "WIF203" not in rule_ids(evaluate(ctx(flex_fic("claims['sub'] matches 'repo:contoso/app:environment:*'"),
                                                 [role(OWNER, SUB_SCOPE)])))
    assert "WIF203" not in rule_ids(evaluate(ctx(cred, [role(OWNER, RG_SCOPE)])))  # below subscription


def test_wif207_flexible_any_run_phase() -> None:
    cred = flex_fic("claims['sub'] matches 'organization:contoso:project:infra:workspace:prod:run_phase:*'", issuer=TFC)
    f = one(evaluate(ctx(cred, [role(CONTRIBUTOR, RG_SCOPE)])), "WIF207")
    assert "run_phase:*" in f.message
    apply_only = flex_fic("claims['sub'] matches 'organization:contoso:project:infra:workspace:*:run_phase:apply'",
                      issuer=TFC)
    assert "WIF207" not in rule_ids(evaluate(ctx(apply_only, [role(CONTRIBUTOR, RG_SCOPE)])))


# -- WIF210 / WIF211 -----------------------------------------------------------------------------
GL = "project_path:{}:ref_type:branch:ref:main"


@pytest.mark.parametrize("path", ["evil/app", "contoso-evil/app", "Evil/contoso"])
def test_wif210_gitlab_group_not_allowed(path: str) -> None:
    cred = graph_fic(issuer=GITLAB, subject=GL.format(path))
    c = ctx(cred)
    f = one(evaluate(c, engine(gitlab={"allowed_groups": ["contoso", "partner/sub"]})), "WIF210")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, credential=cred, offending=path)


@pytest.mark.parametrize("path", ["contoso/app", "CONTOSO/app", "contoso/sub/app", "partner/sub/app"])
def test_wif210_allowed_groups_and_subgroups(path: str) -> None:
    eng = engine(gitlab={"allowed_groups": ["contoso", "partner/sub"]})
    assert "WIF210" not in rule_ids(evaluate(ctx(graph_fic(issuer=GITLAB, subject=GL.format(path))), eng))


def test_wif210_off_with_an_empty_list_and_for_project_id_subjects() -> None:
    assert "WIF210" not in rule_ids(evaluate(ctx(graph_fic(issuer=GITLAB, subject=GL.format("evil/app")))))
    eng = engine(gitlab={"allowed_groups": ["contoso"]})
    assert "WIF210" not in rule_ids(evaluate(ctx(graph_fic(
        issuer=GITLAB, subject="project_id:42:ref_type:branch:ref:main")), eng))
    assert "WIF210" not in rule_ids(evaluate(ctx(graph_fic(
        issuer=GITLAB, subject="partner/sub:ref_type:branch:ref:main")), engine(gitlab={"allowed_groups": ["partner"]})))


TF = "organization:{}:project:infra:workspace:prod:run_phase:apply"


def test_wif211_terraform_organisation_not_allowed() -> None:
    eng = engine(terraform_cloud={"allowed_organizations": ["contoso"]})
    cred = graph_fic(issuer=TFC, subject=TF.format("evil"))
    f = one(evaluate(ctx(cred), eng), "WIF211")
    assert f.severity.label == "high" and "organization:evil:" in f.message
    assert "WIF211" not in rule_ids(evaluate(ctx(graph_fic(issuer=TFC, subject=TF.format("Contoso"))), eng))
    assert "WIF211" not in rule_ids(evaluate(ctx(cred)))  # empty list: off


# -- one root cause, one finding -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("guid", "scope", "folded_into"),
    [(OWNER, SUB_SCOPE, "WIF601"), (MI_CONTRIBUTOR, MG_SCOPE, "WIF601"), (READER, ROOT_SCOPE, None),
     (OWNER, ROOT_SCOPE, "WIF604"), (UAA, RG_SCOPE, "WIF603"), (RBAC_ADMIN, RG_SCOPE, "WIF603")],
)
def test_wif605_folds_into_the_rule_that_already_fires(guid: str, scope: str, folded_into: str | None) -> None:
    ev = evaluate(ctx(graph_fic(), [role(guid, scope)]))
    assert "WIF605" not in rule_ids(ev)
    if folded_into:
        # the rule that fires says what WIF605 would have said (WIF603: "grant itself any role")
        said = "grant itself any role" if folded_into == "WIF603" else "persist or escalate"
        assert said in one(ev, folded_into).message


def test_wif605_still_fires_alone_below_subscription() -> None:
    ev = evaluate(ctx(graph_fic(), [role(MI_CONTRIBUTOR, RG_SCOPE)]))
    assert "WIF605" in rule_ids(ev) and "WIF601" not in rule_ids(ev)
    ev = evaluate(ctx(graph_fic(), [role(CONTRIBUTOR, SUB_SCOPE)]))
    assert "persist or escalate" in one(ev, "WIF601").message  # actions `*`


def test_wif601_without_write_rights_says_nothing_of_them() -> None:
    ev = evaluate(ctx(graph_fic(), [role("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", SUB_SCOPE)]))
    assert "persist" not in one(ev, "WIF601").message


def test_home_tenant_given_in_upper_case_still_allows_its_clusters() -> None:
    eng = engine(home_tenant_id=HOME.upper())
    ids = rule_ids(evaluate(ctx(arm_fic(issuer=ARC_HOME, subject=K8S_SUBJECT), kind=IdentityKind.MANAGED_IDENTITY),
                            eng))
    assert not {"WIF101", "WIF107"} & ids


# -- the allow-lists also see what a flexible credential names ---------------------------------------
@pytest.mark.parametrize(("rule", "issuer", "expr", "overrides"), [
    ("WIF201", GH, "claims['sub'] matches 'repo:evil/*:environment:prod'", {"github": {"allowed_owners": ["contoso"]}}),
    ("WIF210", GITLAB, "claims['sub'] matches 'project_path:evil/app:*' and claims['project_id'] eq '42'",
     {"gitlab": {"allowed_groups": ["contoso"]}}),
    ("WIF211", TFC, "claims['sub'] matches 'organization:evil:project:*:workspace:*:run_phase:apply'",
     {"terraform_cloud": {"allowed_organizations": ["contoso"]}}),
])
def test_allow_lists_fire_on_a_flexible_expression_naming_another_owner(rule: str, issuer: str, expr: str,
                                                                        overrides: dict) -> None:
    cred = flex_fic(expr, issuer=issuer)
    f = one(evaluate(ctx(cred), engine(**overrides)), rule)
    assert "evil" in f.message and "expression" in f.message
    allowed = flex_fic(expr.replace("evil", "contoso"), issuer=issuer)
    assert rule not in rule_ids(evaluate(ctx(allowed), engine(**overrides)))
