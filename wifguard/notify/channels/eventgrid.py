"""An Azure Event Grid topic: one CloudEvent per finding, published with azure-eventgrid (a topic
key from an app setting, or an Entra ID token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .registry import Channel, register

if TYPE_CHECKING:
    from wifguard.notify.notice import Notice


@register("eventgrid")
class EventGrid(Channel):
    description = "Azure Event Grid topic: CloudEvents, one per finding"
    options = {"topic_key_setting": "app setting holding the topic access key (absent: an Entra ID token)"}
    transport = "eventgrid"

    def compose(self, notice: Notice) -> dict[str, Any]:
        from wifguard.notify.compose import cloud_event

        return cloud_event(notice)
