"""Catalogue sections 4 and 5: WIF401 (audience), WIF501, WIF502, WIF504 (hygiene).
WIF503 (tenant-wide, sweep-only) is in test_change_and_tenant_rules.py."""

from __future__ import annotations

import pytest
from engine_helpers import (
    AUD,
    AUD_CHINA,
    AUD_USGOV,
    OWNER_USER,
    arm_fic,
    assert_finding,
    ctx,
    engine,
    evaluate,
    graph_fic,
    many_fics,
    one,
    rule_ids,
)

from wifguard.domain.model import IdentityKind, Owner


# -- WIF401 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("audience", [AUD, AUD_USGOV, AUD_CHINA])
def test_wif401_each_allowed_audience_alone_is_fine(audience: str) -> None:
    assert "WIF401" not in rule_ids(evaluate(ctx(graph_fic(audiences=[audience]))))


@pytest.mark.parametrize(
    "audiences",
    [
        [AUD, AUD_USGOV],  # two values
        [AUD, AUD],
        ["api://some-other-api"],
        ["https://management.azure.com/"],
        [],  # empty
        ["api://azureadtokenexchange"],  # not exactly an allowed value
        [" api://AzureADTokenExchange"],
    ],
)
def test_wif401_fires_unless_exactly_one_allowed_value(audiences: list[str]) -> None:
    cred = graph_fic(name="aud", audiences=audiences)
    c = ctx(cred)
    f = one(evaluate(c), "WIF401")
    assert f.severity.label == "medium"
    assert_finding(f, c.identity, credential=cred)
    for a in audiences:
        assert a.strip() in f.message


def test_wif401_arm_shape() -> None:
    c = ctx(arm_fic(audiences=["api://other"]), kind=IdentityKind.MANAGED_IDENTITY)
    assert "WIF401" in rule_ids(evaluate(c))


def test_wif401_configured_audiences_add_to_defaults() -> None:
    eng = engine(allowed_audiences=["api://contoso-exchange"])
    assert "WIF401" not in rule_ids(evaluate(ctx(graph_fic(audiences=["api://contoso-exchange"])), eng))
    assert "WIF401" not in rule_ids(evaluate(ctx(graph_fic(audiences=[AUD])), eng))
    only = engine(inherit_defaults=False, allowed_audiences=["api://contoso-exchange"],
                  allowed_issuers=["https://token.actions.githubusercontent.com"])
    assert "WIF401" in rule_ids(evaluate(ctx(graph_fic(audiences=[AUD])), only))


# -- WIF501 ------------------------------------------------------------------------------------
def test_wif501_not_at_17_credentials() -> None:
    assert "WIF501" not in rule_ids(evaluate(ctx(many_fics(17))))


@pytest.mark.parametrize("n", [18, 19, 20])
def test_wif501_at_18_or_more_credentials(n: int) -> None:
    c = ctx(many_fics(n))
    f = one(evaluate(c), "WIF501")
    assert f.severity.label == "low"
    assert_finding(f, c.identity, offending=str(n))
    assert f.credential is None


def test_wif501_managed_identity() -> None:
    creds = tuple(arm_fic(name=f"k{i}", subject=f"system:serviceaccount:ns{i}:sa") for i in range(18))
    assert "WIF501" in rule_ids(evaluate(ctx(creds, kind=IdentityKind.MANAGED_IDENTITY)))


# -- WIF502 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("description", [None, "", "   ", "\t\n"])
def test_wif502_missing_empty_or_blank_description(description: str | None) -> None:
    cred = graph_fic(name="nodesc", description=description)
    c = ctx(cred)
    f = one(evaluate(c), "WIF502")
    assert f.severity.label == "info"
    assert_finding(f, c.identity, credential=cred, offending="nodesc")


def test_wif502_not_with_a_description() -> None:
    assert "WIF502" not in rule_ids(evaluate(ctx(graph_fic(description="deploys contoso/app"))))


def test_wif502_not_on_arm_credentials_which_have_no_description_field() -> None:
    """ARM (managed identity) credentials have no description: the finding could not be fixed."""
    assert "WIF502" not in rule_ids(evaluate(ctx(arm_fic(), kind=IdentityKind.MANAGED_IDENTITY)))
    # Near-miss: the same trust on an app registration (Graph has a description) fires.
    assert "WIF502" in rule_ids(evaluate(ctx(graph_fic(description=None))))


def test_wif502_not_on_a_managed_identity_whatever_shape_its_credentials_came_in() -> None:
    assert "WIF502" not in rule_ids(evaluate(ctx(graph_fic(description=None), kind=IdentityKind.MANAGED_IDENTITY)))


def test_wif502_one_finding_per_undescribed_credential() -> None:
    ev = evaluate(ctx([graph_fic(name="a", description=None), graph_fic(name="b"),
                       graph_fic(name="c", description="")]))
    assert sorted(f.credential["name"] for f in ev.findings if f.rule_id == "WIF502") == ["a", "c"]


# -- WIF504 ------------------------------------------------------------------------------------
def test_wif504_app_with_credentials_and_no_owners() -> None:
    c = ctx(graph_fic(), owners=[])
    f = one(evaluate(c), "WIF504")
    assert f.severity.label == "medium"
    assert_finding(f, c.identity, offending=c.identity.name)


@pytest.mark.parametrize(
    "owners",
    [None, [OWNER_USER], [Owner("sp-1", "ci", kind="servicePrincipal")]],
    ids=["unknown", "one-user", "one-sp"],
)
def test_wif504_not_when_owners_unknown_or_present(owners) -> None:
    assert "WIF504" not in rule_ids(evaluate(ctx(graph_fic(), owners=owners)))


def test_wif504_not_for_managed_identities() -> None:
    c = ctx(arm_fic(), owners=[], kind=IdentityKind.MANAGED_IDENTITY)
    assert "WIF504" not in rule_ids(evaluate(c))


def test_wif504_not_for_an_app_without_credentials() -> None:
    assert "WIF504" not in rule_ids(evaluate(ctx((), owners=[])))
