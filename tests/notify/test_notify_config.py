"""NotifyConfig validation and routing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from notify_helpers import make_finding

from wifguard.domain.model import Severity
from wifguard.notify import ChannelType, NotifyConfig, NotifyConfigError, RetryPolicy, route

YAML = """
notifications:
  channels:
    secops-teams:
      type: teams
      url_setting: WIFGUARD_TEAMS_URL
      min_severity: high
    platform-slack:
      type: slack
      url_setting: WIFGUARD_SLACK_URL
      rules: ["WIF-01*"]
    siem:
      type: eventgrid
      url_setting: WIFGUARD_EVENTGRID_ENDPOINT
      topic_key_setting: WIFGUARD_EVENTGRID_KEY
    archive:
      type: webhook
      url_setting: WIFGUARD_ARCHIVE_URL
  routes:
    - min_severity: high
      channels: [secops-teams, siem]
    - rules: [WIF-010, wif-011]
      channels: [platform-slack]
    - min_severity: medium
      rules: [WIF-020]
      channels: [secops-teams, archive]
  default_channels: [archive]
  reminders:
    after_days: 7
  retry:
    max_attempts: 3
    base_delay_seconds: 0.5
  timeout_seconds: 5
"""


@pytest.fixture
def config() -> NotifyConfig:
    return NotifyConfig.from_mapping(yaml.safe_load(YAML)["notifications"])


def test_parses_the_documented_shape(config: NotifyConfig) -> None:
    assert list(config.channels) == ["secops-teams", "platform-slack", "siem", "archive"]
    teams = config.channels["secops-teams"]
    assert teams.type == ChannelType.TEAMS and teams.url_setting == "WIFGUARD_TEAMS_URL"
    assert teams.min_severity is Severity.HIGH and teams.rules is None
    siem = config.channels["siem"]
    assert siem.type == ChannelType.EVENTGRID and siem.topic_key_setting == "WIFGUARD_EVENTGRID_KEY"
    assert config.channels["platform-slack"].rules == ("WIF-01*",)
    assert len(config.routes) == 3 and config.routes[1].rules == ("WIF-010", "wif-011")
    assert config.default_channels == ("archive",)
    assert config.reminders.after_days == 7
    assert config.retry == RetryPolicy(max_attempts=3, base_delay=0.5)
    assert config.timeout_seconds == 5.0


def test_empty_or_missing_section_is_a_config_without_channels() -> None:
    for data in (None, {}):
        cfg = NotifyConfig.from_mapping(data)
        assert cfg.channels == {} and cfg.routes == () and cfg.reminders.after_days is None
        assert route(make_finding(), cfg) == []


@pytest.mark.parametrize(
    ("severity", "rule", "expected"),
    [
        (Severity.CRITICAL, "WIF-001", ["secops-teams", "siem"]),
        (Severity.HIGH, "WIF-010", ["secops-teams", "siem", "platform-slack"]),
        (Severity.LOW, "WIF-010", ["platform-slack"]),
        (Severity.LOW, "wif-011", ["platform-slack"]),
        # route 3 matches and sends to secops-teams, but that channel only takes high+
        (Severity.MEDIUM, "WIF-020", ["archive"]),
        (Severity.LOW, "WIF-020", ["archive"]),  # no route matches: default channels
        (Severity.MEDIUM, "WIF-099", ["archive"]),
        (Severity.INFO, "WIF-001", ["archive"]),
    ],
)
def test_route(config: NotifyConfig, severity: Severity, rule: str, expected: list[str]) -> None:
    assert route(make_finding(rule_id=rule, severity=severity), config) == expected


def test_route_channel_rule_filter_applies_even_from_routes() -> None:
    cfg = NotifyConfig.from_mapping(
        {
            "channels": {"s": {"type": "slack", "url_setting": "S", "rules": ["WIF-01*"]}},
            "routes": [{"channels": ["s"]}],
        }
    )
    assert route(make_finding(rule_id="WIF-012"), cfg) == ["s"]
    assert route(make_finding(rule_id="WIF-020"), cfg) == []


def _problems(data: Any) -> list[str]:
    with pytest.raises(NotifyConfigError) as info:
        NotifyConfig.from_mapping(data)
    assert str(info.value).startswith("invalid notifications config: ")
    return info.value.problems


def test_validation_errors_name_the_place_and_the_problem() -> None:
    problems = _problems(
        {
            "channels": {
                "a": {"type": "email", "url_setting": "A"},
                "b": {"type": "teams", "url_setting": "https://contoso.webhook.office.com/x"},
                "c": {"type": "slack"},
                "d": {
                    "type": "slack",
                    "url_setting": "D",
                    "topic_key_setting": "K",
                    "min_severity": "urgent",
                },
                "e": {"type": "webhook", "url_setting": "E", "colour": "red"},
            },
            "routes": [{"channels": ["a", "zzz"]}, {"min_severity": "high"}],
            "default_channels": "e",
            "reminders": {"after_days": 0},
            "retry": {"max_attempts": 0, "jitter": 2},
            "extra": 1,
        }
    )
    text = "\n".join(problems)
    assert (
        "notifications.channels.a.type: must be one of eventgrid, slack, teams, webhook (got 'email')" in text
    )
    assert "notifications.channels.b.url_setting: must name an app setting" in text
    assert "secrets and URLs are never written in the config file" in text
    assert "notifications.channels.c.url_setting: is required" in text
    assert "notifications.channels.d.topic_key_setting: only applies to channels of type eventgrid" in text
    assert "notifications.channels.d.min_severity: unknown severity 'urgent'" in text
    assert "notifications.channels.e.colour: unknown key" in text
    assert "notifications.routes[0].channels: unknown channel 'zzz'" in text
    assert "notifications.routes[1]: must list 'channels'" in text
    assert "notifications.default_channels: must be a list of strings" in text
    assert "notifications.reminders.after_days: must be a whole number of days >= 1 or null (got 0)" in text
    assert "notifications.retry.max_attempts: must be between 1 and 10 (got 0)" in text
    assert "notifications.retry.jitter: must be between 0 and 1 (got 2)" in text
    assert "notifications.extra: unknown key" in text


def test_validation_of_wrong_container_types() -> None:
    assert _problems([]) == ["notifications: must be a mapping, not list"]
    assert _problems({"channels": ["a"]}) == [
        "notifications.channels: must be a mapping of channel name to settings"
    ]
    assert _problems({"routes": {"channels": []}}) == ["notifications.routes: must be a list of routes"]
    assert _problems({"channels": {"bad name!": {"type": "slack", "url_setting": "X"}}})[0].startswith(
        "notifications.channels.bad name!: channel names use"
    )


def test_reminders_due() -> None:
    cfg = NotifyConfig.from_mapping({"reminders": {"after_days": 3}})
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    assert not cfg.reminders.due(t0, t0 + timedelta(days=2, hours=23))
    assert cfg.reminders.due(t0, t0 + timedelta(days=3))
    assert not NotifyConfig.from_mapping({"reminders": {"after_days": None}}).reminders.due(
        t0, t0 + timedelta(days=999)
    )


def test_backoff_is_exponential_capped_and_jittered() -> None:
    p = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.5)
    rng = random.Random(7)
    delays = [[p.backoff(n, rng) for n in range(1, 6)] for _ in range(50)]
    for row in delays:
        assert 0.5 <= row[0] <= 1.0
        assert 1.0 <= row[1] <= 2.0
        assert 2.0 <= row[2] <= 4.0
        assert 2.5 <= row[3] <= 5.0 and 2.5 <= row[4] <= 5.0
    assert len({round(r[0], 6) for r in delays}) > 10  # jitter actually varies
    assert RetryPolicy(base_delay=1.0, jitter=0.0).backoff(3) == 4.0
