"""What a person receiving a finding should check first: each shipped rule's triage note and
its first reference, read from the rule files' text (no CEL compile) for cards and reports.

The engine has already loaded (and validated) the same files; a rule id the shipped catalogue
does not define (a user rule) simply has no guidance here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from wifguard.package_data import rules_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Guidance:
    triage: str
    reference: str  # the rule's first reference URL, "" when it cites none


@cache
def _shipped() -> Mapping[str, Guidance]:
    out: dict[str, Guidance] = {}
    for path in sorted(rules_dir().glob("*.y*ml")):
        if path.name.startswith("config"):
            continue
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            # Guidance is optional text on a card; the engine reports a broken rule file itself.
            log.warning("rule guidance: cannot read %s: %s", path.name, exc)
            continue
        items = data.get("rules") if isinstance(data, dict) else data
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                refs = item.get("references") or []
                out[item["id"].upper()] = Guidance(
                    " ".join(str(item.get("triage") or "").split()),
                    str(refs[0]) if isinstance(refs, list) and refs else "",
                )
    return out


def rule_guidance(rule_id: str) -> Guidance | None:
    """The shipped rule's guidance, or None for a rule the shipped catalogue does not define."""
    return _shipped().get(rule_id.upper())
