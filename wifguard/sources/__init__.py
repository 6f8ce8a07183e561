"""Where an identity's context comes from: the source Protocols and their registries.

Every reader of the tenant (or of an outside platform) is a *source* that registers under a name
(``wifguard.registry.Registry``, used as a decorator); an unknown name fails listing the valid
ones. Adding a source is one module plus its tests: ``TrustContext`` and ``Inventory`` do not grow.

- :class:`IdentitySource` reads one kind of identity live (applications from Graph, user-assigned
  managed identities from ARM); the pipeline picks it by the change's identity kind.
- :class:`PrivilegeSource` reads one kind of Graph-side privilege for many principals at once
  into the run's shared ``PrivilegeRun`` (``wifguard.sources.privilege.reader``).
- :class:`ContextSource` reads anything else about identities (sign-in usage, …) once per
  batch or sweep; the inventory stores its answer in ``TrustContext.extras[name]`` and a fact
  provider (``wifguard.catalogue.facts.providers``) turns it into rule variables. A failed read is recorded
  as an error and leaves no entry: absence is "not read", never "no data".
- ``ExternalSource``: an outside platform (GitHub, GitLab, Terraform Cloud), registered with
  ``wifguard.sources.external.base.register_provider``.
"""

from wifguard.sources import identities as _identities  # noqa: F401 - registers the shipped ones
from wifguard.sources.protocols import (
    ContextSource,
    ExternalSource,
    IdentitySource,
    PrivilegeSource,
    context_sources,
    identity_sources,
    privilege_sources,
)

__all__ = [
    "ContextSource",
    "ExternalSource",
    "IdentitySource",
    "PrivilegeSource",
    "context_sources",
    "identity_sources",
    "privilege_sources",
]
