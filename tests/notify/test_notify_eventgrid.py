"""Event Grid custom topic publishing with the real azure-eventgrid aio client over local HTTPS.

The publisher accepts plain http with a key credential (only token credentials insist on
https), but the tests serve HTTPS with a throwaway CA (trustme) to match a real topic endpoint
and to exercise ``connection_verify``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from notify_helpers import Receiver, make_finding, make_notice

from wifguard.domain.model import Severity
from wifguard.notify import NoticeKind, Notifier, NotifyConfig, cloud_event

PATH = "/api/events"


def _config(**channel: Any) -> NotifyConfig:
    ch = {"type": "eventgrid", "url_setting": "EG_ENDPOINT", "topic_key_setting": "EG_KEY", **channel}
    return NotifyConfig.from_mapping(
        {
            "channels": {"siem": ch},
            "default_channels": ["siem"],
            "retry": {"max_attempts": 3, "base_delay_seconds": 0.01, "max_delay_seconds": 0.02},
            "timeout_seconds": 5,
        }
    )


def _env(receiver: Receiver) -> dict[str, str]:
    return {"EG_ENDPOINT": receiver.url(PATH), "EG_KEY": "topic-key-123"}


def _assert_same_event(received: dict[str, Any], expected: dict[str, Any]) -> None:
    assert {k: v for k, v in received.items() if k != "time"} == {
        k: v for k, v in expected.items() if k != "time"
    }
    got = datetime.fromisoformat(received["time"].replace("Z", "+00:00"))
    want = datetime.fromisoformat(expected["time"].replace("Z", "+00:00"))
    assert got == want


async def test_cloud_event_arrives_over_tls(
    tls_receiver: Receiver, http_client: httpx.AsyncClient, ca_file: str
) -> None:
    notice = make_notice(kind=NoticeKind.QUARANTINED, restore_hint="wifguard quarantine restore q1")
    async with Notifier(
        _config(), _env(tls_receiver), http_client, eventgrid_client_kwargs={"connection_verify": ca_file}
    ) as notifier:
        (result,) = await notifier.notify([notice])
    assert (
        result.ok and result.attempts == 1 and result.channel == "siem" and result.channel_type == "eventgrid"
    )
    (req,) = tls_receiver.at(PATH)
    assert req.method == "POST"
    assert req.headers["aeg-sas-key"] == "topic-key-123"
    assert req.headers["Content-Type"].startswith("application/cloudevents-batch+json")
    batch = req.json()
    assert isinstance(batch, list) and len(batch) == 1
    _assert_same_event(batch[0], cloud_event(notice))
    assert batch[0]["type"] == "com.wifguard.finding.quarantined"
    assert batch[0]["data"]["notice"]["restore_hint"] == "wifguard quarantine restore q1"


async def test_untrusted_certificate_fails_without_raising(
    tls_receiver: Receiver, http_client: httpx.AsyncClient
) -> None:
    async with Notifier(_config(), _env(tls_receiver), http_client) as notifier:
        (result,) = await notifier.notify([make_notice()])
    assert not result.ok and result.status is None and result.attempts == 3
    assert result.error is not None and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert "topic-key-123" not in result.error
    assert tls_receiver.requests == []


async def test_publisher_is_reused_and_retries_503(
    tls_receiver: Receiver, http_client: httpx.AsyncClient, ca_file: str
) -> None:
    tls_receiver.plan(PATH, (503, {}, '{"error":{"code":"ServiceUnavailable","message":"busy"}}'))
    notices = [make_notice(make_finding(rule_id=f"WIF-00{i}", severity=Severity.HIGH)) for i in range(1, 4)]
    notifier = Notifier(
        _config(), _env(tls_receiver), http_client, eventgrid_client_kwargs={"connection_verify": ca_file}
    )
    try:
        results = [await notifier.send(n, "siem") for n in notices]
    finally:
        await notifier.close()
    assert [(r.ok, r.attempts) for r in results] == [(True, 2), (True, 1), (True, 1)]
    ids = [r.json()[0]["id"] for r in tls_receiver.at(PATH)]
    assert ids[0] == ids[1]  # the retried event keeps its id
    assert ids[1:] == [cloud_event(n)["id"] for n in notices]


async def test_auth_failure_is_not_retried(
    tls_receiver: Receiver, http_client: httpx.AsyncClient, ca_file: str
) -> None:
    tls_receiver.plan(PATH, (401, {}, '{"error":{"code":"Unauthorized","message":"bad key"}}'))
    async with Notifier(
        _config(), _env(tls_receiver), http_client, eventgrid_client_kwargs={"connection_verify": ca_file}
    ) as notifier:
        (result,) = await notifier.notify([make_notice()])
    assert not result.ok and result.status == 401 and result.attempts == 1
    assert len(tls_receiver.at(PATH)) == 1


async def test_429_retry_after_on_event_grid(
    tls_receiver: Receiver, http_client: httpx.AsyncClient, ca_file: str
) -> None:
    tls_receiver.plan(PATH, (429, {"Retry-After": "1"}, ""))
    async with Notifier(
        _config(), _env(tls_receiver), http_client, eventgrid_client_kwargs={"connection_verify": ca_file}
    ) as notifier:
        (result,) = await notifier.notify([make_notice()])
    assert result.ok and result.attempts == 2
    first, second = tls_receiver.at(PATH)
    assert second.at - first.at >= 0.95


async def test_no_key_and_no_token_credential_is_reported(
    tls_receiver: Receiver, http_client: httpx.AsyncClient
) -> None:
    cfg = NotifyConfig.from_mapping(
        {
            "channels": {"siem": {"type": "eventgrid", "url_setting": "EG_ENDPOINT"}},
            "default_channels": ["siem"],
        }
    )
    async with Notifier(cfg, {"EG_ENDPOINT": tls_receiver.url(PATH)}, http_client) as notifier:
        (result,) = await notifier.notify([make_notice()])
    assert not result.ok and result.attempts == 0
    assert result.error == "channel siem: no topic key setting and no token credential"
    assert tls_receiver.requests == []


async def test_missing_key_setting_is_reported(
    tls_receiver: Receiver, http_client: httpx.AsyncClient
) -> None:
    async with Notifier(_config(), {"EG_ENDPOINT": tls_receiver.url(PATH)}, http_client) as notifier:
        (result,) = await notifier.notify([make_notice()])
    assert not result.ok and result.error == "app setting EG_KEY is not set"
