"""Which findings a command reports: ``--severity`` (at least), ``--rule``/``--skip-rule`` (globs,
matched like notification routes) and ``--baseline`` (fingerprints already known)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from wifguard.domain.model import Finding, Severity
from wifguard.errors import InputError
from wifguard.notify.config import rule_matches

log = logging.getLogger(__name__)


class BaselineError(InputError):
    """The baseline file is unusable; the message names it."""


def wanted(f: Finding, *, severity: Severity | None = None, rules: Sequence[str] = (),
           skip_rules: Sequence[str] = ()) -> bool:
    if severity is not None and f.severity < severity:
        return False
    if rules and not rule_matches(f.rule_id, rules):
        return False
    return not (skip_rules and rule_matches(f.rule_id, skip_rules))


def _collect(node: Any, out: set[str]) -> None:
    """Fingerprints anywhere in a wifguard JSON report or a SARIF log."""
    if isinstance(node, dict):
        fp = node.get("fingerprint")
        if isinstance(fp, str):
            out.add(fp)
        for key in ("partialFingerprints", "fingerprints"):
            fps = node.get(key)
            if isinstance(fps, dict):
                out.update(v for v in fps.values() if isinstance(v, str))
        for v in node.values():
            if isinstance(v, dict | list):
                _collect(v, out)
    elif isinstance(node, list):
        for v in node:
            _collect(v, out)


def load_baseline(path: Path) -> frozenset[str]:
    """Fingerprints of a previous ``evaluate --format json`` or ``--format sarif`` output."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file (--baseline)") from None
    except (OSError, UnicodeDecodeError) as exc:
        log.debug("%s: baseline unreadable", path, exc_info=exc)
        raise BaselineError(f"{path}: cannot read the baseline: {exc} (--baseline)") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: baseline is not valid JSON: {exc.msg} at line {exc.lineno} (--baseline)") from None
    out: set[str] = set()
    _collect(data, out)
    if not out and not (isinstance(data, dict) and ("findings" in data or "runs" in data)):
        raise BaselineError(f"{path}: not a wifguard JSON or SARIF report (--baseline)")
    return frozenset(out)


def split_baseline(items: Iterable[Any], known: frozenset[str], key: Any) -> tuple[list[Any], int]:
    """Items whose finding is new, and how many the baseline already knew."""
    new: list[Any] = []
    old = 0
    for it in items:
        if key(it).fingerprint in known:
            old += 1
        else:
            new.append(it)
    return new, old
