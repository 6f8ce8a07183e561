"""What a credential names outside (pure: no I/O), and the ``external`` facts the rules read.

``refs_of`` turns a credential's issuer, subject and flexible expression into references:
a GitHub owner/repository/environment, a GitLab project or group, a Terraform Cloud
organisation/workspace, each with the host its issuer names (github.com or a GHES host,
gitlab.com or a self-managed host, app.terraform.io or a TFE host).

``EXTERNAL_UNCHECKED`` is what the rules see when nothing was checked: every state is ``""``,
so no external rule can fire (only ``missing`` / ``unprotected`` / a proven id mismatch do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wifguard.domain import flexible, issuers, subjects
from wifguard.sources.external import github as gh
from wifguard.sources.external import gitlab as gl  # noqa: F401 - imported for its provider registration
from wifguard.sources.external import terraform as tf  # noqa: F401 - imported for its provider registration
from wifguard.sources.external.facts import EXTERNAL_UNCHECKED as EXTERNAL_UNCHECKED
from wifguard.sources.external.http import https_host

_WILD = re.compile(r"[*?\[]")


@dataclass(frozen=True, slots=True)
class GitHubRef:
    host: str
    owner: str
    repo: str = ""
    owner_id: str = ""
    repo_id: str = ""
    environment: str = ""
    immutable: bool = False


@dataclass(frozen=True, slots=True)
class GitLabRef:
    host: str
    project: str = ""  # path with namespace, or a numeric id
    group: str = ""  # the namespace to check when the project is missing, or alone (flexible patterns)


@dataclass(frozen=True, slots=True)
class TfcRef:
    host: str
    organization: str
    workspace: str = ""


Ref = GitHubRef | GitLabRef | TfcRef


def _literal_prefix_segments(path: str) -> list[str]:
    out = []
    for seg in path.split("/"):
        if _WILD.search(seg):
            break
        out.append(seg)
    return out


def refs_of(issuer: str, subject: str | None, expression: str | None) -> tuple[Ref, ...]:
    provider = issuers.classify(issuer).provider
    out: list[Ref] = []
    if subject:
        s = subjects.parse_subject(subject, provider)
        if s.format == "github" and s.owner:
            host = gh.host_of_issuer(issuer)
            if host:
                out.append(GitHubRef(host, s.owner, s.repo, s.owner_id, s.repo_id,
                                     s.context_value if s.context == "environment" else "", s.immutable))
        elif s.format == "gitlab":
            host = https_host(issuer)
            if host:
                if s.repo:
                    out.append(GitLabRef(host, s.repo, s.repo.rsplit("/", 1)[0] if "/" in s.repo else ""))
                elif s.repo_id:
                    out.append(GitLabRef(host, s.repo_id))
        elif s.format == "terraform" and s.organization:
            host = https_host(issuer)
            if host:
                out.append(TfcRef(host, s.organization, s.workspace))
    elif expression:
        f = flexible.analyse(expression, provider)
        for pattern in f.subject_patterns:
            if pattern.startswith("project_path:"):
                host = https_host(issuer)
                path = pattern[len("project_path:"):].split(":", 1)[0]
                segs = _literal_prefix_segments(path)
                if not host or not segs:
                    continue
                whole = len(segs) == len(path.split("/"))
                if whole and len(segs) >= 2:
                    out.append(GitLabRef(host, "/".join(segs), "/".join(segs[:-1])))
                else:
                    out.append(GitLabRef(host, "", "/".join(segs)))
            elif pattern.startswith("repo:"):
                host = gh.host_of_issuer(issuer)
                owner = pattern[len("repo:"):].split("/", 1)[0].split(":", 1)[0]
                if host and owner and not _WILD.search(owner):
                    owner_name, _, owner_id = owner.partition("@")
                    out.append(GitHubRef(host, owner_name, owner_id=owner_id))
    return tuple(dict.fromkeys(out))
