"""Teams and Slack cards carry the rule's triage note (what to check first) next to the
remediation, from the shipped catalogue's metadata; a rule it does not define gets none."""

from __future__ import annotations

from notify_helpers import card_facts, make_finding, make_notice

from wifguard.catalogue.guidance import rule_guidance
from wifguard.notify import slack_message, teams_card


def _slack_fields(msg: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    blocks = [*msg["blocks"], *(b for a in msg.get("attachments", []) for b in a["blocks"])]
    for block in blocks:
        fields = block.get("fields") or []
        for lab, val in zip(fields[::2], fields[1::2], strict=False):
            out[lab["text"].strip("*")] = val["text"]
    return out


def test_shipped_rule_guidance_is_read_from_the_rule_files() -> None:
    g = rule_guidance("wif102")
    assert g is not None and g.triage.startswith("Treat as an active backdoor")
    assert g.reference.startswith("https://")
    assert rule_guidance("ACME001") is None


def test_teams_card_shows_the_triage_note_of_a_shipped_rule() -> None:
    facts = card_facts(teams_card(make_notice(make_finding(rule_id="WIF102"))))
    assert facts["Triage"] == rule_guidance("WIF102").triage  # type: ignore[union-attr]
    assert facts["Remediation"]  # still there, before it


def test_slack_message_shows_the_triage_note_of_a_shipped_rule() -> None:
    fields = _slack_fields(slack_message(make_notice(make_finding(rule_id="WIF202"))))
    assert fields["Triage"] == rule_guidance("WIF202").triage  # type: ignore[union-attr]
    assert fields["Remediation"]


def test_cards_of_an_unknown_rule_have_no_triage_line() -> None:
    notice = make_notice(make_finding(rule_id="WIF-001"))
    assert "Triage" not in card_facts(teams_card(notice))
    assert "Triage" not in _slack_fields(slack_message(notice))
