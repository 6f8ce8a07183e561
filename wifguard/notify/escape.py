"""Render text that comes from the tenant inert in each chat format.

Identity names, credential names, issuers, subjects, descriptions and owner names are chosen by
whoever can edit an app registration or a managed identity. They end up in chat messages read
by the people who can act on them, so a name must never be able to format, link, mention or
restructure a message. Each function here takes untrusted text and returns text that is safe to
put into one kind of field; none of them is safe for another kind.

All of them first *clean* the text: control characters become spaces (no newlines, so no new
paragraphs, list items, headings or block quotes), invisible format characters (bidi overrides,
zero-width characters, line/paragraph separators) become U+FFFD so that a reader sees that
something was there, and over-long text is cut with an ellipsis.
"""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "\u2026"
REPLACEMENT = "\ufffd"

# Characters that carry meaning in the Markdown subset rendered by Adaptive Card TextBlocks and
# Fact values (bold/italic, links, images, headings, block quotes, strike, code, tables), in the
# Teams <at> mention syntax and HTML, in HTML entities, and in the Adaptive Card
# {{DATE()}}/{{TIME()}} text functions.
_TEAMS_SPECIAL = frozenset("\\`*_[]()#<>~&|{}!")
# A line that starts like a list item ("- x", "+ x", "12. x", "3) x") turns into a list.
_LEADING_LIST = re.compile(r"^(\s*)(\d*)([-+.)])")

def clean(text: object, limit: int = 500) -> str:
    """Normalise untrusted text: one line, no invisible characters, at most ``limit`` chars."""
    s = "" if text is None else str(text)
    out: list[str] = []
    for ch in s:
        cat = unicodedata.category(ch)
        if cat == "Cc":
            out.append(" ")
        elif cat in ("Cf", "Zl", "Zp", "Co", "Cs", "Cn"):
            out.append(REPLACEMENT)
        else:
            out.append(ch)
    s = "".join(out).strip()
    if limit > 0 and len(s) > limit:
        s = s[: max(limit - 1, 0)].rstrip() + ELLIPSIS
    return s


# Adaptive Card text functions ({{DATE(...)}}, {{TIME(...)}}) are evaluated in TextRun text too.
_TEXT_FUNCTION = re.compile(r"\{\{(?=[A-Za-z]+\()")


def teams_run(text: object, limit: int = 500) -> str:
    """Text for an Adaptive Card ``TextRun`` (inside a ``RichTextBlock``).

    A TextRun is never Markdown-processed, so the text is shown exactly as cleaned: no
    backslashes for a phone to show. Only the ``{{FUNC(`` text-function opener is broken up
    (with a space), because renderers evaluate it even in TextRuns.
    """
    return _TEXT_FUNCTION.sub("{ {", clean(text, limit))


def plain(text: object, limit: int = 500) -> str:
    """Plain text for a field no client formats (``fallbackText``, notification previews)."""
    return clean(text, limit)


def teams_text(text: object, limit: int = 500) -> str:
    """Text for an Adaptive Card ``TextBlock.text`` or ``Fact.value`` (Markdown subset).

    Every Markdown/HTML/mention metacharacter is backslash-escaped (CommonMark escapes, which
    the Teams and Adaptive Card renderers honour); a renderer that did not honour them would
    show a backslash, which is still inert. ``://`` is written ``\\://`` so that a URL in a
    subject or issuer is not auto-linked.
    """
    s = clean(text, limit)
    escaped = "".join("\\" + ch if ch in _TEAMS_SPECIAL else ch for ch in s)
    escaped = _LEADING_LIST.sub(lambda m: f"{m.group(1)}{m.group(2)}\\{m.group(3)}", escaped, count=1)
    return escaped.replace("://", "\\://")


_MENTION_NAME_BAD = re.compile(r"[^\w .'@-]|_", re.UNICODE)


def mention_name(text: object, limit: int = 80) -> str:
    """A display name that may stand between ``<at>`` and ``</at>``.

    Stricter than :func:`teams_text`: only letters, digits, spaces and ``.'@-`` survive, so the
    name can neither close the mention tag nor carry formatting. Empty results become ``owner``.
    """
    s = _MENTION_NAME_BAD.sub(" ", clean(text, limit))
    s = re.sub(r"\s+", " ", s).strip()
    return s or "owner"


_SLACK_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def slack_text(text: object, limit: int = 500) -> str:
    """Text for a Slack ``plain_text`` object: only ``&``, ``<`` and ``>`` are escaped.

    Slack treats these three as control characters in every text object (``<!channel>``,
    ``<@U123>``, ``<https://x|label>``); escaped, they show as themselves. ``limit`` bounds the
    *escaped* length, and a cut never splits an entity (``&am…``): whole characters are dropped.
    """
    s = clean(text, 0)
    out: list[str] = []
    size = 0
    for i, ch in enumerate(s):
        piece = _SLACK_ENTITIES.get(ch, ch)
        rest_fits = size + len(piece) <= limit and (i == len(s) - 1 or size + len(piece) <= limit - 1)
        if limit > 0 and not rest_fits:
            return "".join(out).rstrip() + ELLIPSIS
        out.append(piece)
        size += len(piece)
    return "".join(out)
