"""One error model: every exception class wifguard defines descends from ``WifguardError``; the
HTTP status and the CLI exit code follow from the type (a table over the hierarchy), never from
the message; each error carries what and where, and its cause."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import typer

import handlers
import wifguard
from handlers.base import Malformed
from handlers.sweep import ShardError
from wifguard import errors
from wifguard.actions.quarantine import RemovalNotVerified, RestoreConflict, RestoreError, RestoreNotFound
from wifguard.api.auth import AuthError
from wifguard.api.http import BadRequest, error_reply
from wifguard.catalogue.facts.registry import UnknownFact
from wifguard.catalogue.rules import RuleError
from wifguard.cli.errors import describe, run
from wifguard.config import ConfigError, ConfigFileError, load_config
from wifguard.domain.model import ModelError
from wifguard.notify.channels import UnknownChannelType
from wifguard.notify.config import NotifyConfigError
from wifguard.pipeline.intake import UnknownSource
from wifguard.pipeline.responder import BatchNotDurable, NotificationsNotQueued, RunResult
from wifguard.registry import UnknownName
from wifguard.reporting.selection import BaselineError
from wifguard.settings import SettingsError
from wifguard.sim.errors import SimError
from wifguard.sources.external.config import ExternalConfigError
from wifguard.sources.inventory.arm import ArmError
from wifguard.sources.inventory.gaps import ContextIncomplete
from wifguard.sources.inventory.graph import GraphError, NotFound
from wifguard.sources.inventory.permissions import PermissionDenied
from wifguard.sources.privilege.tiering import TieringError
from wifguard.store.keys import HashedKeyError
from wifguard.store.quarantine_ledger import LedgerConflict
from wifguard.store.store import (
    BackupVerificationError,
    ConcurrencyError,
    ConnectionStringError,
    RecordNotFound,
    Store,
    StoreError,
)

ROOT = Path(__file__).resolve().parents[2]

#: class → (a way to make one, HTTP status, CLI exit code, kind)
TABLE: dict[type[BaseException], tuple[Callable[[str], BaseException], int, int, type[errors.WifguardError]]] = {
    ConfigFileError: (lambda m: ConfigFileError(m), 500, 2, errors.ConfigError),
    RuleError: (lambda m: RuleError(m), 500, 2, errors.ConfigError),
    SettingsError: (lambda m: SettingsError(m), 500, 2, errors.ConfigError),
    NotifyConfigError: (lambda m: NotifyConfigError([m]), 500, 2, errors.ConfigError),
    UnknownChannelType: (lambda m: UnknownChannelType(m), 500, 2, errors.ConfigError),
    ExternalConfigError: (lambda m: ExternalConfigError(m), 500, 2, errors.ConfigError),
    TieringError: (lambda m: TieringError(m), 500, 2, errors.ConfigError),
    UnknownName: (lambda m: UnknownName(m), 500, 2, errors.ConfigError),
    UnknownFact: (lambda m: UnknownFact(m), 500, 2, errors.ConfigError),
    ConnectionStringError: (lambda m: ConnectionStringError(m), 500, 2, errors.ConfigError),
    BadRequest: (lambda m: BadRequest(m), 400, 2, errors.InputError),
    BaselineError: (lambda m: BaselineError(m), 400, 2, errors.InputError),
    ModelError: (lambda m: ModelError(m), 400, 2, errors.DecodeError),
    Malformed: (lambda m: Malformed(m), 400, 2, errors.DecodeError),
    UnknownSource: (lambda m: UnknownSource(m), 400, 2, errors.DecodeError),
    ShardError: (lambda m: ShardError(m), 400, 2, errors.DecodeError),
    HashedKeyError: (lambda m: HashedKeyError(m), 400, 2, errors.DecodeError),
    AuthError: (lambda m: AuthError(m), 401, 2, errors.AuthError),
    errors.Forbidden: (lambda m: errors.Forbidden(m), 403, 2, errors.AuthError),
    errors.AuthUnavailable: (lambda m: errors.AuthUnavailable(m), 503, 2, errors.AuthError),
    RestoreNotFound: (lambda m: RestoreNotFound(m), 404, 2, errors.NotFound),
    RecordNotFound: (lambda m: RecordNotFound(m), 404, 2, errors.NotFound),
    RestoreConflict: (lambda m: RestoreConflict(m), 409, 2, errors.Conflict),
    ConcurrencyError: (lambda m: ConcurrencyError(m), 409, 2, errors.Conflict),
    LedgerConflict: (lambda m: LedgerConflict(m), 409, 2, errors.Conflict),
    RestoreError: (lambda m: RestoreError(m), 409, 2, errors.QuarantineRefused),
    RemovalNotVerified: (lambda m: RemovalNotVerified(m), 500, 2, errors.WifguardError),
    GraphError: (lambda m: GraphError(500, "InternalServerError", m), 500, 2, errors.SourceReadError),
    NotFound: (lambda m: NotFound(404, "Request_ResourceNotFound", m), 500, 2, errors.SourceReadError),
    ArmError: (lambda m: ArmError(500, m), 500, 2, errors.SourceReadError),
    PermissionDenied: (lambda m: PermissionDenied("graph", "GET", "https://graph.microsoft.com/v1.0/applications",
                                                  m), 500, 2, errors.PermissionDenied),
    ContextIncomplete: (lambda m: ContextIncomplete("app-1", [], [m]), 500, 2, errors.SourceReadError),
    StoreError: (lambda m: StoreError(m), 500, 2, errors.StoreError),
    BackupVerificationError: (lambda m: BackupVerificationError(m), 500, 2, errors.StoreError),
    BatchNotDurable: (lambda m: BatchNotDurable(m, RunResult()), 500, 3, errors.StoreError),
    NotificationsNotQueued: (lambda m: NotificationsNotQueued(m), 500, 2, errors.NotificationError),
    SimError: (lambda m: SimError(500, "InternalServerError", m), 500, 2, errors.WifguardError),
}

#: messages that would have fooled a status chosen from text
MISLEADING = ["no such backup: not found", "conflict: already restored", "DefaultAzureCredential failed",
              "malformed connection string", "invalid token", "bad request", ""]


def _modules(pkg: ModuleType) -> list[ModuleType]:
    out = [pkg]
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if info.name.endswith("__main__"):  # runs a program when imported
            continue
        out.append(importlib.import_module(info.name))
    return out


def _defined_exceptions() -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for mod in [*_modules(wifguard), *_modules(handlers), importlib.import_module("function_app")]:
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == mod.__name__:
                found.add(obj)
    return found


def test_every_exception_wifguard_defines_descends_from_the_root() -> None:
    defined = _defined_exceptions()
    assert len(defined) >= 30, sorted(c.__qualname__ for c in defined)
    outside = sorted(f"{c.__module__}.{c.__qualname__}" for c in defined if not issubclass(c, errors.WifguardError))
    assert not outside, outside


def test_the_table_covers_every_defined_exception() -> None:
    kinds = {getattr(errors, n) for n in errors.__all__ if inspect.isclass(getattr(errors, n))}
    missing = sorted(f"{c.__module__}.{c.__qualname__}" for c in _defined_exceptions() - set(TABLE) - kinds)
    assert not missing, missing


@pytest.mark.parametrize("cls", list(TABLE), ids=lambda c: c.__qualname__)
def test_http_status_and_exit_code_follow_from_the_type(cls: type[BaseException]) -> None:
    make, status, code, kind = TABLE[cls]
    for message in MISLEADING:
        exc = make(message)
        assert type(exc) is cls and isinstance(exc, kind) and isinstance(exc, errors.WifguardError)
        assert errors.http_status(exc) == status, message
        assert errors.exit_code(exc) == code, message
        assert error_reply(exc, "test").status == status, message


@pytest.mark.parametrize("cls", list(TABLE), ids=lambda c: c.__qualname__)
def test_the_command_line_exits_with_the_types_code(cls: type[BaseException], capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    make, _, code, _ = TABLE[cls]
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        raise make("invalid token")

    assert run(app, []) == code
    err = capsys.readouterr().err
    assert err.startswith("wifguard: ") and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_wifguard_error_inside_a_group_or_a_cause_decides_the_exit_code() -> None:
    inner = BatchNotDurable("store down", RunResult())
    try:
        try:
            raise inner
        except BatchNotDurable as e:
            raise RuntimeError("wrapped") from e
    except RuntimeError as outer:
        assert errors.exit_code(outer) == 3
    assert errors.exit_code(ExceptionGroup("tasks", [ValueError("x"), inner])) == 3
    assert errors.exit_code(ValueError("no wifguard error")) == 2
    assert errors.http_status(ValueError("not found")) == 500


def test_caller_sees_only_what_the_kind_allows() -> None:
    assert error_reply(BadRequest("limit: expected an integer from 1 to 5000"), "t").body == {
        "error": "limit: expected an integer from 1 to 5000"}
    assert error_reply(RestoreNotFound("no quarantine backup with id 'x<script>'"), "t").body == {
        "error": "no such backup"}
    assert error_reply(RestoreConflict("backup b1 was already restored"), "t").body == {
        "error": "conflict", "detail": "backup b1 was already restored"}
    assert error_reply(RestoreError("the identity no longer exists"), "t").body == {
        "error": "restore refused", "detail": "the identity no longer exists"}
    secret = GraphError(500, "X", "AccountKey=abc123 broke")
    assert error_reply(secret, "t").body == {"error": "internal error"}
    assert error_reply(KeyError("AccountKey"), "t").body == {"error": "internal error"}


def test_errors_carry_what_where_and_their_cause(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert info.value.where == str(bad) and str(bad) in info.value.what
    assert isinstance(info.value.__cause__, UnicodeDecodeError)
    denied = TABLE[PermissionDenied][0]("")
    assert isinstance(denied, errors.PermissionDenied)
    assert (denied.api, denied.status, denied.where) == ("graph", 403, "GET /applications")
    g = GraphError(429, "TooManyRequests", "slow down", "https://graph.microsoft.com/v1.0/applications")
    assert (g.api, g.status, g.where, g.code) == ("graph", 429, "https://graph.microsoft.com/v1.0/applications",
                                                   "TooManyRequests")
    a = ArmError(409, "conflict")
    assert (a.api, a.status) == ("arm", 409)
    # the old builtin bases still match existing `except` clauses
    assert isinstance(ConfigFileError("x"), ValueError) and isinstance(StoreError("x"), RuntimeError)
    assert isinstance(RecordNotFound("no backup b"), KeyError) and str(RecordNotFound("no backup b")) == "no backup b"
    assert ConfigError is ConfigFileError and not issubclass(SettingsError, ConfigFileError)


def test_a_malformed_connection_string_is_typed_not_matched_by_text() -> None:
    with pytest.raises(ConnectionStringError) as info:
        Store.from_connection_string("AccountName=;nonsense")
    assert isinstance(info.value.__cause__, ValueError) and info.value.where == "--store / WIFGUARD_STORAGE"
    assert describe(info.value, "report").startswith("malformed storage connection string (report)")
    # a ValueError that merely mentions a connection string is not taken for one
    assert "malformed storage connection string" not in describe(ValueError("bad connection string"), "report")


def test_nothing_picks_a_status_or_code_from_error_text() -> None:
    """No ``"..." in str(exc)`` / ``str(exc).startswith`` / ``exc.args[0]`` tests in the code base."""
    import re

    pattern = re.compile(r"""in str\((e|exc|err|error|ex)\)|str\((e|exc|err|error|ex)\)\.(startswith|lower\(\)\.startswith)"""
                         r"""|\b(e|exc|err|error|ex)\.args\[0\]""")
    hits = []
    for path in [*(ROOT / "wifguard").rglob("*.py"), *(ROOT / "handlers").rglob("*.py"), ROOT / "function_app.py"]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, hits
