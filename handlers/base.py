"""What every handler returns, and the small JSON helpers the handlers share.

A handler turns one trigger's payload into :class:`Decoded` entries, one per input record or
event. It never raises on bad input: a payload that cannot be understood becomes a ``rejected``
entry that carries the reason and the raw text, so that the pipeline can park it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from wifguard.errors import DecodeError

# The core owns what a decoder returns (the core never imports the adapter layer); re-exported here.
from wifguard.pipeline.intake import (
    ACCEPTED,
    IGNORED,
    REJECTED,
    SOURCE_AUDIT_LOG,
    SOURCE_EVENT_GRID,
    STATUSES,
    Decoded,
)

__all__ = [
    "ACCEPTED",
    "EVIDENCE_VALUE_LIMIT",
    "IGNORED",
    "REJECTED",
    "SOURCE_AUDIT_LOG",
    "SOURCE_EVENT_GRID",
    "STATUSES",
    "Decoded",
    "Malformed",
    "dumps",
    "loads",
    "sha256_id",
    "truncate",
]

log = logging.getLogger(__name__)

#: Longest raw property value copied into a change's evidence.
EVIDENCE_VALUE_LIMIT: Final = 2000


class Malformed(DecodeError):
    """Raised inside a handler for input that must be rejected; never leaves the handler."""


# -- JSON helpers ----------------------------------------------------------------------------


def loads(text: bytes | str) -> Any:
    """Parse strict JSON (UTF-8). Raises :class:`Malformed` with a short reason."""
    if isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Malformed(f"is not valid UTF-8 (byte {exc.start})") from None
        source: bytes | str = data
    else:
        source = text[1:] if text.startswith("\ufeff") else text
    if not source.strip():
        raise Malformed("is empty")
    try:
        return orjson.loads(source)
    except orjson.JSONDecodeError as exc:
        msg = str(exc)
        if "unexpected end" in msg.lower():
            raise Malformed(f"is truncated JSON ({msg})") from None
        raise Malformed(f"is not valid JSON ({msg})") from None
    except (TypeError, ValueError) as exc:  # pragma: no cover - orjson raises JSONDecodeError
        raise Malformed(f"is not valid JSON ({exc})") from None


def dumps(obj: Any) -> str:
    """Best-effort compact JSON text of anything (used for ``raw`` and hashing); never raises."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS, default=_default).decode()
    except Exception:
        pass
    try:
        return json.dumps(obj, ensure_ascii=True, default=repr, separators=(",", ":"))
    except Exception:
        return repr(obj)


def _default(obj: Any) -> Any:
    if isinstance(obj, bytes | bytearray):
        return bytes(obj).decode("utf-8", "replace")
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    isoformat = getattr(obj, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    return repr(obj)


def sha256_id(raw: bytes | str) -> str:
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def truncate(value: Any, limit: int = EVIDENCE_VALUE_LIMIT) -> str | None:
    """Evidence copy of a raw value: text as given (JSON for non-text), cut at ``limit``."""
    if value is None:
        return None
    text = value if isinstance(value, str) else dumps(value)
    if len(text) > limit:
        return text[:limit] + f"...(+{len(text) - limit} chars)"
    return text


def opt_str(value: Any) -> str | None:
    """A non-empty string, or None for anything else."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def as_items(payload: Any) -> list[Any]:
    """One payload or an iterable of them (a trigger's batch, a replay file's list)."""
    if isinstance(payload, bytes | bytearray | memoryview | str | Mapping) or hasattr(payload, "get_body"):
        return [payload]
    try:
        return list(payload)
    except TypeError:
        return [payload]


def decode_each(items: list[Any], decode_one: Callable[[Any, str], list[Decoded]], label: str,
                source: str) -> list[Decoded]:
    """Decode every item; an unexpected failure rejects that item only, never the batch."""
    multi = len(items) > 1
    out: list[Decoded] = []
    for index, item in enumerate(items):
        where = f"{label} {index}" if multi else "body"
        try:
            out.extend(decode_one(item, where))
        except Exception as exc:  # defensive: nothing escapes a handler
            # A decoder bug, not bad input: the item is parked with the reason; the log says so.
            log.warning("%s %s: decoding failed unexpectedly: %s", source, where, type(exc).__name__, exc_info=exc)
            raw = item if isinstance(item, bytes | str) else dumps(item)
            reason = f"{where}: unexpected error {type(exc).__name__}: {exc}"
            out.append(Decoded(id=sha256_id(raw), status=REJECTED, reason=reason, changes=(), raw=raw, source=source))
    return out
