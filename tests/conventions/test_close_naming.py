"""One name for closing: wifguard's async clients close with ``await x.close()`` (or ``async with``),
as the Azure SDK's do. ``aclose`` survives only as an alias of ``close`` on a few public classes,
and nothing in the code base calls it except on httpx objects (whose name it is)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import handlers
import wifguard

ROOT = Path(__file__).resolve().parents[2]
#: receivers whose ``aclose()`` is httpx's own (an ``httpx.AsyncClient`` / transport)
HTTPX_RECEIVERS = {"self._http", "super()"}


def _classes() -> list[type]:
    out = []
    for pkg in (wifguard, handlers):
        names = [pkg.__name__] + [i.name for i in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")
                                  if not i.name.endswith("__main__")]
        for name in names:
            mod = importlib.import_module(name)
            out += [c for _, c in inspect.getmembers(mod, inspect.isclass) if c.__module__ == name]
    return out


def test_closable_classes_close_with_a_close_coroutine() -> None:
    closable = [c for c in _classes() if "close" in vars(c) or "aclose" in vars(c)]
    assert len(closable) >= 10, closable
    bad = []
    for c in closable:
        where = f"{c.__module__}.{c.__qualname__}"
        if "aclose" in vars(c) and vars(c)["aclose"] is not vars(c).get("close"):
            bad.append(f"{where}: aclose is not an alias of close")
        close = vars(c).get("close")
        if close is None or not inspect.iscoroutinefunction(close):
            bad.append(f"{where}: close is missing or not a coroutine")
    assert not bad, bad


def test_nothing_calls_aclose_on_a_wifguard_object() -> None:
    files = [*(ROOT / "wifguard").rglob("*.py"), *(ROOT / "handlers").rglob("*.py"), ROOT / "function_app.py",
             *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    calls = []
    for path in files:
        if path == Path(__file__).resolve():  # the alias test below calls it on purpose
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "aclose"
                    and ast.unparse(node.func.value) not in HTTPX_RECEIVERS):
                calls.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not calls, calls


async def test_the_old_name_still_closes(tmp_path: Path) -> None:
    from wifguard.store.store import Store

    store = Store.from_connection_string("UseDevelopmentStorage=true")
    assert store.aclose == store.close  # the same bound coroutine function
    await store.aclose()
    await store.close()  # idempotent
