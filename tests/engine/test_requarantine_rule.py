"""WIF704: a credential quarantine removed has come back (change-only, with near misses)."""

from __future__ import annotations

import dataclasses

from engine_helpers import (
    EVIL,
    GH,
    ChangeKind,
    assert_finding,
    change,
    ctx,
    evaluate,
    graph_fic,
    one,
    rule_ids,
    user_actor,
)

BACKUP = "qb-20261120T100000000000Z-abcdef012345"


def readded(kind: ChangeKind = ChangeKind.CREDENTIAL_ADDED, actor=None, backup: str | None = BACKUP, **fic):
    cred = graph_fic(name="backdoor", issuer=EVIL, **fic)
    old, new = (cred, None) if kind is ChangeKind.CREDENTIAL_REMOVED else (None, cred)
    ch = dataclasses.replace(change(kind, old=old, new=new, actor=actor), quarantined_backup=backup)
    return cred, ch


def test_wif704_fires_when_a_quarantined_credential_is_re_added() -> None:
    cred, ch = readded(actor=user_actor(upn="mallory@contoso.com"))
    c = ctx(cred)
    f = one(evaluate(c, change=ch), "WIF704")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, credential=cred)
    assert BACKUP in f.message and "mallory@contoso.com" in f.message


def test_wif704_fires_for_an_arm_write_and_an_unknown_actor() -> None:
    cred, ch = readded(ChangeKind.CREDENTIAL_WRITTEN)
    f = one(evaluate(ctx(cred), change=ch), "WIF704")
    assert "an unknown actor" in f.message


def test_wif704_near_miss_same_credential_never_quarantined() -> None:
    cred, ch = readded(backup=None, actor=user_actor(upn="mallory@contoso.com"))
    assert "WIF704" not in rule_ids(evaluate(ctx(cred), change=ch))


def test_wif704_near_miss_the_removal_itself() -> None:
    _cred, ch = readded(ChangeKind.CREDENTIAL_REMOVED)
    assert "WIF704" not in rule_ids(evaluate(ctx(), change=ch))


def test_wif704_near_miss_no_change_sweep_evaluation() -> None:
    cred = graph_fic(name="backdoor", issuer=EVIL)
    assert "WIF704" not in rule_ids(evaluate(ctx(cred)))


def test_wif704_near_miss_a_benign_credential_added() -> None:
    cred = graph_fic(name="deploy", issuer=GH)
    assert "WIF704" not in rule_ids(evaluate(ctx(cred), change=change(ChangeKind.CREDENTIAL_ADDED, new=cred)))
