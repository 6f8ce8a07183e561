"""The ``external:`` section of the config: one entry per registered provider, all off by default.

    external:
      github: {enabled: true, token_setting: WIFGUARD_GITHUB_TOKEN, cache_ttl_hours: 24, max_requests: 1000}
      gitlab: {enabled: true, hosts: {gitlab.example.com: WIFGUARD_GITLAB_EXAMPLE_TOKEN}}
      terraform_cloud: {enabled: true}

Each provider validates its own keys (its pydantic model); an unknown provider name fails with
the list of valid ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from wifguard.errors import ConfigError
from wifguard.sources.external.base import ProviderConfig, ProviderSpec, load_builtin_providers


class ExternalConfigError(ConfigError):
    """The ``external`` section is unusable; the message names the key."""


@dataclass(frozen=True)
class ExternalConfig:
    providers: Mapping[str, ProviderConfig]
    specs: Mapping[str, ProviderSpec]

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(n for n, c in self.providers.items() if c.enabled)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> ExternalConfig:
        specs = load_builtin_providers()
        data = data or {}
        if not isinstance(data, Mapping):
            raise ExternalConfigError("external: must be a mapping of provider name to settings")
        unknown = sorted(set(data) - set(specs))
        if unknown:
            raise ExternalConfigError(f"external: unknown provider(s) {', '.join(map(str, unknown))}; "
                                      f"known: {', '.join(sorted(specs))}")
        providers: dict[str, ProviderConfig] = {}
        for name, spec in specs.items():
            raw = data.get(name)
            if raw is None:
                raw = {}
            if raw is True or raw is False:
                raw = {"enabled": raw}
            if not isinstance(raw, Mapping):
                raise ExternalConfigError(f"external.{name}: must be a mapping (e.g. {{enabled: true}})")
            try:
                providers[name] = spec.config_model.model_validate(dict(raw))
            except ValidationError as exc:
                problems = "; ".join(f"external.{name}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                     for e in exc.errors())
                raise ExternalConfigError(problems) from None
        return cls(providers, specs)
