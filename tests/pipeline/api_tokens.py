"""Microsoft Entra ID-like access tokens for the HTTP API tests: an RSA test key, tokens signed
with it (or with a rogue key), and a local JWKS endpoint that publishes it."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pipeline_helpers import TENANT

AUDIENCE = "api://wifguard-test"
KID = "test-key-1"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING = _key()
ROGUE = _key()  # same kid, not published


def jwks_doc() -> dict[str, Any]:
    pub = SIGNING.public_key().public_numbers()
    return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID, "n": _b64(pub.n), "e": _b64(pub.e)}]}


@asynccontextmanager
async def serve_jwks() -> AsyncIterator[str]:
    """A local JWKS endpoint publishing the test signing key (as the tenant publishes its keys)."""
    doc = jwks_doc()

    async def keys(request: web.Request) -> web.Response:
        return web.json_response(doc)

    app = web.Application()
    app.router.add_get("/discovery/v2.0/keys", keys)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/discovery/v2.0/keys"  # type: ignore[union-attr]
    await runner.cleanup()


def token(roles: list[str] | None = None, *, key: Any = SIGNING, alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "aud": AUDIENCE, "tid": TENANT,
            "oid": "c1000000-0000-4000-8000-000000000001", "preferred_username": "ada@contoso.com",
            "iat": now, "nbf": now, "exp": now + 600, "roles": roles if roles is not None else []}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return jwt.encode(body, pem, algorithm=alg, headers={"kid": KID})


def bearer(t: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t}"}
