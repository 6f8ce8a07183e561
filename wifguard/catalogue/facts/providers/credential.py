"""``credential``: the federated identity credential itself, as Graph or ARM returns it."""

from __future__ import annotations

from wifguard.catalogue.facts import Vars, credential_vars
from wifguard.catalogue.facts.registry import FactField as F
from wifguard.catalogue.facts.registry import Samples, fact_provider

CREDENTIAL_TARGETS = ("credential", "tenant", "change")


def _sample(s: Samples) -> Vars:
    return credential_vars(s.credential)


fact_provider(
    "credential", variable="credential", targets=CREDENTIAL_TARGETS, sample=_sample,
    description="The credential's own values.",
    fields=(
        F("name", "string", "the credential's name (unique per identity)"),
        F("issuer", "string", "the issuer URL it trusts"),
        F("subject", "string", "the subject it trusts (empty for a flexible credential)"),
        F("has_subject", "bool", "a subject is set"),
        F("audiences", "list<string>", "the audiences it accepts"),
        F("audience_count", "int", "how many audiences"),
        F("audiences_text", "text", "the audiences, quoted, for messages"),
        F("description", "string", "its description"),
        F("has_description", "bool", "the description is not blank"),
        F("flexible", "bool", "it has a claimsMatchingExpression (flexible federated identity credential)"),
        F("expression", "string", "the claimsMatchingExpression value, or empty"),
        F("shape", "string", "where it was read: graph | arm | audit"),
        F("trust_text", "string", "what it trusts, for messages: subject 'x' or expression 'y'"),
    ),
)(credential_vars)
