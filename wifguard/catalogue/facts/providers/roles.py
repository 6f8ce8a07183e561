"""``role``: one Azure role assignment of the identity (role_assignment rules)."""

from __future__ import annotations

from wifguard.catalogue.facts import RoleView, Vars, role_vars
from wifguard.catalogue.facts.registry import FactField as F
from wifguard.catalogue.facts.registry import Samples, fact_provider
from wifguard.domain.model import RoleAssignment, ScopeLevel
from wifguard.domain.roles import role_facts


def sample_role() -> RoleView:
    """A built-in Contributor assignment at subscription scope."""
    ra = RoleAssignment("/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/x",
                        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "p", "/subscriptions/s")
    return RoleView(ra, role_facts(ra.role_guid, {}, frozenset()), ScopeLevel.SUBSCRIPTION)


def _sample(s: Samples) -> Vars:
    return role_vars(sample_role())


fact_provider(
    "roles", variable="role", targets=("role_assignment",), sample=_sample,
    description="The assignment, its role definition's facts and its scope level (wifguard.domain.roles).",
    fields=(
        F("id", "string", "the role assignment's ARM id"),
        F("guid", "string", "the role definition's GUID"),
        F("name", "string", "the role's name"),
        F("scope", "string", "the scope it is assigned at"),
        F("level", "int", "scope level: 0 resource … 4 tenant root"),
        F("level_name", "string", "that level's name"),
        F("privileged", "bool", "a privileged role (configured list or tier 0/1)"),
        F("access_admin", "bool", "it can write role assignments (Owner, User Access Administrator, …)"),
        F("has_condition", "bool", "the assignment carries an ABAC condition"),
        F("can_write_credentials", "bool", "it can write federated credentials"),
        F("can_write_role_assignments", "bool", "it can write role assignments"),
        F("principal_type", "string", "the assignment's principal type"),
        F("write_kind", "string", "what it can write, for messages"),
        F("write_note", "string", "the persistence note messages append"),
    ),
)(role_vars)
