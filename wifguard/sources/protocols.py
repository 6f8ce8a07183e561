"""The source Protocols and their registries (see ``wifguard.sources``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from wifguard.registry import Registry
from wifguard.sources.external.base import Provider as ExternalSource

if TYPE_CHECKING:
    from wifguard.domain.model import IdentityKind, TrustContext
    from wifguard.sources.inventory.tenant import Inventory
    from wifguard.sources.privilege.reader import PrivilegeRun


class IdentitySource(Protocol):
    """Reads one kind of identity, live, with everything the rules need about it."""

    kind: IdentityKind

    async def context(self, inventory: Inventory, identity_id: str, errors: list[str]) -> TrustContext | None:
        """The identity's context, or None when it does not exist (any more). Parts that could
        not be read go into ``errors`` as ``ReadGap``s (``wifguard.sources.inventory.gaps``)."""
        ...


class PrivilegeSource(Protocol):
    """One kind of Graph-side privilege."""

    name: str

    async def read(self, run: PrivilegeRun, principals: Sequence[str]) -> None:
        """Fill ``run`` for ``principals`` (all service principals when ``run.tenant_wide``)."""


class ContextSource(Protocol):
    """Reads something more about many identities at once (one call per batch or sweep)."""

    async def read(self, inventory: Inventory, contexts: Sequence[TrustContext], errors: list[str]
                   ) -> Mapping[str, Any]:
        """Identity id → what was read (stored in ``TrustContext.extras[name]``). Raise (or leave an
        identity out) when it could not be read: that is "not read", never "nothing there"."""
        ...


#: by ``IdentityKind`` value (``application``, ``managedIdentity``)
identity_sources: Registry[IdentitySource] = Registry("identity source")
#: by name (``app_permissions``, ``directory_roles``, ``ownership``): classes, one instance per read
privilege_sources: Registry[type[PrivilegeSource]] = Registry("privilege source")
#: by name: instances; the name is the key under ``TrustContext.extras``
context_sources: Registry[ContextSource] = Registry("context source")

__all__ = ["ContextSource", "ExternalSource", "IdentitySource", "PrivilegeSource", "context_sources",
           "identity_sources", "privilege_sources"]
