"""The engine's fast path gives exactly what the earlier approach gave.

``Engine(fast=True)`` (the default) leaves out rules that cannot fire under the config, memoises
rules that read identifying fields (repository, namespace...) apart from the fused program, and
builds findings only when they are read. ``Engine(fast=False)`` is the earlier approach: one fused
program per target, every finding built as it fires. Both must agree finding for finding.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from engine_helpers import (
    ADO,
    AKS,
    CONTRIBUTOR,
    EVIL,
    GH,
    GITLAB,
    HOME,
    OWNER,
    RG_SCOPE,
    SUB_SCOPE,
    TFC,
    change,
    ctx,
    graph_fic,
    role,
    tenant,
    uami_ctx,
    user_actor,
)

from wifguard.catalogue.engine import Engine, constant_false, top_level_conjuncts
from wifguard.config import load_config
from wifguard.domain.model import ChangeKind, Credential, IdentityKind, TrustContext
from wifguard.domain.privilege import Privilege
from wifguard.sources.privilege import facts as privilege_facts
from wifguard.sources.privilege.tiering import shipped_tiering

SUBJECTS = [
    (GH, "repo:contoso/app:environment:prod"), (GH, "repo:evil/app:pull_request"),
    (GH, "repo:contoso/web:ref:refs/heads/main"), (GH, "repo:other/x:*"),
    (GITLAB, "project_path:contoso/app:ref_type:branch:ref:main"),
    (GITLAB, "project_path:evil/app:ref_type:branch:ref:main"),
    (TFC, "organization:contoso:project:p:workspace:w:run_phase:plan"),
    (TFC, "organization:evil:project:p:workspace:w:run_phase:apply"),
    (ADO, "sc://contoso/proj/conn"), (ADO, "sc://evil/proj/conn"),
    (AKS, "system:serviceaccount:default:default"), (AKS, "system:serviceaccount:payments:api"),
    (EVIL, "anything"),
]


def _contexts() -> list[TrustContext]:
    out: list[TrustContext] = []
    for i, ((iss, sub), described, roles) in enumerate(itertools.product(SUBJECTS, (True, False), (0, 1, 2))):
        creds = [graph_fic(name=f"fic-{i}", issuer=iss, subject=sub,
                           description="prod deploy" if described else None)]
        if i % 5 == 0:  # a duplicate pair across identities (WIF503) and a flexible credential
            creds.append(graph_fic(name=f"flex-{i}", expression="claims['sub'] matches 'repo:contoso/*:ref:*'",
                                   subject=None))
        ras = [role(OWNER, SUB_SCOPE, principal=f"p-{i}")] if roles == 1 else \
            [role(CONTRIBUTOR, RG_SCOPE, principal=f"p-{i}")] if roles == 2 else []
        out.append(ctx(creds, roles=ras, ident_id=f"00000000-0000-4000-8000-{i:012d}", name=f"app-{i}"))
    out.append(uami_ctx(creds=[graph_fic(issuer=AKS, subject="system:serviceaccount:default:default")]))
    return out


CONFIGS: list[dict[str, Any]] = [
    {},  # empty allow-lists: WIF201/208/210/211 cannot fire and are left out
    {"github": {"allowed_owners": ["contoso"]}, "gitlab": {"allowed_groups": ["contoso"]},
     "terraform_cloud": {"allowed_organizations": ["contoso"]},
     "azure_devops": {"allowed_organizations": ["contoso"]}},
]


@pytest.mark.parametrize("overrides", CONFIGS, ids=["empty-allow-lists", "allow-lists"])
def test_fast_and_earlier_engines_agree_finding_for_finding(overrides: dict[str, Any]) -> None:
    config = load_config(overrides={"home_tenant_id": HOME, **overrides})
    fast, earlier = Engine(config), Engine(config, fast=False)
    contexts = _contexts()
    index = tenant(*contexts)
    total = 0
    for _ in range(2):  # the second round is answered from the memo
        for c in contexts:
            a = fast.evaluate(c, tenant=index)
            b = earlier.evaluate(c, tenant=index)
            assert a.fired == b.fired
            assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]
            assert a.rules_run == b.rules_run and a.errors == b.errors
            total += len(a.findings)
    assert total > len(contexts)  # the mix fires plenty


def test_change_rules_agree_and_follow_the_live_credential() -> None:
    config = load_config(overrides={"home_tenant_id": HOME, "approved_actors": ["ci@contoso.com"]})
    fast, earlier = Engine(config), Engine(config, fast=False)
    live = graph_fic(name="deploy", issuer=EVIL, subject="x")
    old = graph_fic(name="deploy", issuer=GH, subject="repo:contoso/app:environment:prod")
    context = ctx([live])
    for ch in (change(old=old, new=live, actor=user_actor()),
               change(ChangeKind.CREDENTIAL_REMOVED, old=live, actor=user_actor()),
               change(new=graph_fic(name="gone", issuer=EVIL, subject="y"), actor=user_actor())):
        a, b = fast.evaluate(context, change=ch), earlier.evaluate(context, change=ch)
        assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]
    assert "WIF104" in fast.evaluate(context, change=change(old=old, new=live, actor=user_actor())).fired


def test_rules_that_cannot_fire_under_the_config_are_left_out_only_then() -> None:
    empty = Engine(load_config(overrides={"home_tenant_id": HOME}))
    pruned = empty.groups[("credential", 1)].pruned
    assert {"WIF208", "WIF210", "WIF211"} <= set(pruned)
    allowed = Engine(load_config(overrides={"home_tenant_id": HOME, "gitlab": {"allowed_groups": ["contoso"]}}))
    assert "WIF210" not in allowed.groups[("credential", 1)].pruned
    ev = allowed.evaluate(ctx(graph_fic(issuer=GITLAB, subject="project_path:evil/app:ref_type:branch:ref:main")))
    assert "WIF210" in ev.fired
    # Left out of the program, still counted as run (a later run may resolve its findings).
    assert "WIF210" in empty.evaluate(ctx(graph_fic())).rules_run


def test_findings_are_built_only_when_read() -> None:
    eng = Engine(load_config(overrides={"home_tenant_id": HOME}))
    ev = eng.evaluate(ctx(graph_fic(issuer=EVIL, subject="x")))
    assert ev._findings is None and "WIF101" in ev.fired and len(ev) == len(ev.fired)
    first = ev.findings
    assert ev.findings is first and [f.rule_id for f in first] == list(ev.fired)


def test_top_level_conjuncts_respect_brackets_strings_and_or() -> None:
    assert top_level_conjuncts("a && (b || c) && d['&&']") == ["a", "(b || c)", "d['&&']"]
    assert top_level_conjuncts("a && b || c") == ["a && b || c"]
    assert top_level_conjuncts("a ? b && c : d") == ["a ? b && c : d"]
    assert top_level_conjuncts("x.exists(g, g == '&&' && y)") == ["x.exists(g, g == '&&' && y)"]
    assert constant_false("size([]) > 0 && subject.repo != ''")
    assert not constant_false("size(['a']) > 0 && subject.repo != ''")
    assert not constant_false("subject.repo == '' && size([]) > 0 || true")


def test_privilege_facts_of_an_identity_holding_nothing_match_the_general_computation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for privilege in (None, Privilege(), Privilege(errors=("owners unreadable",))):
        context = TrustContext(ctx(graph_fic()).identity, (graph_fic(), graph_fic(name="b")), (), (),
                               privilege=privilege)
        fast = privilege_facts.privilege_vars(context, shipped_tiering(), frozenset(), frozenset())
        with monkeypatch.context() as m:
            m.setattr(Privilege, "empty", property(lambda self: False))
            general = privilege_facts.privilege_vars(context, shipped_tiering(), frozenset(), frozenset())
        assert fast == general


def test_managed_identity_and_arm_credentials_agree() -> None:
    config = load_config(overrides={"home_tenant_id": HOME})
    fast, earlier = Engine(config), Engine(config, fast=False)
    cred = Credential.from_arm({"id": "/x/federatedIdentityCredentials/k", "name": "k",
                                "properties": {"issuer": AKS, "subject": "system:serviceaccount:default:x",
                                               "audiences": ["api://AzureADTokenExchange"]}})
    c = ctx([cred], kind=IdentityKind.MANAGED_IDENTITY, owners=None)
    assert [f.to_dict() for f in fast.evaluate(c).findings] == [f.to_dict() for f in earlier.evaluate(c).findings]
