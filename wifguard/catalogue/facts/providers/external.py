"""``external``: what the outside services say about what a credential names (wifguard.sources.external).

Resolved before evaluation by ``ExternalChecks.resolve`` (the engine does no I/O); when nothing
was checked every state is ``""`` and no external rule can fire.
"""

from __future__ import annotations

from typing import Any

from wifguard.catalogue.facts.registry import FactField as F
from wifguard.catalogue.facts.registry import Samples, fact_provider
from wifguard.sources.external.facts import EXTERNAL_UNCHECKED

STATES = "exists | missing | unknown | '' (not checked)"


def _sample(s: Samples) -> dict[str, Any]:
    return dict(EXTERNAL_UNCHECKED)


def external_vars(facts: Any, credential: Any) -> dict[str, Any]:
    """The resolved value for one credential, or the unchecked one."""
    got = facts.get(credential) if facts is not None else None
    return dict(got[0]) if got is not None else dict(EXTERNAL_UNCHECKED)


fact_provider(
    "external", variable="external", targets=("credential",), sample=_sample,
    description="GitHub, GitLab and Terraform Cloud answers, cached in Table Storage.",
    fields=(
        F("checked", "bool", "at least one definite answer about this credential"),
        F("github_owner", "string", STATES),
        F("github_repo", "string", STATES),
        F("github_ids_differ", "bool", "proven: the name now holds other ids than the subject's / first seen"),
        F("github_environment", "string", "protected | unprotected | missing | unknown | ''"),
        F("gitlab_group", "string", STATES),
        F("gitlab_project", "string", STATES),
        F("tfc_organization", "string", STATES),
        F("tfc_workspace", "string", STATES),
        F("github_missing_text", "string", "what is missing on GitHub, for messages"),
        F("github_ids_text", "string", "the id mismatch, for messages"),
        F("github_environment_text", "string", "the environment's protection, for messages"),
        F("gitlab_missing_text", "string", "what is missing on GitLab, for messages"),
        F("tfc_missing_text", "string", "what is missing on Terraform Cloud, for messages"),
    ),
)(external_vars)
