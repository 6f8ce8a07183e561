"""Notification channel types (a registry): see :mod:`wifguard.notify.channels.registry`."""

from .registry import (
    CHANNELS,
    Channel,
    UnknownChannelType,
    channel_kind,
    channel_types,
    load_builtin_channels,
    register,
)

__all__ = ["CHANNELS", "Channel", "UnknownChannelType", "channel_kind", "channel_types",
           "load_builtin_channels", "register"]
