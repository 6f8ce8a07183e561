"""Azure built-in role definitions that matter to wifguard, as plain data.

Shared by the simulator (served as ARM role definitions without a seed) and by the rule
engine (privileged-role detection works offline). Keyed by the role definition GUID, which is
the same in every tenant. Permissions follow the published built-in definitions; a few long
lists (Virtual Machine Contributor, Automation Contributor) are trimmed to their
representative entries, which does not change how they classify.
"""

from __future__ import annotations

from typing import Any

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
