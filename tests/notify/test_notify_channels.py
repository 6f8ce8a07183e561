"""The channel registry: shipped types, unknown types fail at config load listing the registered
ones, a type's own config keys, digest as a mode of the channel, and a new channel type added as
one module (here: one class in this test) working end to end through the Notifier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from notify_helpers import Receiver, make_finding, make_notice

from wifguard.config import ConfigError, load_config
from wifguard.notify import Notifier, NotifyConfig, NotifyConfigError, compose
from wifguard.notify.channels import CHANNELS, Channel, channel_kind, channel_types, register
from wifguard.notify.digest import compose_digest, digest_channels


def test_shipped_channel_types_and_their_modes() -> None:
    assert channel_types() == ["eventgrid", "slack", "teams", "webhook"]
    chat = {t for t in channel_types() if channel_kind(t).chat}
    assert chat == {"teams", "slack"}  # people read them: grouped per identity, digest mode
    assert {t for t in channel_types() if channel_kind(t).has_digest} == chat
    assert channel_kind("eventgrid").transport == "eventgrid" and channel_kind("webhook").transport == "http"
    assert channel_kind(" Teams ").type == "teams"


def test_unknown_type_fails_at_config_load_listing_the_valid_ones(tmp_path: Path) -> None:
    cfg = tmp_path / "wifguard.yaml"
    cfg.write_text("notifications:\n  channels:\n    ops: {type: pagerduty, url_setting: OPS_URL}\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    text = str(err.value)
    assert "notifications.channels.ops.type: must be one of eventgrid, slack, teams, webhook (got 'pagerduty')" \
        in text and str(cfg) in text
    with pytest.raises(ValueError, match=r"unknown channel type 'pagerduty' .*eventgrid, slack, teams, webhook"):
        compose(make_notice(), "pagerduty")


def test_a_types_own_keys_apply_to_that_type_only() -> None:
    ok = NotifyConfig.from_mapping({"channels": {"siem": {"type": "eventgrid", "url_setting": "EG_URL",
                                                          "topic_key_setting": "EG_KEY"}}})
    assert ok.channels["siem"].topic_key_setting == "EG_KEY"
    assert ok.channels["siem"].options == {"topic_key_setting": "EG_KEY"}
    with pytest.raises(NotifyConfigError, match=r"channels\.t\.topic_key_setting: only applies to channels of type "
                                                r"eventgrid"):
        NotifyConfig.from_mapping({"channels": {"t": {"type": "teams", "url_setting": "T",
                                                      "topic_key_setting": "K"}}})
    with pytest.raises(NotifyConfigError, match=r"channels.t.colour: unknown key \(allowed: min_severity, rules, "
                                                r"topic_key_setting, type, url_setting\)"):
        NotifyConfig.from_mapping({"channels": {"t": {"type": "teams", "url_setting": "T", "colour": "red"}}})


def test_digest_is_a_mode_of_the_channel() -> None:
    from test_notify_digest import digest

    cfg = NotifyConfig.from_mapping({"channels": {"t": {"type": "teams", "url_setting": "T"},
                                                  "s": {"type": "slack", "url_setting": "S"},
                                                  "w": {"type": "webhook", "url_setting": "W"}}})
    assert digest_channels(cfg.channels, None) == ["t", "s"]
    d = digest()
    assert compose_digest(d, "teams") == channel_kind("teams").compose_digest(d) is not None
    assert compose_digest(d, "webhook") is None


class Echo(Channel):
    """A channel type as a new module would add it: a chat tool taking plain JSON."""

    description = "test: plain JSON"
    chat = True
    options = {"room_setting": "app setting naming the room"}

    def compose(self, notice: Any) -> dict[str, Any]:
        others = [f.rule_id for f in notice.others]
        return {"text": f"{notice.finding.severity.label}: {notice.finding.rule_id}", "others": others}

    def with_id(self, payload: dict[str, Any], message_id: str) -> dict[str, Any]:
        return {**payload, "id": message_id}


@pytest.fixture
def echo() -> Iterator[None]:
    register("echo")(Echo)
    try:
        yield
    finally:
        CHANNELS.pop("echo", None)


async def test_a_new_channel_type_is_one_registered_class(echo: None, receiver: Receiver,
                                                          http_client: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register("echo")(Echo)
    config = NotifyConfig.from_mapping({"channels": {"e": {"type": "echo", "url_setting": "E",
                                                           "room_setting": "E_ROOM"}},
                                        "default_channels": ["e"]})
    assert config.channels["e"].options == {"room_setting": "E_ROOM"}
    from wifguard.domain.model import Severity

    notices = [make_notice(make_finding(rule_id=f"WIF-00{i}", severity=s))
               for i, s in enumerate([Severity.LOW, Severity.HIGH])]
    results = await Notifier(config, {"E": receiver.url("/echo")}, http_client).notify(notices)
    assert len(results) == 2 and all(r.ok and r.channel_type == "echo" for r in results)
    (msg,) = [c.json() for c in receiver.at("/echo")]  # chat: one message for the identity
    assert msg["text"] == "high: WIF-001" and msg["others"] == ["WIF-000"]
    assert msg["id"] == results[0].notification_id == results[1].notification_id
    assert digest_channels(config.channels, None) == []  # no digest mode declared
