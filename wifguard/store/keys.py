"""Make any id or name safe as an Azure Table PartitionKey / RowKey.

Table keys may not contain ``/ \\ # ?`` or the control characters U+0000-U+001F and
U+007F-U+009F, and are limited to 1 KiB. ``encode_key`` escapes those characters (and the
escape character ``%`` itself, the single quote that OData literals double, and lone surrogates
that cannot be sent as UTF-8) in a reversible, percent-style form:

* a character with code point <= 0xFF becomes ``%XX`` (two upper-case hex digits);
* any other escaped character (a lone surrogate) becomes ``%uXXXX``;
* the empty string becomes ``%-`` (some clients mishandle empty keys).

A value whose escaped form would exceed ``max_bytes`` is replaced by ``%H`` + the SHA-256 of the
original (hex), which stays unique but is not reversible: callers keep the original value in an
entity property (every table of the store does). ``decode_key`` of such a key raises
``HashedKeyError``. The three forms never collide: a ``%`` in an escaped key is always followed
by two hex digits or ``u`` + four hex digits.
"""

from __future__ import annotations

import hashlib

from wifguard.errors import DecodeError

#: Default budget for one encoded key component. Azure allows 1 KiB per key; half of it leaves
#: room for keys built from two components and for services that count UTF-16 bytes.
MAX_KEY_BYTES = 512

HASH_PREFIX = "%H"
EMPTY_KEY = "%-"

_HEX = frozenset("0123456789ABCDEFabcdef")


class HashedKeyError(DecodeError):
    """The key is a hash of a value too long to be a key; read the original from the entity."""


def _must_escape(ch: str) -> bool:
    o = ord(ch)
    return (
        o <= 0x1F
        or 0x7F <= o <= 0x9F
        or ch in "/\\#?%'"
        or 0xD800 <= o <= 0xDFFF  # lone surrogate: not encodable as UTF-8
    )


def _key_bytes(s: str) -> int:
    """Size of a key the way either encoding would count it (UTF-8 or UTF-16)."""
    return max(len(s.encode("utf-8")), len(s.encode("utf-16-le")))


def hashed_key(value: str) -> str:
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return HASH_PREFIX + digest


def encode_key(value: str, *, max_bytes: int = MAX_KEY_BYTES) -> str:
    """Escape ``value`` so that it is a valid Table key (reversible unless it is too long)."""
    if not isinstance(value, str):
        raise TypeError(f"key value must be a string, not {type(value).__name__}")
    if value == "":
        return EMPTY_KEY
    out: list[str] = []
    for ch in value:
        if _must_escape(ch):
            o = ord(ch)
            out.append(f"%{o:02X}" if o <= 0xFF else f"%u{o:04X}")
        else:
            out.append(ch)
    encoded = "".join(out)
    if _key_bytes(encoded) > max_bytes:
        return hashed_key(value)
    return encoded


def is_hashed_key(key: str) -> bool:
    return key.startswith(HASH_PREFIX)


def decode_key(key: str) -> str:
    """Invert ``encode_key``. Raises ``HashedKeyError`` for hashed keys, ``ValueError`` if malformed."""
    if key == EMPTY_KEY:
        return ""
    if is_hashed_key(key):
        raise HashedKeyError(f"key {key[:20]}... is a hash; the original value is kept in the entity")
    out: list[str] = []
    i, n = 0, len(key)
    while i < n:
        ch = key[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if key[i + 1 : i + 2] == "u":
            digits = key[i + 2 : i + 6]
            if len(digits) != 4 or not set(digits) <= _HEX:
                raise ValueError(f"malformed escape at {i} in key {key!r}")
            out.append(chr(int(digits, 16)))
            i += 6
            continue
        digits = key[i + 1 : i + 3]
        if len(digits) != 2 or not set(digits) <= _HEX:
            raise ValueError(f"malformed escape at {i} in key {key!r}")
        out.append(chr(int(digits, 16)))
        i += 3
    return "".join(out)


def is_valid_key(key: str, *, max_bytes: int = 1024) -> bool:
    """True when ``key`` may be used as a PartitionKey/RowKey as it is."""
    if _key_bytes(key) > max_bytes:
        return False
    return not any(_must_escape(ch) and ch not in "%'" for ch in key)
