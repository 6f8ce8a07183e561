"""``config``: configuration values rules compare against (inlined as literals at load)."""

from __future__ import annotations

from typing import Any

from wifguard.catalogue.facts import ConfigFacts
from wifguard.catalogue.facts.registry import TARGETS, Samples, fact_provider
from wifguard.catalogue.facts.registry import FactField as F


def _sample(s: Samples) -> dict[str, Any]:
    return s.cf.vars


def config_vars(cf: ConfigFacts) -> dict[str, Any]:
    return cf.vars


fact_provider(
    "config", variable="config", targets=TARGETS, sample=_sample,
    description="Built once per engine from the configuration (wifguard.catalogue.facts.ConfigFacts).",
    fields=(
        F("home_tenant_id", "string", "home_tenant_id, lower case"),
        F("allowed_audiences", "list<string>", "allowed_audiences"),
        F("github_allowed_owners", "list<string>", "github.allowed_owners, lower case"),
        F("azure_devops_allowed_organizations", "list<string>", "azure_devops.allowed_organizations, lower case"),
        F("gitlab_allowed_groups", "list<string>", "gitlab.allowed_groups, lower case"),
        F("terraform_cloud_allowed_organizations", "list<string>",
          "terraform_cloud.allowed_organizations, lower case"),
        F("kubernetes_disallowed_namespaces", "list<string>", "kubernetes.disallowed_namespaces"),
        F("kubernetes_disallowed_service_accounts", "list<string>", "kubernetes.disallowed_service_accounts"),
        F("approved_actors", "list<string>", "approved_actors, lower case"),
        F("add_remove_window_minutes", "int", "add_remove_window_minutes (WIF703)"),
        F("allowed_audiences_text", "string", "the allowed audiences, for messages"),
        F("home_tenant_label", "string", "the home tenant, for messages"),
    ),
)(config_vars)
