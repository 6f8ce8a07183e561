"""Azure built-in role definitions that matter to wifguard, as plain data.

The data lives in ``wifguard.domain.roles`` (the rule engine classifies privilege with it offline);
the simulator serves it as ARM role definitions without a seed. Keyed by the role definition
GUID, which is the same in every tenant. Permissions follow the published built-in definitions; a few long
lists (Virtual Machine Contributor, Automation Contributor) are trimmed to their
representative entries, which does not change how they classify.
"""

from __future__ import annotations

from typing import Any

# One source of truth for the engine and the simulator (explicit re-export).
from wifguard.domain.roles import BUILTIN_ROLE_DEFINITIONS as BUILTIN_ROLE_DEFINITIONS


def arm_role_definition(guid: str, definition: dict[str, Any], scope: str = "") -> dict[str, Any]:
    """ARM resource shape of a built-in role definition as listed at ``scope``."""
    scope = scope.rstrip("/")
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        "name": guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": definition["name"],
            "type": "BuiltInRole",
            "description": definition.get("description", ""),
            "assignableScopes": ["/"],
            "permissions": [
                {
                    "actions": list(definition["actions"]),
                    "notActions": list(definition["notActions"]),
                    "dataActions": list(definition.get("dataActions", [])),
                    "notDataActions": list(definition.get("notDataActions", [])),
                }
            ],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2024-01-01T00:00:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }
