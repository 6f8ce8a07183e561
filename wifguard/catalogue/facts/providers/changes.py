"""``change``: what an event says happened, and who did it (change rules)."""

from __future__ import annotations

from wifguard.catalogue.facts import Vars, change_vars
from wifguard.catalogue.facts.registry import FactField as F
from wifguard.catalogue.facts.registry import Samples, fact_provider
from wifguard.domain.model import Actor, Change, ChangeKind, Credential


def sample_change(cred: Credential) -> Change:
    return Change("sample", "sample", ChangeKind.CREDENTIAL_CHANGED, old_credential=cred, new_credential=cred,
                  actor=Actor("user", "u", "User", "u@example.com"))


def _sample(s: Samples) -> Vars:
    return change_vars(sample_change(s.credential), (), s.cf)


fact_provider(
    "changes", variable="change", targets=("change",), sample=_sample,
    description="The decoded event (wifguard.domain.model.Change) and its actor against the owners.",
    fields=(
        F("kind", "string", "credential_added | credential_changed | credential_removed | credential_written | …"),
        F("source", "string", "audit-log | event-grid | …"),
        F("credential_change", "bool", "an addition or change (removals cannot grant access)"),
        F("removal", "bool", "a removal"),
        F("actor_known", "bool", "the event names who did it"),
        F("actor_kind", "string", "user | app | …"),
        F("actor_id", "string", "the actor's object id"),
        F("actor_name", "string", "display name"),
        F("actor_upn", "string", "user principal name"),
        F("actor_app_id", "string", "application (client) id"),
        F("actor_display", "string", "the actor, quoted, for messages"),
        F("actor_is_owner", "bool", "the actor is an owner of the identity"),
        F("actor_approved", "bool", "the actor is in approved_actors"),
        F("owners_known", "bool", "the identity's owners were read"),
        F("old_issuer", "string", "the issuer before the change"),
        F("new_issuer", "string", "the issuer after it"),
        F("issuer_changed", "bool", "the same credential now trusts another issuer"),
        F("time", "string", "when it happened (ISO 8601)"),
        F("readded_after_quarantine", "bool", "the credential is one wifguard quarantined (WIF704)"),
        F("quarantine_backup", "string", "that quarantine backup's id"),
    ),
)(change_vars)
