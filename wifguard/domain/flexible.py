"""Parser and analysis of flexible credentials' ``claimsMatchingExpression``.

Language version 1 expressions are conjunctions of clauses such as
``claims['sub'] matches 'repo:contoso/*:environment:prod'`` or ``claims['sub'] eq '...'``,
where ``matches`` takes ``*`` and ``?`` wildcards.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

log = logging.getLogger(__name__)

_CLAUSE_RE = re.compile(
    r"""\s*claims\s*\[\s*(?P<kq>['"])(?P<key>[^'"]+)(?P=kq)\s*\]\s*(?P<op>matches|eq)\s*"""
    r"""(?P<vq>['"])(?P<value>(?:\\.|(?!(?P=vq)).)*)(?P=vq)\s*""",
    re.I | re.S,
)
_AND_RE = re.compile(r"\s*(?:and|&&)\s*", re.I)
_WILD = ("*", "?")
ID_CLAIMS = frozenset({"project_id", "namespace_id", "user_id"})


@dataclass(frozen=True, slots=True)
class Clause:
    claim: str
    op: str  # matches | eq
    value: str


@dataclass(frozen=True, slots=True)
class FlexInfo:
    valid: bool
    clauses: tuple[Clause, ...] = ()
    error: str = ""
    wildcard_owner: bool = False  # owner / organisation / group segment (WIF302)
    wildcard_repo: bool = False  # repository / project / workspace segment (WIF303)
    gitlab: bool = False
    constrains_ids: bool = False  # project_id, namespace_id or user_id is constrained (WIF304)
    reaches: frozenset[str] = frozenset()  # subject kinds it can match: pull_request, branch, tag, plan
    # Fixed (wildcard-free) owners the sub patterns name, for the allow-lists (WIF201/210/211).
    github_owners: tuple[str, ...] = ()
    gitlab_paths: tuple[str, ...] = ()
    tfc_organizations: tuple[str, ...] = ()

    @property
    def subject_patterns(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.clauses if c.claim == "sub")


def parse_expression(text: str) -> tuple[Clause, ...]:
    """Parse ``clause (and clause)*``; raises ValueError naming the offending position."""
    clauses: list[Clause] = []
    pos = 0
    while True:
        m = _CLAUSE_RE.match(text, pos)
        if not m:
            raise ValueError(f"cannot parse claimsMatchingExpression at offset {pos}: {text[pos:pos + 40]!r}")
        value = re.sub(r"\\(.)", r"\1", m.group("value"))
        clauses.append(Clause(m.group("key"), m.group("op").lower(), value))
        pos = m.end()
        if pos >= len(text):
            return tuple(clauses)
        a = _AND_RE.match(text, pos)
        if not a or a.end() == pos:
            raise ValueError(f"expected 'and' at offset {pos} of claimsMatchingExpression: {text[pos:pos + 40]!r}")
        pos = a.end()


def _has_wild(s: str) -> bool:
    return any(w in s for w in _WILD)


def _segments(pattern: str) -> tuple[bool, bool, bool]:
    """(owner wildcard, repo wildcard, is gitlab) for one ``matches`` pattern on ``sub``."""
    if not pattern or pattern[0] in _WILD:
        return True, False, False
    if pattern.startswith("repo:"):
        body = pattern[5:]
        owner_repo = re.split(r":", body, maxsplit=1)[0]
        if "/" not in owner_repo:
            # `repo:*`: the wildcard sits in the owner segment (WIF302); there is no repository
            # segment to speak of.
            return _has_wild(owner_repo) or owner_repo == "", False, False
        owner, repo = owner_repo.split("/", 1)
        return _has_wild(owner), _has_wild(repo), False
    if pattern.startswith("project_path:"):
        path = pattern[len("project_path:"):].split(":", 1)[0]
        group, _, project = path.partition("/")
        return _has_wild(group) or group == "", _has_wild(project) or project == "", True
    if pattern.startswith("organization:"):
        fields = pattern.split(":")
        org = fields[1] if len(fields) > 1 else ""
        rest = ":".join(fields[2:])
        m = re.match(r"project:([^:]*)(?::workspace:([^:]*))?", rest)
        proj_wild = bool(m and (_has_wild(m.group(1)) or _has_wild(m.group(2) or "")))
        if not m and _has_wild(rest):
            proj_wild = True
        return _has_wild(org) or org == "", proj_wild, False
    if pattern.startswith("project_id:"):
        pid = pattern[len("project_id:"):].split(":", 1)[0]
        return False, _has_wild(pid), True
    return False, False, False


@lru_cache(maxsize=16384)
def analyse(text: str | None, issuer_provider: str = "unknown") -> FlexInfo:
    if text is None:
        return FlexInfo(valid=False)
    try:
        clauses = parse_expression(text)
    except ValueError as exc:
        # An unparseable expression cannot be shown to be narrow: treat it as wide open.
        log.debug("claimsMatchingExpression not parsed, treated as wide open: %s", exc)
        return FlexInfo(valid=False, error=str(exc), wildcard_owner=True, wildcard_repo=True,
                        gitlab=issuer_provider == "gitlab")
    owner_w = repo_w = False
    gitlab = issuer_provider == "gitlab"
    ids = False
    for c in clauses:
        key = c.claim.lower()
        if key in ID_CLAIMS and not (c.op == "matches" and _has_wild(c.value)):
            ids = True
        if key == "sub" and c.op == "matches":
            o, r, g = _segments(c.value)
            owner_w |= o
            repo_w |= r
            gitlab |= g
        elif key == "sub":
            gitlab |= c.value.startswith(("project_path:", "project_id:"))
            if c.value.startswith("project_id:"):
                ids = True
        elif key in {"repository_owner", "namespace_path", "organization"} and c.op == "matches":
            owner_w |= _has_wild(c.value)
        elif key in {"repository", "project_path", "workspace"} and c.op == "matches":
            if key == "project_path":
                gitlab = True
            group, _, rest = c.value.partition("/")
            owner_w |= _has_wild(group)
            repo_w |= _has_wild(rest) if rest else _has_wild(c.value)
    if gitlab and any(c.claim.lower() == "sub" and c.op == "matches" and c.value.startswith("project_id:")
                      and not _has_wild(c.value.split(":")[1]) for c in clauses):
        ids = True
    return FlexInfo(True, clauses, "", owner_w, repo_w, gitlab, ids, _reaches(clauses), *_named_owners(clauses))


def _named_owners(clauses: tuple[Clause, ...]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(GitHub owners, GitLab project paths, Terraform Cloud organisations) named by ``sub`` clauses,
    where that segment has no wildcard (a wildcard there is WIF302's business)."""
    owners: list[str] = []
    paths: list[str] = []
    orgs: list[str] = []
    for c in clauses:
        if c.claim.lower() != "sub":
            continue
        v = c.value
        if v.startswith("repo:"):
            owner = re.split(r"[/:@]", v[5:], maxsplit=1)[0]
            if owner and not _has_wild(owner):
                owners.append(owner)
        elif v.startswith("project_path:"):
            path = v[len("project_path:"):].split(":", 1)[0]
            group = path.split("/", 1)[0]
            if group and not _has_wild(group):
                paths.append(path)
        elif v.startswith("organization:"):
            org = v.split(":")[1] if v.count(":") >= 1 else ""
            if org and not _has_wild(org):
                orgs.append(org)
    return tuple(owners), tuple(paths), tuple(orgs)


def _reaches(clauses: tuple[Clause, ...]) -> frozenset[str]:
    """Subject kinds (see :mod:`wifguard.domain.reach`) that every ``sub`` clause can match.

    Each clause is checked on its own (the conjunction can only match less), so this may claim a
    kind that two clauses together exclude; it never misses one. No ``sub`` clause: nothing known.
    """
    from wifguard.domain.reach import TEMPLATES, can_match
    from wifguard.domain.subjects import parse_subject

    subs = [c for c in clauses if c.claim.lower() == "sub"]
    if not subs:
        return frozenset()
    out: set[str] = set()
    for kind in TEMPLATES:
        ok = True
        for c in subs:
            if c.op == "matches":
                ok = can_match(c.value, kind)
            else:
                info = parse_subject(c.value)
                ok = (info.format == "github" and info.context == kind) or (
                    kind == "plan" and info.format == "terraform" and info.run_phase in ("plan", ""))
            if not ok:
                break
        if ok:
            out.add(kind)
    return frozenset(out)
