"""How the command line fails: one line ``wifguard: <what> (<where>)`` on stderr, exit 2.

Every exception that reaches the top of a command is turned into that line here, so a CI job
never reads a Python traceback (or exit 1, which means "findings") for bad input or a failed
dependency. ``--debug`` prints the traceback as well. Azure credential failures get a next step.
The line and the exit code follow from the exception's type (``wifguard.errors``, then the Azure
SDK's and the standard library's), never from its text.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

EXIT_USAGE = 2
NEXT_STEP_LOGIN = ("run `az login` (or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET), "
                   "use --sim SEED for the simulated tenant, and set WIFGUARD_TENANT_ID for the tenant to read")


def _first_line(text: str, limit: int = 240) -> str:
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _walk(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and the members of exception groups (first failure first)."""
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(out) < 50:
        e = todo.pop(0)
        if e in out:
            continue
        out.append(e)
        if isinstance(e, BaseExceptionGroup):
            todo[:0] = list(e.exceptions)
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None:
                todo.append(nxt)
    return out


def describe(exc: BaseException, command: str = "") -> str:
    """One line for any failure: what went wrong and where (or the next step)."""
    where = f" ({command})" if command else ""
    log.debug("command failed%s", where, exc_info=exc)  # the traceback behind the one line
    chain = _walk(exc)
    try:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )
    except ImportError:  # pragma: no cover - azure-core is a dependency
        ClientAuthenticationError = HttpResponseError = ServiceRequestError = ServiceResponseError = ()  # type: ignore[assignment,misc]
    cred_unavailable: tuple[type[BaseException], ...] = ()
    try:
        from azure.identity import CredentialUnavailableError

        cred_unavailable = (CredentialUnavailableError,)
    except ImportError:  # pragma: no cover
        pass
    from wifguard.errors import ConfigError, WifguardError
    from wifguard.settings import SettingsError
    from wifguard.store.store import ConnectionStringError

    for e in chain:
        if isinstance(e, (ClientAuthenticationError, *cred_unavailable)):
            return f"no usable Azure credential{where}: {NEXT_STEP_LOGIN}"
    for e in chain:
        name = type(e).__name__
        if isinstance(e, SettingsError):
            return f"{_first_line(str(e))} (environment)"
        if isinstance(e, ConnectionStringError):
            return f"malformed storage connection string{where}: {_first_line(str(e))} (--store / WIFGUARD_STORAGE)"
        if isinstance(e, ConfigError):  # the config file or the rule catalogue: the message names both
            return _first_line(str(e).replace("\n", " "), 400)
        if isinstance(e, WifguardError):
            text = _first_line(str(e).replace("\n", " "), 400)
            return f"{text} ({e.where})" if e.where and e.where not in text else f"{text}{where}"
        if isinstance(e, (ServiceRequestError, ServiceResponseError)):
            return f"cannot reach the service{where}: {_first_line(str(e))} (is the store/Azurite or tenant reachable?)"
        if isinstance(e, HttpResponseError):
            status = getattr(e, "status_code", None)
            return f"service refused the request{where}: HTTP {status}: {_first_line(getattr(e, 'message', '') or str(e))}"
        if isinstance(e, UnicodeDecodeError):
            return f"input is not UTF-8 text{where}: {_first_line(str(e))}"
        if isinstance(e, json.JSONDecodeError):
            return f"not valid JSON{where}: {e.msg} at line {e.lineno} column {e.colno}"
        if isinstance(e, OSError) and (e.filename or e.strerror):
            target = e.filename if e.filename is not None else ""
            what = e.strerror or _first_line(str(e))
            return f"{target}: {what}{where}" if target else f"{what}{where}"
        if name in {"ConnectError", "ConnectTimeout", "ReadTimeout"}:  # httpx, without importing it
            return f"cannot reach the service{where}: {_first_line(str(e)) or name}"
    return (f"{type(exc).__name__}: {_first_line(str(exc))}{where} "
            "(unexpected; rerun with --debug for the traceback)")


def _debug(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("WIFGUARD_DEBUG", "") not in ("", "0")


def run(app: Callable[..., Any], argv: list[str] | None = None, prog_name: str = "wifguard") -> int:
    """Run the Typer app; every failure becomes one line on stderr and an exit code from its type
    (``wifguard.errors.exit_code``: 2 unless a wifguard error says otherwise)."""
    import typer

    from wifguard.errors import exit_code

    args = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(a for a in args[:2] if not a.startswith("-"))
    if not _debug(args):
        _quiet_library_noise()
    try:
        rv = app(args, standalone_mode=False, prog_name=prog_name)
        return int(rv or 0) if isinstance(rv, int) else 0
    except typer.Exit as e:
        return int(e.exit_code)
    except typer.Abort:
        sys.stderr.write("wifguard: aborted\n")
        return 130
    except KeyboardInterrupt:
        sys.stderr.write("wifguard: interrupted\n")
        return 130
    except typer.TyperException as e:  # click's usage errors: bad option, missing argument...
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stdout.write(ctx.get_help() + "\n")
            return EXIT_USAGE
        msg = e.format_message() if hasattr(e, "format_message") else str(e)
        where = f" ({ctx.command_path})" if ctx is not None else ""
        hint = f"; see `{ctx.command_path} -h`" if ctx is not None else ""
        sys.stderr.write(f"wifguard: {' '.join(msg.split())}{where}{hint}\n")
        return int(getattr(e, "exit_code", EXIT_USAGE) or EXIT_USAGE)
    except Exception as e:
        if _debug(args):
            traceback.print_exc()
        try:
            text = describe(e, command)
        except Exception:  # describing must never be what fails
            text = f"{type(e).__name__} (rerun with --debug for the traceback)"
        sys.stderr.write(f"wifguard: {text}\n")
        return exit_code(e)


def _quiet_library_noise() -> None:
    """Libraries' own failure logs would repeat the one-line error (DefaultAzureCredential prints
    its whole chain; asyncio reports tasks cancelled by the failure): the CLI says it once."""
    import logging

    for name in ("azure.identity", "azure.core.pipeline.policies.http_logging_policy", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
