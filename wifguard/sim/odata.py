"""A small OData ``$filter`` / ``$expand`` / ``$select`` parser, enough for Graph's directory queries.

Supported: ``eq``, ``ne``, ``in (...)``, ``startswith(p,'x')``, ``endswith(p,'x')``, ``and``,
``or``, ``not``, parentheses, and lambda ``any`` over a collection
(``federatedIdentityCredentials/any(f:startswith(f/subject,'repo:org/'))``). String comparisons
are case-insensitive, as in Entra directory queries. Anything else is a 400
``Request_UnsupportedQuery``, like Graph.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import SimError

Resolver = Callable[[Any, str], Any]
Predicate = Callable[[Any, Resolver], bool]

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<punct>[(),:])|(?P<word>[A-Za-z_@$][\w/.@$-]*))"
)
ADVANCED_OPS = {"ne", "not", "endswith", "any"}


def unsupported(msg: str) -> SimError:
    return SimError(400, "Request_UnsupportedQuery", msg)


@dataclass
class ParsedFilter:
    predicate: Predicate
    advanced: bool  # needs ConsistencyLevel: eventual and $count=true
    index_hint: tuple[str, list[str]] | None  # (field, values) when the filter is `f eq 'v'` / `f in (...)`


def _tokenize(text: str) -> list[tuple[str, Any]]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise unsupported(f"Invalid filter clause: syntax error at position {pos} in '{text}'.")
        pos = m.end()
        if m.group("str") is not None:
            out.append(("str", m.group("str")[1:-1].replace("''", "'")))
        elif m.group("num") is not None:
            out.append(("lit", float(m.group("num")) if "." in m.group("num") else int(m.group("num"))))
        elif m.group("punct") is not None:
            out.append(("p", m.group("punct")))
        else:
            w = m.group("word")
            lw = w.lower()
            if lw in ("true", "false"):
                out.append(("lit", lw == "true"))
            elif lw == "null":
                out.append(("lit", None))
            else:
                out.append(("word", w))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _fold(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.advanced = False

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise unsupported(f"Invalid filter clause: unexpected end of '{self.text}'.")
        self.i += 1
        return tok

    def expect(self, kind: str, value: Any = None) -> Any:
        tok = self.take()
        if tok[0] != kind or (value is not None and str(tok[1]).lower() != value):
            raise unsupported(f"Invalid filter clause: expected {value or kind} in '{self.text}'.")
        return tok[1]

    def is_word(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() == value

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek() is not None:
            raise unsupported(f"Invalid filter clause: unexpected '{self.peek()[1]}' in '{self.text}'.")
        return pred

    def or_expr(self) -> Predicate:
        left = self.and_expr()
        while self.is_word("or"):
            self.take()
            right = self.and_expr()
            left = (lambda a, b: lambda o, r: a(o, r) or b(o, r))(left, right)
        return left

    def and_expr(self) -> Predicate:
        left = self.unary()
        while self.is_word("and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda o, r: a(o, r) and b(o, r))(left, right)
        return left

    def unary(self) -> Predicate:
        if self.is_word("not"):
            self.take()
            self.advanced = True
            inner = self.unary()
            return lambda o, r: not inner(o, r)
        return self.primary()

    def literal(self) -> Any:
        kind, value = self.take()
        if kind not in ("str", "lit"):
            raise unsupported(f"Invalid filter clause: expected a literal in '{self.text}'.")
        return value

    def primary(self) -> Predicate:
        tok = self.take()
        if tok == ("p", "("):
            inner = self.or_expr()
            self.expect("p", ")")
            return inner
        if tok[0] != "word":
            raise unsupported(f"Invalid filter clause: unexpected '{tok[1]}' in '{self.text}'.")
        word = tok[1]
        lw = word.lower()
        if lw in ("startswith", "endswith"):
            if lw == "endswith":
                self.advanced = True
            self.expect("p", "(")
            path = self.expect("word")
            self.expect("p", ",")
            prefix = _fold(self.literal())
            self.expect("p", ")")
            test = str.startswith if lw == "startswith" else str.endswith
            return lambda o, r: isinstance(v := _fold(r(o, path)), str) and test(v, prefix)
        if lw.endswith("/any"):
            self.advanced = True
            collection = word[: -len("/any")]
            self.expect("p", "(")
            var = self.expect("word")
            self.expect("p", ":")
            body = self.or_expr()
            self.expect("p", ")")

            def any_pred(o: Any, r: Resolver) -> bool:
                items = r(o, collection) or []

                def scoped(obj: Any, name: str) -> Any:
                    if name.lower().startswith(var.lower() + "/"):
                        return (obj or {}).get(name[len(var) + 1:]) if isinstance(obj, dict) else None
                    return r(o, name)

                return any(body(item, scoped) for item in items)

            return any_pred
        # comparison
        op_tok = self.take()
        op = str(op_tok[1]).lower()
        if op_tok[0] != "word" or op not in ("eq", "ne", "in"):
            raise unsupported(f"Unsupported or invalid query filter clause specified for property '{word}'.")
        if op == "in":
            self.expect("p", "(")
            values = [self.literal()]
            while self.peek() == ("p", ","):
                self.take()
                values.append(self.literal())
            self.expect("p", ")")
            folded = {_fold(v) for v in values}
            return lambda o, r: _fold(r(o, word)) in folded
        value = self.literal()
        if op == "ne":
            self.advanced = True
            return lambda o, r: _fold(r(o, word)) != _fold(value)
        return lambda o, r: _fold(r(o, word)) == _fold(value)


def parse_filter(text: str) -> ParsedFilter:
    p = _Parser(text)
    pred = p.parse()
    return ParsedFilter(pred, p.advanced, _index_hint(text))


_EQ_RE = re.compile(r"\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*")
_IN_RE = re.compile(r"\s*(\w+)\s+in\s*\(((?:\s*'(?:[^']|'')*'\s*,?)+)\)\s*", re.IGNORECASE)
_QUOTED_RE = re.compile(r"'((?:[^']|'')*)'")


def _index_hint(text: str) -> tuple[str, list[str]] | None:
    """A single ``field eq 'v'`` or ``field in ('a','b')`` clause can be answered from an index."""
    m = _EQ_RE.fullmatch(text)
    if m:
        return m.group(1), [m.group(2).replace("''", "'")]
    m = _IN_RE.fullmatch(text)
    if m:
        return m.group(1), [v.replace("''", "'") for v in _QUOTED_RE.findall(m.group(2))]
    return None


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses and quotes (``$expand=a($select=x,y),b``)."""
    parts, depth, cur, quoted = [], 0, [], False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == sep and depth == 0 and not quoted:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def parse_expand(text: str | None) -> dict[str, list[str] | None]:
    """``$expand`` to {navigation property: nested $select or None}."""
    out: dict[str, list[str] | None] = {}
    if not text:
        return out
    for item in split_top_level(text):
        m = re.fullmatch(r"([\w.]+)(?:\((.*)\))?", item.strip())
        if not m:
            raise SimError(400, "BadRequest", f"Invalid $expand: '{item}'.")
        nested: list[str] | None = None
        for opt in split_top_level(m.group(2) or "", ";"):
            if opt.lower().startswith("$select="):
                nested = parse_select(opt.split("=", 1)[1])
        out[m.group(1)] = nested
    return out


def parse_select(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [s.strip() for s in text.split(",") if s.strip()]
