"""Settings resolution, in one place for every command and for the Functions.

Three layers, each overriding the one before: the config file (merged over the shipped defaults),
then the ``WIFGUARD_*`` app settings, then command-line flags. Every value is validated; an
invalid one is an error that names where it came from. ``origins`` records which layer set the
values that decide what a run may change (quarantine mode, notifications), so commands can say
so before they act.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wifguard.config import Config, load_config
from wifguard.settings import QUARANTINE_MODE, Settings, SettingsError

QuarantineMode = Literal["off", "dry-run", "enforce"]
QUARANTINE_MODES: tuple[str, ...] = ("off", "dry-run", "enforce")


@dataclass(frozen=True)
class Flags:
    """Command-line overrides (the last layer)."""

    quarantine_mode: str | None = None
    notify: bool = True


@dataclass(frozen=True)
class Resolved:
    config: Config
    settings: Settings
    origins: Mapping[str, str] = field(default_factory=dict)

    @property
    def quarantine_mode(self) -> str:
        return self.config.quarantine.mode

    def origin(self, key: str) -> str:
        return self.origins.get(key, self.config.source)

    def channel_names(self) -> list[str]:
        channels = (self.config.notifications or {}).get("channels") or {}
        return sorted(str(c) for c in channels) if isinstance(channels, Mapping) else []


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """The app settings; a bad value raises :class:`SettingsError` naming the variable."""
    return Settings.from_env(env)


def resolve(settings: Settings, config_path: str | Path | None = None, *, tenant_id: str | None = None,
            flags: Flags = Flags()) -> Resolved:
    """Config file, then ``WIFGUARD_*`` settings, then flags; raises ``ConfigError``/``SettingsError``."""
    path = config_path if config_path is not None else settings.config_path
    cfg = load_config(path)
    origins: dict[str, str] = {"quarantine.mode": cfg.source, "notifications": cfg.source}
    overrides: dict[str, Any] = {}
    mode: str = cfg.quarantine.mode
    if settings.quarantine_mode:
        mode, origins["quarantine.mode"] = settings.quarantine_mode, QUARANTINE_MODE
    if flags.quarantine_mode is not None:
        if flags.quarantine_mode not in QUARANTINE_MODES:
            raise SettingsError(f"--quarantine-mode {flags.quarantine_mode!r}: expected off, dry-run or enforce")
        mode, origins["quarantine.mode"] = flags.quarantine_mode, "--quarantine-mode"
    if mode != cfg.quarantine.mode:
        overrides["quarantine"] = cfg.quarantine.model_copy(update={"mode": mode})
    responder = set(settings.responder_ids)
    if responder:
        # The responder's own changes (quarantine, restore) are approved actors by definition.
        overrides["approved_actors"] = tuple(sorted({*cfg.approved_actors, *responder}))
    if not flags.notify:
        # No channel at all: nothing is sent and nothing marked notified, so the next run delivers.
        if cfg.notifications:
            overrides["notifications"] = {}
        origins["notifications"] = "--no-notify"
    if overrides:
        # Every override was validated above (or is a validated section): copy, don't re-parse.
        cfg = cfg.model_copy(update=overrides)
    return Resolved(cfg.with_home_tenant(tenant_id or settings.tenant_id), settings, origins)
