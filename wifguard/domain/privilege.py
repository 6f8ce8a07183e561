"""What an identity can do beyond Azure RBAC, as read from Graph: application permissions,
Entra directory roles, ownership of other identities and apps that trust it as a credential.

Plain frozen values built from the real API shapes; tiers and severities are decided later, in
``wifguard.sources.privilege.facts``, because they depend on configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wifguard.domain.model import RoleAssignment

MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
TENANT_SCOPE = "/"


@dataclass(frozen=True, slots=True)
class AppPermission:
    """One ``appRoleAssignment`` granted to the identity, resolved through the resource's ``appRoles``."""

    id: str
    app_role_id: str
    value: str  # e.g. RoleManagement.ReadWrite.Directory; "" when the resource does not define it
    display_name: str
    resource_id: str
    resource_app_id: str
    resource_name: str

    @property
    def label(self) -> str:
        return self.value or self.display_name or self.app_role_id

    @property
    def microsoft_graph(self) -> bool:
        return self.resource_app_id.lower() == MICROSOFT_GRAPH_APP_ID


@dataclass(frozen=True, slots=True)
class DirectoryRole:
    """An Entra directory role assignment (active) or PIM eligibility schedule (eligible)."""

    id: str
    role_id: str  # the role definition id (= template id for built-in roles)
    name: str
    scope: str  # directoryScopeId: "/" (tenant), "/administrativeUnits/{id}", "/{appObjectId}"
    eligible: bool = False

    @property
    def tenant_scope(self) -> bool:
        return self.scope.strip() in ("", TENANT_SCOPE)


@dataclass(frozen=True, slots=True)
class Holdings:
    """Everything one principal holds directly (used for identities an identity owns or is trusted by)."""

    principal_id: str
    name: str
    kind: str  # application | servicePrincipal | managedIdentity
    app_permissions: tuple[AppPermission, ...] = ()
    directory_roles: tuple[DirectoryRole, ...] = ()
    role_assignments: tuple[RoleAssignment, ...] = ()


@dataclass(frozen=True, slots=True)
class Ownership:
    """The identity's service principal owns this app or service principal: it can add a credential
    to it and so holds its privilege."""

    object_id: str
    object_type: str  # application | servicePrincipal
    name: str
    target: Holdings


@dataclass(frozen=True, slots=True)
class TrustedBy:
    """An app whose federated credential trusts this managed identity (home-tenant Entra issuer,
    subject = the managed identity's principal id): the managed identity is as privileged as the app."""

    app_object_id: str
    app_name: str
    credential_name: str
    issuer: str
    subject: str
    target: Holdings


@dataclass(frozen=True)
class Privilege:
    """The Graph-side privilege of one identity. ``errors`` name reads that failed (the identity
    is then evaluated on what could be read, and the sweep reports the failure)."""

    app_permissions: tuple[AppPermission, ...] = ()
    directory_roles: tuple[DirectoryRole, ...] = ()
    owns: tuple[Ownership, ...] = ()
    trusted_by: tuple[TrustedBy, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.app_permissions or self.directory_roles or self.owns or self.trusted_by)


def app_permission_from_graph(assignment: Mapping[str, Any], resource: Mapping[str, Any] | None) -> AppPermission:
    """A Graph ``appRoleAssignment`` + its resource service principal (with ``appRoles``)."""
    role_id = str(assignment.get("appRoleId") or "")
    value = display = ""
    for r in (resource or {}).get("appRoles") or []:
        if str(r.get("id", "")).lower() == role_id.lower():
            value = str(r.get("value") or "")
            display = str(r.get("displayName") or "")
            break
    return AppPermission(
        id=str(assignment.get("id") or ""),
        app_role_id=role_id,
        value=value,
        display_name=display,
        resource_id=str(assignment.get("resourceId") or ""),
        resource_app_id=str((resource or {}).get("appId") or ""),
        resource_name=str((resource or {}).get("displayName") or assignment.get("resourceDisplayName") or ""),
    )
