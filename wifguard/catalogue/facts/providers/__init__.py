"""Fact providers: one module per group of facts a rule condition may read.

Each module registers its rule variable's fields (name, type, description), the targets that see
it, sample facts and its builder with :func:`~wifguard.catalogue.facts.registry.fact_provider`;
:data:`~wifguard.catalogue.facts.registry.registry` finds them all. See ``registry.py``.
"""

from wifguard.catalogue.facts.registry import (
    FactField,
    FactProvider,
    FactRegistry,
    Samples,
    UnknownFact,
    fact_provider,
    registry,
)

__all__ = ["FactField", "FactProvider", "FactRegistry", "Samples", "UnknownFact", "fact_provider", "registry"]
