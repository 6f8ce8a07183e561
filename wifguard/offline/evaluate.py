"""Offline evaluation of credential files (``wifguard evaluate``)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wifguard.catalogue.engine import Engine
from wifguard.domain.model import Finding
from wifguard.offline.inputs import InputError, LoadedTrust, Located, iter_paths, load_file
from wifguard.reporting.report import sort_findings, summary


@dataclass
class EvaluateResult:
    located: list[tuple[Finding, Located | None]] = field(default_factory=list)
    exempted: list[dict[str, Any]] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files: int = 0
    identities: int = 0
    credentials: int = 0

    def to_json(self, engine: Engine) -> dict[str, Any]:
        order = {f.fingerprint: i for i, f in enumerate(sort_findings(f for f, _ in self.located))}
        rows = []
        for f, loc in sorted(self.located, key=lambda p: order[p[0].fingerprint]):
            d = f.to_dict()
            if loc is not None:
                d["location"] = {"path": loc.path, "line": loc.line, "column": loc.column}
            rows.append(d)
        findings = [f for f, _ in self.located]
        return {
            "findings": rows,
            "summary": summary(
                findings,
                files=self.files,
                identities=self.identities,
                credentials=self.credentials,
                errors=len(self.errors),
                exempted=len(self.exempted),
            ),
            "errors": [{"path": e.path, "problem": e.problem} for e in self.errors],
            "exempted": self.exempted,
            "expired_exemptions": [e.model_dump(mode="json") for e in engine.expired_exemptions()],
        }


def _location(f: Finding, lt: LoadedTrust) -> Located:
    if f.credential is not None:
        loc = lt.credential_locations.get(str(f.credential.get("name")))
        if loc is not None:
            return loc
    if f.role_assignment is not None:
        loc = lt.role_locations.get(str(f.role_assignment.get("id")))
        if loc is not None:
            return loc
    return lt.identity_location


def _shown(path: Path) -> str:
    """A file's name in findings (and in their fingerprints): relative to the working directory
    when inside it, so two checkouts of a repository give the same fingerprints."""
    if str(path) == "-":
        return "<stdin>"
    try:
        rel = os.path.relpath(path.resolve(), Path.cwd())
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else Path(rel).as_posix()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing and evaluating allocate millions of small acyclic objects that stay alive; the
    cyclic collector rescanning them all is most of the time on a large file (2.7x measured).
    Reference counting still frees them; the collector runs again afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def evaluate_paths(engine: Engine, paths: Iterable[str | Path]) -> EvaluateResult:
    with _gc_paused():
        return _evaluate_paths(engine, paths)


def _evaluate_paths(engine: Engine, paths: Iterable[str | Path]) -> EvaluateResult:
    result = EvaluateResult()
    for path in iter_paths(paths):
        result.files += 1
        loaded, errors = load_file(path, display=_shown(path))
        result.errors += errors
        for lt in loaded:
            result.identities += 1
            result.credentials += len(lt.context.credentials)
            ev = engine.evaluate(lt.context)
            result.located += [(f, _location(f, lt)) for f in ev.findings]
            result.exempted += [
                {**f.to_dict(), "exemption": ex.model_dump(mode="json")} for f, ex in ev.exempted
            ]
            result.errors += [InputError(str(path), e) for e in ev.errors]
    return result
