"""No secret reaches a log record: quiet SDK loggers, and redaction of every record at creation.

Webhook URLs carry their secret in the path (Slack ``/services/T/B/TOKEN``, Teams
``/webhookb2/.../IncomingWebhook/TOKEN/...``) or the query (Power Automate ``sig=``), SAS URLs in
``sig=``, connection strings in ``AccountKey=``, and tokens in ``Authorization`` headers. httpx
logs every request URL at INFO and the Azure SDK's logging policy logs URLs and headers, so:

* the noisy SDK loggers are set to WARNING (they log nothing useful above it);
* a log-record factory redacts every record as it is created — message, arguments and exception
  text — so that it holds for every handler (the Functions host's, pytest's, a file), however
  a logger is configured later: query values of URLs, long token-like path segments, known
  secret-bearing patterns, and the exact values of the configured secrets (webhook URLs, the
  Event Grid topic key, the storage connection string's key, static tokens).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping

#: loggers that log request URLs/headers at INFO or DEBUG
NOISY_LOGGERS = ("httpx", "httpcore", "azure", "azure.core.pipeline.policies.http_logging_policy",
                 "azure.identity", "msal", "urllib3", "aiohttp.access", "aiohttp.client", "kiota_http",
                 "kiota_abstractions", "msgraph", "msgraph_core", "hpack", "asyncio")
MASK = "***"

_URL = re.compile(r"(?i)\b(?:https?|wss?)://[^\s\"'<>\\]+")
_KV = re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature|client_secret|password|"
                 r"access_token|refresh_token|id_token|api[-_]?key|aeg-sas-key|aeg-sas-token)"
                 r"(\"?\s*[=:]\s*)(\"?)([^\s;&\"',}]+)|\b(sig|code|se|token|key)(=)()([^\s;&\"',}]+)")
_BEARER = re.compile(r"(?i)\b(Bearer|SharedAccessSignature|Basic)\s+[A-Za-z0-9._~+/=%-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TOKENISH = re.compile(r"^[A-Za-z0-9_+=%.~-]{16,}$")

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


def _secret_segment(seg: str) -> bool:
    """A path segment that looks like a token: long, mixed letters and digits, not a GUID."""
    if not _TOKENISH.match(seg) or _GUID.match(seg):
        return False
    return any(c.isdigit() for c in seg) and any(c.isalpha() for c in seg)


def _redact_url(m: re.Match[str]) -> str:
    url = m.group(0)
    base, q, query = url.partition("?")
    base = base.partition("#")[0]
    scheme, sep, rest = base.partition("://")
    host, slash, path = rest.partition("/")
    if "@" in host:  # userinfo
        host = MASK + "@" + host.rsplit("@", 1)[1]
    lower = base.lower()
    if "hooks.slack.com" in lower or "/webhookb2/" in lower or "/incomingwebhook/" in lower:
        segs = path.split("/")
        path = "/".join(segs[:1] + [MASK] * (len(segs) > 1))  # the whole path after the first part is secret
    else:
        path = "/".join(MASK if _secret_segment(s) else s for s in path.split("/"))
    out = f"{scheme}{sep}{host}{slash}{path}"
    if q:
        parts = [p.partition("=") for p in query.split("&")]
        out += "?" + "&".join(f"{k}={MASK}" if eq else k for k, eq, _ in parts)
    return out


def redact(text: str) -> str:
    """``text`` with secrets masked. Idempotent; cheap for text without URLs or secrets."""
    if not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for s in known:
        if s in text:
            text = text.replace(s, MASK)
    text = _URL.sub(_redact_url, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _JWT.sub(MASK, text)
    return _KV.sub(_kv, text)


def _kv(m: re.Match[str]) -> str:
    if m.group(1):
        return f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}"
    return f"{m.group(5)}={MASK}"


def add_secrets(values: Iterable[str | None]) -> None:
    """Exact values never to log (e.g. configured webhook URLs and keys). Short values are ignored:
    masking a 3-character string everywhere would garble logs without protecting anything."""
    with _lock:
        for v in values:
            v = (v or "").strip()
            if len(v) >= 8:
                _secrets.add(v)
                _secrets.update(_url_parts(v))
                if "AccountKey=" in v or "SharedAccessKey=" in v:
                    for part in v.split(";"):
                        k, _, val = part.partition("=")
                        if k.strip().lower() in {"accountkey", "sharedaccesskey", "sharedaccesssignature"} \
                                and len(val) >= 8:
                            _secrets.add(val.strip())


def _url_parts(value: str) -> list[str]:
    """The secret-bearing parts of a URL: its query values and token-like path segments, so that
    a log line carrying only the path (an access log, an error) is masked too."""
    m = _URL.match(value)
    if not m:
        return []
    base, _, query = value.partition("?")
    path = base.split("://", 1)[1].partition("/")[2]
    parts = [seg for seg in path.split("/") if _secret_segment(seg)]
    parts += [val for _, _, val in (p.partition("=") for p in query.split("&")) if len(val) >= 8]
    return [p for p in parts if len(p) >= 8]


def secrets_of(env: Mapping[str, str]) -> list[str]:
    """The configured secrets among the app settings."""
    from wifguard import settings as S

    names = [*S.NOTIFICATION_SETTINGS, S.STORAGE, S.STATIC_TOKEN, "WIFGUARD_EVENTHUB", "WIFGUARD_QUEUE",
             "AzureWebJobsStorage"]
    return [env[n] for n in names if env.get(n)]


def _redact_record(record: logging.LogRecord) -> None:
    try:
        msg = record.getMessage()
    except Exception:  # a broken format string: keep what can be shown
        msg = f"{record.msg!r} {record.args!r}"
    clean = redact(msg)
    record.msg, record.args = clean, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install(env: Mapping[str, str] | None = None, *, quiet: bool = True) -> None:
    """Redact every log record from now on (idempotent) and quiet the noisy SDK loggers."""
    global _installed
    if env is not None:
        add_secrets(secrets_of(env))
    if quiet:
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
