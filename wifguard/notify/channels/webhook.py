"""A generic webhook (SOAR, SIEM): one CloudEvents 1.0 event per finding (its ``id`` is the
notification id), structured JSON mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wifguard.notify.compose import CLOUDEVENT_CONTENT_TYPE

from .registry import Channel, register

if TYPE_CHECKING:
    from wifguard.notify.notice import Notice


@register("webhook")
class Webhook(Channel):
    description = "CloudEvents 1.0 JSON over HTTPS, one event per finding"
    content_type = CLOUDEVENT_CONTENT_TYPE

    def compose(self, notice: Notice) -> dict[str, Any]:
        from wifguard.notify.compose import cloud_event

        return cloud_event(notice)
