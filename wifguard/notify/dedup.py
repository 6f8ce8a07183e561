"""A stable dedup key in every message: the notification's id (the CloudEvents ``id``), or the
grouped message's own id when one message carries several findings.

After a crash between a send and its outbox mark, the notification is sent again with the same
id, so a receiver (a Teams workflow, a Slack app reading message metadata, a SOAR webhook) can
drop the copy. CloudEvents carry it as ``id`` already; Teams and Slack payloads get it here.
"""

from __future__ import annotations

from typing import Any

from .compose import ChannelType, event_id
from .notice import Notice

#: Slack message metadata event type (https://api.slack.com/metadata)
SLACK_EVENT_TYPE = "wifguard_notification"


def with_dedup_key(payload: dict[str, Any], channel_type: ChannelType, notice: Notice) -> dict[str, Any]:
    nid = notice.message_id or event_id(notice)
    if channel_type is ChannelType.SLACK:
        return {**payload, "metadata": {"event_type": SLACK_EVENT_TYPE,
                                        "event_payload": {"notification_id": nid}}}
    if channel_type is ChannelType.TEAMS:
        return {**payload, "notificationId": nid}
    return payload
