"""``flex``: what a flexible credential's claimsMatchingExpression can match (wifguard.domain.flexible)."""

from __future__ import annotations

from wifguard.catalogue.facts import Vars, flex_vars
from wifguard.catalogue.facts.providers.credential import CREDENTIAL_TARGETS
from wifguard.catalogue.facts.registry import FactField as F
from wifguard.catalogue.facts.registry import Samples, fact_provider


def _sample(s: Samples) -> Vars:
    expr = s.credential.claims_matching_expression
    return flex_vars(expr.value if expr else None, s.cf.issuer(s.credential.issuer)["provider"])


fact_provider(
    "flexible", variable="flex", targets=CREDENTIAL_TARGETS, sample=_sample,
    description="The claimsMatchingExpression, analysed once per distinct (expression, provider).",
    fields=(
        F("present", "bool", "the credential is flexible"),
        F("valid", "bool", "the expression parses in the supported grammar"),
        F("error", "string", "why it does not parse"),
        F("wildcard_owner", "bool", "it matches any owner / top-level group"),
        F("wildcard_repo", "bool", "it matches any repository of an owner"),
        F("gitlab", "bool", "it matches GitLab project paths"),
        F("constrains_ids", "bool", "it pins numeric owner/repository ids"),
        F("patterns", "list<string>", "the subject patterns it matches"),
        F("can_pull_request", "bool", "it can match a pull-request subject"),
        F("can_branch_or_tag", "bool", "it can match a branch or tag subject"),
        F("can_plan", "bool", "it can match a Terraform plan run"),
        F("github_owners_lc", "list<string>", "GitHub owners it names, lower case"),
        F("gitlab_paths_lc", "list<string>", "GitLab paths it names, lower case"),
        F("tfc_organizations_lc", "list<string>", "Terraform Cloud organisations it names, lower case"),
    ),
)(flex_vars)
