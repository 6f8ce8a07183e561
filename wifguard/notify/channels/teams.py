"""Microsoft Teams (a Workflows webhook): an Adaptive Card per message, a digest card per sweep."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .registry import Channel, register

if TYPE_CHECKING:
    from wifguard.notify.digest import Digest
    from wifguard.notify.notice import Notice


@register("teams")
class Teams(Channel):
    description = "Microsoft Teams Workflows webhook: Adaptive Card 1.5"
    chat = True

    def compose(self, notice: Notice) -> dict[str, Any]:
        from wifguard.notify.teams import teams_message

        return teams_message(notice)

    def compose_digest(self, digest: Digest) -> dict[str, Any] | None:
        from wifguard.notify.digest import digest_teams_message

        return digest_teams_message(digest)

    def with_id(self, payload: dict[str, Any], message_id: str) -> dict[str, Any]:
        return {**payload, "notificationId": message_id}
