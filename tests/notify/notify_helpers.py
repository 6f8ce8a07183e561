"""Shared helpers for the notify tests: the local receiver and sample notices."""

from __future__ import annotations

import json
import ssl
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from wifguard.domain.model import Finding, Identity, IdentityKind, Owner, Severity, fingerprint
from wifguard.notify import Notice, NoticeKind

DATA = Path(__file__).parent / "data"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_OBJECT_ID = "0b7f5a1c-1111-4222-8333-444455556666"
APP_ID = "9d2f1c3e-aaaa-4bbb-8ccc-ddddeeeeffff"
UAMI_ID = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-ci"
    "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-deploy"
)


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real aiohttp server on 127.0.0.1 that records every request.

    ``plan(path, (status, headers, body), ...)`` queues the responses for a path; once the
    queue is empty the path answers 200 ``ok``.
    """

    base_url: str = ""
    requests: list[Captured] = field(default_factory=list)
    _plans: dict[str, deque[tuple[int, dict[str, str], str]]] = field(
        default_factory=lambda: defaultdict(deque)
    )

    def url(self, path: str) -> str:
        return self.base_url + path

    def plan(self, path: str, *responses: tuple[int, dict[str, str], str]) -> None:
        self._plans[path].extend(responses)

    def at(self, path: str) -> list[Captured]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            Captured(request.method, request.path, dict(request.headers), body, time.monotonic())
        )
        queue = self._plans.get(request.path)
        if queue:
            status, headers, text = queue.popleft()
            return web.Response(status=status, headers=headers, text=text)
        return web.Response(status=200, text="ok")


async def serve(ssl_context: ssl.SSLContext | None) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context else "http"
    host = "localhost" if ssl_context else "127.0.0.1"
    receiver.base_url = f"{scheme}://{host}:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()


# -- sample data ---------------------------------------------------------------------------

OWNERS = (
    Owner(
        id="aaaaaaaa-0000-4000-8000-000000000001",
        display_name="Alice Admin",
        user_principal_name="alice@contoso.com",
        mail="alice.admin@contoso.com",
    ),
    Owner(
        id="aaaaaaaa-0000-4000-8000-000000000002",
        display_name="Bob Builder",
        user_principal_name="bob@contoso.com",
    ),
)


def make_finding(
    *,
    rule_id: str = "WIF-001",
    severity: Severity = Severity.HIGH,
    identity: dict[str, str] | None = None,
    credential: dict[str, str | None] | None = None,
    role_assignment: dict[str, str] | None = None,
    message: str | None = None,
    title: str = "Subject trusts every branch of a repository",
) -> Finding:
    ident = identity or {"id": APP_OBJECT_ID, "name": "deploy-app", "kind": "application"}
    cred = (
        credential
        if credential is not None
        else {
            "name": "github-main",
            "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:contoso/infra:ref:refs/heads/*",
        }
    )
    msg = message or f"Credential {cred.get('name')} trusts subject {cred.get('subject')}."
    return Finding(
        rule_id=rule_id,
        severity=severity,
        title=title,
        message=msg,
        identity=ident,
        remediation="Pin the subject to one branch or environment.",
        fingerprint=fingerprint(rule_id, ident["id"], cred, (role_assignment or {}).get("id")),
        credential=cred,
        role_assignment=role_assignment,
    )


def make_notice(finding: Finding | None = None, **kw: Any) -> Notice:
    f = finding or make_finding()
    kw.setdefault("owners", OWNERS)
    kw.setdefault("tenant_id", TENANT)
    kw.setdefault("time", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    return Notice(finding=f, **kw)


def app_identity(name: str = "deploy-app") -> Identity:
    return Identity(id=APP_OBJECT_ID, name=name, kind=IdentityKind.APPLICATION, app_id=APP_ID)


__all__ = [
    "APP_ID",
    "APP_OBJECT_ID",
    "DATA",
    "OWNERS",
    "TENANT",
    "UAMI_ID",
    "Captured",
    "NoticeKind",
    "Receiver",
    "app_identity",
    "make_finding",
    "make_notice",
    "serve",
]


# -- card inspection -----------------------------------------------------------------------

MSTEAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "width": {"enum": ["Full"]},
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["type", "text", "mentioned"],
                "properties": {
                    "type": {"enum": ["mention"]},
                    "text": {"type": "string", "pattern": "^<at>[^<>]+</at>$"},
                    "mentioned": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["id", "name"],
                        "properties": {"id": {"type": "string", "minLength": 1}, "name": {"type": "string"}},
                    },
                },
            },
        },
    },
}


def walk(obj: Any) -> Iterator[dict[str, Any]]:
    """Every dict inside a JSON value, depth first."""
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk(v)


def strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings(v)


def card_urls(card: dict[str, Any]) -> list[str]:
    """Every URL-bearing property of an Adaptive Card (actions, select actions, images)."""
    out: list[str] = []
    for d in walk(card):
        for key in ("url", "iconUrl", "backgroundImage", "poster"):
            if isinstance(d.get(key), str):
                out.append(d[key])
    return out


def rendered_texts(card: dict[str, Any]) -> list[str]:
    """Every text a Teams client renders as Markdown: TextBlock texts and Fact titles/values."""
    out: list[str] = []
    for d in walk(card):
        if d.get("type") == "TextBlock":
            out.append(d["text"])
        if "title" in d and "value" in d and "type" not in d:
            out += [d["title"], d["value"]]
    return out


def run_lines(card: dict[str, Any]) -> list[str]:
    """Every RichTextBlock as the line a reader sees (its TextRuns joined; never Markdown)."""
    return ["".join(r["text"] for r in d["inlines"]) for d in walk(card) if d.get("type") == "RichTextBlock"]


def run_texts(card: dict[str, Any]) -> list[str]:
    return [r["text"] for d in walk(card) if d.get("type") == "RichTextBlock" for r in d["inlines"]]


def card_facts(card: dict[str, Any]) -> dict[str, str]:
    """Label/value lines ("Label: value" with a bold label run) by label."""
    out: dict[str, str] = {}
    for d in walk(card):
        if d.get("type") == "RichTextBlock" and len(d["inlines"]) == 2:
            label, value = d["inlines"]
            if label.get("weight") == "bolder" and label["text"].endswith(": "):
                out[label["text"][:-2]] = value["text"]
    return out


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def validate_card(card: dict[str, Any], validator: Any, schema: dict[str, Any]) -> None:
    """Validate against the official Adaptive Card 1.5 schema (msteams checked separately) and
    check that no element needs a newer version than the card declares."""
    import jsonschema

    core = {k: v for k, v in card.items() if k != "msteams"}
    validator.validate(core)
    jsonschema.validate(card.get("msteams", {}), MSTEAMS_SCHEMA)
    declared = _version(card["version"])
    defs = schema["definitions"]
    for d in walk(core):
        t = d.get("type")
        if isinstance(t, str) and t in defs:
            needed = _version(defs[t].get("version", "1.0"))
            assert needed <= declared, f"{t} needs Adaptive Cards {needed}, card declares {declared}"
