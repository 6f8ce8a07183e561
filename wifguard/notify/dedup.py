"""A stable dedup key in every message: the notification's id (the CloudEvents ``id``), or the
grouped message's own id when one message carries several findings.

After a crash between a send and its outbox mark, the notification is sent again with the same
id, so a receiver (a Teams workflow, a Slack app reading message metadata, a SOAR webhook) can
drop the copy. CloudEvents carry it as ``id`` already; Teams and Slack payloads get it here.
"""

from __future__ import annotations

from typing import Any

from .channels import channel_kind
from .channels.slack import SLACK_EVENT_TYPE as SLACK_EVENT_TYPE
from .compose import ChannelType, event_id
from .notice import Notice


def with_dedup_key(payload: dict[str, Any], channel_type: ChannelType | str, notice: Notice) -> dict[str, Any]:
    """Where the id goes is the channel type's (``Channel.with_id``)."""
    return channel_kind(str(channel_type)).with_id(payload, notice.message_id or event_id(notice))
