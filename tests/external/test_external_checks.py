"""The providers and the resolver against the simulated services, the cache on Azurite."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from external_helpers import CASES, GH, app_object_id, seed

from wifguard.azurite import Azurite
from wifguard.catalogue.engine import Engine
from wifguard.config import ConfigError, load_config
from wifguard.domain.model import Credential, Identity, IdentityKind, TrustContext
from wifguard.sim import SimTenant
from wifguard.sources.external.base import Answer, Budget, State, Target
from wifguard.sources.external.checks import ExternalChecks, SimEndpoints
from wifguard.sources.external.config import ExternalConfig
from wifguard.sources.external.github import GitHubConfig, GitHubProvider, host_of_issuer
from wifguard.sources.external.http import https_host
from wifguard.sources.external.refs import GitHubRef, GitLabRef, TfcRef, refs_of
from wifguard.store.external_cache import ExternalCache


def ctx_for(subject: str, issuer: str = GH, name: str = "app", ident: str = "a1") -> TrustContext:
    cred = Credential("c1", issuer, subject, ("api://AzureADTokenExchange",))
    return TrustContext(Identity(ident, name, IdentityKind.APPLICATION), (cred,), (), ())


def checks(sim: SimTenant, cache: Any = None, **github: Any) -> ExternalChecks:
    cfg = ExternalConfig.from_mapping({"github": {"enabled": True, **github}, "gitlab": {"enabled": True},
                                       "terraform_cloud": {"enabled": True}})
    return ExternalChecks(cfg, env={}, sim=SimEndpoints(sim.external_urls, sim.token, sim.ca_path), cache=cache)


def external_of(facts: Any, ctx: TrustContext) -> dict[str, Any]:
    got = facts.get(ctx.credentials[0])
    assert got is not None
    return dict(got[0])


# -- what a subject names ------------------------------------------------------------------------
def test_refs_follow_the_issuer_host() -> None:
    assert host_of_issuer(GH) == "github.com"
    assert host_of_issuer(GH + "/contoso-enterprise") == "github.com"  # unique enterprise issuer
    assert host_of_issuer("https://ghes.contoso.com/_services/token") == "ghes.contoso.com"
    assert host_of_issuer("https://evil.example.com/oidc") is None
    # GitLab and Terraform: the API is on the issuer's own https host (one shared helper).
    assert https_host("https://GitLab.Contoso.com/") == "gitlab.contoso.com"
    assert https_host("http://gitlab.contoso.com") is None
    assert https_host("https://[::1") is None
    (r,) = refs_of("https://ghes.contoso.com/_services/token", "repo:Platform/infra:environment:prod", None)
    assert r == GitHubRef("ghes.contoso.com", "Platform", "infra", environment="prod")
    (r,) = refs_of("https://gitlab.contoso.com", "project_path:grp/sub/app:ref_type:branch:ref:main", None)
    assert r == GitLabRef("gitlab.contoso.com", "grp/sub/app", "grp/sub")
    (r,) = refs_of("https://tfe.contoso.com", "organization:acme:project:p:workspace:w:run_phase:apply", None)
    assert r == TfcRef("tfe.contoso.com", "acme", "w")
    flex = "claims['sub'] matches 'project_path:contoso/*:ref_type:branch:ref:main'"
    assert refs_of("https://gitlab.com", None, flex) == (GitLabRef("gitlab.com", "", "contoso"),)
    # Not a GitHub issuer: a GitHub-looking subject is not looked up on GitHub.
    assert refs_of("https://evil.example.com", "repo:contoso/app:ref:refs/heads/main", None) == ()


def test_ghes_api_url() -> None:
    p = GitHubProvider(GitHubConfig(enabled=True, hosts={"ghes.contoso.com": "GHES_TOKEN"}), "ghes.contoso.com",
                       env={"GHES_TOKEN": "t"})
    assert p.api_url == "https://ghes.contoso.com/api/v3" and p.authenticated


# -- answers ---------------------------------------------------------------------------------------
async def test_answers_have_three_states(sim: SimTenant) -> None:
    ch = checks(sim)
    try:
        got = await ch.fetch([Target("github", "github.com", "owner", "ghost-org"),
                              Target("github", "github.com", "owner", "contoso"),
                              Target("github", "github.com", "repo", "contoso/secret-svc")])
    finally:
        await ch.close()
    assert got["github.com|owner|ghost-org"].state is State.MISSING
    contoso = got["github.com|owner|contoso"]
    assert contoso.state is State.EXISTS and contoso.data["id"] == "1001" and contoso.data["type"] == "Organization"
    # Authenticated (the simulator's token): a private repository is visible.
    assert got["github.com|repo|contoso/secret-svc"].state is State.EXISTS


async def test_unauthenticated_404_on_a_repository_is_unknown(sim: SimTenant) -> None:
    # No token: GitHub hides private repositories behind the same 404 as deleted ones.
    p = GitHubProvider(GitHubConfig(enabled=True, api_url=sim.external_urls["github"], token_setting=None),
                       "github.com", env={}, ssl_context=__import__("ssl").create_default_context(cafile=sim.ca_path))
    try:
        private = await p.lookup(Target("github", "github.com", "repo", "contoso/secret-svc"))
        deleted = await p.lookup(Target("github", "github.com", "repo", "contoso/deleted-svc"))
        owner = await p.lookup(Target("github", "github.com", "owner", "ghost-org"))
    finally:
        await p.close()
    assert private.state is State.UNKNOWN and private.status == 404
    assert deleted.state is State.UNKNOWN
    assert owner.state is State.MISSING  # owners are public: a 404 is an answer
    assert p.budget.limit == 60 and p.budget.remaining is not None


async def test_rate_limit_exhausted_is_unknown() -> None:
    s = seed()
    s["github"]["rate_limit"] = {"authenticated": 3, "unauthenticated": 3}
    with SimTenant.start(s) as sim:
        ch = checks(sim, reserve=0)
        try:
            got = await ch.fetch([Target("github", "github.com", "owner", f"nobody-{i}") for i in range(6)])
        finally:
            await ch.close()
    states = sorted(a.state.value for a in got.values())
    assert states.count("missing") == 3 and states.count("unknown") == 3
    assert not any(a.state is State.MISSING and "rate" in a.answer for a in got.values())


async def test_budget_stops_before_the_quota(sim: SimTenant) -> None:
    ch = checks(sim, max_requests=2)
    try:
        got = await ch.fetch([Target("github", "github.com", "owner", f"nobody-{i}") for i in range(5)])
    finally:
        await ch.close()
    unknown = [a for a in got.values() if a.state is State.UNKNOWN]
    assert len(unknown) == 3 and all("budget" in a.answer for a in unknown)
    assert ch.summary()["github"]["requests"] == 2


def test_budget_reads_rate_limit_headers() -> None:
    b = Budget(100, reserve=50)
    b.observe({"x-ratelimit-remaining": "40", "x-ratelimit-limit": "60", "x-ratelimit-reset": "1900000000"})
    assert b.take() is True  # the reserve is capped at a tenth of the quota (6 of 60)
    b.observe({"x-ratelimit-remaining": "5", "x-ratelimit-limit": "60", "x-ratelimit-reset": "1900000000"})
    assert b.take() is False and "rate limit nearly spent (5 of 60 left" in b.exhausted_reason
    b2 = Budget(1, reserve=0)
    assert b2.take() is True and b2.take() is False and "budget of 1" in b2.exhausted_reason


async def test_resolve_follows_each_case(sim: SimTenant) -> None:
    engine = Engine(load_config())
    from wifguard.sources.external.runtime import privileged_by

    ch = checks(sim)
    try:
        ghost = ctx_for("repo:ghost-org/deploy:environment:prod")
        rereg = ctx_for("repo:contoso@1001/payments@2002:environment:prod")
        env_missing = ctx_for("repo:contoso/api:environment:production")
        facts = await ch.resolve([ghost, rereg, env_missing], lambda c: True)
        unpriv = await ch.resolve([env_missing], privileged_by(engine))  # no roles: not privileged
    finally:
        await ch.close()
    assert external_of(facts, ghost)["github_owner"] == "missing"
    assert external_of(facts, rereg)["github_ids_differ"] is True
    assert external_of(facts, env_missing)["github_environment"] == "missing"
    assert external_of(unpriv, env_missing)["github_environment"] == ""  # environments read for privileged only


# -- cache ------------------------------------------------------------------------------------------
async def test_cache_cold_then_warm(sim: SimTenant, azurite: Azurite, prefix: str) -> None:
    contexts = [ctx_for(subj, iss, ident=app_object_id(i)) for i, (_, _, _, iss, subj, _) in enumerate(CASES)]
    cache = await ExternalCache.from_connection_string(azurite.connection_string, prefix=prefix).ensure()
    ch = checks(sim, cache)
    try:
        cold = await ch.resolve(contexts)
    finally:
        await ch.close()
    cold_requests = sum(p["requests"] for p in cold.stats.values())
    cache2 = await ExternalCache.from_connection_string(azurite.connection_string, prefix=prefix).ensure()
    ch2 = checks(sim, cache2)
    try:
        warm = await ch2.resolve(contexts)
    finally:
        await ch2.close()
    assert cold_requests > 10
    assert sum(p["requests"] for p in warm.stats.values()) == 0
    assert sum(p["cache_hits"] for p in warm.stats.values()) == sum(p["lookups"] for p in warm.stats.values())
    for c in contexts:
        assert cold.get(c.credentials[0]) is not None
        a, b = cold.get(c.credentials[0]), warm.get(c.credentials[0])
        assert a is not None and b is not None
        assert {k: v for k, v in a[0].items() if not k.endswith("_text")} == \
            {k: v for k, v in b[0].items() if not k.endswith("_text")}
    # The evidence says the answer came from the cache.
    got = warm.get(contexts[0].credentials[0])
    assert got is not None and all(e["cached"] for e in got[1])


async def test_cache_expires_and_never_keeps_unknown(azurite: Azurite, prefix: str) -> None:
    cache = await ExternalCache.from_connection_string(azurite.connection_string, prefix=prefix).ensure()
    t1 = Target("github", "github.com", "owner", "contoso")
    t2 = Target("github", "github.com", "owner", "gone")
    now = datetime.now(timezone.utc)
    try:
        await cache.put_many([(t1, Answer(State.EXISTS, "GET x", "200 OK", "2026-01-01T00:00:00Z", 200,
                                          {"id": "1"}), 1.0),
                              (t2, Answer(State.MISSING, "GET y", "404 Not Found", "2026-01-01T00:00:00Z", 404), 1.0)])
        fresh = await cache.get_many([t1, t2], now=now)
        later = await cache.get_many([t1, t2], now=now + timedelta(hours=2))
    finally:
        await cache.close()
    assert fresh[t1.key].state is State.EXISTS and fresh[t1.key].cached and fresh[t1.key].data == {"id": "1"}
    assert fresh[t2.key].state is State.MISSING
    assert later == {}


async def test_first_seen_ids_catch_a_re_registered_name(azurite: Azurite, prefix: str) -> None:
    """A name-based subject: the repository's ids are recorded at first sight; when the name later
    holds another repository (deleted and re-created by someone else), WIF213 fires."""
    ctx = ctx_for("repo:contoso/billing:ref:refs/heads/main")
    before = seed()
    after = copy.deepcopy(before)
    for r in after["github"]["repositories"]:
        if r["name"] == "billing":
            r["id"] = 424242
    results = []
    for s in (before, after):
        with SimTenant.start(s) as sim:
            cache = await ExternalCache.from_connection_string(azurite.connection_string, prefix=prefix).ensure()
            ch = checks(sim, cache, cache_ttl_hours=0)  # no answer cache: read the provider each time
            try:
                results.append(external_of(await ch.resolve([ctx]), ctx))
            finally:
                await ch.close()
    assert results[0]["github_ids_differ"] is False
    assert results[1]["github_ids_differ"] is True and "first seen as repository id 3003" in results[1]["github_ids_text"]


# -- config ----------------------------------------------------------------------------------------
def test_config_rejects_unknown_provider_and_keys(tmp_path: Any) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("external: {bitbucket: {enabled: true}}\n")
    with pytest.raises(ConfigError, match=r"unknown provider.*bitbucket.*known: github, gitlab, terraform_cloud"):
        load_config(p)
    p.write_text("external: {github: {enabled: true, tokn: X}}\n")
    with pytest.raises(ConfigError, match=r"external\.github\.tokn"):
        load_config(p)
    p.write_text("external: {github: {enabled: true, max_requests: -1}}\n")
    with pytest.raises(ConfigError, match=r"external\.github\.max_requests"):
        load_config(p)
    assert ExternalConfig.from_mapping(load_config().external).enabled == ()


async def test_engine_without_facts_never_fires_outside_rules() -> None:
    engine = Engine(load_config())
    ev = engine.evaluate(ctx_for("repo:ghost-org/deploy:environment:prod"))
    assert not {f.rule_id for f in ev.findings} & {"WIF212", "WIF213", "WIF214", "WIF215", "WIF216"}
    assert app_object_id(1).startswith("aaaaaaaa")


async def test_github_app_reads_each_owner_with_its_installation() -> None:
    """App auth: a JWT finds the owner's installation, whose token sees that owner's private
    repositories (a 404 there is "missing"); an owner without the app is read unauthenticated."""
    import ssl

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    s = seed()
    s["github"]["app_installations"] = {"contoso": 42}
    with SimTenant.start(s) as sim:
        cfg = GitHubConfig(enabled=True, api_url=sim.external_urls["github"], token_setting=None, app_id="1",
                           app_private_key_setting="WIFGUARD_GITHUB_APP_KEY")
        p = GitHubProvider(cfg, "github.com", env={"WIFGUARD_GITHUB_APP_KEY": pem},
                           ssl_context=ssl.create_default_context(cafile=sim.ca_path))
        try:
            private = await p.lookup(Target("github", "github.com", "repo", "contoso/secret-svc"))
            deleted = await p.lookup(Target("github", "github.com", "repo", "contoso/deleted-svc"))
            elsewhere = await p.lookup(Target("github", "github.com", "repo", "octocat/gone"))
        finally:
            await p.close()
    assert private.state is State.EXISTS and private.data["id"] == "6006"
    assert deleted.state is State.MISSING  # the installation sees all of contoso: a 404 is an answer
    assert elsewhere.state is State.UNKNOWN  # no installation on octocat: read without a token
