"""The domain layer is pure: ``wifguard/domain/`` reads no tenant, store or network.

Its modules may import the standard library, PyYAML (shipped data files), each other and
``wifguard.errors``; nothing from the sources, the store, the pipeline or an SDK. The rest of the
package depends on the domain, never the reverse.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {"yaml", "wifguard"}


def _imports(path: Path) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def test_domain_imports_only_the_domain_the_errors_and_the_standard_library() -> None:
    bad = []
    for path in sorted((ROOT / "wifguard" / "domain").glob("*.py")):
        for line, mod in _imports(path):
            top = mod.split(".")[0]
            if top == "wifguard":
                ok = mod == "wifguard" or mod.startswith(("wifguard.domain", "wifguard.errors"))
            else:
                ok = top in sys.stdlib_module_names or top in ALLOWED or top == "__future__"
            if not ok:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod}")
    assert bad == []


def test_the_check_would_see_a_source_import(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("from wifguard.sources.inventory.graph import GraphClient\nimport httpx\n")
    assert [m for _, m in _imports(f)] == ["wifguard.sources.inventory.graph", "httpx"]
