"""The shipped identity sources: app registrations (Graph) and user-assigned managed identities (ARM)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wifguard.domain.model import IdentityKind, TrustContext
from wifguard.sources.protocols import identity_sources

if TYPE_CHECKING:
    from wifguard.sources.inventory.tenant import Inventory


class ApplicationSource:
    """An app registration by Graph object id: credentials (beta, for flexible FICs), owners, the
    service principal's Azure role assignments and Graph-side privilege."""

    kind = IdentityKind.APPLICATION

    async def context(self, inventory: Inventory, identity_id: str, errors: list[str]) -> TrustContext | None:
        return await inventory.application_context(identity_id, errors=errors)


class ManagedIdentitySource:
    """A user-assigned managed identity by ARM resource id: its FICs, tags (owners), role
    assignments and Graph-side privilege (including apps that trust it)."""

    kind = IdentityKind.MANAGED_IDENTITY

    async def context(self, inventory: Inventory, identity_id: str, errors: list[str]) -> TrustContext | None:
        return await inventory.managed_identity_context(identity_id, errors=errors)


for _source in (ApplicationSource(), ManagedIdentitySource()):
    identity_sources.add(_source.kind.value, _source)
