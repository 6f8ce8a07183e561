"""The dependency points one way: triggers import the core, the core never imports triggers.

``function_app.py`` (the Azure Functions) and ``handlers/`` (their payload decoders) are the
adapter layer. Nothing under ``wifguard/`` may import them, not even lazily inside a function or
under ``TYPE_CHECKING``; the core finds decoders by source name (``wifguard.pipeline.intake``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from wifguard.pipeline import intake

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ("handlers", "function_app")


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            out.append((node.lineno, str(node.args[0].value)))
    return out


def core_imports_of_adapters() -> list[str]:
    bad = []
    for path in sorted((ROOT / "wifguard").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, mod in _imported_modules(tree):
            if mod.split(".")[0] in ADAPTERS:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod}")
    return bad


def test_the_core_never_imports_the_trigger_layer() -> None:
    assert core_imports_of_adapters() == []


def test_the_check_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    # The scan must catch the forms the core used before (a lazy import inside a function, a
    # TYPE_CHECKING import), else the test above proves nothing.
    src = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from handlers.base import Decoded\n"
           "def f():\n    from handlers.audit_logs import decode_audit_bodies\n    import function_app\n"
           "    importlib.import_module('handlers.event_grid')\n")
    found = [m for _, m in _imported_modules(ast.parse(src))]
    assert {"handlers.base", "handlers.audit_logs", "function_app", "handlers.event_grid"} <= set(found)


def test_importing_the_core_loads_no_trigger_module() -> None:
    code = ("import sys, wifguard.cli, wifguard.pipeline.responder, wifguard.pipeline.runtime, wifguard.pipeline.redrive, wifguard.api.http\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('handlers', 'function_app'))\n"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_decoders_are_found_by_source_name() -> None:
    assert {"audit-log", "event-grid"} <= set(intake.sources())
    from handlers.audit_logs import decode_audit_bodies

    assert intake.decoder(intake.SOURCE_AUDIT_LOG) is decode_audit_bodies
    with pytest.raises(intake.UnknownSource, match=r"no decoder for source 'carrier-pigeon'; registered: .*audit-log"):
        intake.decoder("carrier-pigeon")


def test_a_source_keeps_its_one_decoder() -> None:
    from handlers.event_grid import decode_event_grid

    intake.register_decoder(intake.SOURCE_EVENT_GRID)(decode_event_grid)  # the same one again: fine
    with pytest.raises(ValueError, match="already registered"):
        intake.register_decoder(intake.SOURCE_EVENT_GRID)(lambda payloads: [])
