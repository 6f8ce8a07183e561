"""Trust-path diagrams for the report: Mermaid (Markdown) and inline SVG (HTML).

Each identity's paths are ``issuer → subject → identity → strongest privilege``; several
credentials of one identity converge on the identity box. Labels are tenant text, so both
renderers encode them: Mermaid labels use entity codes (``#60;``) for every character that is
not a letter, digit or space, and SVG text goes through ``markupsafe.escape``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# SVG layout (px): four columns of boxes; rows of paths.
_COLS = ((0, 150), (166, 230), (412, 196), (624, 206))
_ROW = 44
_BOX_H = 32
_CHAR_W = 6.6  # average advance of the 12px sans-serif used


@dataclass(frozen=True, slots=True)
class TrustPathView:
    issuer: str
    subject: str


def _mermaid_label(text: str) -> str:
    out = []
    for ch in text:
        out.append(ch if ch.isalnum() or ch == " " else f"#{ord(ch)};")
    return '"' + "".join(out) + '"'


def mermaid(identity: str, privilege: str, paths: Sequence[TrustPathView]) -> str:
    """A ``flowchart LR`` (without the code fence)."""
    lines = ["flowchart LR", f"  id[{_mermaid_label(identity)}]", f"  priv[{_mermaid_label(privilege)}]",
             "  id --> priv"]
    for i, p in enumerate(paths):
        lines.append(f"  i{i}[{_mermaid_label(p.issuer)}] --> s{i}[{_mermaid_label(p.subject)}] --> id")
    return "\n".join(lines)


def _fit(text: str, width: float) -> str:
    room = max(int((width - 12) / _CHAR_W), 4)
    return text if len(text) <= room else text[: room - 1] + "\u2026"


def _box(x: float, y: float, w: float, text: str, css: str) -> str:
    return (f'<g class="{css}"><title>{escape(text)}</title>'
            f'<rect x="{x}" y="{y}" width="{w}" height="{_BOX_H}" rx="6"/>'
            f'<text x="{x + 8}" y="{y + _BOX_H / 2 + 4}">{escape(_fit(text, w))}</text></g>')


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<path d="M{x1} {y1} L{x2 - 6} {y2}" marker-end="url(#wg-arrow)"/>'


def svg(identity: str, privilege: str, paths: Sequence[TrustPathView], *, privileged: bool = False) -> Markup:
    """Inline SVG (no external references); full labels in ``<title>`` tooltips."""
    rows = max(len(paths), 1)
    height = rows * _ROW + 4
    mid = (height - _BOX_H) / 2
    (ix, iw), (sx, sw), (dx, dw), (px, pw) = _COLS
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trust-path" viewBox="0 0 {px + pw + 2} {height}" '
        f'width="{px + pw + 2}" height="{height}" role="img" aria-label="trust path">',
        '<defs><marker id="wg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z"/></marker></defs>',
    ]
    for i, p in enumerate(paths):
        y = 2 + i * _ROW
        parts.append(_box(ix, y, iw, p.issuer, "issuer"))
        parts.append(_arrow(ix + iw, y + _BOX_H / 2, sx, y + _BOX_H / 2))
        parts.append(_box(sx, y, sw, p.subject, "subject"))
        parts.append(_arrow(sx + sw, y + _BOX_H / 2, dx, mid + _BOX_H / 2))
    parts.append(_box(dx, mid, dw, identity, "identity"))
    parts.append(_arrow(dx + dw, mid + _BOX_H / 2, px, mid + _BOX_H / 2))
    parts.append(_box(px, mid, pw, privilege, "privilege strong" if privileged else "privilege"))
    parts.append("</svg>")
    return Markup("".join(parts))
