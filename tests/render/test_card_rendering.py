"""Every Teams card kind, rendered by the official ``adaptivecards`` renderer (with markdown-it, as
Teams renders Markdown) under the Teams light and dark host configs in headless Chromium.

Checks what a reader sees: no backslash escape in visible text, hostile names shown verbatim and
inert, severity readable (contrast >= 4.5:1) and CRITICAL distinct from HIGH, the trust path and
the owners line before the details, GUIDs hidden until asked for. PNGs are kept in the test's
tmp dir for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from render_helpers import BACKSLASH_ESCAPE, card_jobs, render

from wifguard.domain.model import (
    Finding,
    Identity,
    IdentityKind,
    Owner,
    RoleAssignment,
    Severity,
    TrustContext,
    fingerprint,
)
from wifguard.notify import Notice, NoticeKind, privileges_of
from wifguard.notify.teams import teams_card

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MI_ID = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-ci/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/id-deploy-production-infrastructure-pipelines"
)
HOSTILE_NAME = "id-deploy **bold** _it_ [click](https://evil.example/x) `code` # not-a-heading"
SUBJECT = "repo:contoso/infra_pipelines:pull_request"
CRED = {"name": "gh_pull_requests", "issuer": "https://token.actions.githubusercontent.com", "subject": SUBJECT}
OWNERS = (
    Owner("aaaaaaaa-0000-4000-8000-000000000001", "Alice *Admin*", "alice@contoso.com"),
    Owner("aaaaaaaa-0000-4000-8000-000000000009", "ci-robot [bot]", kind="servicePrincipal"),
)
OWNER_ROLE = RoleAssignment(
    "/subscriptions/11111111-2222-3333-4444-555555555555/providers/Microsoft.Authorization/roleAssignments/ra-1",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "pppppppp-0000-4000-8000-000000000001",
    "/subscriptions/11111111-2222-3333-4444-555555555555",
)
IDENTITY = Identity(MI_ID, HOSTILE_NAME, IdentityKind.MANAGED_IDENTITY)
PRIVILEGES = privileges_of(TrustContext(IDENTITY, role_assignments=(OWNER_ROLE,)))


def finding(rule: str, severity: Severity, title: str) -> Finding:
    return Finding(
        rule, severity, title,
        f"Credential {CRED['name']} lets every pull request of contoso/infra_pipelines sign in "
        f"(see https://docs.example/wif_{rule}).",
        IDENTITY.to_ref(), "Trust an environment (`environment:prod`) instead of pull_request.",
        fingerprint(rule, MI_ID, CRED), credential=CRED,
    )


def notice(severity: Severity, kind: NoticeKind = NoticeKind.NEW, others: tuple[Finding, ...] = ()) -> Notice:
    return Notice(
        finding("WIF601", severity, "Pull requests can sign in as a privileged identity"), OWNERS, TENANT, kind,
        identity=IDENTITY, privileges=PRIVILEGES, others=others,
        restore_hint="wifguard quarantine restore 7f3c2a" if kind in (NoticeKind.QUARANTINED, NoticeKind.DRY_RUN)
        else None,
    )


def all_cards() -> dict[str, dict[str, Any]]:
    others = (
        finding("WIF603", Severity.HIGH, "Subject trusts every branch"),
        finding("WIF605", Severity.MEDIUM, "No environment protection"),
        finding("WIF605", Severity.MEDIUM, "No environment protection"),
        finding("WIF700", Severity.LOW, "Owner left the company"),
        finding("WIF701", Severity.INFO, "Unused credential"),
    )
    cards = {f"new-{s.label}": teams_card(notice(s)) for s in Severity}
    cards["grouped"] = teams_card(notice(Severity.CRITICAL, others=others))
    for kind in (NoticeKind.REMINDER, NoticeKind.QUARANTINED, NoticeKind.DRY_RUN):
        cards[kind.value] = teams_card(notice(Severity.HIGH, kind))
    return cards


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, Any]], Path]:
    out = tmp_path_factory.mktemp("cards")
    return render(card_jobs(all_cards(), out), out), out


def test_every_card_renders_without_errors_and_a_png_is_kept(rendered: Any) -> None:
    results, out = rendered
    assert len(results) == 2 * (len(Severity) + 4)
    for name, r in results.items():
        assert r["errors"] == [], name
        assert r["requests"] == [], name  # a card loads nothing from the network
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000


def test_no_backslash_escape_reaches_visible_text(rendered: Any) -> None:
    results, _ = rendered
    for name, r in results.items():
        assert BACKSLASH_ESCAPE.search(r["text"]) is None, (name, r["text"])
        # Untrusted values are shown exactly as they are, inert (no bold, link or code made).
        assert HOSTILE_NAME in r["text"], name
        assert SUBJECT in r["text"], name
        assert "`environment:prod`" in r["text"], name
        made = [(run["tag"], run["text"]) for run in r["runs"] if run["tag"] in ("a", "strong", "em", "code", "h1")]
        own = {("strong", "Owners:"), ("strong", "Also on this identity")}  # our own Markdown labels
        assert set(made) <= own, (name, made)


def test_all_visible_text_meets_contrast_in_light_and_dark(rendered: Any) -> None:
    results, _ = rendered
    for name, r in results.items():
        low = [(run["text"], run["ratio"]) for run in r["runs"] if run["ratio"] < 4.5]
        assert low == [], name


def severity_run(r: dict[str, Any], label: str) -> dict[str, Any]:
    return next(run for run in r["runs"] if label in run["text"] and run["weight"] >= 600)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_severity_is_bold_readable_and_critical_stands_apart(rendered: Any, theme: str) -> None:
    results, _ = rendered
    runs = {s: severity_run(results[f"new-{s.label}-{theme}"], s.label.upper()) for s in Severity}
    for s, run in runs.items():
        assert run["ratio"] >= 4.5, (s, run)
        assert run["weight"] >= 600
    crit, high = runs[Severity.CRITICAL], runs[Severity.HIGH]
    assert crit["bg"] != high["bg"]  # a different band colour
    assert crit["size"] > high["size"]  # and a larger label
    assert "act now" in crit["text"]


def test_reading_order_and_hidden_ids(rendered: Any) -> None:
    results, _ = rendered
    for theme in ("light", "dark"):
        text = results[f"new-high-{theme}"]["text"]
        path = text.index("GitHub Actions \u2192 " + SUBJECT)
        assert text.index("HIGH") < text.index("Pull requests can sign in") < path
        assert path < text.index("Owners:") < text.index("Credential gh_pull_requests lets")
        assert "Owner @ subscription 11111111-2222-3333-4444-555555555555" in text[path:text.index("Owners:")]
        assert "ci-robot [bot] (service principal)" in text
        # The identity's ARM id and the fingerprint stay hidden until "Show ids".
        assert MI_ID not in text and "Fingerprint" not in text
        assert "Show ids" in text
        quarantined = results[f"quarantined-{theme}"]["text"]
        lead = quarantined.index("Credential gh_pull_requests was deleted from")
        assert lead < quarantined.index("Restore: wifguard quarantine restore 7f3c2a") < quarantined.index(
            "GitHub Actions"
        )
        grouped = results[f"grouped-{theme}"]["text"]
        assert grouped.index("HIGH WIF603") < grouped.index("MEDIUM WIF605") < grouped.index("and 1 more")


def test_digest_card_renders_readably(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from wifguard.notify.digest import Digest, RiskyIdentity, digest_card

    d = Digest(
        "t-1", "whole tenant", datetime(2026, 11, 27, 9, 0, tzinfo=UTC), 40, 31,
        {Severity.CRITICAL: 2, Severity.HIGH: 5, Severity.MEDIUM: 9, Severity.LOW: 0, Severity.INFO: 1},
        (RiskyIdentity(MI_ID, HOSTILE_NAME, "managedIdentity", Severity.CRITICAL, 3, ("WIF102", "WIF601")),),
        new=4, resolved=1, previous=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    )
    results = render(card_jobs({"digest": digest_card(d)}, tmp_path), tmp_path)
    for theme in ("light", "dark"):
        r = results[f"digest-{theme}"]
        assert r["errors"] == [] and r["requests"] == []
        assert BACKSLASH_ESCAPE.search(r["text"]) is None and HOSTILE_NAME in r["text"]
        assert "17 open finding(s) on 9 of 40 identities" in r["text"]
        assert [(run["text"], run["ratio"]) for run in r["runs"] if run["ratio"] < 4.5] == []
        assert (tmp_path / f"digest-{theme}.png").stat().st_size > 2000
