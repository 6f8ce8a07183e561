"""What the core accepts from a trigger: :class:`Decoded` payloads, and the registry of decoders.

The dependency points one way: trigger adapters (``handlers/``, ``function_app.py``) import the
core, never the reverse. A decoder registers itself under its source name
(``@register_decoder("audit-log")``); the core finds it by that name (re-driving a parked
payload, ``wifguard replay``) without importing the adapter layer. Decoders an installation does
not import itself are found through the ``wifguard.decoders`` entry-point group (the way Cloud
Custodian loads its plugins): ``pyproject.toml`` names the shipped ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Final

from wifguard.domain.model import Change
from wifguard.errors import DecodeError

log = logging.getLogger(__name__)

ACCEPTED: Final = "accepted"
IGNORED: Final = "ignored"
REJECTED: Final = "rejected"
STATUSES: Final = frozenset({ACCEPTED, IGNORED, REJECTED})

SOURCE_AUDIT_LOG: Final = "audit-log"
SOURCE_EVENT_GRID: Final = "event-grid"

ENTRY_POINT_GROUP: Final = "wifguard.decoders"


@dataclass(frozen=True)
class Decoded:
    """The outcome of decoding one input record or event.

    ``id``: audit records use ``properties.id`` (fallback: top-level ``correlationId`` plus the
    record's index, else a sha256 of the raw record); Event Grid uses the event id (fallback: a
    sha256 of the raw event). ``status`` is ``accepted`` (``changes`` is non-empty), ``ignored``
    (not something wifguard cares about) or ``rejected`` (malformed; ``raw`` holds the text to
    park). ``reason`` says why an entry was ignored or rejected.
    """

    id: str
    status: str
    reason: str
    changes: tuple[Change, ...]
    raw: bytes | str | None
    source: str

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED

    @property
    def rejected(self) -> bool:
        return self.status == REJECTED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (no changes, no raw body)."""
        return {
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "source": self.source,
            "changes": len(self.changes),
        }


#: A decoder: the payloads of one trigger (bodies, events) in, one Decoded per record out; never raises.
Decoder = Callable[[Iterable[Any]], list[Decoded]]


class UnknownSource(DecodeError, LookupError):
    """No decoder is registered for a source name; the message lists the registered ones."""


_DECODERS: dict[str, Decoder] = {}
_entry_points_loaded = False


def register_decoder(source: str) -> Callable[[Decoder], Decoder]:
    """Decorator: register ``fn`` as the decoder of ``source`` (re-registering the same one is a no-op)."""

    def add(fn: Decoder) -> Decoder:
        prev = _DECODERS.get(source)
        if prev is not None and prev is not fn:
            raise ValueError(f"decoder for source {source!r} is already registered ({prev.__module__})")
        _DECODERS[source] = fn
        return fn

    return add


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _DECODERS:
            continue
        try:
            fn = ep.load()
        except Exception as exc:  # a broken plugin must not hide the others; it stays unknown
            log.warning("decoder entry point %s (%s) failed to load: %s", ep.name, ep.value, type(exc).__name__)
            continue
        _DECODERS.setdefault(ep.name, fn)


def sources() -> list[str]:
    """The source names a decoder is registered for (entry points included)."""
    _load_entry_points()
    return sorted(_DECODERS)


def decoder(source: str) -> Decoder:
    """The decoder registered for ``source``; :class:`UnknownSource` naming the valid ones otherwise."""
    fn = _DECODERS.get(source)
    if fn is None:
        _load_entry_points()
        fn = _DECODERS.get(source)
    if fn is None:
        raise UnknownSource(f"no decoder for source {source!r}; registered: {', '.join(sources()) or '(none)'}")
    return fn


def decode(source: str, payloads: Iterable[Any]) -> list[Decoded]:
    """Decode the payloads of one trigger source with its registered decoder."""
    return decoder(source)(payloads)
