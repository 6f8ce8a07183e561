"""What a flexible credential's ``matches`` pattern can reach.

WIF202/WIF203/WIF207 look at the *kind* of subject a credential trusts (a pull request, a
branch or tag, a Terraform plan). A flexible credential has no subject, only patterns, so the
question becomes: is there a subject of that kind that the pattern matches? Both sides are
regular languages (the pattern: ``*`` any sequence, ``?`` any one character; the kind: a subject
template whose segments are "one or more characters other than ``:``/``/``"), so the answer is
exact: search the product of the two automata for a path to both accepting states.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# Template tokens: a literal character, one character not in `excluded`, or zero or more of them.
_LIT, _ONE, _MANY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: int
    char: str = ""  # for _LIT
    excluded: str = ""  # for _ONE / _MANY


def _lits(text: str) -> list[_Tok]:
    return [_Tok(_LIT, c) for c in text]


def _seg(excluded: str = ":/") -> list[_Tok]:
    """One or more characters other than ``excluded``."""
    return [_Tok(_ONE, excluded=excluded), _Tok(_MANY, excluded=excluded)]


def _template(*parts: str | list[_Tok]) -> tuple[_Tok, ...]:
    out: list[_Tok] = []
    for p in parts:
        out += _lits(p) if isinstance(p, str) else p
    return tuple(out)


_REPO = ("repo:", _seg(), "/", _seg())
#: The subject kinds the privilege-joined subject rules care about.
TEMPLATES: dict[str, tuple[tuple[_Tok, ...], ...]] = {
    "pull_request": (_template(*_REPO, ":pull_request"),),
    "branch": (_template(*_REPO, ":ref:refs/heads/", _seg("")),),
    "tag": (_template(*_REPO, ":ref:refs/tags/", _seg("")),),
    "plan": (
        _template("organization:", _seg(":"), ":project:", _seg(":"), ":workspace:", _seg(":"), ":run_phase:plan"),
        # No run phase: every phase, plan included.
        _template("organization:", _seg(":"), ":project:", _seg(":"), ":workspace:", _seg(":")),
    ),
}


def _pattern_tokens(pattern: str) -> tuple[str, ...]:
    return tuple(pattern)


def _compatible(p: str, t: _Tok) -> bool:
    """Is there one character that the pattern token ``p`` and the template token ``t`` both accept?"""
    if p in ("*", "?"):
        return True  # the alphabet is far larger than any excluded set
    if t.kind == _LIT:
        return p == t.char
    return p not in t.excluded


def _intersects(pattern: str, template: tuple[_Tok, ...]) -> bool:
    P = _pattern_tokens(pattern)
    n, m = len(P), len(template)
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == n and j == m:
            return True
        # Empty moves: a `*` (pattern) or a zero-or-more token (template) may match nothing.
        if i < n and P[i] == "*":
            stack.append((i + 1, j))
        if j < m and template[j].kind == _MANY:
            stack.append((i, j + 1))
        if i < n and j < m and _compatible(P[i], template[j]):
            ni = i if P[i] == "*" else i + 1
            nj = j if template[j].kind == _MANY else j + 1
            stack.append((ni, nj))
            # A star on either side may also stop after this character.
            if P[i] == "*" and template[j].kind == _MANY:
                stack += [(i + 1, j), (i, j + 1), (i + 1, j + 1)]
            elif P[i] == "*":
                stack.append((i + 1, nj))
            elif template[j].kind == _MANY:
                stack.append((ni, j + 1))
    return False


@lru_cache(maxsize=16384)
def can_match(pattern: str, kind: str) -> bool:
    """True when some subject of ``kind`` (see :data:`TEMPLATES`) matches the glob ``pattern``."""
    return any(_intersects(pattern, t) for t in TEMPLATES[kind])
