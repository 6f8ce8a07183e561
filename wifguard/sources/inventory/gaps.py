"""Fail closed on partial reads: a part of an identity's context that could not be read is a
*gap*, never "no data".

The readers keep going when one subscription, one owner list or one role definition fails (a
sweep must not stop for one subscription), but they record what they could not read as a
:class:`ReadGap` in the ``errors`` list they already fill. A ``ReadGap`` is a ``str`` (the
message the list always held) that also says which part of the context it leaves unknown. The
event path turns gaps into :class:`ContextIncomplete` before anything is recorded: findings are
neither created nor resolved from a partial view, and the record is retried (parked as
transient). A sweep with gaps records what it found but resolves nothing in that run.

A typed error from a reader (e.g. a 403 that must block findings) plugs in by raising
``ContextIncomplete`` itself or by recording a ``ReadGap``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from wifguard.errors import SourceReadError


class ContextPart(StrEnum):
    OWNERS = "owners"
    ROLE_ASSIGNMENTS = "role_assignments"
    ROLE_DEFINITIONS = "role_definitions"
    CREDENTIALS = "credentials"
    IDENTITIES = "identities"


class ReadGap(str):
    """An error message that also names the part of the context it leaves unknown."""

    part: ContextPart

    def __new__(cls, message: str, part: ContextPart) -> ReadGap:
        obj = super().__new__(cls, message)
        obj.part = part
        return obj


class ContextIncomplete(SourceReadError):
    """Part of an identity's context could not be read; evaluating it would guess.

    Always transient: the same record is retried (parked, then re-driven) until the parts read.
    """

    transient = True

    def __init__(self, identity: str, parts: Iterable[ContextPart], messages: Sequence[str] = ()) -> None:
        self.identity = identity
        self.parts = frozenset(parts)
        self.messages = tuple(messages)
        detail = "; ".join(self.messages[:3])
        super().__init__(f"context of {identity} incomplete ({', '.join(sorted(self.parts))} unreadable)"
                         + (f": {detail}" if detail else ""), where=identity)


def gap(errors: list[str], part: ContextPart, message: str) -> None:
    errors.append(ReadGap(message, part))


def gaps(errors: Iterable[str]) -> list[ReadGap]:
    return [e for e in errors if isinstance(e, ReadGap)]


def raise_if_incomplete(identity: str, errors: Iterable[str]) -> None:
    found = gaps(errors)
    if found:
        raise ContextIncomplete(identity, (g.part for g in found), [str(g) for g in found])
