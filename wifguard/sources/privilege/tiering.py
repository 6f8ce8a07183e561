"""Privilege tiers as data: Microsoft Graph application permissions, Entra directory roles and
Azure roles, each tier 0 (known path to Global Administrator / full control), tier 1 (high
impact) or 2 (other).

The shipped table (``data/tiering.yaml``) cites its public sources; a config's ``privilege``
section overrides or extends it, keyed by permission value, role template id / definition GUID
or display name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from wifguard.errors import ConfigError

DATA_DIR = Path(__file__).with_name("data")
TIERING_FILE = DATA_DIR / "tiering.yaml"
OTHER = 2
TIER_LABELS = {0: "Tier 0", 1: "Tier 1", 2: "other"}
_TIER_KEYS = {"tier0": 0, "tier1": 1, "other": 2}


class TieringError(ConfigError):
    """The tiering table (shipped or from config) is unusable; the message names what is wrong."""


def _tier(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1, 2):
        raise TieringError(f"{where}: tier must be 0, 1 or 2, not {value!r}")
    return value


@dataclass(frozen=True)
class Tiering:
    """Lower-cased key → tier. Directory and Azure roles are keyed by GUID and by display name."""

    graph_permissions: Mapping[str, int] = field(default_factory=dict)
    directory_roles: Mapping[str, int] = field(default_factory=dict)
    azure_roles: Mapping[str, int] = field(default_factory=dict)
    directory_role_names: Mapping[str, str] = field(default_factory=dict)  # template id → name
    azure_role_names: Mapping[str, str] = field(default_factory=dict)  # GUID → name

    def permission(self, value: str) -> int:
        return self.graph_permissions.get(value.lower(), OTHER)

    def directory_role(self, template_id: str, name: str = "") -> int:
        t = self.directory_roles.get(template_id.lower())
        if t is None and name:
            t = self.directory_roles.get(name.lower())
        return OTHER if t is None else t

    def azure_role(self, guid: str, name: str = "") -> int:
        t = self.azure_roles.get(guid.lower())
        if t is None and name:
            t = self.azure_roles.get(name.lower())
        return OTHER if t is None else t

    def privileged_azure_roles(self) -> frozenset[str]:
        """Azure role GUIDs at tier 0 or 1 (the GUID keys only, not names)."""
        return frozenset(k for k, t in self.azure_roles.items() if t <= 1 and _looks_like_guid(k))

    def with_overrides(self, overrides: Mapping[str, Mapping[str, int]]) -> Tiering:
        """A copy with a config's ``privilege`` overrides applied (they win over the shipped table)."""
        if not any(overrides.get(k) for k in ("graph_permissions", "directory_roles", "azure_roles")):
            return self
        g = dict(self.graph_permissions)
        d = dict(self.directory_roles)
        a = dict(self.azure_roles)
        for section, table, names in (("graph_permissions", g, {}), ("directory_roles", d, self.directory_role_names),
                                      ("azure_roles", a, self.azure_role_names)):
            for key, tier in (overrides.get(section) or {}).items():
                low = str(key).lower()
                table[low] = _tier(tier, f"privilege.{section}.{key}")
                # A display name also re-tiers the GUIDs shipped under that name.
                for gid, name in names.items():
                    if name.lower() == low:
                        table[gid] = table[low]
        return Tiering(g, d, a, self.directory_role_names, self.azure_role_names)


def _looks_like_guid(s: str) -> bool:
    return len(s) == 36 and s.count("-") == 4


def parse_tiering(data: Mapping[str, Any], where: str) -> Tiering:
    if not isinstance(data, Mapping):
        raise TieringError(f"{where}: must be a mapping")
    g: dict[str, int] = {}
    d: dict[str, int] = {}
    a: dict[str, int] = {}
    d_names: dict[str, str] = {}
    a_names: dict[str, str] = {}
    for section, table, names in (("graph_permissions", g, None), ("directory_roles", d, d_names),
                                  ("azure_roles", a, a_names)):
        body = data.get(section) or {}
        if not isinstance(body, Mapping):
            raise TieringError(f"{where}: {section} must be a mapping of tier0/tier1/other")
        for tier_key, entries in body.items():
            if tier_key not in _TIER_KEYS:
                raise TieringError(f"{where}: {section}: unknown tier {tier_key!r} (expected tier0, tier1, other)")
            tier = _TIER_KEYS[tier_key]
            if isinstance(entries, Mapping):  # GUID → display name
                for gid, name in entries.items():
                    table[str(gid).lower()] = tier
                    table[str(name).lower()] = tier
                    if names is not None:
                        names[str(gid).lower()] = str(name)
            elif isinstance(entries, list):
                for value in entries:
                    table[str(value).lower()] = tier
            else:
                raise TieringError(f"{where}: {section}.{tier_key} must be a list or a mapping")
    return Tiering(g, d, a, d_names, a_names)


@lru_cache(maxsize=1)
def shipped_tiering() -> Tiering:
    try:
        data = yaml.safe_load(TIERING_FILE.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TieringError(f"{TIERING_FILE}: cannot read the shipped tiering table: {exc}") from None
    return parse_tiering(data, str(TIERING_FILE))


def tier_label(tier: int) -> str:
    return TIER_LABELS.get(tier, "other")
