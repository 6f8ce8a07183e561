"""The trust path in words: who can sign in as the identity, and what they get.

``issuer → subject → identity → strongest privilege @ scope`` is the first line of every card,
Slack message and report entry, because it answers the owner's first question ("so what?").
Values here are raw (untrusted) text; each format escapes or isolates them itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wifguard.domain.issuers import classify
from wifguard.domain.model import Finding, IdentityKind

from .notice import Notice
from .privilege import Privilege, from_role_assignment, strongest

ARROW = " \u2192 "

PROVIDER_WORDS: Mapping[str, str] = {
    "github": "GitHub Actions",
    "gitlab": "GitLab CI",
    "terraform": "Terraform Cloud",
    "aks": "AKS cluster",
    "azure_devops": "Azure DevOps",
    "google": "Google",
    "entra": "Entra ID",
}

KIND_WORDS: Mapping[str, str] = {
    IdentityKind.APPLICATION.value: "app registration",
    IdentityKind.MANAGED_IDENTITY.value: "managed identity",
}


def issuer_words(issuer: str | None) -> str:
    """A known provider by name; anything else by its host (what an owner can recognise)."""
    if not issuer:
        return ""
    try:
        info = classify(issuer)
    except Exception:  # an unparsable issuer is shown as given
        return issuer
    if info.provider in PROVIDER_WORDS:
        return PROVIDER_WORDS[info.provider]
    return info.host or issuer


@dataclass(frozen=True, slots=True)
class TrustPath:
    issuer: str  # words (provider name or host); "" when the finding has no credential
    subject: str  # raw subject, or a note for claims-matching expressions; "" without credential
    identity: str
    identity_kind: str  # words
    privilege: Privilege | None

    @property
    def privilege_words(self) -> str:
        return self.privilege.words() if self.privilege else "no Azure role known"

    def steps(self) -> list[str]:
        out = [s for s in (self.issuer, self.subject) if s]
        out.append(f"{self.identity} ({self.identity_kind})" if self.identity_kind else self.identity)
        out.append(self.privilege_words)
        return out

    def words(self) -> str:
        return ARROW.join(self.steps())


def _credential_of(findings: tuple[Finding, ...]) -> Mapping[str, str | None] | None:
    for f in findings:
        if f.credential is not None:
            return f.credential
    return None


def trust_path(notice: Notice) -> TrustPath:
    """The path for a notice: its first credential (of the group) and the strongest privilege."""
    ref = notice.identity_ref
    cred = _credential_of(notice.findings)
    subject = ""
    issuer = ""
    if cred is not None:
        issuer = issuer_words(cred.get("issuer"))
        raw_subject = cred.get("subject")
        subject = raw_subject if raw_subject else "any matching subject (claims expression)"
    privilege = strongest(notice.privileges)
    if privilege is None:
        privilege = strongest(p for f in notice.findings if (p := from_role_assignment(f.role_assignment)))
    kind = ref.get("kind", "")
    return TrustPath(issuer, subject, ref.get("name") or "(unnamed identity)", KIND_WORDS.get(kind, kind), privilege)
