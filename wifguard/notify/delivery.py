"""Deliver composed notices: HTTP webhooks over a shared ``httpx.AsyncClient``, Event Grid via
azure-eventgrid's ``EventGridPublisherClient`` (aio).

Delivery never raises for a delivery failure: it returns a :class:`DeliveryResult` and the
caller records the failure and retries it on the next run. 429, 5xx and connection errors are
retried with exponential backoff and jitter, honouring ``Retry-After``; other statuses are not.
Webhook URLs are secrets (they carry their own signature), so they never appear in results or
logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from .channels import channel_kind
from .compose import EVENT_ID_NAMESPACE, ChannelType, compose, event_id
from .config import ChannelConfig, NotifyConfig, RetryPolicy, route
from .dedup import with_dedup_key
from .escape import clean
from .notice import Notice, NoticeKind
from .owners import owner_keys

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.core.messaging import CloudEvent
    from azure.eventgrid.aio import EventGridPublisherClient

log = logging.getLogger(__name__)

BREAKER_AFTER = 3  # consecutive failed deliveries that open a channel's circuit breaker
BREAKER_COOLDOWN_SECONDS = 300.0  # how long it stays open (longer than one run: the next run retries)
SLACK_API = "https://slack.com/api"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    channel: str
    ok: bool
    status: int | None
    attempts: int
    error: str | None = None
    fingerprint: str = ""
    kind: str = ""
    channel_type: str = ""
    skipped: bool = False  # not attempted (the channel's circuit breaker is open): still pending
    notification_id: str = ""  # the id the message carried (a grouped message's own id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "channel_type": self.channel_type,
            "fingerprint": self.fingerprint,
            "kind": self.kind,
            "ok": self.ok,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "skipped": self.skipped,
            "notification_id": self.notification_id,
        }


MESSAGE_MAX_NOTICES = 200  # findings one grouped message carries (its outbox row lists their ids)


def message_id(notices: Sequence[Notice]) -> str:
    """A message's stable id: its notice's own id, or for a grouped message one derived from the
    ids of every notice it carries (each = fingerprint + kind + reminder sequence), so the same
    findings grouped again after a crash give the same id and a receiver can drop the copy."""
    ids = sorted({event_id(n) for n in notices})
    if len(ids) == 1:
        return ids[0]
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "message:" + ",".join(ids)))


@dataclass(frozen=True, slots=True)
class Message:
    """What goes to one channel as one message: one notice, or an identity's notices (worst first)."""

    channel: str
    notices: tuple[Notice, ...]
    id: str
    grouped: bool = False  # formed by the grouping rule (chat, new/reminder), even with one notice

    @classmethod
    def of(cls, channel: str, notices: Iterable[Notice], *, grouped: bool = False, id: str = "") -> Message:
        ordered = tuple(sorted(notices, key=lambda n: -int(n.finding.severity)))
        return cls(channel, ordered, id or message_id(ordered), grouped)

    def lead(self) -> Notice:
        """The notice that is composed: the worst finding leads, the others are listed. Owners
        and privileges come from a notice that knows them (a retried finding's notice may not)."""
        head = self.notices[0]
        known = next((n for n in self.notices if n.owners_known and n.owners), None)
        if known is not None and not head.owners:
            head = replace(head, owners=known.owners, owners_known=True)
        rich = next((n for n in self.notices if n.privileges), None)
        if rich is not None and not head.privileges:
            head = replace(head, privileges=rich.privileges)
        if len(self.notices) > 1:
            head = replace(head, others=tuple(n.finding for n in self.notices[1:]) + head.others)
        return replace(head, message_id=self.id) if self.id != event_id(head) else head


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A channel with its secrets resolved from app settings."""

    name: str
    type: ChannelType | str  # a registered channel type
    url: str
    key: str | None = None  # Event Grid topic access key; None: use a token credential
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 10.0

    def __repr__(self) -> str:  # never show the URL or key
        return f"Endpoint(name={self.name!r}, type={str(self.type)!r})"


def check_url(url: str) -> str | None:
    """Why a webhook URL is unusable, or None. https only, except http to loopback (tests)."""
    try:
        u = urlsplit(url)
        host = u.hostname or ""
    except ValueError:
        return "the URL is malformed"
    if u.scheme == "https" and host:
        return None
    if u.scheme == "http" and host in _LOOPBACK:
        return None
    return "the URL must be https"


def resolve(channel: ChannelConfig, env: Mapping[str, str], config: NotifyConfig) -> Endpoint | str:
    """The endpoint for a configured channel, or why it cannot be used."""
    url = (env.get(channel.url_setting) or "").strip()
    if not url:
        return f"app setting {channel.url_setting} is not set"
    problem = check_url(url)
    if problem:
        return f"app setting {channel.url_setting}: {problem}"
    key = None
    if channel.topic_key_setting:
        key = (env.get(channel.topic_key_setting) or "").strip()
        if not key:
            return f"app setting {channel.topic_key_setting} is not set"
    return Endpoint(channel.name, channel.type, url, key, config.retry, config.timeout_seconds)


# -- retry loop ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    status: int | None
    retryable: bool
    retry_after: float | None = None
    error: str | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    v = value.strip()
    try:
        seconds = float(v)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


async def _with_retries(
    attempt_once: Callable[[], Awaitable[_Outcome]],
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> tuple[_Outcome, int]:
    attempts = 0
    while True:
        attempts += 1
        outcome = await attempt_once()
        if outcome.ok or not outcome.retryable or attempts >= policy.max_attempts:
            return outcome, attempts
        delay = policy.backoff(attempts, rng)
        if outcome.retry_after is not None:
            if outcome.retry_after > policy.max_retry_after:
                msg = (
                    f"{outcome.error}; Retry-After {outcome.retry_after:g}s exceeds the limit, retry next run"
                )
                return _Outcome(False, outcome.status, True, outcome.retry_after, msg), attempts
            delay = max(delay, outcome.retry_after)
        await asyncio.sleep(delay)


def _redact(text: str, *secrets: str | None) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "<redacted>")
    return text


# -- HTTP webhooks -----------------------------------------------------------------------------


async def _post_once(
    client: httpx.AsyncClient, endpoint: Endpoint, body: bytes, content_type: str
) -> _Outcome:
    try:
        resp = await client.post(
            endpoint.url,
            content=body,
            headers={"Content-Type": content_type, "User-Agent": "wifguard-notify"},
            timeout=endpoint.timeout,
            follow_redirects=False,
        )
    except httpx.TransportError as e:
        msg = _redact(f"{type(e).__name__}: {e}", endpoint.url)
        return _Outcome(False, None, True, None, clean(msg, 300))
    if 200 <= resp.status_code <= 299:
        return _Outcome(True, resp.status_code, False)
    detail = clean(resp.text, 200) if resp.content else ""
    msg = f"HTTP {resp.status_code}" + (f": {detail}" if detail else "")
    return _Outcome(
        False,
        resp.status_code,
        _retryable_status(resp.status_code),
        parse_retry_after(resp.headers.get("Retry-After")),
        _redact(msg, endpoint.url),
    )


# -- Event Grid ------------------------------------------------------------------------------


def to_azure_cloud_event(event: Mapping[str, Any]) -> CloudEvent:
    """An ``azure.core.messaging.CloudEvent`` from the structured-JSON dict of :func:`cloud_event`."""
    from azure.core.messaging import CloudEvent

    core = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
    time = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    return CloudEvent(
        source=event["source"],
        type=event["type"],
        specversion=event.get("specversion", "1.0"),
        id=event["id"],
        time=time,
        subject=event.get("subject"),
        datacontenttype=event.get("datacontenttype"),
        data=event.get("data"),
        extensions={k: v for k, v in event.items() if k not in core} or None,
    )


def make_publisher(
    endpoint: Endpoint,
    credential: AsyncTokenCredential | None = None,
    client_kwargs: Mapping[str, Any] | None = None,
) -> EventGridPublisherClient:
    """An aio ``EventGridPublisherClient`` for a topic: key credential when the channel has one,
    else ``credential`` (e.g. a managed identity). The SDK's own retries are off (we retry)."""
    from azure.core.credentials import AzureKeyCredential
    from azure.eventgrid.aio import EventGridPublisherClient

    cred: Any = AzureKeyCredential(endpoint.key) if endpoint.key else credential
    if cred is None:
        raise ValueError(f"channel {endpoint.name}: no topic key setting and no token credential")
    kwargs: dict[str, Any] = {
        "retry_total": 0,
        "connection_timeout": endpoint.timeout,
        "read_timeout": endpoint.timeout,
    }
    kwargs.update(client_kwargs or {})
    return EventGridPublisherClient(endpoint.url, cred, **kwargs)


async def _publish_once(
    publisher: EventGridPublisherClient, event: CloudEvent, endpoint: Endpoint
) -> _Outcome:
    from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError

    try:
        await publisher.send([event])
    except HttpResponseError as e:
        status = e.status_code
        retry_after = None
        headers = getattr(e.response, "headers", None)
        if headers is not None:
            retry_after = parse_retry_after(headers.get("Retry-After"))
        msg = _redact(f"HTTP {status}: {e.message}", endpoint.url, endpoint.key)
        return _Outcome(
            False, status, status is None or _retryable_status(status), retry_after, clean(msg, 300)
        )
    except (ServiceRequestError, ServiceResponseError) as e:
        msg = _redact(f"{type(e).__name__}: {e}", endpoint.url, endpoint.key)
        return _Outcome(False, None, True, None, clean(msg, 300))
    except AzureError as e:
        msg = _redact(f"{type(e).__name__}: {e}", endpoint.url, endpoint.key)
        return _Outcome(False, None, False, None, clean(msg, 300))
    return _Outcome(True, 200, False)


# -- public ----------------------------------------------------------------------------------


async def deliver(
    notice: Notice,
    channel: Endpoint,
    client: httpx.AsyncClient,
    *,
    publisher: EventGridPublisherClient | None = None,
    credential: AsyncTokenCredential | None = None,
    rng: random.Random | None = None,
) -> DeliveryResult:
    """Send one notice to one endpoint, with retries. Never raises for delivery failures.

    ``client`` is the shared ``httpx.AsyncClient`` (webhooks). For Event Grid, pass a reused
    ``publisher`` (see :func:`make_publisher`); without one a publisher is made for this call.
    """
    base: dict[str, Any] = {
        "channel": channel.name,
        "fingerprint": notice.finding.fingerprint,
        "kind": notice.kind.value,
        "channel_type": str(channel.type),
    }
    try:
        kind = channel_kind(str(channel.type))
        payload = with_dedup_key(compose(notice, channel.type), channel.type, notice)
    except Exception as e:  # a composition bug must not stop the other notices
        log.exception("notify: composing for channel %s failed", channel.name)
        return DeliveryResult(ok=False, status=None, attempts=0, error=f"compose failed: {e}", **base)

    if kind.transport == "eventgrid":
        try:
            event = to_azure_cloud_event(payload)
            own = publisher is None
            pub = publisher or make_publisher(channel, credential)
        except Exception as e:
            return DeliveryResult(ok=False, status=None, attempts=0, error=clean(str(e), 300), **base)
        try:
            outcome, attempts = await _with_retries(
                lambda: _publish_once(pub, event, channel), channel.retry, rng
            )
        finally:
            if own:
                await pub.close()
    else:
        content_type = kind.content_type
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        outcome, attempts = await _with_retries(
            lambda: _post_once(client, channel, body, content_type), channel.retry, rng
        )
    if not outcome.ok:
        log.warning(
            "notify: delivery of %s (%s) to channel %s failed after %d attempt(s): %s",
            notice.finding.fingerprint,
            notice.kind.value,
            channel.name,
            attempts,
            outcome.error,
        )
    return DeliveryResult(
        ok=outcome.ok, status=outcome.status, attempts=attempts, error=outcome.error, **base
    )


class Notifier:
    """Routes notices to channels and delivers them.

    ``env`` maps app-setting names to values (``os.environ`` in the Function App). The
    ``http_client`` is created once by the caller and reused; Event Grid publishers are created
    on first use and closed by :meth:`close` (or ``async with``).
    """

    def __init__(
        self,
        config: NotifyConfig,
        env: Mapping[str, str],
        http_client: httpx.AsyncClient,
        *,
        eventgrid_credential: AsyncTokenCredential | None = None,
        eventgrid_client_kwargs: Mapping[str, Any] | None = None,
        concurrency: int = 8,
        rng: random.Random | None = None,
        breaker_after: int = BREAKER_AFTER,
        breaker_cooldown: float = BREAKER_COOLDOWN_SECONDS,
        slack_api_url: str = SLACK_API,
    ) -> None:
        self.config = config
        self._breaker_after = max(1, breaker_after)
        self._breaker_cooldown = breaker_cooldown
        self._failures: dict[str, int] = {}  # consecutive failed deliveries per channel
        self._open_until: dict[str, float] = {}  # channel -> monotonic time its breaker closes
        self._warned: dict[str, float] = {}  # channel -> monotonic time of its last "unusable" warning
        self._env = env
        self._client = http_client
        self._credential = eventgrid_credential
        self._eg_kwargs = dict(eventgrid_client_kwargs or {})
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self._rng = rng
        self._publishers: dict[str, EventGridPublisherClient] = {}
        self._slack_api = slack_api_url.rstrip("/")
        self._slack_lookups: dict[str, str] = {}  # mail -> member id ("" = not found); per worker

    async def __aenter__(self) -> Notifier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        pubs, self._publishers = list(self._publishers.values()), {}
        for p in pubs:
            await p.close()

    aclose = close  # the old name: callers use close() (Azure SDK naming)

    @staticmethod
    def compose(notice: Notice, channel_type: ChannelType | str) -> dict[str, Any]:
        """The message body for a channel type; works with no channel configured."""
        return compose(notice, channel_type)

    def route(self, notice: Notice) -> list[str]:
        names = route(notice.finding, self.config)
        if self._digest_only(notice):  # chat channels see it in the next sweep's digest instead
            names = [c for c in names if not self.chat(c)]
        return names

    def endpoint(self, name: str) -> Endpoint | str:
        ch = self.config.channels.get(name)
        if ch is None:
            return f"unknown channel {name!r}"
        return resolve(ch, self._env, self.config)

    def _skipped(self, notice: Notice, name: str, error: str) -> DeliveryResult:
        ch = self.config.channels.get(name)
        return DeliveryResult(channel=name, ok=False, status=None, attempts=0, error=error,
                              fingerprint=notice.finding.fingerprint, kind=notice.kind.value,
                              channel_type=str(ch.type) if ch else "", skipped=True)

    def begin_run(self) -> None:
        """Start a new run: breakers and "unusable channel" warnings are per run.

        One notifier is reused by a warm worker across runs; a breaker opened in the last run
        must not hold this run's retries of what that run left pending."""
        self._failures.clear()
        self._open_until.clear()
        self._warned.clear()

    def breaker_open(self, channel_name: str) -> bool:
        until = self._open_until.get(channel_name)
        if until is None:
            return False
        if time.monotonic() >= until:  # half-open: the next delivery tries again
            del self._open_until[channel_name]
            self._failures[channel_name] = self._breaker_after - 1
            return False
        return True

    def _record(self, result: DeliveryResult) -> DeliveryResult:
        name = result.channel
        if result.ok:
            self._failures[name] = 0
            return result
        n = self._failures.get(name, 0) + 1
        self._failures[name] = n
        if n >= self._breaker_after and name not in self._open_until:
            self._open_until[name] = time.monotonic() + self._breaker_cooldown
            log.warning("notify: channel %s failed %d deliveries in a row; holding its deliveries for %.0f s "
                        "(they stay pending for the next run): %s", name, n, self._breaker_cooldown, result.error)
        return result

    async def send(self, notice: Notice, channel_name: str) -> DeliveryResult:
        """Deliver one notice to one named channel (no routing).

        A channel that fails ``breaker_after`` deliveries in a row is not tried again for
        ``breaker_cooldown`` seconds: its remaining deliveries come back ``skipped`` (pending for
        the next run) instead of each spending its own retries on a dead endpoint."""
        ep = self.endpoint(channel_name)
        ch = self.config.channels.get(channel_name)
        if isinstance(ep, str):
            now = time.monotonic()
            last = self._warned.get(channel_name)
            if last is None or now - last >= self._breaker_cooldown:
                self._warned[channel_name] = now  # one warning per unusable channel per run
                log.warning("notify: channel %s unusable: %s", channel_name, ep)
            return DeliveryResult(
                channel=channel_name,
                ok=False,
                status=None,
                attempts=0,
                error=ep,
                fingerprint=notice.finding.fingerprint,
                kind=notice.kind.value,
                channel_type=str(ch.type) if ch else "",
            )
        if self.breaker_open(channel_name):
            return self._skipped(notice, channel_name, "not attempted: the channel's circuit breaker is open "
                                                       "after consecutive failures; pending for the next run")
        if ep.type == ChannelType.SLACK:  # owners are pinged by their Slack member ids
            notice = replace(notice, chat_ids=await self.slack_ids(notice))
        async with self._sem:
            if self.breaker_open(channel_name):  # opened while this delivery waited its turn
                return self._skipped(notice, channel_name, "not attempted: the channel's circuit breaker is "
                                                           "open after consecutive failures; pending for the next run")
            publisher = None
            if channel_kind(str(ep.type)).transport == "eventgrid":
                try:
                    publisher = self._publisher(ep)
                except Exception as e:
                    return self._record(DeliveryResult(
                        channel=ep.name,
                        ok=False,
                        status=None,
                        attempts=0,
                        error=clean(str(e), 300),
                        fingerprint=notice.finding.fingerprint,
                        kind=notice.kind.value,
                        channel_type=str(ep.type),
                    ))
            return self._record(await deliver(notice, ep, self._client, publisher=publisher, rng=self._rng))

    def chat(self, channel_name: str) -> bool:
        ch = self.config.channels.get(channel_name)
        return ch is not None and ch.kind.chat

    def groupable(self, notice: Notice, channel_name: str) -> bool:
        """Whether this notice joins its identity's one message on this channel: chat channels
        with ``grouping: identity``, for new findings and reminders. Machine channels (webhook,
        Event Grid) get one event per finding; quarantine notices each carry their own restore
        command."""
        return (self.config.grouping == "identity" and self.chat(channel_name)
                and notice.kind in (NoticeKind.NEW, NoticeKind.REMINDER))

    def plan(self, items: Iterable[tuple[Notice, Sequence[str]]]) -> list[Message]:
        """The messages for routed notices: the one grouping rule. Groupable notices (see
        :meth:`groupable`) of one identity and kind form one message per channel, worst first;
        every other (notice, channel) is a message of its own."""
        groups: dict[tuple[str, str, str, int], list[Notice]] = {}
        for i, (n, channels) in enumerate(items):
            for name in channels:
                if self.chat(name) and self._digest_only(n):
                    continue  # counted by the next sweep's digest instead
                grouped = self.groupable(n, name)
                key = (name, n.identity_ref.get("id", "").lower(), n.kind.value, -1 if grouped else i)
                groups.setdefault(key, []).append(n)
        out: list[Message] = []
        for key, ns in groups.items():
            ordered = sorted(ns, key=lambda n: -int(n.finding.severity))
            for i in range(0, len(ordered), MESSAGE_MAX_NOTICES):  # a message's row lists its notices
                out.append(Message.of(key[0], ordered[i:i + MESSAGE_MAX_NOTICES], grouped=key[3] == -1))
        return out

    async def notify(self, notices: Iterable[Notice]) -> list[DeliveryResult]:
        """Route and deliver every notice (see :meth:`plan`); one result per (notice, channel)."""
        sent = await asyncio.gather(*(self.deliver_message(m) for m in self.plan((n, self.route(n)) for n in notices)))
        return [r for rs in sent for r in rs]

    def _digest_only(self, n: Notice) -> bool:
        floor = self.config.digest.immediate_min_severity
        return (floor is not None and self.config.digest.enabled and n.source == "event"
                and n.kind is NoticeKind.NEW and n.finding.severity < floor)

    async def deliver_message(self, message: Message) -> list[DeliveryResult]:
        """Send one message; one result per finding it carries (each with the message's id)."""
        res = await self.send(message.lead(), message.channel)
        return [replace(res, fingerprint=n.finding.fingerprint, notification_id=message.id) for n in message.notices]

    async def post(self, channel_name: str, payload: Mapping[str, Any], kind: str = "digest") -> DeliveryResult:
        """Deliver a composed body (a digest) to one Teams/Slack/webhook channel, with retries."""
        ep = self.endpoint(channel_name)
        if isinstance(ep, str) or channel_kind(str(ep.type)).transport != "http":
            error = ep if isinstance(ep, str) else "digests go to chat channels only"
            return DeliveryResult(channel=channel_name, ok=False, status=None, attempts=0, error=error, kind=kind)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        async with self._sem:
            outcome, attempts = await _with_retries(
                lambda: _post_once(self._client, ep, body, "application/json"), ep.retry, self._rng
            )
        if not outcome.ok:
            log.warning("notify: %s to channel %s failed: %s", kind, channel_name, outcome.error)
        return DeliveryResult(channel=ep.name, ok=outcome.ok, status=outcome.status, attempts=attempts,
                              error=outcome.error, kind=kind, channel_type=str(ep.type))

    async def slack_ids(self, notice: Notice) -> dict[str, str]:
        """Owners' Slack member ids: the configured map, then ``users.lookupByEmail`` when a bot
        token is configured. A failed lookup only means no ping (the owner is still named)."""
        ids = dict(self.config.slack_users)
        token = (self._env.get(self.config.slack_token_setting or "") or "").strip()
        for owner in notice.owners:
            keys = owner_keys(owner)
            if owner.kind != "user" or any(k in ids for k in keys) or not token:
                continue
            for mail in dict.fromkeys(k for k in keys if "@" in k):
                uid = await self._lookup_slack(mail, token)
                if uid:
                    ids[mail] = uid
                    break
        return ids

    async def _lookup_slack(self, mail: str, token: str) -> str:
        if mail in self._slack_lookups:
            return self._slack_lookups[mail]
        uid = ""
        try:
            resp = await self._client.get(
                f"{self._slack_api}/users.lookupByEmail",
                params={"email": mail},
                headers={"Authorization": f"Bearer {token}", "User-Agent": "wifguard-notify"},
                timeout=self.config.timeout_seconds,
            )
            body = resp.json() if resp.status_code == 200 else {}
            if body.get("ok"):
                uid = str((body.get("user") or {}).get("id") or "")
            else:
                log.info("notify: no Slack user for an owner (%s)", clean(str(body.get("error", resp.status_code)), 60))
        except (httpx.HTTPError, ValueError) as e:
            log.warning("notify: Slack user lookup failed: %s", _redact(type(e).__name__, token))
            return ""  # not cached: the next message tries again
        self._slack_lookups[mail] = uid
        return uid

    def _publisher(self, ep: Endpoint) -> EventGridPublisherClient:
        pub = self._publishers.get(ep.name)
        if pub is None:
            pub = make_publisher(ep, self._credential, self._eg_kwargs)
            self._publishers[ep.name] = pub
        return pub
