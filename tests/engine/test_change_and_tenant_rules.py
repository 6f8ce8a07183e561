"""Event-only rules (WIF104, WIF701, WIF702) and tenant-wide rules (WIF106, WIF503)."""

from __future__ import annotations

import pytest
from engine_helpers import (
    ADO,
    APP_ID,
    ENTRA_FOREIGN,
    ENTRA_HOME,
    EVIL,
    GH,
    HOME,
    OWNER,
    OWNER_USER,
    RG_SCOPE,
    STS_HOME,
    UAMI_PRINCIPAL,
    Actor,
    ChangeKind,
    Owner,
    app_actor,
    arm_fic,
    assert_finding,
    change,
    ctx,
    engine,
    evaluate,
    findings_of,
    graph_fic,
    one,
    role,
    rule_ids,
    tenant,
    uami_ctx,
    user_actor,
)

FIC_ID = "f1f1f1f1-0000-4000-8000-00000000f1c1"


# -- WIF104 ------------------------------------------------------------------------------------
def issuer_swap():
    old = graph_fic(name="deploy", issuer=GH, id=FIC_ID)
    new = graph_fic(name="deploy", issuer=EVIL, id=FIC_ID)
    return old, new


def test_wif104_issuer_of_existing_credential_changed() -> None:
    old, new = issuer_swap()
    c = ctx(new)
    f = one(evaluate(c, change=change(old=old, new=new, actor=OWNER_ACTOR)), "WIF104")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, credential=new, offending=EVIL)
    assert GH in f.message


OWNER_ACTOR = Actor("user", OWNER_USER.id, OWNER_USER.display_name, OWNER_USER.user_principal_name)


@pytest.mark.parametrize("kind", [ChangeKind.CREDENTIAL_CHANGED, ChangeKind.CREDENTIAL_WRITTEN])
def test_wif104_matched_by_name_without_id(kind: ChangeKind) -> None:
    old = graph_fic(name="deploy", issuer=GH)
    new = graph_fic(name="deploy", issuer="https://gitlab.com", subject="project_id:1:ref_type:branch:ref:main")
    ev = evaluate(ctx(new), change=change(kind=kind, old=old, new=new, actor=OWNER_ACTOR))
    assert "WIF104" in rule_ids(ev)


def test_wif104_not_for_description_only_change() -> None:
    old = graph_fic(name="deploy", id=FIC_ID, description="old text")
    new = graph_fic(name="deploy", id=FIC_ID, description="new text")
    ev = evaluate(ctx(new), change=change(old=old, new=new, actor=OWNER_ACTOR))
    assert "WIF104" not in rule_ids(ev)


def test_wif104_not_for_subject_only_change() -> None:
    old = graph_fic(name="deploy", id=FIC_ID, subject="repo:contoso@1/app@2:environment:prod")
    new = graph_fic(name="deploy", id=FIC_ID, subject="repo:contoso@1/app@2:environment:staging")
    ev = evaluate(ctx(new), change=change(old=old, new=new, actor=OWNER_ACTOR))
    assert "WIF104" not in rule_ids(ev)


def test_wif104_not_for_a_new_credential() -> None:
    new = graph_fic(name="deploy", issuer=EVIL)
    ev = evaluate(ctx(new), change=change(kind=ChangeKind.CREDENTIAL_ADDED, new=new, actor=OWNER_ACTOR))
    assert "WIF104" not in rule_ids(ev)


def test_wif104_is_event_only() -> None:
    _, new = issuer_swap()
    assert "WIF104" not in rule_ids(evaluate(ctx(new)))


def test_wif104_not_when_old_and_new_are_different_credentials() -> None:
    """'an existing credential (same Id or name)': a different Id AND name is not the same credential."""
    old = graph_fic(name="deploy-old", issuer=GH, id=FIC_ID)
    new = graph_fic(name="deploy-new", issuer=EVIL, id="f2f2f2f2-0000-4000-8000-00000000f2c2")
    ev = evaluate(ctx(new), change=change(kind=ChangeKind.CREDENTIAL_CHANGED, old=old, new=new, actor=OWNER_ACTOR))
    assert "WIF104" not in rule_ids(ev)


def test_wif602_counts_wif104_on_a_privileged_identity() -> None:
    """WIF104 is a section-1 rule of severity high: on a privileged identity the changed
    credential fires it, so WIF602 applies (catalogue 6, WIF602, literal reading)."""
    old = graph_fic(name="deploy", issuer="https://gitlab.com", subject="repo:contoso@1/app@2:environment:prod",
                    id=FIC_ID)
    new = graph_fic(name="deploy", issuer=GH, id=FIC_ID)  # the new issuer itself is allowed
    ev = evaluate(ctx(new, [role(OWNER, RG_SCOPE)]), change=change(old=old, new=new, actor=OWNER_ACTOR))
    assert "WIF104" in rule_ids(ev)
    assert "WIF602" in rule_ids(ev)


# -- WIF701 ------------------------------------------------------------------------------------
def added(actor: Actor | None):
    new = graph_fic(name="deploy")
    return new, change(kind=ChangeKind.CREDENTIAL_ADDED, new=new, actor=actor)


def test_wif701_user_who_is_not_owner_nor_approved() -> None:
    new, ch = added(user_actor())
    c = ctx(new)
    f = one(evaluate(c, change=ch), "WIF701")
    assert f.severity.label == "medium"
    assert_finding(f, c.identity, credential=new, offending="mallory@contoso.com")


@pytest.mark.parametrize("kind", [ChangeKind.CREDENTIAL_CHANGED, ChangeKind.CREDENTIAL_WRITTEN])
def test_wif701_also_for_changed_credentials(kind: ChangeKind) -> None:
    old, new = graph_fic(name="deploy", description="a"), graph_fic(name="deploy", description="b")
    ev = evaluate(ctx(new), change=change(kind=kind, old=old, new=new, actor=user_actor()))
    assert "WIF701" in rule_ids(ev)


def test_wif701_not_for_an_owner() -> None:
    new, ch = added(OWNER_ACTOR)
    assert "WIF701" not in rule_ids(evaluate(ctx(new), change=ch))


@pytest.mark.parametrize("approved", ["3c3c3c3c-0000-4000-8000-00000000000b", "mallory@contoso.com"])
def test_wif701_not_for_an_approved_actor(approved: str) -> None:
    new, ch = added(user_actor())
    assert "WIF701" not in rule_ids(evaluate(ctx(new), engine(approved_actors=[approved]), change=ch))


def test_wif701_owner_recognised_by_upn() -> None:
    new, ch = added(Actor("user", None, "Alice", OWNER_USER.user_principal_name))
    assert "WIF701" not in rule_ids(evaluate(ctx(new), change=ch))


def test_wif701_not_for_an_app_actor() -> None:
    new, ch = added(app_actor())
    assert "WIF701" not in rule_ids(evaluate(ctx(new), change=ch))


def test_wif701_is_event_only() -> None:
    assert "WIF701" not in rule_ids(evaluate(ctx(graph_fic())))


# -- WIF702 ------------------------------------------------------------------------------------
def test_wif702_application_not_approved() -> None:
    new, ch = added(app_actor())
    c = ctx(new)
    f = one(evaluate(c, change=ch), "WIF702")
    assert f.severity.label == "medium"
    assert_finding(f, c.identity, credential=new)
    assert "ci-provisioner" in f.message or "4d4d4d4d-0000-4000-8000-00000000000c" in f.message


@pytest.mark.parametrize("approved", ["4d4d4d4d-0000-4000-8000-00000000000c", "4e4e4e4e-0000-4000-8000-00000000000d"],
                         ids=["appId", "servicePrincipalId"])
def test_wif702_not_for_an_approved_application(approved: str) -> None:
    new, ch = added(app_actor())
    assert "WIF702" not in rule_ids(evaluate(ctx(new), engine(approved_actors=[approved]), change=ch))


def test_wif702_owning_application_still_needs_approval() -> None:
    """WIF702 depends only on approved_actors, not on ownership."""
    actor = app_actor()
    new, ch = added(actor)
    c = ctx(new, owners=[Owner(actor.id, "ci-provisioner", kind="servicePrincipal")])
    assert "WIF702" in rule_ids(evaluate(c, change=ch))


def test_wif702_not_for_a_user_actor() -> None:
    new, ch = added(user_actor())
    assert "WIF702" not in rule_ids(evaluate(ctx(new), change=ch))


def test_wif702_is_event_only() -> None:
    assert "WIF702" not in rule_ids(evaluate(ctx(graph_fic())))


# -- WIF106 ------------------------------------------------------------------------------------
UNKNOWN_PRINCIPAL = "0e0e0e0e-1f1f-4a2a-8b3b-4c4c4c4c4c4c"


def entra_app(subject: str, issuer: str = ENTRA_HOME):
    return ctx(graph_fic(name="mi-trust", issuer=issuer, subject=subject))


def test_wif106_subject_is_a_known_uami() -> None:
    app = entra_app(UAMI_PRINCIPAL)
    ev = evaluate(app, tenant=tenant(app, uami_ctx()))
    assert "WIF106" not in rule_ids(ev)


def test_wif106_subject_is_a_known_uami_case_insensitive_guid() -> None:
    app = entra_app(UAMI_PRINCIPAL.upper())
    assert "WIF106" not in rule_ids(evaluate(app, tenant=tenant(app, uami_ctx())))


@pytest.mark.parametrize("issuer", [ENTRA_HOME, STS_HOME])
def test_wif106_subject_is_no_known_uami(issuer: str) -> None:
    app = entra_app(UNKNOWN_PRINCIPAL, issuer)
    f = one(evaluate(app, tenant=tenant(app, uami_ctx())), "WIF106")
    assert f.severity.label == "medium"
    assert_finding(f, app.identity, credential=app.credentials[0], offending=UNKNOWN_PRINCIPAL)


def test_wif106_app_principal_is_not_a_uami() -> None:
    """Only user-assigned managed identities count, not other principals in the index."""
    other_app = ctx(graph_fic(), ident_id="other-app", principal_id=UNKNOWN_PRINCIPAL)
    app = entra_app(UNKNOWN_PRINCIPAL)
    assert "WIF106" in rule_ids(evaluate(app, tenant=tenant(app, other_app, uami_ctx())))


def test_wif106_ado_entra_subject_is_not_a_managed_identity() -> None:
    """Literal reading: a home-tenant Entra issuer whose subject is not a UAMI principal id fires,
    whatever the subject is (the Azure DevOps /eid1/ subject included)."""
    app = entra_app(f"/eid1/c/pub/t/{HOME}/a/0d3c9a1e-4b6f-4c0b-9d5e-3f2a1b7c8e90/sc/contoso/conn-1")
    assert "WIF106" in rule_ids(evaluate(app, tenant=tenant(app, uami_ctx())))


def test_wif106_skipped_without_inventory() -> None:
    assert "WIF106" not in rule_ids(evaluate(entra_app(UNKNOWN_PRINCIPAL)))


def test_wif106_not_for_foreign_or_non_entra_issuers() -> None:
    foreign = entra_app(UNKNOWN_PRINCIPAL, ENTRA_FOREIGN)
    ev = evaluate(foreign, tenant=tenant(foreign, uami_ctx()))
    assert "WIF106" not in rule_ids(ev)
    assert "WIF105" in rule_ids(ev)
    gh = ctx(graph_fic())
    assert "WIF106" not in rule_ids(evaluate(gh, tenant=tenant(gh, uami_ctx())))


# -- WIF503 ------------------------------------------------------------------------------------
SHARED = "repo:contoso@1001/app@2002:environment:prod"


def test_wif503_same_pair_on_two_identities() -> None:
    a = ctx(graph_fic(name="a", subject=SHARED), ident_id="app-a", name="app-a")
    b = ctx(graph_fic(name="b", subject=SHARED), ident_id="app-b", name="app-b")
    t = tenant(a, b)
    fa = one(evaluate(a, tenant=t), "WIF503")
    fb = one(evaluate(b, tenant=t), "WIF503")
    assert fa.severity.label == fb.severity.label == "medium"
    assert_finding(fa, a.identity, credential=a.credentials[0], offending=SHARED)
    assert "app-b" in fa.message
    assert fa.fingerprint != fb.fingerprint


def test_wif503_app_and_managed_identity() -> None:
    a = ctx(graph_fic(name="a", issuer=ADO, subject="sc://contoso/infra/conn"))
    m = ctx(arm_fic(name="m", issuer=ADO, subject="sc://contoso/infra/conn"), kind="managedIdentity")
    t = tenant(a, m)
    assert "WIF503" in rule_ids(evaluate(a, tenant=t))
    assert "WIF503" in rule_ids(evaluate(m, tenant=t))


def test_wif503_not_for_a_different_subject() -> None:
    a = ctx(graph_fic(name="a", subject=SHARED), ident_id="app-a")
    b = ctx(graph_fic(name="b", subject=SHARED.replace("prod", "staging")), ident_id="app-b")
    t = tenant(a, b)
    assert "WIF503" not in rule_ids(evaluate(a, tenant=t))
    assert "WIF503" not in rule_ids(evaluate(b, tenant=t))


def test_wif503_not_for_a_different_issuer() -> None:
    a = ctx(graph_fic(name="a", subject=SHARED), ident_id="app-a")
    b = ctx(graph_fic(name="b", issuer="https://idp.example.com", subject=SHARED), ident_id="app-b")
    assert "WIF503" not in rule_ids(evaluate(a, tenant=tenant(a, b)))


def test_wif503_not_for_a_single_identity() -> None:
    a = ctx(graph_fic(name="a", subject=SHARED), ident_id="app-a")
    assert "WIF503" not in rule_ids(evaluate(a, tenant=tenant(a)))


def test_wif503_sweep_only() -> None:
    a = ctx(graph_fic(name="a", subject=SHARED), ident_id="app-a")
    assert "WIF503" not in rule_ids(evaluate(a))


def test_tenant_index_does_not_change_other_findings() -> None:
    a = ctx([graph_fic(name="a", issuer=EVIL)], [role(OWNER, RG_SCOPE)], ident_id=APP_ID)
    without = {(f.rule_id, f.fingerprint) for f in evaluate(a).findings}
    with_t = {(f.rule_id, f.fingerprint) for f in evaluate(a, tenant=tenant(a, uami_ctx())).findings}
    assert without == with_t
    assert findings_of(evaluate(a), "WIF602")

