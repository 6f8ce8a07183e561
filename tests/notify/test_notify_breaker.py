"""A dead channel does not eat the run: one warning per unusable channel, and a circuit breaker
after consecutive failures leaves the remaining deliveries pending for the next run."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest
from notify_helpers import Receiver, make_finding, make_notice

from wifguard.cli.announce import notification_tally
from wifguard.domain.model import Severity
from wifguard.notify import Notifier, NotifyConfig


def _dead_url() -> str:
    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/hook"


def _config(url_setting: str = "H_URL") -> NotifyConfig:
    return NotifyConfig.from_mapping({
        "channels": {"hook": {"type": "webhook", "url_setting": url_setting}},
        "default_channels": ["hook"],
        "retry": {"max_attempts": 2, "base_delay_seconds": 0.01, "max_delay_seconds": 0.02},
    })


def _notices(n: int) -> list:
    return [make_notice(make_finding(rule_id=f"WIF-{i:03d}", severity=Severity.HIGH)) for i in range(n)]


async def test_breaker_opens_after_consecutive_failures(http_client: httpx.AsyncClient) -> None:
    notifier = Notifier(_config(), {"H_URL": _dead_url()}, http_client, concurrency=1, breaker_after=3)
    results = await notifier.notify(_notices(12))
    attempted = [r for r in results if not r.skipped]
    assert len(results) == 12 and not any(r.ok for r in results)
    assert len(attempted) == 3 and all(r.attempts == 2 for r in attempted)
    assert all("circuit breaker" in (r.error or "") for r in results if r.skipped)
    entries = [{"channels": [r.to_dict()]} for r in results]
    assert notification_tally(entries, channels_configured=True) == {
        "delivered": 0, "pending": 9, "failed": 3, "unrouted": 0}


async def test_success_resets_the_count(receiver: Receiver, http_client: httpx.AsyncClient) -> None:
    receiver.plan("/hook", (500, {}, ""), (500, {}, ""), (500, {}, ""), (500, {}, ""))
    notifier = Notifier(_config(), {"H_URL": receiver.url("/hook")}, http_client, concurrency=1, breaker_after=3)
    results = await notifier.notify(_notices(6))
    # two notices fail (two attempts each), then the endpoint recovers: nothing is skipped
    assert [r.ok for r in results] == [False, False, True, True, True, True]
    assert not any(r.skipped for r in results)


async def test_one_warning_per_unusable_channel(http_client: httpx.AsyncClient,
                                                caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(_config("NOT_SET"), {}, http_client)
    with caplog.at_level(logging.WARNING, logger="wifguard.notify"):
        results = await notifier.notify(_notices(40))
    assert len(results) == 40 and not any(r.ok for r in results)
    warnings = [r for r in caplog.records if "unusable" in r.getMessage()]
    assert len(warnings) == 1
