"""wifguard's errors: one root, a few kinds a caller acts on, fields instead of message text.

Everything wifguard raises on purpose is a :class:`WifguardError`. Its *kind* (the subtype) is
what a caller acts on: the HTTP API's status and the command line's exit code are class
attributes (``http_status``, ``exit_code``), so they follow from the type and never from the
message. Each error carries ``what`` (the problem, one line, no secrets) and ``where`` (the
file, setting, API route or identity an operator looks at); the cause is chained with
``raise ... from``.

The specific errors live beside the code that raises them (``wifguard.config.ConfigFileError``,
``wifguard.sources.inventory.graph.GraphError``, ``wifguard.actions.quarantine.RestoreConflict``...) and
subclass one kind here. They keep their old builtin bases (``ValueError``, ``RuntimeError``...)
so that every existing ``except`` clause still matches.

Kinds (HTTP status / CLI exit code):

* :class:`ConfigError` (500 / 2): configuration, app settings or the rule catalogue are unusable.
* :class:`InputError` (400 / 2), :class:`DecodeError`: input from a caller or a file is wrong.
* :class:`AuthError` (401), :class:`Forbidden` (403), :class:`AuthUnavailable` (503): API callers.
* :class:`NotFound` (404 / 2), :class:`Conflict` (409 / 2), :class:`QuarantineRefused` (409 / 2).
* :class:`SourceReadError` (500 / 2; ``api``, ``status``) and :class:`PermissionDenied`: Graph, ARM
  or an external provider could not be read. Never "no data".
* :class:`StoreError` (500 / 2): Table/Blob storage could not do what was asked.
* :class:`NotificationError` (500 / 2): notifications could not be queued or delivered.

``transient`` says whether retrying the same work later can succeed (outages: yes; a record that
cannot be understood: no).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "EXIT_FAILURE",
    "AuthError",
    "AuthUnavailable",
    "ConfigError",
    "Conflict",
    "DecodeError",
    "Forbidden",
    "InputError",
    "NotFound",
    "NotificationError",
    "PermissionDenied",
    "QuarantineRefused",
    "SourceReadError",
    "StoreError",
    "WifguardError",
    "exit_code",
    "http_status",
    "wifguard_error_in",
]

#: exit code of a command that failed (bad input or a failed dependency); 1 means "findings"
EXIT_FAILURE = 2


def _first_line(text: str) -> str:
    return next((s.strip() for s in text.splitlines() if s.strip()), "")


class WifguardError(Exception):
    """The root of every error wifguard raises on purpose."""

    #: the HTTP API's answer when this error ends a request (500: the caller cannot fix it)
    http_status: ClassVar[int] = 500
    #: what a caller may be told: the detail stays in the log unless the kind is the caller's own
    public: ClassVar[str] = "internal error"
    #: the command line's exit code when this error ends a command
    exit_code: ClassVar[int] = EXIT_FAILURE
    #: retrying the same work later can succeed
    transient: ClassVar[bool] = False

    def __init__(self, *args: object, what: str | None = None, where: str | None = None) -> None:
        super().__init__(*args)
        self.what = what if what is not None else (_first_line(str(args[0])) if args else type(self).__name__)
        self.where = where


class ConfigError(WifguardError, ValueError):
    """Configuration (the config file, ``WIFGUARD_*`` settings, the rule catalogue) is unusable."""


class InputError(WifguardError, ValueError):
    """Input from a caller or a file is wrong; the message names what and where, never secrets."""

    http_status = 400
    public = "bad request"


class DecodeError(InputError):
    """A payload or file cannot be decoded into what it claims to be."""


class AuthError(WifguardError):
    """An API caller is not authenticated (401); subtypes: not allowed (403), cannot check (503)."""

    http_status = 401
    public = "unauthorized"

    @property
    def status(self) -> int:
        """The HTTP status (kept for callers that read it; it follows from the type)."""
        return self.http_status

    @property
    def message(self) -> str:
        return self.what


class Forbidden(AuthError):
    """The caller is known but lacks the app role the endpoint needs."""

    http_status = 403
    public = "forbidden"


class AuthUnavailable(AuthError):
    """Callers cannot be checked (API authentication not configured, signing keys unreachable):
    protected endpoints fail closed."""

    http_status = 503
    public = "unavailable"
    transient = True


class NotFound(WifguardError, LookupError):
    """The thing asked for does not exist."""

    http_status = 404
    public = "not found"


class Conflict(WifguardError):
    """Someone else changed or holds the same thing; reading again and retrying may succeed."""

    http_status = 409
    public = "conflict"
    transient = True


class QuarantineRefused(WifguardError):
    """A quarantine action (remove, restore) was refused; the message says why."""

    http_status = 409
    public = "refused"


class SourceReadError(WifguardError, RuntimeError):
    """Graph, ARM or an external provider could not be read. ``api`` names the service, ``status``
    the HTTP status when there was an answer. A failed read is never "no data"."""

    transient = True
    api: str = ""
    status: int | None = None

    def __init__(self, *args: object, api: str | None = None, status: int | None = None, what: str | None = None,
                 where: str | None = None) -> None:
        super().__init__(*args, what=what, where=where)
        if api is not None:
            self.api = api
        if status is not None:
            self.status = status


class PermissionDenied(SourceReadError):
    """Graph or ARM answered 403: the responder's identity lacks a permission."""

    status = 403  # transient: records wait parked and are re-driven once it is granted


class StoreError(WifguardError, RuntimeError):
    """Table or Blob storage could not do what was asked."""

    transient = True


class NotificationError(WifguardError, RuntimeError):
    """Notifications could not be queued or delivered."""

    transient = True


def wifguard_error_in(exc: BaseException) -> WifguardError | None:
    """The first :class:`WifguardError` in ``exc``, its causes and exception-group members."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 50:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, WifguardError):
            return e
        if isinstance(e, BaseExceptionGroup):
            todo[:0] = list(e.exceptions)
        todo += [n for n in (e.__cause__, e.__context__) if n is not None]
    return None


def http_status(exc: BaseException) -> int:
    """The HTTP status for an error that ends a request: from its type, 500 for anything else."""
    return exc.http_status if isinstance(exc, WifguardError) else 500


def exit_code(exc: BaseException) -> int:
    """The command line's exit code for an error that ends a command: from the first wifguard
    error in its chain (exception groups included), else 2."""
    found = wifguard_error_in(exc)
    return found.exit_code if found is not None else EXIT_FAILURE
