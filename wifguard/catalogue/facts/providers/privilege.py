"""Privilege fields of ``identity`` (WIF606-WIF609): Graph permissions, Entra roles, ownership, trust.

Built from ``TrustContext.privilege`` by ``wifguard.sources.privilege.facts.privilege_vars``; all empty or
zero when privilege was not read (``privilege_read`` false).
"""

from __future__ import annotations

from wifguard.catalogue.facts.registry import TARGETS, fact_provider
from wifguard.catalogue.facts.registry import FactField as F
from wifguard.sources.privilege.facts import privilege_vars

fact_provider(
    "privilege", variable="identity", targets=TARGETS,
    description="What the identity can do in the directory, tiered (wifguard.sources.privilege).",
    fields=(
        F("privilege_read", "bool", "its directory privilege was read"),
        F("graph_permission_tier", "int", "lowest tier (0 highest) of its Graph application permissions (2: none)"),
        F("graph_permissions_text", "string", "its tier 0/1 application permissions, for messages"),
        F("graph_path_text", "string", "the attack path through them"),
        F("directory_role_rank", "int", "severity rank of its Entra roles (4 critical, 3 high, 2 medium, 0 none)"),
        F("directory_roles_text", "string", "its tier 0/1 Entra roles, for messages"),
        F("directory_role_eligible_only", "bool", "every such role is PIM-eligible, none active"),
        F("directory_path_text", "string", "the attack path through them"),
        F("owned_privileged_count", "int", "privileged apps or principals it owns"),
        F("owned_privileged_text", "string", "what it owns and what those hold"),
        F("ownership_path_text", "string", "the attack path through ownership"),
        F("trusting_app_rank", "int", "severity rank of the apps whose credentials trust it"),
        F("trusting_apps_text", "string", "those apps and what they hold"),
        F("trust_path_text", "string", "the attack path through them"),
    ),
)(privilege_vars)
