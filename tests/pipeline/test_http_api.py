"""The HTTP functions: Entra ID tokens with app roles (validated against a local JWKS endpoint
serving a test key), validated parameters with short 400s that never echo input, an anonymous
health check that says only healthy/unhealthy, and the caller in the action log."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import azure.functions as func
import jwt
import pytest
from api_tokens import AUDIENCE, ROGUE, bearer, serve_jwks, token
from pipeline_helpers import PAYMENTS, TENANT, audit_record, fic

import function_app

BACKDOOR = fic("backdoor", "https://evil0x.blob.core.windows.net/oidc", "attacker",
               "f1000000-0000-4000-8000-000000000002", description="sync")


@pytest.fixture
async def jwks_url() -> AsyncIterator[str]:
    async with serve_jwks() as url:
        yield url


@pytest.fixture
async def api_env(env: dict[str, str], jwks_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, str]]:
    full = {**env, "WIFGUARD_API_AUDIENCE": AUDIENCE, "WIFGUARD_API_JWKS_URL": jwks_url,
            "WIFGUARD_QUARANTINE_MODE": "enforce"}
    for k, v in full.items():
        monkeypatch.setenv(k, v)
    function_app._responder = None  # a fresh worker
    function_app._api = None
    yield full
    if function_app._responder is not None:
        await function_app._responder.close()
        await function_app._responder.store.close()
    function_app._responder = None
    function_app._api = None


async def call(name: str, req: func.HttpRequest) -> tuple[int, dict[str, Any]]:
    # The decorated functions themselves (the host indexes the app once; get_functions() cannot run twice).
    resp = await getattr(function_app, name)(req)
    return resp.status_code, json.loads(resp.get_body())


def get_findings(params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest("GET", "/api/findings", body=b"", params=params or {}, headers=headers or {})


def post_restore(backup_id: str, body: bytes, headers: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest("POST", f"/api/quarantine/{backup_id}/restore", body=body,
                            route_params={"id": backup_id}, headers=headers or {})


async def test_health_is_anonymous_and_says_only_healthy(api_env: dict[str, str]) -> None:
    status, body = await call("health", func.HttpRequest("GET", "/api/health", body=b""))
    assert status == 200 and body["status"] == "healthy"
    assert set(body) == {"status", "checked_at", "started_at"}


async def test_health_unhealthy_reveals_nothing(api_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    dead = re.sub(r"127\.0\.0\.1:[0-9]+", "127.0.0.1:9", api_env["WIFGUARD_STORAGE"])  # nothing listens
    monkeypatch.setenv("WIFGUARD_STORAGE", dead)
    status, body = await call("health", func.HttpRequest("GET", "/api/health", body=b""))
    assert status == 503 and body["status"] == "unhealthy"
    assert set(body) == {"status", "checked_at", "started_at"}


@pytest.mark.parametrize("make", [
    lambda: {},  # no token
    lambda: {"Authorization": "Basic abc"},
    lambda: bearer("not-a-jwt"),
    lambda: bearer(token(["Findings.Read"], aud="api://someone-else")),
    lambda: bearer(token(["Findings.Read"], iss="https://login.microsoftonline.com/other/v2.0")),
    lambda: bearer(token(["Findings.Read"], tid="00000000-0000-0000-0000-000000000000")),
    lambda: bearer(token(["Findings.Read"], exp=int(time.time()) - 3600)),
    lambda: bearer(token(["Findings.Read"], key=ROGUE)),
    lambda: bearer(token(["Findings.Read"], tid=None)),
    lambda: bearer(jwt.encode({"aud": AUDIENCE, "roles": ["Findings.Read"]}, None, algorithm="none")),
])
async def test_findings_refuse_invalid_tokens(api_env: dict[str, str], make: Any) -> None:
    status, body = await call("findings", get_findings(headers=make()))
    assert status == 401 and body == {"error": body["error"]} and "token" in body["error"]


async def test_findings_need_the_app_role_and_log_the_caller(api_env: dict[str, str]) -> None:
    status, body = await call("findings", get_findings(headers=bearer(token(["Quarantine.Restore"]))))
    assert status == 403 and "Findings.Read" in body["error"]
    from wifguard.pipeline.runtime import process_audit_bodies

    r = await function_app.responder()
    await process_audit_bodies(r, [json.dumps({"records": [audit_record("h-1", PAYMENTS, "p", [], [BACKDOOR])]})])
    status, body = await call("findings", get_findings({"severity": "critical", "limit": "50"},
                                                       bearer(token(["Findings.Read"]))))
    assert status == 200 and body["count"] >= 1
    assert all(f["severity"] == "critical" for f in body["findings"])
    # a v1 token (sts.windows.net issuer) of an application works too
    v1 = token(["Findings.Read"], iss=f"https://sts.windows.net/{TENANT}/", preferred_username=None,
               azp="b9000000-0000-4000-8000-000000000009", oid="d9000000-0000-4000-8000-000000000009")
    status, _ = await call("findings", get_findings(headers=bearer(v1)))
    assert status == 200
    logged = await r.store.list_actions(kind="api.findings")
    assert [a.actor for a in logged] == [
        "entra:ada@contoso.com (c1000000-0000-4000-8000-000000000001)",
        "entra:b9000000-0000-4000-8000-000000000009 (d9000000-0000-4000-8000-000000000009)"]
    assert logged[0].detail["caller"]["roles"] == ["Findings.Read"]


HUGE = "x" * 100_000


@pytest.mark.parametrize("params", [
    {"status": "bogus"}, {"severity": "urgent"}, {"severity": HUGE}, {"identity": HUGE}, {"rule": "'; drop"},
    {"limit": "abc"}, {"limit": "0"}, {"limit": "5001"}, {"limit": "1e3"}, {"bogus": "1"}, {HUGE: "1"},
    {"identity": "a\x00b"}, {"rule": HUGE},
])
async def test_findings_bad_parameters_are_short_400s_that_never_echo(api_env: dict[str, str],
                                                                     params: dict[str, str]) -> None:
    status, body = await call("findings", get_findings(params, bearer(token(["Findings.Read"]))))
    text = json.dumps(body)
    assert status == 400 and len(text) < 200
    known = {"severity", "status", "rule", "identity", "limit"}
    for v in [*params.values(), *(k for k in params if k not in known)]:
        if len(v) > 3:
            assert v not in text


async def test_restore_needs_its_role_validates_and_records_the_caller(api_env: dict[str, str], sim: Any) -> None:
    from wifguard.pipeline.runtime import process_audit_bodies

    r = await function_app.responder()
    res = await process_audit_bodies(r, [json.dumps({"records": [audit_record("h-2", PAYMENTS, "p", [],
                                                                              [BACKDOOR])]})])
    backup = next(q["backup_id"] for q in res.quarantined if q["status"] == "quarantined")
    good = json.dumps({"reason": "owner confirmed: nightly sync", "expires_days": 7}).encode()
    assert (await call("restore", post_restore(backup, good)))[0] == 401
    assert (await call("restore", post_restore(backup, good, bearer(token(["Findings.Read"])))))[0] == 403
    restorer = bearer(token(["Quarantine.Restore"]))
    for bad_id, body in [("..", good), ("a/b", good), (HUGE, good), (backup, b""), (backup, b"[]"),
                         (backup, b"{\"reason\": 5}"), (backup, b"{\"reason\": \"no\"}"),
                         (backup, json.dumps({"reason": HUGE}).encode()),
                         (backup, json.dumps({"reason": "fine reason", "expires_days": 0}).encode()),
                         (backup, json.dumps({"reason": "fine reason", "expires_days": True}).encode()),
                         (backup, json.dumps({"reason": "fine reason", "admin": True}).encode()),
                         (backup, b"\xff\xfe"), (backup, b"{" * 10_000)]:
        status, out = await call("restore", post_restore(bad_id, body, restorer))
        assert status == 400, (bad_id[:20], body[:40], out)
        assert HUGE[:1000] not in json.dumps(out) and len(json.dumps(out)) < 200
    status, out = await call("restore", post_restore("qb-nope", good, restorer))
    assert status == 404
    status, out = await call("restore", post_restore(backup, good, restorer))
    assert status == 200 and out["status"] == "restored" and out["exemption"]["reason"] == "owner confirmed: nightly sync"
    assert "backdoor" in {f["name"] for f in sim.get_app_fics(PAYMENTS)}
    status, out = await call("restore", post_restore(backup, good, restorer))
    assert status == 409 and out["error"] == "conflict"
    logged = await r.store.list_actions(kind="restore")
    assert logged[0].actor == "entra:ada@contoso.com (c1000000-0000-4000-8000-000000000001)"
    assert logged[0].detail["caller"]["object_id"] == "c1000000-0000-4000-8000-000000000001"


async def test_without_api_auth_configured_protected_endpoints_fail_closed(
        env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("WIFGUARD_API_AUDIENCE", raising=False)
    function_app._responder = None
    function_app._api = None
    try:
        status, body = await call("findings", get_findings(headers=bearer(token(["Findings.Read"]))))
        assert status == 503 and "not configured" in body["error"]
        status, _ = await call("restore", post_restore("qb-x", b"{}", bearer(token(["Quarantine.Restore"]))))
        assert status == 503
    finally:
        if function_app._responder is not None:
            await function_app._responder.close()
            await function_app._responder.store.close()
        function_app._responder = None
        function_app._api = None

