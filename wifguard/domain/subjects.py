"""Subject parsing for the providers wifguard knows.

A subject is parsed by its own shape (a Kubernetes subject on a self-hosted issuer is still a
Kubernetes subject); whether the shape fits the issuer's provider is a separate fact (WIF209).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# GitHub subject claims that a customised template (``include_claim_keys``) may emit.
GITHUB_CLAIM_KEYS = frozenset(
    {
        "repo", "context", "environment", "ref", "ref_type", "job_workflow_ref", "workflow_ref",
        "repository", "repository_owner", "repository_owner_id", "repository_id",
        "repository_visibility", "actor", "actor_id", "workflow", "event_name", "head_ref",
        "base_ref", "runner_environment", "enterprise", "enterprise_id", "sha", "pull_request",
        "job_workflow_sha", "workflow_sha", "check_run_id",
    }
)
_GH_REPO_RE = re.compile(r"(?:^|:)repo:(?P<owner>[^/:@]+)(?:@(?P<owner_id>\d+))?/(?P<repo>[^:@/]+)(?:@(?P<repo_id>\d+))?(?P<rest>(?::.*)?)$", re.S)
_GH_OWNER_RE = re.compile(r"(?:^|:)repository_owner:(?P<owner>[^:]+)")
_GH_JWR_RE = re.compile(r"(?:^|:)job_workflow_ref:(?P<owner>[^/:]+)/")
_GITLAB_RE = re.compile(
    r"^(?:project_path:(?P<path>[^:]+)|project_id:(?P<pid>\d+)):ref_type:(?P<ref_type>branch|tag):ref:(?P<ref>.+)$", re.S
)
_K8S_RE = re.compile(r"^system:serviceaccount:(?P<ns>[^:]+):(?P<sa>[^:]+)$")
_TFC_RE = re.compile(
    r"^organization:(?P<org>[^:]+):project:(?P<project>[^:]+):workspace:(?P<ws>[^:]+)(?::run_phase:(?P<phase>[^:]*))?$"
)
_ADO_RE = re.compile(r"^sc://(?P<org>[^/]+)/(?P<project>[^/]+)/(?P<conn>.+)$")
_ADO_ENTRA_RE = re.compile(r"^/eid1/c/pub/t/(?P<t>[^/]+)/a/(?P<a>[^/]+)/sc/(?P<org>[^/]+)/(?P<conn>[^/]+)$")
_GOOGLE_RE = re.compile(r"^\d{6,30}$")

# Which subject formats each issuer provider issues (WIF209).
PROVIDER_FORMATS: dict[str, frozenset[str]] = {
    "github": frozenset({"github"}),
    "gitlab": frozenset({"gitlab"}),
    "terraform": frozenset({"terraform"}),
    "aks": frozenset({"kubernetes"}),
    "azure_devops": frozenset({"azure_devops"}),
    "google": frozenset({"google"}),
    "entra": frozenset({"azure_devops_entra", "guid"}),
}


@dataclass(frozen=True, slots=True)
class SubjectInfo:
    format: str  # github | gitlab | kubernetes | terraform | azure_devops | azure_devops_entra | google | guid | unknown
    owner: str = ""  # GitHub owner (name part), GitLab top-level group, TFC/ADO organisation
    repo: str = ""  # GitHub repo, GitLab project path, TFC workspace
    has_repo: bool = False  # GitHub: a ``repo:`` claim is present
    context: str = ""  # environment | branch | tag | pull_request | other
    context_value: str = ""  # environment name, branch, tag
    immutable: bool = False  # bound to numeric ids rather than renameable names
    name_based: bool = False  # GitHub ``repo:OWNER/REPO`` without ids, GitLab ``project_path:``
    namespace: str = ""
    service_account: str = ""
    organization: str = ""
    project: str = ""
    workspace: str = ""
    run_phase: str = ""
    owner_id: str = ""
    repo_id: str = ""


def _github_context(rest: str) -> tuple[str, str]:
    if rest.startswith(":"):
        rest = rest[1:]
    if rest.startswith("environment:"):
        return "environment", rest[len("environment:"):].split(":", 1)[0]
    if rest.startswith("ref:refs/heads/"):
        return "branch", rest[len("ref:refs/heads/"):]
    if rest.startswith("ref:refs/tags/"):
        return "tag", rest[len("ref:refs/tags/"):]
    if rest == "pull_request" or rest.startswith("pull_request:"):
        return "pull_request", ""
    return ("other", rest) if rest else ("", "")


def _github_custom_ok(subject: str) -> bool:
    """True when the subject is a sequence of known GitHub claim keys with values."""
    parts = subject.split(":")
    return len(parts) >= 2 and parts[0] in GITHUB_CLAIM_KEYS


def _parse_github(subject: str) -> SubjectInfo | None:
    m = _GH_REPO_RE.search(subject)
    if m:
        context, value = _github_context(m.group("rest"))
        prefix = subject[: m.start()]
        if prefix and not _github_custom_ok(prefix.lstrip(":") + ":x"):
            return None
        immutable = bool(m.group("owner_id") and m.group("repo_id"))
        return SubjectInfo(
            "github",
            owner=m.group("owner"),
            repo=m.group("repo"),
            has_repo=True,
            context=context,
            context_value=value,
            immutable=immutable,
            name_based=not immutable,
            owner_id=m.group("owner_id") or "",
            repo_id=m.group("repo_id") or "",
        )
    if _github_custom_ok(subject):
        owner = ""
        om = _GH_OWNER_RE.search(subject) or _GH_JWR_RE.search(subject)
        if om:
            owner = om.group("owner")
        ctx = ""
        cm = re.search(r"(?:^|:)context:(?P<c>[^:]+)", subject)
        if cm:
            ctx = "other"
        em = re.search(r"(?:^|:)environment:(?P<e>[^:]+)", subject)
        value = ""
        if em:
            ctx, value = "environment", em.group("e")
        return SubjectInfo("github", owner=owner, has_repo=False, context=ctx, context_value=value)
    return None


@lru_cache(maxsize=131072)
def parse_subject(subject: str | None, issuer_provider: str = "unknown") -> SubjectInfo:
    if not subject:
        return SubjectInfo("unknown")
    if subject.startswith("system:serviceaccount:"):
        m = _K8S_RE.match(subject)
        if m:
            return SubjectInfo("kubernetes", namespace=m.group("ns"), service_account=m.group("sa"))
        return SubjectInfo("unknown")
    m = _GITLAB_RE.match(subject)
    if m:
        path = m.group("path") or ""
        return SubjectInfo(
            "gitlab",
            owner=path.split("/", 1)[0] if path else "",
            repo=path,
            context=m.group("ref_type"),
            context_value=m.group("ref"),
            immutable=not path,
            name_based=bool(path),
            repo_id=m.group("pid") or "",
        )
    m = _TFC_RE.match(subject)
    if m:
        return SubjectInfo(
            "terraform",
            owner=m.group("org"),
            repo=m.group("ws"),
            organization=m.group("org"),
            project=m.group("project"),
            workspace=m.group("ws"),
            run_phase=m.group("phase") or "",
        )
    m = _ADO_RE.match(subject)
    if m:
        return SubjectInfo("azure_devops", owner=m.group("org"), organization=m.group("org"), project=m.group("project"))
    m = _ADO_ENTRA_RE.match(subject)
    if m:
        return SubjectInfo("azure_devops_entra", owner=m.group("org"), organization=m.group("org"))
    if _GUID_RE.match(subject):
        return SubjectInfo("guid")
    if issuer_provider == "google" and _GOOGLE_RE.match(subject):
        return SubjectInfo("google")
    gh = _parse_github(subject)
    if gh is not None:
        return gh
    if _GOOGLE_RE.match(subject):
        return SubjectInfo("google")
    return SubjectInfo("unknown")


def matches_provider(info: SubjectInfo, issuer_provider: str) -> bool:
    formats = PROVIDER_FORMATS.get(issuer_provider)
    return formats is None or info.format in formats
