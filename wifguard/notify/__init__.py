"""Owner notifications: compose (Teams, Slack, CloudEvents), route, and deliver.

Public API::

    Notice, NoticeKind, PortalLink, portal_links           what is sent
    compose(notice, channel_type) -> dict                   pure composition, no I/O
    NotifyConfig.from_mapping(section) / route(finding, config)
    deliver(notice, endpoint, client) -> DeliveryResult     one delivery, with retries
    Notifier(config, env, http_client).notify(notices)      route + deliver
"""

from .compose import (
    ChannelType,
    cloud_event,
    compose,
    event_id,
    slack_message,
)
from .config import (
    ChannelConfig,
    NotifyConfig,
    NotifyConfigError,
    RemindersConfig,
    RetryPolicy,
    RouteConfig,
    route,
)
from .delivery import (
    DeliveryResult,
    Endpoint,
    Notifier,
    check_url,
    deliver,
    make_publisher,
    parse_retry_after,
    resolve,
    to_azure_cloud_event,
)
from .notice import Notice, NoticeKind, PortalLink, portal_links
from .privilege import Privilege, privileges_of
from .teams import teams_card, teams_message

__all__ = [
    "ChannelConfig",
    "ChannelType",
    "DeliveryResult",
    "Endpoint",
    "Notice",
    "NoticeKind",
    "Notifier",
    "NotifyConfig",
    "NotifyConfigError",
    "PortalLink",
    "Privilege",
    "RemindersConfig",
    "RetryPolicy",
    "RouteConfig",
    "check_url",
    "cloud_event",
    "compose",
    "deliver",
    "event_id",
    "make_publisher",
    "parse_retry_after",
    "portal_links",
    "privileges_of",
    "resolve",
    "route",
    "slack_message",
    "teams_card",
    "teams_message",
    "to_azure_cloud_event",
]
