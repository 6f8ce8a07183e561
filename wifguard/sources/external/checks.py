"""Resolve what credentials name outside, before evaluation, into facts the engine is given.

The engine stays pure: ``ExternalChecks.resolve(contexts)`` does every lookup first (cache in
Table Storage, then the providers under their rate budgets), and returns ``ExternalFacts``, which
``Engine.evaluate(ctx, external=...)`` turns into the ``external`` variable of each credential and
the evidence of its findings (what was checked, when, and the provider's answer).

Order per GitHub reference: the repository first (its answer carries the owner's id too); the
owner only when the repository answered 404 or none is named; the environments only for
privileged identities whose subject names one, on a repository that exists with the expected ids.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wifguard.domain.model import Credential, TrustContext
from wifguard.sources.external.base import Answer, State, Target
from wifguard.sources.external.config import ExternalConfig
from wifguard.sources.external.facts import EXTERNAL_UNCHECKED
from wifguard.sources.external.refs import GitHubRef, GitLabRef, Ref, TfcRef, refs_of

log = logging.getLogger(__name__)

CredKey = tuple[str, str, str]
_RANK = {"": 0, "exists": 1, "protected": 1, "unknown": 2, "unprotected": 3, "missing": 4}


def cred_key(c: Credential) -> CredKey:
    return (c.issuer, c.subject or "", c.claims_matching_expression.value if c.claims_matching_expression else "")


@dataclass
class ExternalFacts:
    """Per credential (by issuer, subject, expression): the ``external`` variable and its evidence."""

    by_key: dict[CredKey, tuple[dict[str, Any], tuple[dict[str, Any], ...]]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def get(self, c: Credential) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]] | None:
        return self.by_key.get(cred_key(c))


@dataclass(frozen=True)
class SimEndpoints:
    """Where the simulated tenant serves each provider (every host maps there), and its token."""

    urls: Mapping[str, str]
    token: str
    ca_path: str


class _RefResult:
    __slots__ = ("evidence", "vars")

    def __init__(self) -> None:
        self.vars: dict[str, Any] = {}
        self.evidence: list[dict[str, Any]] = []

    def use(self, target: Target, answer: Answer) -> None:
        self.evidence.append(answer.evidence(target))


def _say(target: Target, a: Answer) -> str:
    return f"{a.request} answered {a.answer!r} at {a.checked_at}"


class ExternalChecks:
    """The providers of one worker or run, with their cache; create once, ``close()`` at the end."""

    def __init__(self, config: ExternalConfig, *, env: Mapping[str, str], sim: SimEndpoints | None = None,
                 cache: Any = None) -> None:
        self.config = config
        self.env = env
        self.sim = sim
        self.cache = cache  # wifguard.store.external_cache.ExternalCache, or None (no persistent cache)
        self._providers: dict[tuple[str, str], Any] = {}
        self._ssl: ssl.SSLContext | None = ssl.create_default_context(cafile=sim.ca_path) if sim else None
        self.stats: dict[str, dict[str, int]] = {}

    # -- providers -----------------------------------------------------------------------------
    def provider(self, name: str, host: str) -> Any:
        key = (name, host.lower())
        if key not in self._providers:
            spec = self.config.specs[name]
            cfg = self.config.providers[name]
            if self.sim is not None and not cfg.api_url and name not in self.sim.urls:
                # Simulated tenant without this provider: never fall through to the real service.
                self._providers[key] = _NotServed(name)
            else:
                sim_url = self.sim.urls.get(name) if self.sim is not None and not cfg.api_url else None
                self._providers[key] = spec.factory(cfg, host.lower(), env=self.env, sim_url=sim_url,
                                                    sim_token=self.sim.token if self.sim else None,
                                                    ssl_context=self._ssl)
        return self._providers[key]

    def _stat(self, provider: str, what: str, n: int = 1) -> None:
        s = self.stats.setdefault(provider, {"lookups": 0, "cache_hits": 0, "unknown": 0})
        s[what] = s.get(what, 0) + n

    async def fetch(self, targets: Iterable[Target]) -> dict[str, Answer]:
        """Answers by target key: from the cache when fresh, else from the provider."""
        unique = {t.key: t for t in targets}
        if not unique:
            return {}
        out: dict[str, Answer] = {}
        if self.cache is not None:
            try:
                out.update(await self.cache.get_many(list(unique.values())))
            except Exception as exc:  # a cache that cannot be read is no answer, not "missing"
                log.warning("external cache read failed: %s", type(exc).__name__)
        for k in out:
            self._stat(unique[k].provider, "cache_hits")
        todo = [t for k, t in unique.items() if k not in out]

        async def one(t: Target) -> tuple[Target, Answer]:
            p = self.provider(t.provider, t.host)
            try:
                a = await p.lookup(t)
            except Exception as exc:  # a provider bug must not pass for an answer
                log.warning("external lookup %s failed: %s", t.label(), type(exc).__name__)
                from wifguard.sources.external.base import unknown

                a = unknown(f"lookup of {t.label()}", f"failed: {type(exc).__name__}")
            return t, a

        fresh = await asyncio.gather(*(one(t) for t in todo))
        to_cache = []
        for t, a in fresh:
            out[t.key] = a
            if a.state is not State.UNKNOWN:
                ttl = self.config.providers[t.provider].cache_ttl_hours
                if ttl > 0:
                    to_cache.append((t, a, ttl))
        for t in unique.values():
            self._stat(t.provider, "lookups")
            if out[t.key].state is State.UNKNOWN:
                self._stat(t.provider, "unknown")
        if to_cache and self.cache is not None:
            try:
                await self.cache.put_many(to_cache)
            except Exception as exc:
                log.warning("external cache write failed: %s", type(exc).__name__)
        return out

    # -- resolving -------------------------------------------------------------------------------
    async def resolve(self, contexts: Sequence[TrustContext],
                      privileged: Callable[[TrustContext], bool] = lambda ctx: True) -> ExternalFacts:
        enabled = set(self.config.enabled)
        by_cred: dict[CredKey, tuple[Ref, ...]] = {}
        wants_env: set[GitHubRef] = set()
        for ctx in contexts:
            priv: bool | None = None
            for c in ctx.credentials:
                k = cred_key(c)
                if k not in by_cred:
                    by_cred[k] = tuple(r for r in refs_of(c.issuer, c.subject, k[2] or None)
                                       if _provider_of(r) in enabled)
                for r in by_cred[k]:
                    if isinstance(r, GitHubRef) and r.environment and r.repo:
                        if priv is None:
                            priv = privileged(ctx)
                        if priv:
                            wants_env.add(r)
        all_refs = {r for refs in by_cred.values() for r in refs}
        results: dict[Ref, _RefResult] = {}
        await asyncio.gather(
            self._github([r for r in all_refs if isinstance(r, GitHubRef)], wants_env, results),
            self._gitlab([r for r in all_refs if isinstance(r, GitLabRef)], results),
            self._terraform([r for r in all_refs if isinstance(r, TfcRef)], results),
        )
        facts = ExternalFacts(stats=self.summary())
        for k, refs in by_cred.items():
            if not refs:
                continue
            merged = dict(EXTERNAL_UNCHECKED)
            evidence: list[dict[str, Any]] = []
            for r in refs:
                rr = results.get(r)
                if rr is None:
                    continue
                _merge(merged, rr.vars)
                evidence += rr.evidence
            facts.by_key[k] = (merged, tuple(evidence))
        return facts

    def summary(self) -> dict[str, Any]:
        """Per provider: lookups, cache hits, unknown answers, requests made, and per host the budget."""
        out: dict[str, Any] = {}
        for name, s in self.stats.items():
            out[name] = {**s, "requests": 0, "hosts": {}}
        for (name, host), p in self._providers.items():
            entry = out.setdefault(name, {"lookups": 0, "cache_hits": 0, "unknown": 0, "requests": 0, "hosts": {}})
            entry["requests"] += p.budget.used
            entry["hosts"][host] = p.budget.to_json()
        return out

    async def _github(self, refs: list[GitHubRef], wants_env: set[GitHubRef], results: dict[Ref, _RefResult]
                      ) -> None:
        if not refs:
            return

        def t(r: GitHubRef, kind: str) -> Target:
            name = r.owner if kind == "owner" else f"{r.owner}/{r.repo}"
            return Target("github", r.host, kind, name)

        repos = await self.fetch(t(r, "repo") for r in refs if r.repo)
        owner_needed = [r for r in refs if not r.repo or repos[t(r, "repo").key].status == 404]
        owners = await self.fetch(t(r, "owner") for r in owner_needed)
        first_seen: dict[str, dict[str, Any]] = {}
        named = [r for r in refs if r.repo and not r.immutable and repos[t(r, "repo").key].state is State.EXISTS]
        if self.cache is not None and named:
            try:
                first_seen = await self.cache.first_seen([t(r, "repo") for r in named],
                                                         {t(r, "repo").key: repos[t(r, "repo").key].data
                                                          for r in named})
            except Exception as exc:
                log.warning("external first-seen ids unavailable: %s", type(exc).__name__)
        env_ok: list[GitHubRef] = []
        for r in refs:
            rr = results[r] = _RefResult()
            v = rr.vars
            label = f"{r.owner}/{r.repo}" if r.repo else r.owner
            ra = repos.get(t(r, "repo").key) if r.repo else None
            oa = owners.get(t(r, "owner").key)
            if ra is not None:
                rr.use(t(r, "repo"), ra)
            if oa is not None:
                rr.use(t(r, "owner"), oa)
            if ra is not None and ra.state is State.EXISTS:
                v.update(github_owner="exists", github_repo="exists", checked=True)
                got_repo, got_owner = str(ra.data.get("id", "")), str(ra.data.get("owner_id", ""))
                want_repo, want_owner = r.repo_id, r.owner_id
                seen = first_seen.get(t(r, "repo").key)
                why = ""
                if r.immutable and ((want_repo and got_repo != want_repo) or (want_owner and got_owner != want_owner)):
                    why = (f"the subject binds {r.owner}@{want_owner}/{r.repo}@{want_repo}, but {label} is now "
                           f"repository id {got_repo} of owner id {got_owner}")
                elif seen and (seen.get("id") != got_repo or seen.get("owner_id") != got_owner):
                    why = (f"{label} was first seen as repository id {seen.get('id')} of owner id "
                           f"{seen.get('owner_id')} ({seen.get('at')}), and is now repository id {got_repo} of "
                           f"owner id {got_owner}")
                if why:
                    v["github_ids_differ"] = True
                    v["github_ids_text"] = f"{why} ({_say(t(r, 'repo'), ra)}): renamed and re-registered"
                elif r.environment and r in wants_env:
                    env_ok.append(r)
            elif oa is not None and oa.state is State.MISSING:
                v.update(github_owner="missing", checked=True)
                if r.repo:
                    v["github_repo"] = "missing"
                v["github_missing_text"] = (f"GitHub owner {r.owner!r}, which does not exist ({_say(t(r, 'owner'), oa)})"
                                            f": anyone can register the name and create {label!r}")
            elif oa is not None and oa.state is State.EXISTS:
                v.update(github_owner="exists", checked=True)
                got_owner = str(oa.data.get("id", ""))
                if r.owner_id and got_owner != r.owner_id:
                    v["github_ids_differ"] = True
                    v["github_ids_text"] = (f"the subject binds owner {r.owner}@{r.owner_id}, but {r.owner!r} is now "
                                            f"owner id {got_owner} ({_say(t(r, 'owner'), oa)}): renamed and "
                                            f"re-registered")
                elif r.repo and ra is not None:
                    v["github_repo"] = ra.state.value
                    if ra.state is State.MISSING:
                        v["github_missing_text"] = (f"GitHub repository {label!r}, which does not exist "
                                                    f"({_say(t(r, 'repo'), ra)}): whoever holds the owner "
                                                    f"{r.owner!r} can create it")
            else:
                if r.repo:
                    v["github_repo"] = "unknown" if ra is None or ra.state is not State.MISSING else "missing"
                    if ra is not None and ra.state is State.MISSING:
                        v["checked"] = True
                        v["github_missing_text"] = (f"GitHub repository name {label!r}, which holds no repository "
                                                    f"({_say(t(r, 'repo'), ra)}): its owner can re-create it")
                v["github_owner"] = "unknown"
        envs = await self.fetch(Target("github", r.host, "environments", f"{r.owner}/{r.repo}") for r in env_ok)
        for r in env_ok:
            target = Target("github", r.host, "environments", f"{r.owner}/{r.repo}")
            ea = envs[target.key]
            rr = results[r]
            rr.use(target, ea)
            if ea.state is not State.EXISTS:
                rr.vars["github_environment"] = "unknown"
                continue
            env = (ea.data.get("environments") or {}).get(r.environment.lower())
            where = f"environment {r.environment!r} of {r.owner}/{r.repo}"
            if env is None:
                rr.vars["github_environment"] = "missing"
                rr.vars["github_environment_text"] = (f"{where}, which does not exist ({_say(target, ea)}): any "
                                                      f"workflow that names it creates it, unprotected")
            elif not env.get("protected"):
                rr.vars["github_environment"] = "unprotected"
                rr.vars["github_environment_text"] = (f"{where}, which has no required reviewers and no branch or tag "
                                                      f"policy ({_say(target, ea)}): any branch's workflow may use it")
            else:
                rr.vars["github_environment"] = "protected"

    async def _gitlab(self, refs: list[GitLabRef], results: dict[Ref, _RefResult]) -> None:
        if not refs:
            return
        projects = await self.fetch(Target("gitlab", r.host, "project", r.project) for r in refs if r.project)
        need_group = [r for r in refs if r.group and (not r.project or
                                                       projects[Target("gitlab", r.host, "project",
                                                                       r.project).key].status == 404)]
        groups = await self.fetch(Target("gitlab", r.host, "group", r.group) for r in need_group)
        for r in refs:
            rr = results[r] = _RefResult()
            v = rr.vars
            pt = Target("gitlab", r.host, "project", r.project)
            gt = Target("gitlab", r.host, "group", r.group)
            pa, ga = projects.get(pt.key) if r.project else None, groups.get(gt.key) if r.group else None
            for tt, a in ((pt, pa), (gt, ga)):
                if a is not None:
                    rr.use(tt, a)
            if ga is not None and ga.state is State.MISSING:
                v.update(gitlab_group="missing", checked=True,
                         gitlab_missing_text=f"GitLab group {r.group!r}, which does not exist ({_say(gt, ga)})")
                if r.project:
                    v["gitlab_project"] = "missing"
            elif pa is not None:
                v["gitlab_project"] = pa.state.value
                v["checked"] = pa.state is not State.UNKNOWN
                if ga is not None:
                    v["gitlab_group"] = ga.state.value
                if pa.state is State.MISSING:
                    v["gitlab_missing_text"] = f"GitLab project {r.project!r}, which does not exist ({_say(pt, pa)})"
            elif ga is not None:
                v["gitlab_group"] = ga.state.value
                v["checked"] = ga.state is not State.UNKNOWN

    async def _terraform(self, refs: list[TfcRef], results: dict[Ref, _RefResult]) -> None:
        if not refs:
            return
        orgs = await self.fetch(Target("terraform_cloud", r.host, "organization", r.organization) for r in refs)

        def wt(r: TfcRef) -> Target:
            return Target("terraform_cloud", r.host, "workspace", f"{r.organization}/{r.workspace}")

        ws_needed = [r for r in refs if r.workspace and
                     orgs[Target("terraform_cloud", r.host, "organization", r.organization).key].state is State.EXISTS]
        workspaces = await self.fetch(wt(r) for r in ws_needed)
        for r in refs:
            rr = results[r] = _RefResult()
            v = rr.vars
            ot = Target("terraform_cloud", r.host, "organization", r.organization)
            oa = orgs[ot.key]
            rr.use(ot, oa)
            v["tfc_organization"] = oa.state.value
            v["checked"] = oa.state is not State.UNKNOWN
            if oa.state is State.MISSING:
                v["tfc_missing_text"] = (f"Terraform Cloud organisation {r.organization!r}, which does not exist "
                                         f"({_say(ot, oa)}): anyone can create it")
                if r.workspace:
                    v["tfc_workspace"] = "missing"
                continue
            wa = workspaces.get(wt(r).key)
            if wa is not None:
                rr.use(wt(r), wa)
                v["tfc_workspace"] = wa.state.value
                if wa.state is State.MISSING:
                    v["tfc_missing_text"] = (f"Terraform Cloud workspace {r.workspace!r} of organisation "
                                             f"{r.organization!r}, which does not exist ({_say(wt(r), wa)})")

    async def close(self) -> None:
        for p in self._providers.values():
            try:
                await p.close()
            except Exception:  # closing is best effort
                pass
        if self.cache is not None:
            await self.cache.close()

    aclose = close  # the old name: callers use close() (Azure SDK naming)


class _NotServed:
    """A provider the simulated tenant does not serve: every answer is "unknown"."""

    def __init__(self, name: str) -> None:
        from wifguard.sources.external.base import Budget

        self.name = name
        self.budget = Budget(0, 0)

    async def lookup(self, target: Target) -> Answer:
        from wifguard.sources.external.base import unknown

        return unknown(f"lookup of {target.label()}", f"unreachable: the simulated tenant serves no {self.name}")

    async def close(self) -> None:
        return None


def _provider_of(r: Ref) -> str:
    return "github" if isinstance(r, GitHubRef) else "gitlab" if isinstance(r, GitLabRef) else "terraform_cloud"


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Several references on one credential (a flexible expression): the worst state wins."""
    for k, v in new.items():
        old = into.get(k)
        if isinstance(v, bool):
            into[k] = bool(old) or v
        elif k.endswith("_text"):
            into[k] = "; ".join(x for x in (old, v) if x)
        elif _RANK.get(str(v), 0) >= _RANK.get(str(old), 0):
            into[k] = v
