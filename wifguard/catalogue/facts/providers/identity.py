"""``identity``: the app registration or managed identity the credentials belong to, and its roles."""

from __future__ import annotations

from wifguard.catalogue.facts import Vars, identity_view
from wifguard.catalogue.facts.registry import TARGETS, Samples, fact_provider
from wifguard.catalogue.facts.registry import FactField as F


def _sample(s: Samples) -> Vars:
    return identity_view(s.ctx, s.cf).vars


fact_provider(
    "identity", variable="identity", targets=TARGETS, sample=_sample,
    description="Identity-level facts, computed once per evaluation (wifguard.catalogue.facts.identity_view).",
    fields=(
        F("id", "string", "Graph object id (application) or ARM resource id (managed identity)"),
        F("name", "string", "display name"),
        F("kind", "string", "application | managedIdentity"),
        F("kind_label", "string", "what it is, for messages (app registration, agent identity blueprint, …)"),
        F("application", "bool", "an app registration"),
        F("managed_identity", "bool", "a user-assigned managed identity"),
        F("credential_count", "int", "how many federated credentials it has"),
        F("federated", "bool", "it has at least one"),
        F("owners_known", "bool", "its owners were read"),
        F("owner_count", "int", "how many owners (-1: not read)"),
        F("privileged", "bool", "any source makes it privileged: Azure roles, Graph permissions, Entra roles, "
                                "ownership, trust chains"),
        F("privileged_level", "int", "highest scope level of a privileged Azure role (-1: none)"),
        F("privileged_level_name", "string", "that level's name (tenant root, management group, …)"),
        F("privileged_roles", "list<string>", "what makes it privileged"),
        F("privileged_roles_text", "string", "the same, for messages"),
        F("role_count", "int", "how many Azure role assignments"),
    ),
)(identity_view)
