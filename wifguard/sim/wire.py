"""Transport-neutral request/response values, so ``$batch`` sub-requests reuse the HTTP handlers."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from multidict import CIMultiDict

from .errors import SimError


@dataclass
class Req:
    method: str
    path: str  # decoded path below the API root, e.g. "/applications/{id}" (Graph) or "/subscriptions/.."
    query: Mapping[str, str]
    headers: CIMultiDict[str]
    body: Any = None  # parsed JSON, or None
    base_url: str = ""  # scheme://host:port the client used, for absolute next links
    version: str = ""  # Graph: "v1.0" | "beta"


@dataclass
class Resp:
    status: int
    body: Any = None  # JSON-serialisable value, or None for no content
    headers: dict[str, str] = field(default_factory=dict)


def encode_skiptoken(offset: int, tag: str = "RFNwdAIAAQAAA") -> str:
    """Opaque page token: clients must echo the whole next link, never build one."""
    return tag + base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_skiptoken(token: str | None, code: str, tag: str = "RFNwdAIAAQAAA") -> int:
    if not token:
        return 0
    try:
        if not token.startswith(tag):
            raise ValueError(token)
        raw = token[len(tag):]
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        if not text.startswith("o:"):
            raise ValueError(text)
        return int(text[2:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SimError(400, code, "The specified page token value is invalid or has expired.") from None


def next_link(base: str, query: Mapping[str, str], token_param: str, token: str) -> str:
    params = {k: v for k, v in query.items() if k != token_param}
    params[token_param] = token
    return base + "?" + urlencode(params, quote_via=quote, safe="$,()'=:")
