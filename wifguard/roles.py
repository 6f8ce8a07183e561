"""Azure built-in roles wifguard knows, and what makes a role privileged.

A role is privileged when its definition GUID is in ``privileged_roles`` (config), or when its
actions minus notActions grant ``*``, ``Microsoft.Authorization/*``, role-assignment writes or
federated-credential writes. Action wildcards match as case-insensitive globs.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from wifguard.model import RoleDefinition

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
MANAGED_IDENTITY_CONTRIBUTOR = "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

ROLE_ASSIGNMENT_WRITE = "Microsoft.Authorization/roleAssignments/write"
FIC_WRITE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"

# Built-in definitions (names and control-plane actions as Azure publishes them).
BUILTIN_ROLES: dict[str, RoleDefinition] = {
    d.id: d
    for d in (
        RoleDefinition(OWNER, "Owner", ("*",)),
        RoleDefinition(
            CONTRIBUTOR,
            "Contributor",
            ("*",),
            (
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
            ),
        ),
        RoleDefinition(
            USER_ACCESS_ADMINISTRATOR,
            "User Access Administrator",
            ("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"),
        ),
        RoleDefinition(
            RBAC_ADMINISTRATOR,
            "Role Based Access Control Administrator",
            (
                "Microsoft.Authorization/roleAssignments/write",
                "Microsoft.Authorization/roleAssignments/delete",
                "*/read",
                "Microsoft.Support/*",
            ),
        ),
        RoleDefinition(
            MANAGED_IDENTITY_CONTRIBUTOR,
            "Managed Identity Contributor",
            (
                "Microsoft.ManagedIdentity/userAssignedIdentities/read",
                "Microsoft.ManagedIdentity/userAssignedIdentities/write",
                "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
                "Microsoft.Authorization/*/read",
                "Microsoft.Insights/alertRules/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Support/*",
            ),
        ),
        RoleDefinition(
            "00482a5a-887f-4fb3-b363-3b7fe8e74483",
            "Key Vault Administrator",
            ("Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
             "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
             "Microsoft.Support/*", "Microsoft.KeyVault/checkNameAvailability/read",
             "Microsoft.KeyVault/deletedVaults/read", "Microsoft.KeyVault/locations/*/read",
             "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read"),
        ),
        RoleDefinition(
            "8b54135c-b56d-4d72-a534-26097cfdc8d8",
            "Key Vault Data Access Administrator",
            ("Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete",
             "Microsoft.Authorization/*/read", "Microsoft.Resources/deployments/*",
             "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.KeyVault/vaults/*/read",
             "Microsoft.Management/managementGroups/read", "Microsoft.Resources/subscriptions/read",
             "Microsoft.Support/*"),
        ),
        RoleDefinition(
            "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
            "Key Vault Secrets Officer",
            ("Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
             "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
             "Microsoft.Support/*", "Microsoft.KeyVault/checkNameAvailability/read",
             "Microsoft.KeyVault/deletedVaults/read", "Microsoft.KeyVault/locations/*/read",
             "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read"),
        ),
        RoleDefinition(
            "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
            "Storage Blob Data Owner",
            ("Microsoft.Storage/storageAccounts/blobServices/containers/*",
             "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"),
        ),
        RoleDefinition(
            "17d1049b-9a84-46fb-8f53-869881c3d3ab",
            "Storage Account Contributor",
            ("Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
             "Microsoft.Insights/diagnosticSettings/*", "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
             "Microsoft.ResourceHealth/availabilityStatuses/read", "Microsoft.Resources/deployments/*",
             "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Storage/storageAccounts/*",
             "Microsoft.Support/*"),
        ),
        RoleDefinition(
            "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
            "Virtual Machine Contributor",
            ("Microsoft.Authorization/*/read", "Microsoft.Compute/virtualMachines/*",
             "Microsoft.Compute/disks/*", "Microsoft.Network/networkInterfaces/*",
             "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
             "Microsoft.Support/*"),
        ),
        RoleDefinition(
            "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8",
            "Azure Kubernetes Service Cluster Admin Role",
            ("Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action",
             "Microsoft.ContainerService/managedClusters/accessProfiles/listCredential/action",
             "Microsoft.ContainerService/managedClusters/read",
             "Microsoft.ContainerService/managedClusters/runcommand/action"),
        ),
        RoleDefinition(
            "f353d9bd-d4a6-484e-a77a-8050b599b867",
            "Automation Contributor",
            ("Microsoft.Automation/automationAccounts/*", "Microsoft.Authorization/*/read",
             "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
             "Microsoft.Support/*", "Microsoft.Insights/alertRules/*"),
        ),
        RoleDefinition(READER, "Reader", ("*/read",)),
    )
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
    name = d.name if d else guid
    actions = d.actions if d else ()
    not_actions = d.not_actions if d else ()
    wide = any(a.strip().lower() in {"*", "microsoft.authorization/*"} and a not in not_actions for a in actions)
    writes_ra = grants(actions, not_actions, ROLE_ASSIGNMENT_WRITE)
    writes_fic = grants(actions, not_actions, FIC_WRITE)
    privileged = guid in privileged_roles or wide or writes_ra or writes_fic
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
    actions: list[str] = []
    not_actions: list[str] = []
    perms = props.get("permissions") or []
    if isinstance(perms, list):
        for p in perms:
            if isinstance(p, Mapping):
                actions += [str(a) for a in (p.get("actions") or [])]
                not_actions += [str(a) for a in (p.get("notActions") or [])]
    rid = str(obj.get("name") or obj.get("id") or "").rsplit("/", 1)[-1].lower()
    return RoleDefinition(rid, str(props.get("roleName") or rid), tuple(actions), tuple(not_actions))
