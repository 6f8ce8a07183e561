"""Catalogue section 1 (issuer rules WIF101-WIF103, WIF105) and the allowed_issuers matching
rules from the catalogue preamble. WIF104 and WIF106 (event/tenant rules) are in
test_change_and_tenant_rules.py."""

from __future__ import annotations

import pytest
from engine_helpers import (
    ADO,
    ADO_ORG_GUID,
    AKS,
    AKS_CLUSTER_UUID,
    AKS_OLD,
    ENTRA_FOREIGN,
    ENTRA_HOME,
    EVIL,
    FOREIGN,
    GH,
    GITLAB,
    GOOGLE,
    HOME,
    STS_FOREIGN,
    STS_HOME,
    TFC,
    TFC_EU,
    assert_finding,
    ctx,
    engine,
    evaluate,
    graph_fic,
    ids_for,
    one,
    rule_ids,
    severity,
)

# Subjects that fit each provider, so that only issuer rules are in play.
SUBJECT_FOR = {
    GH: "repo:contoso@1001/app@2002:environment:prod",
    GITLAB: "project_id:42:ref_type:branch:ref:main",
    TFC: "organization:contoso:project:infra:workspace:prod:run_phase:apply",
    TFC_EU: "organization:contoso:project:infra:workspace:prod:run_phase:apply",
    ADO: "sc://contoso/infra/prod-connection",
    AKS: "system:serviceaccount:payments:payments-api",
    AKS_OLD: "system:serviceaccount:payments:payments-api",
    GOOGLE: "112233445566778899001",
    ENTRA_HOME: "5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c",
}


# -- WIF101: allow-list -----------------------------------------------------------------------
@pytest.mark.parametrize("issuer", list(SUBJECT_FOR))
def test_wif101_default_allowed_issuers_do_not_fire(issuer: str) -> None:
    ids = ids_for(issuer, SUBJECT_FOR[issuer])
    assert "WIF101" not in ids
    assert "WIF103" not in ids
    assert "WIF102" not in ids


@pytest.mark.parametrize("issuer", list(SUBJECT_FOR))
def test_default_allowed_issuers_with_provider_subjects_are_clean(issuer: str) -> None:
    """Each default issuer with a well-formed subject of its provider fires no issuer,
    subject or audience rule (WIF106 needs an inventory and is not run here)."""
    ids = ids_for(issuer, SUBJECT_FOR[issuer])
    assert ids <= {"WIF205"}, ids


@pytest.mark.parametrize(
    "issuer",
    [
        GH + "/",  # one trailing slash is ignored for matching
        "https://TOKEN.ACTIONS.GITHUBUSERCONTENT.COM",  # host is case-insensitive
        "https://Token.Actions.GitHubUserContent.com/",
        "HTTPS://token.actions.githubusercontent.com",  # scheme is case-insensitive
        "https://GitLab.com",
        "https://APP.TERRAFORM.IO/",
        f"https://vstoken.dev.azure.com/{ADO_ORG_GUID}/",
        f"https://VSTOKEN.dev.azure.com/{ADO_ORG_GUID}",
        f"https://eastus.oic.prod-aks.azure.com/{HOME}/{AKS_CLUSTER_UUID}/",  # AKS, tenant/uuid form
        f"https://eastus.oic.prod-aks.azure.com/{HOME}/{AKS_CLUSTER_UUID}",
        f"https://westeurope.oic.prod-aks.azure.com/{AKS_CLUSTER_UUID}/",  # older uuid-only form
        f"https://WestEurope.OIC.prod-aks.azure.com/{AKS_CLUSTER_UUID}/",
        "https://accounts.google.com/",
        f"https://login.microsoftonline.com/{HOME}/v2.0/",
        f"https://LOGIN.MICROSOFTONLINE.COM/{HOME}/v2.0",
    ],
)
def test_wif101_matching_is_case_insensitive_on_host_and_ignores_one_trailing_slash(issuer: str) -> None:
    assert "WIF101" not in ids_for(issuer)


@pytest.mark.parametrize(
    "issuer",
    [
        "https://idp.example.com",
        GH + "//",  # only ONE trailing slash is ignored
        GH + "/contoso",  # GitHub enterprise-unique issuer is not a default entry
        "https://token.actions.githubusercontent.com.evil.example",
        "https://eviltoken.actions.githubusercontent.com",
        "https://gitlab.com.evil.example",
        "https://gitlab.example.com",
        "https://vstoken.dev.azure.com",  # `*` needs one or more characters
        "https://vstoken.dev.azure.com/",
        f"https://vstoken.dev.azure.com/{ADO_ORG_GUID}/extra",  # `*` does not match `/` in a path
        "https://eastus.oic.prod-aks.azure.com/",  # no path segment
        f"https://eastus.oic.prod-aks.azure.com/a/b/{AKS_CLUSTER_UUID}/",  # three path segments
        f"https://east.us.oic.prod-aks.azure.com/{AKS_CLUSTER_UUID}/",  # `*` does not match `.` in a host
        f"https://.oic.prod-aks.azure.com/{AKS_CLUSTER_UUID}/",  # `*` needs one or more characters
        f"https://eastus.oic.prod-aks.azure.com.evil.example/{AKS_CLUSTER_UUID}/",
        ENTRA_FOREIGN,
        f"https://login.microsoftonline.com/{HOME}/V2.0",  # path is case-sensitive
        f"https://login.microsoftonline.com/{HOME}/v2.0/x",
        "https://login.microsoftonline.com/{home_tenant_id}/v2.0",  # the placeholder itself
        STS_HOME,  # not in the default allow-list
        "https://accounts.google.com.evil.example",
        "http://gitlab.com",  # scheme differs
    ],
)
def test_wif101_fires_for_issuers_outside_the_allow_list(issuer: str) -> None:
    ev = evaluate(ctx(graph_fic(issuer=issuer, subject="repo:contoso@1/app@2:environment:prod")))
    assert "WIF101" in rule_ids(ev)
    assert severity(ev, "WIF101") == "high"


@pytest.mark.parametrize("issuer", [" " + GH, GH + " ", GH + "\n", "\t" + GH, GH + "/ ", " " + ENTRA_HOME])
def test_wif101_padded_issuer_is_not_treated_as_allowed(issuer: str) -> None:
    """Whitespace is never trimmed before matching: WIF103 AND WIF101."""
    ids = ids_for(issuer)
    assert {"WIF101", "WIF103"} <= ids


def test_wif101_home_tenant_entry_needs_home_tenant_id() -> None:
    """The `{home_tenant_id}` entry is replaced by the configured tenant; unset, it matches nothing."""
    assert "WIF101" not in ids_for(ENTRA_HOME, "5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c")
    assert "WIF101" in ids_for(ENTRA_HOME, "5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c", home_tenant_id=None)
    assert "WIF101" in ids_for("https://login.microsoftonline.com/{home_tenant_id}/v2.0", home_tenant_id=None)


def test_wif101_user_allowed_issuers_add_to_defaults() -> None:
    extra = {"allowed_issuers": ["https://idp.contoso.com/oidc"]}
    assert "WIF101" not in ids_for("https://idp.contoso.com/oidc", **extra)
    assert "WIF101" not in ids_for("https://idp.contoso.com/oidc/", **extra)
    assert "WIF101" not in ids_for(GH, **extra)  # defaults still apply
    assert "WIF101" in ids_for("https://idp.contoso.com/OIDC", **extra)  # path is case-sensitive
    assert "WIF101" in ids_for("https://idp.contoso.com/oidc/x", **extra)


def test_wif101_inherit_defaults_false_starts_from_an_empty_allow_list() -> None:
    only_gitlab = {"inherit_defaults": False, "allowed_issuers": ["https://gitlab.com"]}
    assert "WIF101" in ids_for(GH, **only_gitlab)
    assert "WIF101" not in ids_for(GITLAB, "project_id:42:ref_type:branch:ref:main", **only_gitlab)


def test_wif101_empty_allow_list_fires_for_everything() -> None:
    assert "WIF101" in ids_for(GH, inherit_defaults=False, allowed_issuers=[])


@pytest.mark.parametrize(
    ("issuer", "allowed"),
    [
        ("https://idp.contoso.com", True),
        ("https://IDP.contoso.com/", True),
        ("https://contoso.com", False),  # `*` matches one or more characters
        ("https://a.b.contoso.com", False),  # `*` does not match `.` inside a host
        ("https://idp.contoso.com/x", False),
    ],
)
def test_wif101_host_wildcard_semantics(issuer: str, allowed: bool) -> None:
    ids = ids_for(issuer, allowed_issuers=["https://*.contoso.com"])
    assert ("WIF101" not in ids) is allowed


@pytest.mark.parametrize(
    ("issuer", "allowed"),
    [
        ("https://idp.contoso.com/tenants/t1/oidc", True),
        ("https://idp.contoso.com/tenants/T.1-x/oidc/", True),  # `.` is fine in a path segment
        ("https://idp.contoso.com/tenants/a/b/oidc", False),  # `*` does not match `/` in a path
        ("https://idp.contoso.com/tenants//oidc", False),  # one or more characters
    ],
)
def test_wif101_path_wildcard_semantics(issuer: str, allowed: bool) -> None:
    ids = ids_for(issuer, allowed_issuers=["https://idp.contoso.com/tenants/*/oidc"])
    assert ("WIF101" not in ids) is allowed


def test_wif101_finding_shape_and_message_names_the_issuer() -> None:
    cred = graph_fic(name="backdoor", issuer="https://idp.example.com/oidc")
    c = ctx(cred)
    f = one(evaluate(c), "WIF101")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, credential=cred, offending="https://idp.example.com/oidc")


# -- WIF102: generic hosting domains ----------------------------------------------------------
HOSTING_SUFFIXES = [
    ".blob.core.windows.net", ".web.core.windows.net", ".azurewebsites.net", ".storage.googleapis.com",
    ".github.io", ".netlify.app", ".pages.dev", ".ngrok.io", ".ngrok-free.app", ".ngrok.app",
    ".trycloudflare.com",
]


@pytest.mark.parametrize("suffix", HOSTING_SUFFIXES)
def test_wif102_fires_for_every_listed_hosting_suffix(suffix: str) -> None:
    issuer = f"https://attacker{suffix}/oidc"
    cred = graph_fic(name="backdoor", issuer=issuer)
    c = ctx(cred)
    ev = evaluate(c)
    assert {"WIF101", "WIF102"} <= rule_ids(ev)
    f = one(ev, "WIF102")
    assert f.severity.label == "critical"
    assert_finding(f, c.identity, credential=cred, offending=issuer)


@pytest.mark.parametrize(
    "issuer",
    [
        "https://storage.googleapis.com/my-oidc-bucket",  # exact host
        "https://storage.googleapis.com",
        "https://my-bucket.s3.amazonaws.com/oidc",
        "https://my-bucket.s3.eu-west-1.amazonaws.com/oidc",
        "https://s3-eu-west-1.amazonaws.com/my-bucket",
        "https://s3.amazonaws.com/my-bucket",
        "https://my-bucket.s3-website-us-east-1.amazonaws.com",
        "https://my-bucket.s3-website.eu-west-1.amazonaws.com",
        "https://EVIL.BLOB.CORE.WINDOWS.NET/oidc",  # host is case-insensitive
        "https://evil.blob.core.windows.net:443/oidc",  # a port does not change the host
        "https://a.b.web.core.windows.net/",
        "https://evil.z13.web.core.windows.net/",
    ],
)
def test_wif102_fires_for_exact_and_s3_style_hosts(issuer: str) -> None:
    ev = evaluate(ctx(graph_fic(issuer=issuer)))
    assert "WIF102" in rule_ids(ev)
    assert severity(ev, "WIF102") == "critical"


@pytest.mark.parametrize(
    "issuer",
    [
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf",  # amazonaws.com, no s3 label
        "https://sts.amazonaws.com",
        "https://ec2.us-east-1.amazonaws.com/x",
        "https://mystorage.googleapis.com/oidc",  # not .storage.googleapis.com, not exact
        "https://storage.googleapis.com.evil.example/oidc",
        "https://blob.core.windows.net.evil.example/oidc",
        "https://evilblob.core.windows.net/oidc",
        "https://github.io.evil.example/",
        "https://github.com/contoso",
        "https://idp.example.com/oidc",
        GH,
        GITLAB,
        AKS,
    ],
)
def test_wif102_does_not_fire_for_other_hosts(issuer: str) -> None:
    assert "WIF102" not in ids_for(issuer)


SELF_HOSTED = "https://myoidc.blob.core.windows.net/issuer"


def test_wif102_suppressed_when_issuer_is_listed_exactly() -> None:
    ids = ids_for(SELF_HOSTED, "system:serviceaccount:payments:payments-api", allowed_issuers=[SELF_HOSTED])
    assert "WIF102" not in ids
    assert "WIF101" not in ids


def test_wif102_exact_listing_follows_matching_rules_for_host_case() -> None:
    ids = ids_for("https://MYOIDC.blob.core.windows.net/issuer", allowed_issuers=[SELF_HOSTED])
    assert not {"WIF101", "WIF102"} & ids


def test_wif102_exact_listing_of_another_path_does_not_suppress() -> None:
    ids = ids_for("https://myoidc.blob.core.windows.net/Issuer", allowed_issuers=[SELF_HOSTED])
    assert {"WIF101", "WIF102"} <= ids  # path is case-sensitive
    ids = ids_for("https://myoidc.blob.core.windows.net/other", allowed_issuers=[SELF_HOSTED])
    assert {"WIF101", "WIF102"} <= ids


@pytest.mark.parametrize(
    "pattern",
    [
        "https://*.blob.core.windows.net/issuer",
        "https://myoidc.blob.core.windows.net/*",
        "https://*.blob.core.windows.net/*",
    ],
)
def test_wif102_not_suppressed_by_a_wildcard_entry(pattern: str) -> None:
    ids = ids_for(SELF_HOSTED, allowed_issuers=[pattern])
    assert "WIF101" not in ids  # the wildcard entry does allow it ...
    assert "WIF102" in ids  # ... but only an exact entry suppresses WIF102


# -- WIF103: well-formed https URL ------------------------------------------------------------
@pytest.mark.parametrize(
    "issuer",
    [
        "http://token.actions.githubusercontent.com",
        "ftp://token.actions.githubusercontent.com",
        "token.actions.githubusercontent.com",  # no scheme at all
        "https://10.0.0.1/issuer",
        "https://127.0.0.1:8443",
        "https://[::1]/issuer",
        "https://[2001:db8::1]:443/issuer",
        "https://localhost/issuer",
        "https://localhost:8443",
        "https://LOCALHOST/issuer",
        "https://user:secret@token.actions.githubusercontent.com",
        "https://user@idp.example.com",
        "https://token.actions.githubusercontent.com?x=1",
        "https://token.actions.githubusercontent.com/?x=1",
        "https://token.actions.githubusercontent.com#frag",
        "https://token.actions.githubusercontent.com?",  # empty query
        "https://token.actions.githubusercontent.com#",  # empty fragment
        " https://token.actions.githubusercontent.com",
        "https://token.actions.githubusercontent.com ",
        "https://token.actions.githubusercontent.com\n",
        "\thttps://gitlab.com",
    ],
)
def test_wif103_fires_for_malformed_issuers(issuer: str) -> None:
    ev = evaluate(ctx(graph_fic(issuer=issuer)))
    assert "WIF103" in rule_ids(ev)
    assert severity(ev, "WIF103") == "high"


@pytest.mark.parametrize(
    "issuer",
    [
        GH,
        GH + "/",
        "HTTPS://gitlab.com",
        "https://token.actions.githubusercontent.com:443",
        "https://idp.example.com/a/b/c",
        AKS,
        ADO,
        EVIL,  # badly placed, but well formed
        "https://10-0-0-1.example.com/issuer",  # looks like an IP, is a host name
        "https://localhost.example.com/issuer",
    ],
)
def test_wif103_does_not_fire_for_well_formed_https_urls(issuer: str) -> None:
    assert "WIF103" not in ids_for(issuer)


def test_wif103_message_names_the_issuer() -> None:
    cred = graph_fic(name="padded", issuer=" https://token.actions.githubusercontent.com")
    c = ctx(cred)
    f = one(evaluate(c), "WIF103")
    assert_finding(f, c.identity, credential=cred, offending="https://token.actions.githubusercontent.com")


# -- WIF105: foreign Entra tenant --------------------------------------------------------------
@pytest.mark.parametrize(
    "issuer",
    [ENTRA_FOREIGN, STS_FOREIGN, ENTRA_FOREIGN + "/", f"https://LOGIN.microsoftonline.com/{FOREIGN}/v2.0"],
)
def test_wif105_fires_for_a_foreign_tenant(issuer: str) -> None:
    cred = graph_fic(name="xtenant", issuer=issuer, subject="5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c")
    c = ctx(cred)
    ev = evaluate(c)
    f = one(ev, "WIF105")
    assert f.severity.label == "high"
    assert_finding(f, c.identity, credential=cred, offending=FOREIGN)


@pytest.mark.parametrize("issuer", [ENTRA_HOME, STS_HOME, f"https://login.microsoftonline.com/{HOME.upper()}/v2.0"])
def test_wif105_does_not_fire_for_the_home_tenant(issuer: str) -> None:
    assert "WIF105" not in ids_for(issuer, "5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c")


@pytest.mark.parametrize("issuer", [GH, GITLAB, "https://login.microsoftonline.com/common/v2.0", GOOGLE])
def test_wif105_does_not_fire_for_non_tenant_issuers(issuer: str) -> None:
    assert "WIF105" not in ids_for(issuer)


def test_wif105_without_home_tenant_every_entra_tenant_is_foreign() -> None:
    assert "WIF105" in ids_for(ENTRA_HOME, "5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c", home_tenant_id=None)


def test_wif105_home_tenant_match_follows_configuration() -> None:
    # Configure the "foreign" tenant as home: now it is the home tenant and the other is foreign.
    assert "WIF105" not in ids_for(ENTRA_FOREIGN, "5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c", home_tenant_id=FOREIGN)
    assert "WIF105" in ids_for(ENTRA_HOME, "5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c", home_tenant_id=FOREIGN)


# -- fingerprints ------------------------------------------------------------------------------
def test_fingerprint_is_stable_across_evaluations_and_engines() -> None:
    cred = graph_fic(name="backdoor", issuer=EVIL)
    first = one(evaluate(ctx(cred)), "WIF102").fingerprint
    again = one(evaluate(ctx(cred)), "WIF102").fingerprint
    fresh_engine = one(evaluate(ctx(cred), engine(approved_actors=["someone"])), "WIF102").fingerprint
    assert first == again == fresh_engine


def test_fingerprint_differs_for_a_different_credential_identity_or_rule() -> None:
    base = one(evaluate(ctx(graph_fic(name="backdoor", issuer=EVIL))), "WIF102")
    other_name = one(evaluate(ctx(graph_fic(name="backdoor-2", issuer=EVIL))), "WIF102")
    other_issuer = one(evaluate(ctx(graph_fic(name="backdoor", issuer=EVIL + "2"))), "WIF102")
    other_identity = one(evaluate(ctx(graph_fic(name="backdoor", issuer=EVIL), ident_id="other-app")), "WIF102")
    wif101 = one(evaluate(ctx(graph_fic(name="backdoor", issuer=EVIL))), "WIF101")
    prints = {base.fingerprint, other_name.fingerprint, other_issuer.fingerprint, other_identity.fingerprint,
              wif101.fingerprint}
    assert len(prints) == 5


def test_two_credentials_in_one_identity_get_separate_findings() -> None:
    a = graph_fic(name="a", issuer=EVIL)
    b = graph_fic(name="b", issuer=EVIL.replace("stratusfic", "other"))
    ev = evaluate(ctx([a, b]))
    found = [f for f in ev.findings if f.rule_id == "WIF102"]
    assert sorted(f.credential["name"] for f in found) == ["a", "b"]
    assert len({f.fingerprint for f in found}) == 2


def test_fingerprint_same_for_the_same_credential_from_graph_and_audit_shapes() -> None:
    """A sweep (Graph shape) and an audit-log event (PascalCase shape) of the same violation
    must update one record."""
    from wifguard.domain.model import Credential

    graph = graph_fic(name="backdoor", issuer=EVIL, id="f1f1f1f1-0000-4000-8000-00000000f1c1")
    audit = Credential.from_audit({
        "Name": "backdoor", "Issuer": EVIL, "Subject": graph.subject, "Id": "f1f1f1f1-0000-4000-8000-00000000f1c1",
        "Audiences": ["api://AzureADTokenExchange"], "Description": "something else",
    })
    assert one(evaluate(ctx(graph)), "WIF102").fingerprint == one(evaluate(ctx(audit)), "WIF102").fingerprint
