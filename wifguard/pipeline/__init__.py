"""The one flow every trigger ends in: decoded payloads in, the live context read,
evaluated, recorded, notified and quarantined; the sweep; re-drives of parked records.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``from wifguard.pipeline import Responder`` (the flat layout's module) still works."""
    import importlib

    responder = importlib.import_module("wifguard.pipeline.responder")
    try:
        return getattr(responder, name)
    except AttributeError:
        raise AttributeError(f"module 'wifguard.pipeline' has no attribute {name!r}") from None
