"""Issuer parsing and allow-list matching.

Matching follows the catalogue: scheme and host compare case-insensitively, the path
case-sensitively; ``*`` matches one or more characters other than ``/`` and ``.`` inside a host
and other than ``/`` inside a path; one trailing ``/`` on the issuer is ignored for matching.
Whitespace is never trimmed: a padded issuer is itself a finding (WIF103).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

GITHUB_HOST = "token.actions.githubusercontent.com"
GITLAB_HOSTS = frozenset({"gitlab.com"})
TERRAFORM_HOSTS = frozenset({"app.terraform.io", "app.eu.terraform.io"})
ADO_HOST = "vstoken.dev.azure.com"
GOOGLE_HOST = "accounts.google.com"
ENTRA_HOSTS = frozenset(
    {"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn"}
)
STS_HOSTS = frozenset({"sts.windows.net", "sts.chinacloudapi.cn"})
AKS_HOST_RE = re.compile(r"^[a-z0-9-]+\.oic\.prod-aks\.azure\.com$")
# Microsoft-hosted OIDC issuers of Azure Arc-enabled Kubernetes clusters (workload identity).
ARC_HOST_RE = re.compile(r"^[a-z0-9-]+\.oic\.prod-arc\.azure\.com$")

# Generic static, object or tunnel hosting: anyone can publish an OIDC discovery document and
# JWKS there, which is how attacker-controlled issuers are usually hosted (WIF102).
HOSTING_SUFFIXES = (
    ".blob.core.windows.net",
    ".web.core.windows.net",
    ".azurewebsites.net",
    ".storage.googleapis.com",
    ".github.io",
    ".netlify.app",
    ".pages.dev",
    ".ngrok.io",
    ".ngrok-free.app",
    ".ngrok.app",
    ".trycloudflare.com",
    # Same risk, beyond the catalogue minimum.
    ".blob.core.usgovcloudapi.net",
    ".blob.core.chinacloudapi.cn",
    ".z13.web.core.windows.net",
    ".vercel.app",
    ".herokuapp.com",
    ".gitlab.io",
    ".r2.dev",
    ".loca.lt",
    ".serveo.net",
)
HOSTING_EXACT = frozenset({"storage.googleapis.com"})

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ENTRA_PATH_RE = re.compile(rf"^/({_GUID})/v2\.0/?$")
_STS_PATH_RE = re.compile(rf"^/({_GUID})/?$")
# AKS and Arc issuers: /{tenant}/{cluster uuid}/ (older AKS issuers: /{cluster uuid}/, no tenant).
_CLUSTER_TENANT_PATH_RE = re.compile(rf"^/({_GUID})/[^/]+/?$")


@dataclass(frozen=True, slots=True)
class ParsedIssuer:
    raw: str
    scheme: str  # lower-cased
    authority: str  # as written (may hold userinfo/port)
    host: str  # lower-cased, without port/userinfo/brackets
    path: str  # case preserved, without query/fragment
    query: str | None
    fragment: str | None
    userinfo: bool
    ok: bool  # split into scheme://authority at all


_SPLIT_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)


@lru_cache(maxsize=65536)
def parse_issuer(issuer: str) -> ParsedIssuer:
    m = _SPLIT_RE.match(issuer)
    if not m:
        return ParsedIssuer(issuer, "", "", "", "", None, None, False, False)
    scheme, authority, path, query, fragment = m.groups()
    userinfo = "@" in authority
    hostport = authority.rsplit("@", 1)[-1]
    if hostport.startswith("["):
        host = hostport[1 : hostport.find("]")] if "]" in hostport else hostport[1:]
    else:
        host = hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport
    return ParsedIssuer(issuer, scheme.lower(), authority, host.lower(), path, query, fragment, userinfo, True)


def _normalise(issuer: str) -> tuple[str, str] | None:
    """(scheme://authority lower-cased, path with one trailing slash removed)."""
    p = parse_issuer(issuer)
    if not p.ok or p.query is not None or p.fragment is not None:
        return None
    path = p.path[:-1] if p.path.endswith("/") else p.path
    return f"{p.scheme}://{p.authority.lower()}", path


@dataclass(frozen=True, slots=True)
class IssuerPattern:
    text: str
    wildcard: bool
    regex: re.Pattern[str]


def compile_pattern(pattern: str) -> IssuerPattern:
    """Compile one ``allowed_issuers`` entry."""
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/]*)(.*)$", pattern, re.S)
    if not m:
        raise ValueError(f"allowed issuer {pattern!r} is not a URL of the form scheme://host/path")
    scheme, host, path = m.groups()
    if path.endswith("/"):
        path = path[:-1]
    # `*` spans one host label (never a dot, userinfo, port or whitespace) or one path segment
    # (never a slash or whitespace), so padding and userinfo cannot ride on a wildcard.
    host_re = "".join("[a-z0-9_-]+" if ch == "*" else re.escape(ch) for ch in host.lower())
    path_re = "".join(r"[^/\s]+" if ch == "*" else re.escape(ch) for ch in path)
    combined = re.compile(rf"^{re.escape(scheme.lower())}://{host_re}\x00{path_re}\Z")
    return IssuerPattern(pattern, "*" in pattern, combined)


class IssuerMatcher:
    """The compiled allow-list."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(compile_pattern(p) for p in patterns)
        self._match = lru_cache(maxsize=65536)(self._match_uncached)

    def _match_uncached(self, issuer: str) -> tuple[bool, bool]:
        norm = _normalise(issuer)
        if norm is None:
            return False, False
        key = f"{norm[0]}\x00{norm[1]}"
        allowed = exact = False
        for p in self.patterns:
            if p.regex.match(key):
                allowed = True
                if not p.wildcard:
                    exact = True
        return allowed, exact

    def match(self, issuer: str) -> tuple[bool, bool]:
        """(matches any entry, matches an entry without wildcard)."""
        return self._match(issuer)


def is_hosting_domain(host: str) -> bool:
    host = host.rstrip(".")  # `evil.blob.core.windows.net.` is the same host
    if host in HOSTING_EXACT or host.endswith(HOSTING_SUFFIXES):
        return True
    if host.endswith(".amazonaws.com"):
        return any(label.startswith("s3") for label in host.split(".")[:-2])
    return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(re.fullmatch(r"[0-9.]+", host)) or host.startswith("0x")


def problems(issuer: str) -> tuple[str, ...]:
    """Reasons the issuer is not a well-formed https URL (WIF103); empty when fine."""
    out: list[str] = []
    if issuer != issuer.strip():
        out.append("leading or trailing whitespace")
    p = parse_issuer(issuer.strip())
    if not p.ok:
        out.append("not an absolute URL")
        return tuple(out)
    if p.scheme != "https":
        out.append(f"scheme is {p.scheme!r}, not https")
    if p.userinfo:
        out.append("URL contains userinfo")
    if p.query is not None:
        out.append("URL contains a query")
    if p.fragment is not None:
        out.append("URL contains a fragment")
    if not p.host:
        out.append("URL has no host")
    elif p.host == "localhost" or p.host.endswith(".localhost"):
        out.append("host is localhost")
    elif _is_ip(p.host):
        out.append("host is an IP literal")
    if any(c.isspace() for c in issuer.strip()):
        out.append("URL contains whitespace")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class IssuerInfo:
    provider: str  # github | gitlab | terraform | aks | azure_devops | google | entra | unknown
    host: str
    hosting: bool
    entra_tenant: str  # tenant id for Entra issuers, else ""
    problems: tuple[str, ...]
    github_enterprise: str  # enterprise slug for unique GitHub issuers, else ""
    cluster_tenant: str = ""  # tenant segment of a Microsoft-hosted AKS/Arc issuer, else ""
    cluster_host: str = ""  # aks | arc for Microsoft-hosted Kubernetes issuers, else ""


@lru_cache(maxsize=65536)
def classify(issuer: str) -> IssuerInfo:
    p = parse_issuer(issuer)
    host = p.host
    path = p.path
    provider = "unknown"
    entra_tenant = ""
    enterprise = ""
    if host == GITHUB_HOST:
        provider = "github"
        enterprise = path.strip("/")
    elif path.rstrip("/").endswith("/_services/token"):
        provider = "github"  # GitHub Enterprise Server
    elif host in GITLAB_HOSTS:
        provider = "gitlab"
    elif host in TERRAFORM_HOSTS:
        provider = "terraform"
    elif AKS_HOST_RE.match(host) or ARC_HOST_RE.match(host):
        provider = "aks"  # Kubernetes: AKS or Azure Arc, the same service-account subjects
    elif host == ADO_HOST:
        provider = "azure_devops"
    elif host == GOOGLE_HOST:
        provider = "google"
    elif host in ENTRA_HOSTS:
        m = _ENTRA_PATH_RE.match(path)
        if m:
            provider, entra_tenant = "entra", m.group(1).lower()
    elif host in STS_HOSTS:
        m = _STS_PATH_RE.match(path)
        if m:
            provider, entra_tenant = "entra", m.group(1).lower()
    cluster_tenant = cluster_host = ""
    if provider == "aks":
        cluster_host = "arc" if ARC_HOST_RE.match(host) else "aks"
        m = _CLUSTER_TENANT_PATH_RE.match(path)
        if m:
            cluster_tenant = m.group(1).lower()
    return IssuerInfo(provider, host, is_hosting_domain(host), entra_tenant, problems(issuer), enterprise,
                      cluster_tenant, cluster_host)
