"""Who is calling the HTTP API: a Microsoft Entra ID access token, validated in code.

The Flex Consumption plan's documentation we could search did not establish that App Service
Authentication ("Easy Auth") is available there, so the token is validated here, which works on
every plan: signature from the tenant's published keys (JWKS, fetched and cached by PyJWT's
``PyJWKClient``), issuer = the tenant (v2.0 or v1 form), audience = the responder's app
registration (its client id or Application ID URI), a ``tid`` equal to the tenant, an expiry,
and the app role the endpoint needs (``Findings.Read``, ``Quarantine.Restore``; defined on the
responder's app registration in ``infra/modules/api-app.bicep``). Function keys are not
accepted instead.

Failures say little on purpose (401 "invalid token", 403 "missing role ..."): details go to
the logs at INFO without the token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wifguard.errors import AuthError as AuthError  # the old import path
from wifguard.errors import AuthUnavailable, ConfigError, Forbidden

log = logging.getLogger(__name__)

ROLE_FINDINGS_READ = "Findings.Read"
ROLE_QUARANTINE_RESTORE = "Quarantine.Restore"
MAX_TOKEN_CHARS = 16_384
ALGORITHMS = ("RS256",)
LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Caller:
    """The validated token's principal."""

    object_id: str
    name: str  # UPN / preferred_username for users, appid for applications
    tenant_id: str
    roles: tuple[str, ...]
    kind: str  # user | app

    @property
    def actor(self) -> str:
        """How the caller appears in the action log."""
        return f"entra:{self.name or self.object_id} ({self.object_id})"

    def to_dict(self) -> dict[str, Any]:
        return {"object_id": self.object_id, "name": self.name, "tenant_id": self.tenant_id,
                "roles": list(self.roles), "kind": self.kind}


class TokenValidator:
    """Validates bearer tokens for one tenant and one audience. Create once per worker."""

    def __init__(self, tenant_id: str, audiences: Sequence[str], *, jwks_url: str | None = None,
                 authority: str = "https://login.microsoftonline.com") -> None:
        import jwt

        if not tenant_id or not [a for a in audiences if a]:
            raise ConfigError("API authentication needs the tenant id and the API audience")
        self.tenant_id = tenant_id
        self.audiences = tuple(a for a in audiences if a)
        base = authority.rstrip("/")
        self.issuers = (f"{base}/{tenant_id}/v2.0", f"https://sts.windows.net/{tenant_id}/")
        self.jwks_url = jwks_url or f"{base}/{tenant_id}/discovery/v2.0/keys"
        # Keys are cached (and refetched on an unknown kid, with a cooldown against floods).
        self._jwks = jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=3600, timeout=10)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TokenValidator | None:
        from wifguard import settings as S

        tenant = env.get(S.TENANT_ID) or ""
        audience = env.get(S.API_AUDIENCE) or ""
        if not tenant or not audience:
            return None
        audiences = [a.strip() for a in audience.split(",") if a.strip()]
        return cls(tenant, audiences, jwks_url=env.get(S.API_JWKS_URL) or None)

    async def caller(self, authorization: str | None) -> Caller:
        """The caller of a request with this ``Authorization`` header, or ``AuthError(401)``."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("a bearer token is required")
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise AuthError("invalid token")
        import jwt

        try:
            key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            claims = jwt.decode(token, key.key, algorithms=list(ALGORITHMS), audience=list(self.audiences),
                                issuer=list(self.issuers), leeway=LEEWAY_SECONDS,
                                options={"require": ["exp", "iss", "aud", "tid"]})
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("api auth: the tenant's signing keys cannot be read: %s", type(exc).__name__)
            raise AuthUnavailable("token validation is unavailable") from None
        except (jwt.PyJWTError, ValueError) as exc:
            log.info("api auth: token rejected: %s", type(exc).__name__)
            raise AuthError("invalid token") from None
        if str(claims.get("tid") or "").lower() != self.tenant_id.lower():
            raise AuthError("invalid token")
        roles = claims.get("roles") or []
        if not isinstance(roles, list):
            roles = []
        oid = str(claims.get("oid") or claims.get("sub") or "")
        user_name = claims.get("preferred_username") or claims.get("upn")
        kind = "user" if user_name or claims.get("idtyp") == "user" else "app"
        name = str(user_name or claims.get("azp") or claims.get("appid") or "")
        return Caller(oid, name[:256], str(claims["tid"]), tuple(str(r)[:128] for r in roles[:50]), kind)

    async def require(self, authorization: str | None, role: str) -> Caller:
        caller = await self.caller(authorization)
        if role not in caller.roles:
            raise Forbidden(f"the app role {role} is required")
        return caller
