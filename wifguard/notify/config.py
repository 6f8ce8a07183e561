"""Notification settings (the ``notifications:`` section of the main config) and routing.

YAML shape (secrets never live here: ``url_setting`` and ``topic_key_setting`` *name* app
settings / environment variables, which in Azure are Key Vault references)::

    notifications:
      channels:
        secops-teams:
          type: teams                      # a registered type (wifguard.notify.channels):
                                           #   teams | slack | webhook | eventgrid
          url_setting: WIFGUARD_TEAMS_URL  # app setting holding the webhook URL / topic endpoint
          min_severity: medium             # optional: this channel never gets less
          rules: [WIF-001, "WIF-1*"]       # optional: only these rule ids (fnmatch patterns)
        siem:
          type: eventgrid
          url_setting: WIFGUARD_EVENTGRID_ENDPOINT
          topic_key_setting: WIFGUARD_EVENTGRID_KEY  # optional; absent: Entra ID token
      routes:                              # every matching route contributes its channels
        - min_severity: high
          channels: [secops-teams]
        - rules: [WIF-010]
          channels: [siem]
      default_channels: [siem]             # used when no route matches
      reminders:
        after_days: 7                      # null: no reminders
      retry:                               # optional, these are the defaults
        max_attempts: 4
        base_delay_seconds: 1.0
        max_delay_seconds: 30.0
        max_retry_after_seconds: 120.0
        jitter: 0.5
      timeout_seconds: 10
      grouping: identity                   # identity: one chat message per identity per channel per
                                           #   run (worst first, "and N more") | finding
      digest:                              # after a whole-tenant sweep, one summary per channel
        enabled: true
        channels: [secops-teams]           # default: every teams and slack channel
        top: 5                             # riskiest identities listed
        report_url: https://...            # optional link to the published report
        immediate_min_severity: high       # optional: new findings from events below this get no
                                           #   chat message of their own (the next digest counts them)
      slack_users:                         # optional: owners' Slack member ids, pinged in messages
        alice@contoso.com: U012ABCDEF      #   keyed by UPN, mail or object id (case-insensitive)
      slack_token_setting: WIFGUARD_SLACK_BOT_TOKEN  # optional: look owners up by mail
                                           #   (users.lookupByEmail; scope users:read.email)
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from wifguard.domain.model import Finding, Severity
from wifguard.errors import ConfigError

from .channels import Channel, UnknownChannelType, channel_kind, load_builtin_channels

_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class NotifyConfigError(ConfigError):
    """The ``notifications`` section is not valid; the message names every problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid notifications config: " + "; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After gives up now (the next run retries)
    jitter: float = 0.5  # fraction of each backoff delay that is randomised

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before attempt ``attempt + 1`` (``attempt`` >= 1): exponential with jitter."""
        delay = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        r = (rng or random).random()
        return delay * (1 - self.jitter) + delay * self.jitter * r


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    name: str
    type: str  # a registered channel type (wifguard.notify.channels)
    url_setting: str
    topic_key_setting: str | None = None
    min_severity: Severity | None = None
    rules: tuple[str, ...] | None = None
    options: Mapping[str, str] = field(default_factory=dict)  # the type's own keys (app-setting names)

    @property
    def kind(self) -> Channel:
        return channel_kind(self.type)

    def accepts(self, finding: Finding) -> bool:
        if self.min_severity is not None and finding.severity < self.min_severity:
            return False
        return self.rules is None or rule_matches(finding.rule_id, self.rules)


@dataclass(frozen=True, slots=True)
class RouteConfig:
    channels: tuple[str, ...]
    min_severity: Severity | None = None
    rules: tuple[str, ...] | None = None

    def matches(self, finding: Finding) -> bool:
        if self.min_severity is not None and finding.severity < self.min_severity:
            return False
        return self.rules is None or rule_matches(finding.rule_id, self.rules)


@dataclass(frozen=True, slots=True)
class RemindersConfig:
    after_days: int | None = None

    def due(self, last_notified: datetime, now: datetime) -> bool:
        """Whether an open finding last notified at ``last_notified`` needs a reminder now."""
        if self.after_days is None:
            return False
        return now - last_notified >= timedelta(days=self.after_days)


@dataclass(frozen=True, slots=True)
class DigestConfig:
    enabled: bool = True
    channels: tuple[str, ...] | None = None  # None: every Teams and Slack channel
    top: int = 5
    report_url: str | None = None
    immediate_min_severity: Severity | None = None


GROUPINGS = ("identity", "finding")


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    channels: Mapping[str, ChannelConfig] = field(default_factory=dict)
    routes: tuple[RouteConfig, ...] = ()
    default_channels: tuple[str, ...] = ()
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_seconds: float = 10.0
    slack_users: Mapping[str, str] = field(default_factory=dict)  # lower-cased key -> member id
    slack_token_setting: str | None = None
    grouping: str = "identity"
    digest: DigestConfig = field(default_factory=DigestConfig)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, path: str = "notifications") -> NotifyConfig:
        """Build from the parsed YAML section; raises :class:`NotifyConfigError` listing problems."""
        return _Parser(path).config(data)


def rule_matches(rule_id: str, patterns: Sequence[str]) -> bool:
    rid = rule_id.upper()
    return any(fnmatchcase(rid, p.upper()) for p in patterns)


def route(finding: Finding, config: NotifyConfig) -> list[str]:
    """Channel names a finding goes to, in config order, without duplicates.

    Every route whose ``min_severity`` and ``rules`` match contributes its channels; when no
    route matches, ``default_channels`` are used. A channel's own ``min_severity``/``rules``
    filter last, so a channel never receives what it excludes.
    """
    names: list[str] = []
    for r in config.routes:
        if r.matches(finding):
            names += list(r.channels)
    if not any(r.matches(finding) for r in config.routes):
        names = list(config.default_channels)
    out: list[str] = []
    for name in names:
        ch = config.channels.get(name)
        if ch is not None and name not in out and ch.accepts(finding):
            out.append(name)
    return out


# -- parsing ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, root: str) -> None:
        self.root = root
        self.problems: list[str] = []

    def err(self, where: str, msg: str) -> None:
        self.problems.append(f"{where}: {msg}")

    def mapping(self, value: Any, where: str, allowed: set[str]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.err(where, f"must be a mapping, not {type(value).__name__}")
            return {}
        for key in value:
            if key not in allowed:
                self.err(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return value

    def str_list(self, value: Any, where: str) -> tuple[str, ...] | None:
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, Sequence):
            self.err(where, "must be a list of strings")
            return None
        bad = [v for v in value if not isinstance(v, str) or not v.strip()]
        if bad:
            self.err(where, f"must be a list of non-empty strings (bad: {bad!r})")
            return None
        return tuple(v.strip() for v in value)

    def severity(self, value: Any, where: str) -> Severity | None:
        if value is None:
            return None
        try:
            return Severity.parse(value)
        except ValueError as e:
            self.err(where, str(e))
            return None

    def number(self, value: Any, where: str, default: float, lo: float, hi: float) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.err(where, f"must be a number, not {type(value).__name__}")
            return default
        if not lo <= value <= hi:
            self.err(where, f"must be between {lo:g} and {hi:g} (got {value!r})")
            return default
        return float(value)

    def setting_name(self, value: Any, where: str, required: bool) -> str | None:
        if value is None:
            if required:
                self.err(where, "is required (the name of the app setting that holds the URL)")
            return None
        if not isinstance(value, str) or not value.strip():
            self.err(where, "must be the name of an app setting")
            return None
        v = value.strip()
        if "://" in v or not _SETTING_NAME.match(v):
            self.err(
                where,
                "must name an app setting / environment variable (e.g. WIFGUARD_TEAMS_URL); "
                "secrets and URLs are never written in the config file",
            )
            return None
        return v

    def channel(self, name: Any, value: Any) -> ChannelConfig | None:
        where = f"{self.root}.channels.{name}"
        if not isinstance(name, str) or not _CHANNEL_NAME.match(name):
            self.err(where, "channel names use letters, digits, '-', '_' and '.' (at most 64)")
            return None
        kinds = load_builtin_channels()
        owners: dict[str, list[str]] = {}  # option key -> the types that take it
        for t, k in sorted(kinds.items()):
            for key in k.options:
                owners.setdefault(key, []).append(t)
        m = self.mapping(value, where, {"type", "url_setting", "min_severity", "rules", *owners})
        if not m:
            if value is None or isinstance(value, Mapping):
                self.err(where, "must set at least 'type' and 'url_setting'")
            return None
        raw_type = m.get("type")
        kind: Channel | None = None
        try:
            kind = channel_kind(str(raw_type)) if raw_type is not None else None
        except UnknownChannelType:
            pass
        if kind is None:  # unknown: fail at load, naming the registered types
            self.err(f"{where}.type", f"must be one of {', '.join(sorted(kinds))} (got {raw_type!r})")
        url_setting = self.setting_name(m.get("url_setting"), f"{where}.url_setting", required=True)
        options: dict[str, str] = {}
        for key, types in owners.items():
            setting = self.setting_name(m.get(key), f"{where}.{key}", required=False)
            if setting is None:
                continue
            if kind is not None and key not in kind.options:
                self.err(f"{where}.{key}", f"only applies to channels of type {', '.join(types)}")
            options[key] = setting
        min_sev = self.severity(m.get("min_severity"), f"{where}.min_severity")
        rules = self.str_list(m.get("rules"), f"{where}.rules")
        if kind is None or url_setting is None:
            return None
        return ChannelConfig(name, kind.type, url_setting, options.get("topic_key_setting"), min_sev, rules,
                             options=options)

    def channel_refs(
        self, value: Any, where: str, known: Mapping[str, Any], all_names: set[str]
    ) -> tuple[str, ...]:
        names = self.str_list(value, where)
        if names is None:
            return ()
        for n in names:
            if n not in all_names:
                self.err(where, f"unknown channel {n!r} (defined: {', '.join(sorted(all_names)) or 'none'})")
        return tuple(n for n in names if n in known)

    def config(self, data: Mapping[str, Any] | None) -> NotifyConfig:
        m = self.mapping(
            data,
            self.root,
            {"channels", "routes", "default_channels", "reminders", "retry", "timeout_seconds",
             "slack_users", "slack_token_setting", "grouping", "digest"},
        )
        raw_channels = m.get("channels")
        channels: dict[str, ChannelConfig] = {}
        all_names: set[str] = set()
        if raw_channels is not None and not isinstance(raw_channels, Mapping):
            self.err(f"{self.root}.channels", "must be a mapping of channel name to settings")
        elif raw_channels:
            for name, value in raw_channels.items():
                all_names.add(str(name))
                ch = self.channel(name, value)
                if ch is not None:
                    channels[ch.name] = ch
        routes: list[RouteConfig] = []
        raw_routes = m.get("routes")
        if raw_routes is not None and (
            isinstance(raw_routes, str | Mapping) or not isinstance(raw_routes, Sequence)
        ):
            self.err(f"{self.root}.routes", "must be a list of routes")
        elif raw_routes:
            for i, r in enumerate(raw_routes):
                where = f"{self.root}.routes[{i}]"
                rm = self.mapping(r, where, {"min_severity", "rules", "channels"})
                if "channels" not in rm:
                    self.err(where, "must list 'channels'")
                    continue
                chs = self.channel_refs(rm.get("channels"), f"{where}.channels", channels, all_names)
                routes.append(
                    RouteConfig(
                        channels=chs,
                        min_severity=self.severity(rm.get("min_severity"), f"{where}.min_severity"),
                        rules=self.str_list(rm.get("rules"), f"{where}.rules"),
                    )
                )
        defaults = self.channel_refs(
            m.get("default_channels"), f"{self.root}.default_channels", channels, all_names
        )
        rem = self.mapping(m.get("reminders"), f"{self.root}.reminders", {"after_days"})
        after = rem.get("after_days")
        if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 1):
            self.err(
                f"{self.root}.reminders.after_days",
                f"must be a whole number of days >= 1 or null (got {after!r})",
            )
            after = None
        rt = self.mapping(
            m.get("retry"),
            f"{self.root}.retry",
            {"max_attempts", "base_delay_seconds", "max_delay_seconds", "max_retry_after_seconds", "jitter"},
        )
        w = f"{self.root}.retry"
        attempts = self.number(rt.get("max_attempts"), f"{w}.max_attempts", 4, 1, 10)
        if attempts != int(attempts):
            self.err(f"{w}.max_attempts", "must be a whole number")
        retry = RetryPolicy(
            max_attempts=int(attempts),
            base_delay=self.number(rt.get("base_delay_seconds"), f"{w}.base_delay_seconds", 1.0, 0, 60),
            max_delay=self.number(rt.get("max_delay_seconds"), f"{w}.max_delay_seconds", 30.0, 0, 300),
            max_retry_after=self.number(
                rt.get("max_retry_after_seconds"), f"{w}.max_retry_after_seconds", 120.0, 0, 3600
            ),
            jitter=self.number(rt.get("jitter"), f"{w}.jitter", 0.5, 0, 1),
        )
        timeout = self.number(m.get("timeout_seconds"), f"{self.root}.timeout_seconds", 10.0, 0.1, 300)
        slack_users = self.slack_users(m.get("slack_users"), f"{self.root}.slack_users")
        token_setting = self.setting_name(
            m.get("slack_token_setting"), f"{self.root}.slack_token_setting", required=False
        )
        grouping = m.get("grouping", "identity")
        if grouping not in GROUPINGS:
            self.err(f"{self.root}.grouping", f"must be one of {', '.join(GROUPINGS)} (got {grouping!r})")
            grouping = "identity"
        digest = self.digest(m.get("digest"), f"{self.root}.digest", channels, all_names)
        if self.problems:
            raise NotifyConfigError(self.problems)
        return NotifyConfig(
            channels=channels,
            routes=tuple(routes),
            default_channels=defaults,
            reminders=RemindersConfig(after),
            retry=retry,
            timeout_seconds=timeout,
            slack_users=slack_users,
            slack_token_setting=token_setting,
            grouping=str(grouping),
            digest=digest,
        )

    def digest(self, value: Any, where: str, known: Mapping[str, Any], all_names: set[str]) -> DigestConfig:
        d = self.mapping(value, where, {"enabled", "channels", "top", "report_url", "immediate_min_severity"})
        enabled = d.get("enabled", True)
        if not isinstance(enabled, bool):
            self.err(f"{where}.enabled", f"must be true or false (got {enabled!r})")
            enabled = True
        channels = (self.channel_refs(d.get("channels"), f"{where}.channels", known, all_names)
                    if d.get("channels") is not None else None)
        top = self.number(d.get("top"), f"{where}.top", 5, 1, 50)
        url = d.get("report_url")
        if url is not None and (not isinstance(url, str) or not url.startswith("https://")):
            self.err(f"{where}.report_url", f"must be an https URL (got {url!r})")
            url = None
        immediate = self.severity(d.get("immediate_min_severity"), f"{where}.immediate_min_severity")
        return DigestConfig(bool(enabled), channels, int(top), url, immediate)

    def slack_users(self, value: Any, where: str) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.err(where, "must map a UPN, mail or object id to a Slack member id")
            return {}
        out: dict[str, str] = {}
        for key, uid in value.items():
            if not isinstance(key, str) or not key.strip():
                self.err(where, f"keys must be non-empty strings (got {key!r})")
            elif not isinstance(uid, str) or not _SLACK_ID.match(uid.strip()):
                self.err(f"{where}.{key}", f"must be a Slack member id like U012ABCDEF (got {uid!r})")
            else:
                out[key.strip().lower()] = uid.strip()
        return out
