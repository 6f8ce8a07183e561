"""Trigger payload decoders: one module per trigger source, payload → ``Change`` values.

Decoding only, no I/O. Every input record or event is accounted for by exactly one
:class:`Decoded` entry (``accepted``, ``ignored`` or ``rejected``); nothing raises out.
"""

from handlers.audit_logs import decode_audit_bodies, diff_credentials
from handlers.base import ACCEPTED, IGNORED, REJECTED, STATUSES, Decoded
from handlers.event_grid import decode_event_grid, decode_function_event

__all__ = [
    "ACCEPTED",
    "IGNORED",
    "REJECTED",
    "STATUSES",
    "Decoded",
    "decode_audit_bodies",
    "decode_event_grid",
    "decode_function_event",
    "diff_credentials",
]
