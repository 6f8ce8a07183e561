"""The exact bytes of each record inside a batch body.

A record that cannot be processed is parked as *its own* original bytes (not the whole batch,
not a re-serialisation), and its dedup key digests those bytes. JSON parsers do not report
where a value started, so :func:`element_spans` finds the elements of one array (the body's
top-level array, or the array under a top-level key such as ``records``) with a small tokenizer:
a regular expression skips whole strings at C speed, so only brackets, commas and colons are
looked at in Python.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from handlers.base import IGNORED, Decoded, dumps

_TOKENS_B = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.DOTALL)
_TOKENS_S = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.DOTALL)


def element_spans(body: bytes | str, key: str | None) -> list[tuple[int, int]] | None:
    """``(start, end)`` of every element of the array under top-level ``key`` (``None``: the
    body is the array), whitespace trimmed; ``None`` when the body does not have that shape."""
    matches: Iterable[re.Match[Any]] = (_TOKENS_B.finditer(body) if isinstance(body, bytes)
                                        else _TOKENS_S.finditer(body))
    quoted = None if key is None else dumps(key)
    depth = 0
    target: int | None = None  # depth of the array's contents once found
    last_string: Any = None
    current_key: Any = None
    spans: list[tuple[int, int]] = []
    start = 0
    for m in matches:
        tok = m.group()
        c = tok[:1] if isinstance(tok, str) else chr(tok[0])
        if c == '"':
            last_string = tok
            continue
        if c == ":":
            if depth == 1:
                current_key = last_string
            continue
        if c in "[{":
            depth += 1
            if c == "[" and target is None and depth == 2 and current_key is not None \
                    and _text(current_key) == quoted:
                target = depth
                start = m.end()
            elif c == "[" and key is None and target is None and depth == 1:
                target = 1
                start = m.end()
            continue
        if c == "," and target is not None and depth == target:
            spans.append(_trim(body, start, m.start()))
            start = m.end()
            continue
        if c in "]}":
            if c == "]" and target is not None and depth == target:
                piece = _trim(body, start, m.start())
                if piece[1] > piece[0] or spans:
                    spans.append(piece)
                return spans
            depth -= 1
    return None


def _text(tok: Any) -> str:
    return tok.decode("utf-8", "surrogatepass") if isinstance(tok, bytes) else str(tok)


def _trim(body: bytes | str, start: int, end: int) -> tuple[int, int]:
    while start < end and body[start:start + 1].isspace():
        start += 1
    while end > start and body[end - 1:end].isspace():
        end -= 1
    return start, end


def with_raw(decoded: Sequence[Decoded], items: Sequence[Any], body: bytes | str | None, key: str | None,
             label: Callable[[int], str] | None = None) -> list[Decoded]:
    """Give each entry decoded from ``items`` (the elements of one array of ``body``) the exact
    bytes of its element; without a body (or when the shape differs) a compact re-serialisation."""
    if all(d.status == IGNORED for d in decoded) and len(decoded) == len(items):
        return list(decoded)  # the bulk of an audit stream: no bytes to keep, so no need to find them
    spans = element_spans(body, key) if body is not None else None
    if spans is None or len(spans) != len(items) or len(decoded) != len(items):
        return [d if d.raw is not None or d.status == IGNORED else dataclasses.replace(d, raw=dumps(item))
                for d, item in zip(decoded, items, strict=False)] + list(decoded[len(items):])
    assert body is not None
    # ignored entries are never parked nor claimed: they keep no bytes
    return [d if d.status == IGNORED else dataclasses.replace(d, raw=body[s:e])
            for d, (s, e) in zip(decoded, spans, strict=True)]
