"""``subject``: the subject parsed in the format its issuer's provider issues (wifguard.domain.subjects)."""

from __future__ import annotations

from wifguard.catalogue.facts import Vars, subject_vars
from wifguard.catalogue.facts.providers.credential import CREDENTIAL_TARGETS
from wifguard.catalogue.facts.registry import FactField as F
from wifguard.catalogue.facts.registry import Samples, fact_provider


def _sample(s: Samples) -> Vars:
    return subject_vars(s.credential.subject, s.cf.issuer(s.credential.issuer)["provider"])


fact_provider(
    "subjects", variable="subject", targets=CREDENTIAL_TARGETS, sample=_sample,
    description="The subject, parsed once per distinct (subject, provider).",
    fields=(
        F("value", "string", "the subject"),
        F("glob", "bool", "it contains * or ? (Entra compares subjects exactly)"),
        F("format_problem", "string", "why it is not a subject the provider issues, for messages"),
        F("format", "string",
          "github | gitlab | kubernetes | terraform | azure_devops | azure_devops_entra | google | guid | unknown"),
        F("matches_provider", "bool", "its format is one the issuer's provider issues"),
        F("owner", "string", "GitHub owner, GitLab top-level group, TFC/Azure DevOps organisation"),
        F("owner_lc", "string", "owner in lower case"),
        F("repo", "string", "GitHub repository, GitLab project path, TFC workspace"),
        F("repo_lc", "string", "repo in lower case"),
        F("has_repo", "bool", "GitHub: a repo: claim is present"),
        F("repository", "string", "owner/repo (or the owner alone)"),
        F("context", "string", "environment | branch | tag | pull_request | other"),
        F("context_value", "string", "the environment, branch or tag name"),
        F("immutable", "bool", "bound to numeric ids rather than renameable names"),
        F("name_based", "bool", "GitHub repo:OWNER/REPO without ids, GitLab project_path:"),
        F("namespace", "string", "Kubernetes namespace"),
        F("service_account", "string", "Kubernetes service account"),
        F("organization", "string", "Terraform Cloud / Azure DevOps organisation"),
        F("organization_lc", "string", "organization in lower case"),
        F("project", "string", "Terraform Cloud / Azure DevOps project"),
        F("workspace", "string", "Terraform Cloud workspace"),
        F("run_phase", "string", "Terraform Cloud run phase (plan | apply), or empty"),
        F("run_phase_label", "string", "the run phase, for messages"),
        F("owner_label", "string", "the owner quoted, for messages"),
    ),
)(subject_vars)
