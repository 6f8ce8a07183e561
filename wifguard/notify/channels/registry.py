"""Notification channel types, registered by the name used as ``notifications.channels.*.type``.

A channel type is one module in this package with a class decorated by :func:`register`
(Cloud Custodian's registry shape): the config keys it adds to the common ones (``type``,
``url_setting``, ``min_severity``, ``rules``), how a notice is composed for it, where a message
carries its id, and, for channels people read (``chat``: grouped per identity), its digest mode.
An unknown type fails at config load listing the registered ones. Adding a channel is one module
(imported by :func:`load_builtin_channels`) and its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from wifguard.errors import ConfigError

if TYPE_CHECKING:
    from wifguard.notify.digest import Digest
    from wifguard.notify.notice import Notice


class Channel:
    """A channel type. Subclasses override what differs; instances hold no state."""

    type: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: read by people: an identity's notices are grouped into one message per run
    chat: ClassVar[bool] = False
    #: extra config keys, each naming an app setting (never a secret itself) -> what it holds
    options: ClassVar[Mapping[str, str]] = {}
    content_type: ClassVar[str] = "application/json"
    #: "http": POST the body to the URL; "eventgrid": publish with azure-eventgrid's client
    transport: ClassVar[str] = "http"

    def compose(self, notice: Notice) -> dict[str, Any]:
        raise NotImplementedError

    def compose_digest(self, digest: Digest) -> dict[str, Any] | None:
        """The sweep digest in this channel's format; None: no digest mode (machine channels get
        every finding instead)."""
        return None

    @property
    def has_digest(self) -> bool:
        return type(self).compose_digest is not Channel.compose_digest

    def with_id(self, payload: dict[str, Any], message_id: str) -> dict[str, Any]:
        """The body carrying the message's stable id, so a receiver can drop a copy."""
        return payload


CHANNELS: dict[str, Channel] = {}
C = TypeVar("C", bound=type[Channel])


def register(type_name: str) -> Callable[[C], C]:
    """Class decorator: make a channel type known under ``type_name``."""

    def deco(cls: C) -> C:
        if type_name in CHANNELS:
            raise ValueError(f"notification channel type {type_name!r} registered twice")
        cls.type = type_name
        CHANNELS[type_name] = cls()
        return cls

    return deco


def load_builtin_channels() -> Mapping[str, Channel]:
    """Import the shipped channel types (their modules register themselves)."""
    from wifguard.notify.channels import eventgrid, slack, teams, webhook  # noqa: F401

    return CHANNELS


def channel_types() -> list[str]:
    return sorted(load_builtin_channels())


class UnknownChannelType(ConfigError):
    """A channel type that is not registered; the message lists the registered ones."""


def channel_kind(type_name: str) -> Channel:
    kinds = load_builtin_channels()
    kind = kinds.get(str(type_name).strip().lower())
    if kind is None:
        raise UnknownChannelType(f"unknown channel type {type_name!r} (expected one of: "
                                 f"{', '.join(channel_types())})")
    return kind
