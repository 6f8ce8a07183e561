"""Fields of ``change`` from the add/remove trail (WIF703): how long a credential lived.

The pipeline puts the minutes between a credential's addition and removal into the change's
evidence (``wifguard.pipeline.evidence.with_lifetime``); this turns them into facts.
"""

from __future__ import annotations

from wifguard.catalogue.facts import lifetime_vars
from wifguard.catalogue.facts.registry import FactField as F
from wifguard.catalogue.facts.registry import fact_provider

fact_provider(
    "evidence", variable="change", targets=("change",),
    description="The audit trail of additions and removals (wifguard.pipeline.evidence).",
    fields=(
        F("lifetime_seconds", "int", "seconds between the credential's addition and removal (-1: unknown)"),
        F("lifetime_text", "string", "the same, for messages"),
    ),
)(lifetime_vars)
