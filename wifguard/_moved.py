"""Old import paths keep working after the package was laid out by architecture.

Scripts, notebooks and extension modules written against the flat layout (``wifguard.engine``,
``wifguard.inventory.graph``...) are aliased to the modules' new homes on first import, with a
DeprecationWarning naming the new path; no module is duplicated and nothing loads eagerly.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

# Old dotted name (module or package prefix) -> new one; the longest matching prefix wins.
MOVED: dict[str, str] = {
    "wifguard.cli_catalogue": "wifguard.cli.catalogue",
    "wifguard.cli_errors": "wifguard.cli.errors",
    "wifguard.parked_cli": "wifguard.cli.parked",
    "wifguard.migrate_cli": "wifguard.cli.migrate",
    "wifguard.store.cli": "wifguard.cli.findings",
    "wifguard.demo": "wifguard.cli.demo",
    "wifguard.model": "wifguard.domain.model",
    "wifguard.issuers": "wifguard.domain.issuers",
    "wifguard.subjects": "wifguard.domain.subjects",
    "wifguard.flexible": "wifguard.domain.flexible",
    "wifguard.reach": "wifguard.domain.reach",
    "wifguard.roles": "wifguard.domain.roles",
    "wifguard.privilege.model": "wifguard.domain.privilege",
    "wifguard.rules": "wifguard.catalogue.rules",
    "wifguard.engine": "wifguard.catalogue.engine",
    "wifguard.rule_lint": "wifguard.catalogue.lint",
    "wifguard.catalogue_docs": "wifguard.catalogue.docs",
    "wifguard.rule_guidance": "wifguard.catalogue.guidance",
    "wifguard.facts": "wifguard.catalogue.facts",
    "wifguard.fact_providers.registry": "wifguard.catalogue.facts.registry",
    "wifguard.fact_providers": "wifguard.catalogue.facts.providers",
    "wifguard.inputs": "wifguard.offline.inputs",
    "wifguard.evaluate": "wifguard.offline.evaluate",
    "wifguard.inventory": "wifguard.sources.inventory",
    "wifguard.privilege": "wifguard.sources.privilege",
    "wifguard.external": "wifguard.sources.external",
    "wifguard.runtime": "wifguard.pipeline.runtime",
    "wifguard.intake": "wifguard.pipeline.intake",
    "wifguard.evidence": "wifguard.pipeline.evidence",
    "wifguard.redrive": "wifguard.pipeline.redrive",
    "wifguard.sweep": "wifguard.pipeline.sweep",
    "wifguard.permission_health": "wifguard.pipeline.permission_health",
    "wifguard.store.models": "wifguard.store.entities",
    "wifguard.quarantine": "wifguard.actions.quarantine",
    "wifguard.requarantine": "wifguard.actions.requarantine",
    "wifguard.migrate": "wifguard.actions.migrate",
    "wifguard.report": "wifguard.reporting.report",
    "wifguard.report_md": "wifguard.reporting.markdown",
    "wifguard.report_html": "wifguard.reporting.html",
    "wifguard.report_diagram": "wifguard.reporting.diagram",
    "wifguard.sarif": "wifguard.reporting.sarif",
    "wifguard.formats": "wifguard.reporting.formats",
    "wifguard.selection": "wifguard.reporting.selection",
    "wifguard.httpapi": "wifguard.api.http",
    "wifguard.apiauth": "wifguard.api.auth",
}


# Sorted once: every not-yet-loaded wifguard.* import asks.
_LONGEST_FIRST = tuple(sorted(MOVED, key=len, reverse=True))


def new_name(old: str) -> str | None:
    for prefix in _LONGEST_FIRST:
        if old == prefix or old.startswith(prefix + "."):
            return MOVED[prefix] + old[len(prefix):]
    return None


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        pass  # the target module is already executed


class MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("wifguard.") or fullname in sys.modules:
            return None
        new = new_name(fullname)
        if new is None:
            return None
        warnings.warn(f"{fullname} moved to {new}", DeprecationWarning, stacklevel=2)
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    # First in line: otherwise the path finder would load a second copy of a moved package's
    # submodule (``wifguard.inventory.graph``) from the aliased package's directory.
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedFinder())
