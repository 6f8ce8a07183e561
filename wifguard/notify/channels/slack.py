"""Slack (an incoming webhook): Block Kit with a severity colour bar; a digest per sweep."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .registry import Channel, register

if TYPE_CHECKING:
    from wifguard.notify.digest import Digest
    from wifguard.notify.notice import Notice

#: Slack message metadata event type (https://api.slack.com/metadata)
SLACK_EVENT_TYPE = "wifguard_notification"


@register("slack")
class Slack(Channel):
    description = "Slack incoming webhook: Block Kit"
    chat = True

    def compose(self, notice: Notice) -> dict[str, Any]:
        from wifguard.notify.slack import slack_message

        return slack_message(notice)

    def compose_digest(self, digest: Digest) -> dict[str, Any] | None:
        from wifguard.notify.digest import digest_slack_message

        return digest_slack_message(digest)

    def with_id(self, payload: dict[str, Any], message_id: str) -> dict[str, Any]:
        return {**payload, "metadata": {"event_type": SLACK_EVENT_TYPE,
                                        "event_payload": {"notification_id": message_id}}}
