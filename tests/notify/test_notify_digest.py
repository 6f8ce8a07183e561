"""Digest composition (pure) and the grouping/digest settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from notify_helpers import validate_card, walk

from wifguard.domain.model import Severity
from wifguard.notify import NotifyConfig, NotifyConfigError
from wifguard.notify.digest import Digest, RiskyIdentity, bar, digest_card, digest_slack_message

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def digest(**kw: Any) -> Digest:
    base: dict[str, Any] = {
        "tenant_id": "t-1", "scope": "whole tenant", "time": NOW, "identities_checked": 40, "identities_clean": 31,
        "open_by_severity": {Severity.CRITICAL: 2, Severity.HIGH: 5, Severity.MEDIUM: 9, Severity.LOW: 0,
                             Severity.INFO: 1},
        "top": (RiskyIdentity("a1", "payments <!channel> **x**", "application", Severity.CRITICAL, 3,
                              ("WIF102", "WIF601")),),
        "new": 4, "resolved": 1, "previous": datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        "report_url": "https://reports.contoso.example/wifguard.html",
    }
    base.update(kw)
    return Digest(**base)


def test_digest_card_is_valid_and_says_it_all(card_validator: Any, card_schema: Any) -> None:
    card = digest_card(digest())
    validate_card(card, card_validator, card_schema)
    raw = json.dumps(card, ensure_ascii=False)
    assert "17 open finding(s) on 9 of 40 identities" in raw
    assert "4 new, 0 reopened, 1 resolved since 2026-11-26 09:00 UTC" in raw
    assert "payments <!channel> **x**" in raw  # in a TextRun: shown as typed
    assert card["body"][0]["style"] == "attention"  # the worst open severity
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the report",
                                "url": "https://reports.contoso.example/wifguard.html"}]
    texts = [d["text"] for d in walk(card) if d.get("type") == "TextBlock"]
    assert texts == ["**Riskiest identities**"]  # Markdown holds only our own words


def test_digest_slack_is_inert() -> None:
    msg = digest_slack_message(digest())
    raw = json.dumps(msg, ensure_ascii=False)
    assert "<!channel>" not in raw and "&lt;!channel&gt;" in raw
    assert msg["attachments"][0]["color"] == "#B0001E"
    assert msg["blocks"][0]["text"]["text"].startswith("wifguard sweep: 17 open")
    clean = digest_slack_message(digest(open_by_severity={s: 0 for s in Severity}, top=()))
    assert clean["attachments"][0]["color"] == "#2DA44E"
    assert "first sweep" not in raw and "first sweep" in json.dumps(digest_slack_message(digest(previous=None)))


def test_bar_scales_to_the_largest_count() -> None:
    assert bar(0, 9) == "" and len(bar(9, 9)) == 20 and len(bar(1, 9)) == 2 and bar(1, 100) == "\u2588"


def test_grouping_and_digest_settings() -> None:
    cfg = NotifyConfig.from_mapping({
        "channels": {"t": {"type": "teams", "url_setting": "T"}, "s": {"type": "slack", "url_setting": "S"}},
        "grouping": "finding", "digest": {"channels": ["t"], "top": 3, "report_url": "https://r.example/x"},
    })
    assert cfg.grouping == "finding" and cfg.digest.channels == ("t",) and cfg.digest.top == 3
    assert NotifyConfig.from_mapping({}).grouping == "identity" and NotifyConfig.from_mapping({}).digest.enabled
    floor = NotifyConfig.from_mapping({"digest": {"immediate_min_severity": "High"}}).digest.immediate_min_severity
    assert floor is Severity.HIGH
    with pytest.raises(NotifyConfigError) as e:
        NotifyConfig.from_mapping({"grouping": "channel", "digest": {"enabled": "yes", "report_url": "http://x",
                                                                    "channels": ["nope"], "colour": 1}})
    msg = str(e.value)
    for part in ("grouping: must be one of identity, finding", "digest.enabled", "digest.report_url",
                 "unknown channel 'nope'", "digest.colour: unknown key"):
        assert part in msg, part
