"""What the real services reject, so that the simulator is no more lenient than they are.

Graph answers ``400 Request_BadRequest`` for an object id that is not a GUID (object paths and
``directoryObjects/getByIds``); ARM answers ``400 InvalidApiVersionParameter`` for an api-version
the resource type does not have, and returns only the properties an api-version defines (a
managed identity's ``isolationScope`` exists from 2024-11-30 on). Leniency here once hid a bug:
a redacted target id went through a lenient simulator and no finding was made.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import SimError

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# api-versions per resource type (azure-rest-api-specs: specification/msi, authorization, resources).
UAMI_API_VERSIONS = ("2015-08-31-preview", "2018-11-30", "2021-09-30-preview", "2022-01-31-preview", "2023-01-31",
                     "2023-07-31-preview", "2024-11-30", "2025-01-31-preview")
ISOLATION_SCOPE_API_VERSIONS = frozenset({"2024-11-30", "2025-01-31-preview"})
ROLE_ASSIGNMENT_API_VERSIONS = ("2015-07-01", "2018-01-01-preview", "2018-09-01-preview", "2020-03-01-preview",
                                "2020-04-01-preview", "2020-08-01-preview", "2020-10-01-preview",
                                "2022-01-01-preview", "2022-04-01")
ROLE_DEFINITION_API_VERSIONS = ("2015-07-01", "2018-01-01-preview", "2022-04-01", "2022-05-01-preview")
SUBSCRIPTION_API_VERSIONS = ("2016-06-01", "2018-06-01", "2019-06-01", "2019-11-01", "2020-01-01", "2021-01-01",
                             "2022-12-01")
RESOURCE_GROUP_API_VERSIONS = ("2019-05-01", "2019-07-01", "2019-10-01", "2020-06-01", "2020-10-01", "2021-01-01",
                               "2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01",
                               "2025-04-01")


def require_object_id(value: str, what: str = "object") -> None:
    """Graph: an object path or getByIds id that is not a GUID is a bad request, not a 404."""
    if not _GUID_RE.match(value):
        raise SimError(400, "Request_BadRequest", f"Invalid object identifier '{value}'.")


def _invalid(version: str, rtype: str, versions: tuple[str, ...]) -> SimError:
    return SimError(400, "InvalidApiVersionParameter",
                    f"The api-version '{version}' is invalid. The supported versions are '{', '.join(versions)}'."
                    if version else
                    f"No registered resource provider found for location and API version '' for type '{rtype}'.")


def check_arm_api_version(low: list[str], version: str) -> None:
    """Raise 400 InvalidApiVersionParameter when the path's resource type has no such api-version.
    Federated identity credentials are checked where they are routed (their own list)."""
    rtype, versions = _resource_type(low)
    if versions and version not in versions:
        raise _invalid(version, rtype, versions)


def _resource_type(low: list[str]) -> tuple[str, tuple[str, ...]]:
    if "microsoft.authorization" in low:
        i = len(low) - 1 - low[::-1].index("microsoft.authorization")
        kind = low[i + 1] if i + 1 < len(low) else ""
        if kind == "roleassignments":
            return "Microsoft.Authorization/roleAssignments", ROLE_ASSIGNMENT_API_VERSIONS
        if kind == "roledefinitions":
            return "Microsoft.Authorization/roleDefinitions", ROLE_DEFINITION_API_VERSIONS
        return "", ()
    if "microsoft.managedidentity" in low:
        if "federatedidentitycredentials" in low:
            return "", ()  # checked with the credential routes
        return "Microsoft.ManagedIdentity/userAssignedIdentities", UAMI_API_VERSIONS
    if low[:1] == ["subscriptions"] and len(low) <= 2:
        return "Microsoft.Resources/subscriptions", SUBSCRIPTION_API_VERSIONS
    if low[:1] == ["subscriptions"] and len(low) >= 3 and low[2] == "resourcegroups" and len(low) <= 4:
        return "Microsoft.Resources/resourceGroups", RESOURCE_GROUP_API_VERSIONS
    return "", ()


def uami_view(uami: dict[str, Any], version: str) -> dict[str, Any]:
    """A managed identity as the api-version defines it (no isolationScope before 2024-11-30)."""
    props = uami.get("properties")
    if version in ISOLATION_SCOPE_API_VERSIONS or not isinstance(props, dict) or "isolationScope" not in props:
        return uami
    return {**uami, "properties": {k: v for k, v in props.items() if k != "isolationScope"}}
