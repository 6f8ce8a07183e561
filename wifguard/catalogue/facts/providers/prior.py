"""``prior``: the findings already produced for a credential (second-pass rules, e.g. WIF602)."""

from __future__ import annotations

from typing import Any

from wifguard.catalogue.facts.registry import FactField as F
from wifguard.catalogue.facts.registry import Samples, fact_provider


def _sample(s: Samples) -> tuple[Any, ...]:
    return ()


def prior_vars(findings: Any) -> tuple[dict[str, Any], ...]:
    """What a second-pass rule sees of each finding (the engine builds it lazily, on a memo miss)."""
    return tuple({"rule_id": f.rule_id, "severity": f.severity.label, "severity_rank": int(f.severity),
                  "category": f.category} for f in findings)


fact_provider(
    "prior", variable="prior", targets=("credential",), sample=_sample, shape="list",
    description="A rule reading it runs after the others of its credential.",
    fields=(
        F("rule_id", "string", "the rule that fired"),
        F("severity", "string", "info | low | medium | high | critical"),
        F("severity_rank", "int", "0 info … 4 critical"),
        F("category", "string", "the rule's category"),
    ),
)(prior_vars)
