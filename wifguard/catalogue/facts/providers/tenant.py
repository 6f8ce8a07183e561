"""``tenant``: tenant-wide facts a sweep builds (tenant rules: WIF503, WIF106)."""

from __future__ import annotations

from wifguard.catalogue.facts import TenantIndex, Vars
from wifguard.catalogue.facts.registry import FactField as F
from wifguard.catalogue.facts.registry import Samples, fact_provider


def _sample(s: Samples) -> Vars:
    return TenantIndex.build([s.ctx]).vars(s.ctx, s.credential)


fact_provider(
    "tenant", variable="tenant", targets=("tenant",), sample=_sample,
    description="Every identity's credentials indexed by (issuer, subject) (wifguard.catalogue.facts.TenantIndex).",
    fields=(
        F("available", "bool", "the tenant index was built (a sweep)"),
        F("pair_identity_count", "int", "identities trusting the same issuer and subject, this one included"),
        F("pair_identities", "list<string>", "the other identities' ids"),
        F("pair_identities_text", "text", "the same, quoted, for messages"),
        F("subject_is_known_uami", "bool", "the subject is the principal id of a managed identity of the tenant"),
    ),
)(TenantIndex.vars)
