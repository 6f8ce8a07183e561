"""The HTTP API behind ``health``, ``findings`` and ``restore``: auth, validation and answers.

``function_app.py`` only adapts the host's request objects to these methods. Rules:

* ``findings`` and ``restore`` need a Microsoft Entra ID token with an app role
  (``wifguard.api.auth``); without API authentication configured they answer 503 (fail closed).
* Every parameter is validated against enumerations and length caps; a 400 says which
  parameter is wrong and what is expected, never echoing what was sent. Bad input never
  produces a 500.
* ``health`` is anonymous, answers from one point read of the store (constant time at any
  table size) and says only ``healthy`` or ``unhealthy`` with timestamps; why goes to the log.
* The caller (object id, name, roles) is written to the action log with what they did.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wifguard.api.auth import ROLE_FINDINGS_READ, ROLE_QUARANTINE_RESTORE, Caller, TokenValidator
from wifguard.domain.model import Severity
from wifguard.errors import AuthError, AuthUnavailable, InputError, NotFound, WifguardError, http_status
from wifguard.store.entities import FindingStatus, utcnow

log = logging.getLogger(__name__)

MAX_PARAM_CHARS = 256
MAX_BODY_BYTES = 4096
MAX_LIMIT = 5000
DEFAULT_LIMIT = 500
FINDINGS_PARAMS = frozenset({"severity", "status", "rule", "identity", "limit"})
RESTORE_FIELDS = frozenset({"reason", "expires_days"})
_RULE = re.compile(r"^[A-Za-z]{2,10}-?[0-9]{1,6}$")
_BACKUP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_DIGITS = re.compile(r"^[0-9]{1,6}$")


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


class BadRequest(InputError):
    """One parameter is wrong; the message names it and what is expected (never its value)."""


def error_reply(exc: BaseException, endpoint: str) -> Reply:
    """The answer for a failed request: the status follows from the error's type
    (``wifguard.errors``), never from its text. What the caller may read depends on the kind:
    their own mistake (400, 401, 403) in full; a 404 its public label only (the detail would
    echo what was sent); a 409 the label and why; anything else only "internal error", with
    the detail in the log."""
    status = http_status(exc)
    if isinstance(exc, (InputError, AuthError)):
        return Reply(status, {"error": exc.what})
    if isinstance(exc, NotFound):
        return Reply(status, {"error": exc.public})
    if isinstance(exc, WifguardError) and status < 500:
        return Reply(status, {"error": exc.public, "detail": str(exc)})
    log.error("%s: failed", endpoint, exc_info=exc)
    return Reply(500, {"error": "internal error"})


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _printable(name: str, value: str, cap: int = MAX_PARAM_CHARS) -> str:
    if len(value) > cap:
        raise BadRequest(f"{name}: at most {cap} characters")
    if any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise BadRequest(f"{name}: control characters are not allowed")
    return value.strip()


@dataclass(frozen=True)
class FindingsQuery:
    severity: Severity | None = None
    status: FindingStatus | None = None
    rule: str | None = None
    identity: str | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> FindingsQuery:
        if set(params) - FINDINGS_PARAMS:
            raise BadRequest(f"unknown parameter (allowed: {', '.join(sorted(FINDINGS_PARAMS))})")
        p = {k: _printable(k, str(v)) for k, v in params.items()}
        out: dict[str, Any] = {}
        if p.get("severity"):
            try:
                out["severity"] = Severity.parse(p["severity"])
            except ValueError:
                raise BadRequest("severity: expected one of " + ", ".join(s.label for s in Severity)) from None
        if p.get("status"):
            try:
                out["status"] = FindingStatus.parse(p["status"])
            except ValueError:
                raise BadRequest("status: expected one of " + ", ".join(s.value for s in FindingStatus)) from None
        if p.get("rule"):
            if not _RULE.match(p["rule"]):
                raise BadRequest("rule: expected a rule id such as WIF102")
            out["rule"] = p["rule"].upper()
        if p.get("identity"):
            out["identity"] = p["identity"]
        if p.get("limit"):
            if not _DIGITS.match(p["limit"]) or not 1 <= int(p["limit"]) <= MAX_LIMIT:
                raise BadRequest(f"limit: expected an integer from 1 to {MAX_LIMIT}")
            out["limit"] = int(p["limit"])
        return cls(**out)

    def to_dict(self) -> dict[str, Any]:
        return {"severity": self.severity.label if self.severity is not None else None,
                "status": self.status.value if self.status is not None else None,
                "rule": self.rule, "identity": self.identity, "limit": self.limit}


@dataclass(frozen=True)
class RestoreRequest:
    backup_id: str
    reason: str
    expires_days: int | None

    @classmethod
    def parse(cls, backup_id: str, body: bytes | None) -> RestoreRequest:
        from wifguard.actions.quarantine import validate_expiry_days, validate_reason

        if not _BACKUP_ID.match(backup_id or ""):
            raise BadRequest("backup id: expected the id shown by `wifguard quarantine list`")
        raw = body or b""
        if len(raw) > MAX_BODY_BYTES:
            raise BadRequest(f"body: at most {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("body: expected a JSON object {\"reason\": ..., \"expires_days\": ...}") from None
        if not isinstance(data, dict):
            raise BadRequest("body: expected a JSON object {\"reason\": ..., \"expires_days\": ...}")
        if set(data) - RESTORE_FIELDS:
            raise BadRequest("body: unknown field (allowed: expires_days, reason)")
        reason = data.get("reason")
        if not isinstance(reason, str):
            raise BadRequest("reason: required, a string")
        try:
            text = validate_reason(reason)
        except ValueError as exc:
            raise BadRequest(f"reason: {exc}") from None
        days = data.get("expires_days")
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int):
                raise BadRequest("expires_days: expected an integer")
            try:
                validate_expiry_days(days)
            except ValueError as exc:
                raise BadRequest(f"expires_days: {exc}") from None
        return cls(backup_id, text, days)


ResponderFactory = Callable[[], Awaitable[Any]]


class HttpApi:
    """One per worker: the token validator and the Responder are created on first use."""

    def __init__(self, responder: ResponderFactory, env: Mapping[str, str] | None = None) -> None:
        import os

        self._responder = responder
        self._env = dict(os.environ if env is None else env)
        self._validator: TokenValidator | None = None
        self._validator_error: str | None = None
        self.started_at = utcnow()

    def validator(self) -> TokenValidator | None:
        if self._validator is None and self._validator_error is None:
            try:
                self._validator = TokenValidator.from_env(self._env)
            except Exception as exc:  # misconfigured: every protected call is refused
                self._validator_error = type(exc).__name__
                log.error("api auth is misconfigured: %s", exc)
            if self._validator is None and self._validator_error is None:
                self._validator_error = "not configured"
                log.error("api auth is not configured: set WIFGUARD_TENANT_ID and WIFGUARD_API_AUDIENCE")
        return self._validator

    async def _caller(self, authorization: str | None, role: str) -> Caller:
        v = self.validator()
        if v is None:
            raise AuthUnavailable("API authentication is not configured")
        return await v.require(authorization, role)

    # -- endpoints -------------------------------------------------------------------------------

    async def health(self, authorization: str | None = None) -> Reply:
        """Anonymous: healthy | unhealthy and timestamps, from one point read. A caller with a
        Findings.Read token also gets the warnings (Graph/ARM permissions denied in the last 24 h),
        and ``degraded`` when there are any."""
        now = utcnow()
        body: dict[str, Any] = {"checked_at": _iso(now), "started_at": _iso(self.started_at)}
        try:
            r = await self._responder()
            await r.store.ledger.removals_this_hour()  # one point read, whatever the table sizes
        except Exception as exc:
            log.error("health: unhealthy: %s: %s", type(exc).__name__, exc)
            return Reply(503, {"status": "unhealthy", **body})
        if not authorization:
            return Reply(200, {"status": "healthy", **body})
        try:
            await self._caller(authorization, ROLE_FINDINGS_READ)
        except AuthError as exc:
            return error_reply(exc, "health")
        try:
            from wifguard.pipeline.permission_health import missing_permissions

            missing = await missing_permissions(r.store)
        except Exception:
            log.exception("health: reading missing permissions failed")
            return Reply(503, {"status": "unhealthy", **body})
        for m in missing:
            log.warning("health: %s", m.warning())
        return Reply(200, {"status": "degraded" if missing else "healthy", **body,
                           "permissions": {"ok": not missing, "missing": [m.to_dict() for m in missing]}})

    async def findings(self, params: Mapping[str, str], authorization: str | None) -> Reply:
        try:
            caller = await self._caller(authorization, ROLE_FINDINGS_READ)
            q = FindingsQuery.parse(params)
            r = await self._responder()
            rows = await r.store.query(severity=q.severity, status=q.status, rule_id=q.rule, identity=q.identity,
                                       limit=q.limit)
            await r.store.log_action("api.findings", "findings", {"caller": caller.to_dict(), "query": q.to_dict(),
                                                                  "count": len(rows)}, caller.actor)
            return Reply(200, {"findings": [x.to_dict() for x in rows], "count": len(rows)})
        except Exception as exc:
            return error_reply(exc, "findings")

    async def restore(self, backup_id: str, body: bytes | None, authorization: str | None) -> Reply:
        from wifguard.actions.quarantine import restore

        try:
            caller = await self._caller(authorization, ROLE_QUARANTINE_RESTORE)
            req = RestoreRequest.parse(backup_id, body)
            r = await self._responder()
            out = await restore(r.store, r.writer, req.backup_id, reason=req.reason, actor=caller.actor,
                                expires_days=req.expires_days, caller=caller.to_dict())
            return Reply(200, out)
        except Exception as exc:
            return error_reply(exc, "restore")
