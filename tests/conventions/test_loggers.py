"""Loggers are named by their module (``logging.getLogger(__name__)``), so that a logger's name says
where a line came from and one setting (``wifguard``) covers the whole package; no package that
handles failures is silent: it has a module that logs when an operation fails its task."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("wifguard", "handlers", "function_app")


def _sources() -> list[Path]:
    return sorted([*(ROOT / "wifguard").rglob("*.py"), *(ROOT / "handlers").rglob("*.py"), ROOT / "function_app.py"])


def _get_logger_calls(tree: ast.AST) -> list[ast.Call]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name == "getLogger":
                out.append(node)
    return out


def _module_loggers(tree: ast.Module) -> list[ast.Call]:
    """``NAME = logging.getLogger(...)`` at module level."""
    return [n.value for n in tree.body
            if isinstance(n, ast.Assign | ast.AnnAssign) and isinstance(n.value, ast.Call)
            and n.value in _get_logger_calls(n.value)]


def test_no_hand_named_loggers() -> None:
    bad = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(ROOT)
        for call in _module_loggers(tree):
            if not (len(call.args) == 1 and isinstance(call.args[0], ast.Name) and call.args[0].id == "__name__"):
                bad.append(f"{rel}:{call.lineno}: {ast.unparse(call)}")
        for call in _get_logger_calls(tree):
            arg = call.args[0] if call.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.split(".")[0] in OURS:
                bad.append(f"{rel}:{call.lineno}: {ast.unparse(call)} (name our loggers by __name__)")
    assert not bad, bad


def test_the_lint_catches_a_hand_named_logger() -> None:
    tree = ast.parse('import logging\nlog = logging.getLogger("wifguard.notify")\n')
    (call,) = _module_loggers(tree)
    assert isinstance(call.args[0], ast.Constant)


def test_every_package_that_handles_failures_has_a_logger() -> None:
    """A package whose code catches exceptions (I/O, decoding, retries) can fail its task, so it
    has a logger to say so; pure packages (no ``except``: registries, fact builders) may stay silent."""
    silent = []
    for init in sorted([*(ROOT / "wifguard").rglob("__init__.py"), ROOT / "handlers" / "__init__.py"]):
        pkg = init.parent
        trees = [ast.parse(p.read_text(encoding="utf-8")) for p in pkg.glob("*.py")]
        handles = any(isinstance(n, ast.ExceptHandler) for t in trees for n in ast.walk(t))
        if handles and not any(_module_loggers(t) for t in trees):
            silent.append(str(pkg.relative_to(ROOT)))
    assert not silent, silent


def test_a_decoder_bug_is_logged_at_warning_and_the_item_still_rejected(caplog: pytest.LogCaptureFixture) -> None:
    from handlers.base import SOURCE_EVENT_GRID, decode_each

    def broken(item: object, where: str) -> list[object]:
        raise ZeroDivisionError("bug")

    with caplog.at_level(logging.WARNING, logger="handlers"):
        out = decode_each([b"{}"], broken, "item", SOURCE_EVENT_GRID)  # type: ignore[arg-type]
    assert [d.status for d in out] == ["rejected"] and "unexpected error ZeroDivisionError" in out[0].reason
    rec = [r for r in caplog.records if r.name == "handlers.base"]
    assert rec and rec[0].levelno == logging.WARNING and "ZeroDivisionError" in rec[0].getMessage()
