"""Catalogue section 3: flexible credentials (claimsMatchingExpression), WIF301-WIF304."""

from __future__ import annotations

import pytest
from engine_helpers import (
    GH,
    GITLAB,
    TFC,
    arm_fic,
    assert_finding,
    ctx,
    evaluate,
    flex_ids,
    graph_fic,
    one,
    rule_ids,
)

from wifguard.domain.model import IdentityKind


# -- WIF301 ------------------------------------------------------------------------------------
def test_wif301_any_flexible_credential_needs_review() -> None:
    expr = "claims['sub'] matches 'repo:contoso/app:environment:prod'"
    cred = graph_fic(name="flex", expression=expr)
    c = ctx(cred)
    ev = evaluate(c)
    f = one(ev, "WIF301")
    assert f.severity.label == "low"
    assert_finding(f, c.identity, credential=cred, offending=expr)
    assert not {"WIF302", "WIF303", "WIF304"} & rule_ids(ev)


def test_wif301_not_for_fixed_subjects() -> None:
    assert "WIF301" not in rule_ids(evaluate(ctx(graph_fic())))


def test_wif301_arm_shape() -> None:
    expr = "claims['sub'] matches 'repo:contoso/app:ref:refs/heads/*'"
    c = ctx(arm_fic(name="flex", issuer=GH, subject=None, expression=expr), kind=IdentityKind.MANAGED_IDENTITY)
    assert "WIF301" in rule_ids(evaluate(c))


# -- WIF302 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("issuer", "expression"),
    [
        (GH, "claims['sub'] matches 'repo:*'"),
        (GH, "claims['sub'] matches 'repo:cont*/app:*'"),
        (GH, "claims['sub'] matches 'repo:c?ntoso/app:ref:refs/heads/main'"),
        (GH, "claims['sub'] matches 'repo:*/app:environment:prod'"),
        (GH, 'claims["sub"] matches "repo:*"'),
        (GH, "claims['sub'] matches '*'"),
        (GITLAB, "claims['sub'] matches 'project_path:*'"),
        (GITLAB, "claims['sub'] matches 'project_path:*/app:ref_type:branch:ref:main'"),
        (TFC, "claims['sub'] matches 'organization:*'"),
        (TFC, "claims['sub'] matches 'organization:*:project:infra:workspace:prod:run_phase:apply'"),
    ],
)
def test_wif302_wildcard_in_owner_segment(issuer: str, expression: str) -> None:
    cred = graph_fic(name="wide", issuer=issuer, expression=expression)
    c = ctx(cred)
    ev = evaluate(c)
    f = one(ev, "WIF302")
    assert f.severity.label == "critical"
    assert "WIF301" in rule_ids(ev)
    assert_finding(f, c.identity, credential=cred, offending=expression.split(" matches ")[1].strip("'\""))


@pytest.mark.parametrize(
    ("issuer", "expression"),
    [
        (GH, "claims['sub'] matches 'repo:contoso/*:environment:prod'"),
        (GH, "claims['sub'] matches 'repo:contoso/app:*'"),
        (GH, "claims['sub'] matches 'repo:contoso/app:ref:refs/heads/*'"),
        (GITLAB, "claims['sub'] matches 'project_path:contoso/app:ref_type:branch:ref:*'"),
        (TFC, "claims['sub'] matches 'organization:contoso:project:infra:workspace:*:run_phase:apply'"),
    ],
)
def test_wif302_not_for_a_fixed_owner(issuer: str, expression: str) -> None:
    assert "WIF302" not in flex_ids(expression, issuer)


# -- WIF303 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("issuer", "expression"),
    [
        (GH, "claims['sub'] matches 'repo:contoso/*:environment:prod'"),
        (GH, "claims['sub'] matches 'repo:contoso/app-*:ref:refs/heads/main'"),
        (GH, "claims['sub'] matches 'repo:contoso/ap?:pull_request'"),
        (GITLAB, "claims['sub'] matches 'project_path:contoso/*:ref_type:branch:ref:main'"),
        (TFC, "claims['sub'] matches 'organization:contoso:project:infra:workspace:*:run_phase:apply'"),
        (TFC, "claims['sub'] matches 'organization:contoso:project:*:workspace:prod:run_phase:apply'"),
    ],
)
def test_wif303_wildcard_in_repository_segment(issuer: str, expression: str) -> None:
    cred = graph_fic(name="repos", issuer=issuer, expression=expression)
    c = ctx(cred)
    ev = evaluate(c)
    f = one(ev, "WIF303")
    assert f.severity.label == "high"
    assert "WIF302" not in rule_ids(ev)
    assert_finding(f, c.identity, credential=cred)


@pytest.mark.parametrize(
    "expression",
    [
        "claims['sub'] matches 'repo:contoso/app:environment:prod'",
        "claims['sub'] matches 'repo:contoso/app:ref:refs/heads/*'",
        "claims['sub'] matches 'repo:contoso/app:*'",
        "claims['sub'] matches 'repo:cont*/app:*'",  # owner wildcard only: WIF302, not WIF303
    ],
)
def test_wif303_not_for_a_fixed_repository(expression: str) -> None:
    assert "WIF303" not in flex_ids(expression)


# -- WIF304 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "expression",
    [
        "claims['sub'] matches 'project_path:contoso/app:ref_type:branch:ref:*'",
        "claims['sub'] matches 'project_path:contoso/*:ref_type:branch:ref:main'",
        "claims['sub'] matches 'project_path:*'",
    ],
)
def test_wif304_gitlab_without_id_constraint(expression: str) -> None:
    cred = graph_fic(name="gl", issuer=GITLAB, expression=expression)
    c = ctx(cred)
    f = one(evaluate(c), "WIF304")
    assert f.severity.label == "medium"
    assert_finding(f, c.identity, credential=cred)


@pytest.mark.parametrize(
    "id_clause",
    ["claims['project_id'] eq '42'", "claims['namespace_id'] eq '7'", "claims['user_id'] eq '1001'"],
)
def test_wif304_not_when_an_id_is_constrained(id_clause: str) -> None:
    expr = f"claims['sub'] matches 'project_path:contoso/app:ref_type:branch:ref:*' and {id_clause}"
    ids = flex_ids(expr, GITLAB)
    assert "WIF304" not in ids
    assert "WIF301" in ids


def test_wif302_eq_is_not_a_wildcard_match() -> None:
    ids = flex_ids("claims['sub'] eq 'repo:*'")
    assert "WIF301" in ids
    assert not {"WIF302", "WIF303"} & ids


def test_wif304_wildcard_id_is_no_constraint() -> None:
    expr = "claims['sub'] matches 'project_path:contoso/app:ref_type:branch:ref:*' and claims['project_id'] matches '*'"
    assert "WIF304" in flex_ids(expr, GITLAB)


def test_wif304_project_id_in_the_subject_pattern_constrains_the_project() -> None:
    assert "WIF304" not in flex_ids("claims['sub'] matches 'project_id:42:ref_type:branch:ref:*'", GITLAB)


def test_wif304_self_managed_gitlab_recognised_by_project_path() -> None:
    expr = "claims['sub'] matches 'project_path:contoso/app:ref_type:branch:ref:*'"
    assert "WIF304" in flex_ids(expr, "https://gitlab.contoso.com")


def test_wif304_not_for_github_flexible_credentials() -> None:
    assert "WIF304" not in flex_ids("claims['sub'] matches 'repo:contoso/app:ref:refs/heads/*'", GH)
