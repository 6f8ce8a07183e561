"""``issuer``: the issuer URL classified (provider, hosting, tenant) and matched against the allow-list."""

from __future__ import annotations

from wifguard.catalogue.facts import ConfigFacts, Vars
from wifguard.catalogue.facts.providers.credential import CREDENTIAL_TARGETS
from wifguard.catalogue.facts.registry import FactField as F
from wifguard.catalogue.facts.registry import Samples, fact_provider


def _sample(s: Samples) -> Vars:
    return s.cf.issuer(s.credential.issuer)


fact_provider(
    "issuers", variable="issuer", targets=CREDENTIAL_TARGETS, sample=_sample,
    description="The issuer, parsed once per distinct URL (wifguard.domain.issuers).",
    fields=(
        F("value", "string", "the issuer URL"),
        F("allowed", "bool", "it matches an entry of the configured issuer allow-list"),
        F("listed_exactly", "bool", "it is listed exactly (not through a pattern)"),
        F("hosting", "bool", "its host is a generic hosting domain anyone can publish on"),
        F("well_formed", "bool", "no problems (https, no query/fragment, a host)"),
        F("problems", "list<string>", "what is wrong with it"),
        F("problem", "string", "the problems joined with '; '"),
        F("provider", "string", "github | gitlab | terraform | aks | azure_devops | google | entra | unknown"),
        F("known_provider", "bool", "the provider is one wifguard parses subjects for"),
        F("host", "string", "its host name"),
        F("entra", "bool", "an Entra ID (login.microsoftonline.com / sts.windows.net) issuer"),
        F("entra_tenant", "string", "the tenant id an Entra issuer names"),
        F("home_tenant", "bool", "an Entra issuer of the configured home tenant"),
        F("github", "bool", "a GitHub Actions (or GHES) issuer"),
        F("cluster_tenant", "string", "the tenant id of an AKS / Azure Arc cluster issuer"),
        F("cluster_kind", "string", "AKS | Azure Arc | empty"),
        F("foreign_cluster", "bool", "a Microsoft-hosted cluster issuer of another tenant (WIF107)"),
    ),
)(ConfigFacts.issuer)
