"""Delivery against a real local HTTP(S) receiver: bodies, retries, Retry-After, Event Grid."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from notify_helpers import Receiver, make_finding, make_notice

from wifguard.domain.model import Severity
from wifguard.notify import (
    ChannelType,
    Endpoint,
    NoticeKind,
    Notifier,
    NotifyConfig,
    RetryPolicy,
    cloud_event,
    deliver,
    parse_retry_after,
    slack_message,
    teams_message,
)
from wifguard.notify.compose import event_id
from wifguard.notify.delivery import check_url

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5.0)


def endpoint(receiver: Receiver, path: str, ctype: ChannelType = ChannelType.TEAMS, **kw: Any) -> Endpoint:
    kw.setdefault("retry", FAST)
    kw.setdefault("timeout", 5.0)
    return Endpoint(name="chan", type=ctype, url=receiver.url(path), **kw)


async def test_teams_body_arrives_as_composed(receiver: Receiver, http_client: httpx.AsyncClient) -> None:
    notice = make_notice()
    receiver.plan("/teams", (202, {}, ""))
    result = await deliver(notice, endpoint(receiver, "/teams"), http_client)
    assert result.ok and result.status == 202 and result.attempts == 1 and result.error is None
    assert result.fingerprint == notice.finding.fingerprint and result.kind == "new"
    (req,) = receiver.at("/teams")
    assert req.method == "POST"
    assert req.headers["Content-Type"] == "application/json"
    # as composed, plus the stable dedup key (the CloudEvents id of the same notice)
    assert req.json() == {**teams_message(notice), "notificationId": event_id(notice)}


async def test_slack_and_webhook_bodies(receiver: Receiver, http_client: httpx.AsyncClient) -> None:
    notice = make_notice(kind=NoticeKind.REMINDER)
    r1 = await deliver(notice, endpoint(receiver, "/slack", ChannelType.SLACK), http_client)
    r2 = await deliver(notice, endpoint(receiver, "/hook", ChannelType.WEBHOOK), http_client)
    assert r1.ok and r2.ok
    assert receiver.at("/slack")[0].json() == {
        **slack_message(notice),
        "metadata": {"event_type": "wifguard_notification", "event_payload": {"notification_id": event_id(notice)}}}
    hook = receiver.at("/hook")[0]
    assert hook.headers["Content-Type"] == "application/cloudevents+json; charset=utf-8"
    event = hook.json()
    assert event == cloud_event(notice)
    assert event["type"] == "com.wifguard.finding.reminder"


async def test_retries_5xx_then_succeeds(receiver: Receiver, http_client: httpx.AsyncClient) -> None:
    receiver.plan("/t", (503, {}, "busy"), (503, {}, "busy"), (200, {}, "ok"))
    result = await deliver(make_notice(), endpoint(receiver, "/t"), http_client)
    assert result.ok and result.attempts == 3 and result.status == 200
    bodies = [r.body for r in receiver.at("/t")]
    assert len(bodies) == 3 and len(set(bodies)) == 1  # the same message each time


async def test_429_retry_after_is_honoured(receiver: Receiver, http_client: httpx.AsyncClient) -> None:
    receiver.plan("/t", (429, {"Retry-After": "1"}, "slow down"))
    start = time.monotonic()
    result = await deliver(make_notice(), endpoint(receiver, "/t"), http_client)
    assert result.ok and result.attempts == 2
    first, second = receiver.at("/t")
    assert second.at - first.at >= 0.95  # waited for Retry-After, not the 10 ms backoff
    assert time.monotonic() - start < 30  # ... and not much longer (a wide margin: not a speed target)


async def test_retry_after_beyond_the_limit_gives_up_now(
    receiver: Receiver, http_client: httpx.AsyncClient
) -> None:
    receiver.plan("/t", (429, {"Retry-After": "3600"}, ""))
    start = time.monotonic()
    result = await deliver(make_notice(), endpoint(receiver, "/t"), http_client)
    assert not result.ok and result.status == 429 and result.attempts == 1
    assert result.error is not None and "Retry-After 3600s exceeds the limit" in result.error
    assert time.monotonic() - start < 60  # it did not sleep the hour (a wide margin: not a speed target)


async def test_400_is_not_retried(receiver: Receiver, http_client: httpx.AsyncClient) -> None:
    receiver.plan("/t", (400, {}, "invalid_payload"))
    result = await deliver(make_notice(), endpoint(receiver, "/t"), http_client)
    assert not result.ok and result.status == 400 and result.attempts == 1
    assert result.error == "HTTP 400: invalid_payload"
    assert len(receiver.at("/t")) == 1


async def test_persistent_5xx_stops_at_max_attempts(
    receiver: Receiver, http_client: httpx.AsyncClient
) -> None:
    receiver.plan("/t", *[(500, {}, "boom")] * 10)
    result = await deliver(make_notice(), endpoint(receiver, "/t"), http_client)
    assert not result.ok and result.status == 500 and result.attempts == FAST.max_attempts
    assert len(receiver.at("/t")) == FAST.max_attempts


async def test_redirect_is_not_followed(receiver: Receiver, http_client: httpx.AsyncClient) -> None:
    receiver.plan("/t", (302, {"Location": receiver.url("/elsewhere")}, ""))
    result = await deliver(make_notice(), endpoint(receiver, "/t"), http_client)
    assert not result.ok and result.status == 302 and result.attempts == 1
    assert receiver.at("/elsewhere") == []


async def test_connection_errors_are_retried_and_never_raise(http_client: httpx.AsyncClient) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/secret-token-path"
    ep = Endpoint(name="dead", type=ChannelType.SLACK, url=url, retry=FAST, timeout=2.0)
    result = await deliver(make_notice(), ep, http_client)
    assert not result.ok and result.status is None and result.attempts == FAST.max_attempts
    assert result.error and "ConnectError" in result.error
    assert "secret-token-path" not in result.error
    assert "secret-token-path" not in repr(ep)


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    from datetime import UTC, datetime

    now = datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 00:00:30 GMT", now) == 30.0


def test_check_url() -> None:
    assert check_url("https://prod-00.westeurope.logic.azure.com/workflows/x") is None
    assert check_url("http://127.0.0.1:8080/x") is None
    assert check_url("http://example.com/hook") == "the URL must be https"
    assert check_url("ftp://example.com") == "the URL must be https"


# -- Notifier -----------------------------------------------------------------------------------


def _config(**retry: Any) -> NotifyConfig:
    return NotifyConfig.from_mapping(
        {
            "channels": {
                "teams": {"type": "teams", "url_setting": "T_URL", "min_severity": "high"},
                "slack": {"type": "slack", "url_setting": "S_URL", "rules": ["WIF-01*"]},
                "hook": {"type": "webhook", "url_setting": "H_URL"},
                "missing": {"type": "webhook", "url_setting": "NOT_SET"},
            },
            "routes": [
                {"min_severity": "high", "channels": ["teams", "hook"]},
                {"rules": ["WIF-010"], "channels": ["slack", "missing"]},
            ],
            "default_channels": ["hook"],
            "retry": {"max_attempts": 3, "base_delay_seconds": 0.01, "max_delay_seconds": 0.02, **retry},
        }
    )


async def test_notifier_routes_and_delivers(receiver: Receiver, http_client: httpx.AsyncClient) -> None:
    env = {"T_URL": receiver.url("/teams"), "S_URL": receiver.url("/slack"), "H_URL": receiver.url("/hook")}
    high = make_notice(make_finding(rule_id="WIF-001", severity=Severity.HIGH))
    low = make_notice(make_finding(rule_id="WIF-010", severity=Severity.LOW))
    info = make_notice(make_finding(rule_id="WIF-099", severity=Severity.INFO))
    receiver.plan("/slack", (500, {}, ""), (200, {}, "ok"))
    async with Notifier(_config(), env, http_client) as notifier:
        results = await notifier.notify([high, low, info])
    summary = [(r.channel, r.fingerprint, r.ok, r.attempts) for r in results]
    assert summary == [
        ("teams", high.finding.fingerprint, True, 1),
        ("hook", high.finding.fingerprint, True, 1),
        ("slack", low.finding.fingerprint, True, 2),
        ("missing", low.finding.fingerprint, False, 0),
        ("hook", info.finding.fingerprint, True, 1),
    ]
    missing = results[3]
    assert missing.error == "app setting NOT_SET is not set" and missing.channel_type == "webhook"
    assert [r.json() for r in receiver.at("/teams")] == [{**teams_message(high), "notificationId": event_id(high)}]
    assert sorted(r.json()["id"] for r in receiver.at("/hook")) == sorted(
        [cloud_event(high)["id"], cloud_event(info)["id"]]
    )
    assert len(receiver.at("/slack")) == 2
    assert all(receiver.url("/") not in json.dumps(r.to_dict()) for r in results)


async def test_notifier_rejects_plain_http_to_a_remote_host(http_client: httpx.AsyncClient) -> None:
    notifier = Notifier(_config(), {"H_URL": "http://hooks.example.com/x"}, http_client)
    (result,) = await notifier.notify([make_notice(make_finding(severity=Severity.LOW, rule_id="WIF-099"))])
    assert not result.ok and result.attempts == 0
    assert result.error == "app setting H_URL: the URL must be https"


async def test_notifier_composes_without_any_channel(http_client: httpx.AsyncClient) -> None:
    notifier = Notifier(NotifyConfig(), {}, http_client)
    notice = make_notice()
    assert notifier.compose(notice, "teams") == teams_message(notice)
    assert notifier.compose(notice, "slack") == slack_message(notice)
    assert notifier.route(notice) == []


async def test_slack_owners_are_pinged_from_the_map_and_by_lookup(
    receiver: Receiver, http_client: httpx.AsyncClient
) -> None:
    config = NotifyConfig.from_mapping(
        {
            "channels": {"s": {"type": "slack", "url_setting": "SLACK_URL"}},
            "default_channels": ["s"],
            "slack_users": {"Alice@Contoso.com": "U0ALICE"},
            "slack_token_setting": "SLACK_TOKEN",
        }
    )
    receiver.plan("/api/users.lookupByEmail", (200, {}, json.dumps({"ok": True, "user": {"id": "U0BOB"}})))
    env = {"SLACK_URL": receiver.url("/slack"), "SLACK_TOKEN": "xoxb-secret"}
    notifier = Notifier(config, env, http_client, slack_api_url=receiver.url("/api"))
    (res,) = await notifier.notify([make_notice()])
    (res2,) = await notifier.notify([make_notice()])  # the lookup is cached per worker
    assert res.ok and res2.ok
    lookups = receiver.at("/api/users.lookupByEmail")
    assert len(lookups) == 1
    assert lookups[0].headers["Authorization"] == "Bearer xoxb-secret"
    body = receiver.at("/slack")[0].json()
    assert "*Owners:* <@U0ALICE>, <@U0BOB>" in json.dumps(body)


async def test_slack_lookup_failure_still_names_the_owner(
    receiver: Receiver, http_client: httpx.AsyncClient
) -> None:
    config = NotifyConfig.from_mapping(
        {
            "channels": {"s": {"type": "slack", "url_setting": "SLACK_URL"}},
            "default_channels": ["s"],
            "slack_token_setting": "SLACK_TOKEN",
        }
    )
    receiver.plan("/api/users.lookupByEmail", *[(200, {}, json.dumps({"ok": False, "error": "users_not_found"}))] * 4)
    env = {"SLACK_URL": receiver.url("/slack"), "SLACK_TOKEN": "xoxb-secret"}
    (res,) = await Notifier(config, env, http_client, slack_api_url=receiver.url("/api")).notify([make_notice()])
    assert res.ok
    raw = json.dumps(receiver.at("/slack")[0].json())
    assert "<@" not in raw and "Alice Admin (alice@contoso.com)" in raw


def test_slack_users_config_is_validated() -> None:
    import pytest

    from wifguard.notify import NotifyConfigError

    with pytest.raises(NotifyConfigError, match=r"slack_users.alice@x: must be a Slack member id"):
        NotifyConfig.from_mapping({"slack_users": {"alice@x": "<!channel>"}})
    with pytest.raises(NotifyConfigError, match="slack_token_setting"):
        NotifyConfig.from_mapping({"slack_token_setting": "xoxb-https://x"})


async def test_chat_channels_get_one_message_per_identity_machines_one_per_finding(
    receiver: Receiver, http_client: httpx.AsyncClient
) -> None:
    config = NotifyConfig.from_mapping(
        {
            "channels": {
                "t": {"type": "teams", "url_setting": "T"},
                "w": {"type": "webhook", "url_setting": "W"},
            },
            "default_channels": ["t", "w"],
        }
    )
    env = {"T": receiver.url("/teams"), "W": receiver.url("/hook")}
    findings = [make_finding(rule_id=f"WIF-00{i}", severity=sev)
                for i, sev in enumerate([Severity.LOW, Severity.CRITICAL, Severity.MEDIUM])]
    other_identity = make_finding(identity={"id": "other", "name": "other-app", "kind": "application"})
    notices = [make_notice(f) for f in [*findings, other_identity]]
    results = await Notifier(config, env, http_client).notify(notices)
    assert len(results) == 8 and all(r.ok for r in results)
    assert {r.fingerprint for r in results if r.channel == "t"} == {n.finding.fingerprint for n in notices}
    teams = [c.json() for c in receiver.at("/teams")]
    assert len(teams) == 2 and len(receiver.at("/hook")) == 4
    grouped = next(m for m in teams if "(+2 more)" in m["attachments"][0]["content"]["fallbackText"])
    assert grouped["attachments"][0]["content"]["fallbackText"].startswith("CRITICAL: WIF-001")
    # grouping: finding sends each on its own
    receiver.requests.clear()
    per_finding = NotifyConfig.from_mapping({**{"grouping": "finding"}, "channels": {"t": {"type": "teams", "url_setting": "T"}},
                                              "default_channels": ["t"]})
    await Notifier(per_finding, env, http_client).notify(notices)
    assert len(receiver.at("/teams")) == 4
