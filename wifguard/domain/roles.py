"""Azure built-in roles wifguard knows, and what makes a role privileged.

A role is privileged when its definition GUID is in ``privileged_roles`` (config, which also
takes the Azure roles of tier 0/1 in ``wifguard/sources/privilege/data/tiering.yaml``), or when its
actions minus notActions grant ``*``, ``Microsoft.Authorization/*``, role-assignment writes,
federated-credential writes or one of ``SENSITIVE_OPERATIONS`` (running code as, or handing out,
another identity; reading secrets). Action wildcards match as case-insensitive globs.

Definitions are read live (every built-in and custom role); the table here, plus
``wifguard/sources/privilege/data/azure-builtin-roles.yaml``, is the offline fallback.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from wifguard.domain.model import RoleDefinition

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
MANAGED_IDENTITY_CONTRIBUTOR = "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

ROLE_ASSIGNMENT_WRITE = "Microsoft.Authorization/roleAssignments/write"
FIC_WRITE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"

# Built-in definitions as Azure publishes them (the simulated tenant serves these too). A few
# long lists (Virtual Machine Contributor, Automation Contributor) are trimmed to their
# representative entries, which does not change how they classify.
_COMMON_READ = [
    "Microsoft.Authorization/*/read",
    "Microsoft.Insights/alertRules/*",
    "Microsoft.Resources/deployments/*",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Support/*",
]

_KEYVAULT_CONTROL = [
    *_COMMON_READ,
    "Microsoft.KeyVault/checkNameAvailability/read",
    "Microsoft.KeyVault/deletedVaults/read",
    "Microsoft.KeyVault/locations/*/read",
    "Microsoft.KeyVault/vaults/*/read",
    "Microsoft.KeyVault/operations/read",
]


def _role(name: str, description: str, actions: list[str], not_actions: list[str] | None = None,
          data_actions: list[str] | None = None, not_data_actions: list[str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "actions": actions,
        "notActions": not_actions or [],
        "dataActions": data_actions or [],
        "notDataActions": not_data_actions or [],
    }


BUILTIN_ROLE_DEFINITIONS: dict[str, dict[str, Any]] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": _role(
        "Owner",
        "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        ["*"],
    ),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": _role(
        "Contributor",
        "Grants full access to manage all resources, but does not allow you to assign roles in Azure "
        "RBAC, manage assignments in Azure Blueprints, or share image galleries.",
        ["*"],
        [
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ],
    ),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": _role(
        "Reader", "View all resources, but does not allow you to make any changes.", ["*/read"],
    ),
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": _role(
        "User Access Administrator",
        "Lets you manage user access to Azure resources.",
        ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
    ),
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": _role(
        "Role Based Access Control Administrator",
        "Manage access to Azure resources by assigning roles using Azure RBAC.",
        [
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "*/read",
            "Microsoft.Support/*",
        ],
    ),
    "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59": _role(
        "Managed Identity Contributor",
        "Create, Read, Update, and Delete User Assigned Identity",
        [
            "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
            "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action",
            *_COMMON_READ,
        ],
    ),
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": _role(
        "Key Vault Administrator",
        "Perform all data plane operations on a key vault and all objects in it, including certificates, "
        "keys, and secrets.",
        list(_KEYVAULT_CONTROL),
        data_actions=["Microsoft.KeyVault/vaults/*"],
    ),
    "8b54135c-b56d-4d72-a534-26097cfdc8d8": _role(
        "Key Vault Data Access Administrator",
        "Manage access to Azure Key Vault by adding or removing role assignments for the Key Vault "
        "Administrator, Key Vault Certificates Officer, Key Vault Crypto Officer, ... roles.",
        [
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/subscriptions/read",
            "Microsoft.Management/managementGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/vaults/*/read",
        ],
    ),
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": _role(
        "Key Vault Secrets Officer",
        "Perform any action on the secrets of a key vault, except manage permissions.",
        list(_KEYVAULT_CONTROL),
        data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
    ),
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": _role(
        "Storage Blob Data Owner",
        "Provides full access to Azure Storage blob containers and data, including assigning POSIX "
        "access control.",
        [
            "Microsoft.Storage/storageAccounts/blobServices/containers/*",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        data_actions=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"],
    ),
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": _role(
        "Storage Account Contributor",
        "Permits management of storage accounts. Provides access to the account key, which can be used "
        "to access data via Shared Key authorization.",
        [
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Storage/storageAccounts/*",
            "Microsoft.Support/*",
        ],
    ),
    "9980e02c-c2be-4d73-94e8-173b1dc7cf3c": _role(
        "Virtual Machine Contributor",
        "Create and manage virtual machines, manage disks, install and run software, reset password of "
        "the root user of the virtual machine using VM extensions, and manage local user accounts.",
        [
            "Microsoft.Authorization/*/read",
            "Microsoft.Compute/availabilitySets/*",
            "Microsoft.Compute/locations/*",
            "Microsoft.Compute/virtualMachines/*",
            "Microsoft.Compute/virtualMachineScaleSets/*",
            "Microsoft.Compute/cloudServices/*",
            "Microsoft.Compute/disks/write",
            "Microsoft.Compute/disks/read",
            "Microsoft.Compute/disks/delete",
            "Microsoft.DevTestLab/schedules/*",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Network/networkInterfaces/*",
            "Microsoft.Network/networkSecurityGroups/join/action",
            "Microsoft.Network/networkSecurityGroups/read",
            "Microsoft.Network/publicIPAddresses/join/action",
            "Microsoft.Network/publicIPAddresses/read",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.SerialConsole/serialPorts/connect/action",
            "Microsoft.SqlVirtualMachine/*",
            "Microsoft.Storage/storageAccounts/listKeys/action",
            "Microsoft.Storage/storageAccounts/read",
            "Microsoft.Support/*",
        ],
    ),
    "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8": _role(
        "Azure Kubernetes Service Cluster Admin Role",
        "List cluster admin credential action.",
        [
            "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action",
            "Microsoft.ContainerService/managedClusters/accessProfiles/listCredential/action",
            "Microsoft.ContainerService/managedClusters/read",
            "Microsoft.ContainerService/managedClusters/runcommand/action",
        ],
    ),
    "f353d9bd-d4a6-484e-a77a-8050b599b867": _role(
        "Automation Contributor",
        "Manage Azure Automation resources and other resources using Azure Automation.",
        [
            "Microsoft.Automation/automationAccounts/*",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Insights/metrics/read",
            "Microsoft.Insights/metricDefinitions/read",
            "Microsoft.Insights/ActionGroups/*",
            "Microsoft.Insights/ActivityLogAlerts/*",
            "Microsoft.Insights/MetricAlerts/*",
            "Microsoft.Insights/ScheduledQueryRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.OperationalInsights/workspaces/sharedKeys/action",
            "Microsoft.OperationalInsights/workspaces/read",
            "Microsoft.ResourceHealth/availabilityStatuses/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
    ),
}


def _load_more_builtins() -> dict[str, dict[str, Any]]:
    """The privilege-relevant built-in roles shipped as data (sources cited in the file)."""
    path = Path(__file__).parent.parent / "sources" / "privilege" / "data" / "azure-builtin-roles.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(guid).lower(): _role(str(d["name"]), str(d.get("description", "")), list(d.get("actions") or []),
                                     list(d.get("notActions") or []), list(d.get("dataActions") or []),
                                     list(d.get("notDataActions") or []))
            for guid, d in (data.get("roles") or {}).items()}


for _guid, _d in _load_more_builtins().items():
    BUILTIN_ROLE_DEFINITIONS.setdefault(_guid, _d)


BUILTIN_ROLES: dict[str, RoleDefinition] = {
    guid: RoleDefinition(guid, str(d["name"]), tuple(d["actions"]), tuple(d["notActions"]),
                         tuple(d.get("dataActions", ())), tuple(d.get("notDataActions", ())))
    for guid, d in BUILTIN_ROLE_DEFINITIONS.items()
}


DEFAULT_PRIVILEGED_ROLES: tuple[str, ...] = (
    OWNER,
    CONTRIBUTOR,
    USER_ACCESS_ADMINISTRATOR,
    RBAC_ADMINISTRATOR,
    MANAGED_IDENTITY_CONTRIBUTOR,
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "8b54135c-b56d-4d72-a534-26097cfdc8d8",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab",
    "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
    "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8",
    "f353d9bd-d4a6-484e-a77a-8050b599b867",
)
ACCESS_ADMIN_ROLES = frozenset({USER_ACCESS_ADMINISTRATOR, RBAC_ADMINISTRATOR})

# Operations that let a holder act as another identity or take its secrets: attach a managed
# identity, run code on compute that carries one, or read key material (tiering research:
# "Managed Identity Operator", "Contributor-like" roles limited to one resource type).
SENSITIVE_OPERATIONS: tuple[str, ...] = (
    "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
    "Microsoft.Compute/virtualMachines/runCommand/action",
    "Microsoft.Compute/virtualMachines/extensions/write",
    "Microsoft.Web/sites/write",
    "Microsoft.Web/sites/config/write",
    "Microsoft.Logic/workflows/write",
    "Microsoft.Automation/automationAccounts/runbooks/write",
    "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action",
    "Microsoft.ContainerService/managedClusters/runCommand/action",
    "Microsoft.KeyVault/vaults/accessPolicies/write",
)
SENSITIVE_DATA_OPERATIONS: tuple[str, ...] = (
    "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    "Microsoft.Compute/virtualMachines/loginAsAdmin/action",
    "Microsoft.ContainerService/managedClusters/secrets/read",
)


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern.lower()))


def grants(actions: Iterable[str], not_actions: Iterable[str], operation: str) -> bool:
    """Does ``actions`` minus ``not_actions`` allow ``operation``?"""
    op = operation.lower()
    if not any(_glob(a).match(op) for a in actions):
        return False
    return not any(_glob(n).match(op) for n in not_actions)


@dataclass(frozen=True, slots=True)
class RoleFacts:
    guid: str
    name: str
    privileged: bool
    can_write_credentials: bool
    can_write_role_assignments: bool
    access_admin: bool


def role_facts(guid: str, definitions: Mapping[str, RoleDefinition], privileged_roles: frozenset[str]) -> RoleFacts:
    guid = guid.lower()
    d = definitions.get(guid) or BUILTIN_ROLES.get(guid)
    # Never a bare GUID where a user reads it: say that the definition could not be found.
    name = d.name if d else f"{guid} (role definition not found)"
    actions = d.actions if d else ()
    not_actions = d.not_actions if d else ()
    wide = any(a.strip().lower() in {"*", "microsoft.authorization/*"} and a not in not_actions for a in actions)
    writes_ra = grants(actions, not_actions, ROLE_ASSIGNMENT_WRITE)
    writes_fic = grants(actions, not_actions, FIC_WRITE)
    # ARM's `*` also matches an empty segment (`userAssignedIdentities/*/assign/action` grants
    # `userAssignedIdentities/assign/action`): try the collapsed form too.
    wide_actions = (*actions, *(a.replace("/*/", "/") for a in actions if "/*/" in a))
    sensitive = any(grants(wide_actions, not_actions, op) for op in SENSITIVE_OPERATIONS) or (
        d is not None and any(grants(d.data_actions, d.not_data_actions, op) for op in SENSITIVE_DATA_OPERATIONS))
    privileged = guid in privileged_roles or wide or writes_ra or writes_fic or sensitive
    return RoleFacts(
        guid,
        name,
        privileged,
        writes_fic or guid == MANAGED_IDENTITY_CONTRIBUTOR,
        writes_ra,
        guid in ACCESS_ADMIN_ROLES,
    )


def definition_from_arm(obj: Mapping[str, object]) -> RoleDefinition:
    """An ARM role definition resource → RoleDefinition (control-plane permissions merged)."""
    props = obj.get("properties")
    if not isinstance(props, Mapping):
        raise ValueError("role definition: 'properties' must be an object")
    lists: dict[str, list[str]] = {"actions": [], "notActions": [], "dataActions": [], "notDataActions": []}
    perms = props.get("permissions") or []
    if isinstance(perms, list):
        for p in perms:
            if isinstance(p, Mapping):
                for key, out in lists.items():
                    out += [str(a) for a in (p.get(key) or [])]
    rid = str(obj.get("name") or obj.get("id") or "").rsplit("/", 1)[-1].lower()
    return RoleDefinition(rid, str(props.get("roleName") or rid), tuple(lists["actions"]), tuple(lists["notActions"]),
                          tuple(lists["dataActions"]), tuple(lists["notDataActions"]))
