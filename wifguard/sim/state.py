"""The simulated tenant in memory: seed loading, defaults, indexes, validation and mutations.

Objects are kept in the exact shapes the real APIs return (Graph camelCase objects, ARM
resources), so handlers can serialize them without translation. Keys of the indexes are
lower-cased because Graph object ids and ARM resource ids compare case-insensitively.

Only the server's event loop thread mutates a ``Tenant``; other threads go through the loop
(``SimTenant`` does that), so there is no lock on the hot read path.
"""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .builtin_roles import BUILTIN_ROLE_DEFINITIONS, arm_role_definition
from .errors import SimError
from .privilege import PrivilegeState

_NS = uuid.UUID("6f1c6f0e-0b1c-4a5e-9d7b-5c1f0c6a9e21")
_NS_BYTES = _NS.bytes
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"
MAX_FICS = 20
FIC_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$")
UAMI_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
FIC_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
RA_TYPE = "Microsoft.Authorization/roleAssignments"
RA_MARKER = "/providers/microsoft.authorization/roleassignments/"
GRAPH_FIC_KEYS = ("id", "name", "issuer", "subject", "description", "audiences", "claimsMatchingExpression")


def det_uuid(*parts: object) -> str:
    """Deterministic GUID (RFC 4122 version 5), so the same seed always yields the same ids.

    Same value as ``uuid.uuid5`` but about five times faster, which matters for 10k-app seeds.
    """
    b = bytearray(hashlib.sha1(_NS_BYTES + "\x1f".join(map(str, parts)).encode()).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x50
    b[8] = (b[8] & 0x3F) | 0x80
    x = b.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def service_principal_id_for(app_id: str) -> str:
    """Object id of the service principal auto-created for an application's ``appId``."""
    return det_uuid("sp", app_id.lower())


def uami_principal_id_for(resource_id: str) -> str:
    return det_uuid("uami-principal", resource_id.lower())


def uami_client_id_for(resource_id: str) -> str:
    return det_uuid("uami-client", resource_id.lower())


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso(datetime.now(timezone.utc))


def uami_resource_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourcegroups/{rg}/providers/{UAMI_TYPE}/{name}"


def parse_uami_id(resource_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of a UAMI resource id."""
    parts = [p for p in resource_id.split("/") if p]
    low = [p.lower() for p in parts]
    try:
        sub = parts[low.index("subscriptions") + 1]
        rg = parts[low.index("resourcegroups") + 1]
    except (ValueError, IndexError):
        raise ValueError(f"not a user-assigned identity resource id: {resource_id!r}") from None
    return sub, rg, parts[-1]


@dataclass
class SimulationConfig:
    """The seed's optional ``simulation`` block."""

    latency_ms: float = 0.0
    graph_resource_units_per_10s: float | None = None
    arm_reads_bucket: float = 250
    arm_reads_per_s: float = 25
    arm_writes_bucket: float = 200
    arm_writes_per_s: float = 10
    fault_rate: float = 0.0
    fault_seed: int = 0
    empty_retry_after_rate: float = 0.0
    # How long an ARM FIC write holds the per-identity lock; defaults to latency_ms.
    arm_fic_write_ms: float | None = None
    arm_page_size: int = 100
    # Fault windows: [{"api": "graph" | "arm", "from": unix time, "until": unix time}]; every
    # request to that API inside a window fails with 503 (Graph/ARM's real error bodies).
    outages: list[dict[str, Any]] = field(default_factory=list)
    # Calls answered 403 as if the identity lacked their permission: "<api> <METHOD> <route>"
    # patterns over the route templates of `Stats.routes` (fnmatch: `*` matches anything), e.g.
    # "graph GET /servicePrincipals" or "arm GET /providers/microsoft.management/*".
    denied: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SimulationConfig:
        data = dict(data or {})
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kwargs = {k: data.pop(k) for k in list(data) if k in known}
        if "denied" in kwargs:
            kwargs["denied"] = tuple(str(p) for p in kwargs["denied"] or ())
        cfg = cls(**kwargs, extra=data)
        if not 0.0 <= cfg.fault_rate <= 1.0:
            raise ValueError("simulation.fault_rate must be between 0 and 1")
        for o in cfg.outages:
            timed = isinstance(o, Mapping) and isinstance(o.get("from"), int | float) \
                and isinstance(o.get("until"), int | float)
            armed = isinstance(o, Mapping) and isinstance(o.get("seconds"), int | float)
            if not isinstance(o, Mapping) or o.get("api") not in ("graph", "arm") or not (timed or armed):
                raise ValueError(f"simulation.outages: each entry needs api graph|arm and either from and until "
                                 f"(unix seconds) or seconds (starting at the next request); got {o!r}")
        return cfg

    def down(self, api: str, now: float) -> bool:
        """Whether ``api`` is inside one of its fault windows at ``now``. A window given as
        ``seconds`` starts at the first request to its API after it was set."""
        for o in self.outages:
            if o["api"] != api:
                continue
            if "from" not in o:
                o["from"], o["until"] = now, now + float(o["seconds"])
            if o["from"] <= now < o["until"]:
                return True
        return False

    @property
    def fic_write_hold_s(self) -> float:
        ms = self.latency_ms if self.arm_fic_write_ms is None else self.arm_fic_write_ms
        return max(0.0, float(ms)) / 1000.0

    def denies(self, api: str, route: str) -> bool:
        """Whether ``route`` ("GET /applications/{id}") of ``api`` is configured as denied."""
        if not self.denied:
            return False
        import fnmatch

        call = f"{api} {route}"
        return any(fnmatch.fnmatchcase(call, p) for p in self.denied)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        out["denied"] = list(self.denied)
        out.update(self.extra)
        return out


# -- FIC validation (shared by Graph and ARM) ------------------------------------------------------

def validate_fic(
    *,
    name: Any,
    issuer: Any,
    subject: Any,
    audiences: Any,
    description: Any = None,
    cme: Any = None,
    code: str,
) -> None:
    """Graph's documented FIC constraints; ``code`` is the API's bad-request error code."""

    def bad(msg: str) -> SimError:
        return SimError(400, code, msg)

    if not isinstance(name, str) or not FIC_NAME_RE.match(name):
        raise bad(
            f"Invalid federated identity credential name '{name}'. The name must be 3 to 120 characters, "
            "start with a letter or number and contain only letters, numbers, '-' and '_'."
        )
    if not isinstance(issuer, str) or not issuer:
        raise bad("Issuer is required for a federated identity credential.")
    if len(issuer) > 600:
        raise bad("Issuer must be at most 600 characters.")
    if description is not None and (not isinstance(description, str) or len(description) > 600):
        raise bad("Description must be a string of at most 600 characters.")
    if not isinstance(audiences, list) or len(audiences) != 1:
        raise bad("Audiences must contain exactly one value.")
    aud = audiences[0]
    if not isinstance(aud, str) or not aud or len(aud) > 600:
        raise bad("The audience value must be a non-empty string of at most 600 characters.")
    has_subject = subject is not None
    if has_subject and cme is not None:
        raise bad("Subject and claimsMatchingExpression are mutually exclusive; specify only one.")
    if not has_subject and cme is None:
        raise bad("Either subject or claimsMatchingExpression must be specified.")
    if has_subject and (not isinstance(subject, str) or not subject or len(subject) > 600):
        raise bad("Subject must be a non-empty string of at most 600 characters.")
    if cme is not None:
        if not isinstance(cme, Mapping) or not isinstance(cme.get("value"), str) or not cme.get("value"):
            raise bad("claimsMatchingExpression.value is required.")
        if len(cme["value"]) > 600:
            raise bad("claimsMatchingExpression.value must be at most 600 characters.")
        if cme.get("languageVersion", 1) != 1:
            raise bad("claimsMatchingExpression.languageVersion must be 1.")


def _check_unique(existing: Iterable[tuple[str, str, str | None]], name: str, issuer: str,
                  subject: str | None, code: str, skip_name: str | None = None) -> None:
    for other_name, other_issuer, other_subject in existing:
        if skip_name is not None and other_name.lower() == skip_name.lower():
            continue
        if other_name.lower() == name.lower():
            raise SimError(409 if code == "Request_BadRequest" else 400, code,
                           f"A federated identity credential with name '{name}' already exists.")
        if subject is not None and other_issuer == issuer and other_subject == subject:
            raise SimError(400, code, "A federated identity credential with the same issuer and subject "
                                      "already exists on this identity.")


# -- the tenant ---------------------------------------------------------------------------------------

class Tenant:
    def __init__(self, seed: Mapping[str, Any]) -> None:
        self.tenant_id: str = str(seed.get("tenantId") or det_uuid("tenant"))
        self.sim = SimulationConfig.from_dict(seed.get("simulation"))
        self.users: dict[str, dict[str, Any]] = {}
        self.user_ids: list[str] = []
        self.apps: dict[str, dict[str, Any]] = {}
        self.app_ids: list[str] = []
        self.app_by_appid: dict[str, str] = {}
        self.app_fics: dict[str, list[dict[str, Any]]] = {}
        self.app_owners: dict[str, list[str]] = {}
        self.sps: dict[str, dict[str, Any]] = {}
        self.sp_ids: list[str] = []
        self.sp_by_appid: dict[str, str] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.resource_groups: dict[tuple[str, str], dict[str, Any]] = {}
        self.uamis: dict[str, dict[str, Any]] = {}
        self.uamis_by_sub: dict[str, list[str]] = {}
        self.uami_fics: dict[str, dict[str, dict[str, Any]]] = {}
        self.role_assignments: dict[str, dict[str, Any]] = {}
        self.role_definitions: dict[str, dict[str, Any]] = {}  # custom, keyed by GUID
        self.privilege = PrivilegeState()
        self._load(seed)

    # -- loading ----------------------------------------------------------------------------------

    def _load(self, seed: Mapping[str, Any]) -> None:
        for i, u in enumerate(seed.get("users") or []):
            self._add_user(u, i)
        for i, a in enumerate(seed.get("applications") or []):
            self._add_app(a, i)
        for sp in seed.get("servicePrincipals") or []:
            self._add_sp(sp)
        for a in self.apps.values():  # SPs for apps, so role assignments can name them
            if a["appId"].lower() not in self.sp_by_appid:
                self._add_sp({"id": service_principal_id_for(a["appId"]), "appId": a["appId"],
                              "displayName": a.get("displayName"), "servicePrincipalType": "Application"})
        for s in seed.get("subscriptions") or []:
            self._add_subscription(s)
        for ra in seed.get("managementGroupRoleAssignments") or []:
            self._add_role_assignment(ra, default_scope=f"/providers/Microsoft.Management/managementGroups/"
                                                        f"{self.tenant_id}")
        for rd in seed.get("roleDefinitions") or []:
            self._add_role_definition(rd)
        self.privilege.load(seed, self)

    def _add_user(self, u: Mapping[str, Any], i: int) -> dict[str, Any]:
        user = dict(u)
        upn = user.get("userPrincipalName") or f"user{i}@contoso.onmicrosoft.com"
        if not user.get("id"):
            user["id"] = det_uuid("user", upn.lower())
        user["userPrincipalName"] = upn
        user.setdefault("displayName", upn.split("@")[0])
        for key in ("mail", "givenName", "surname", "jobTitle", "mobilePhone", "officeLocation",
                    "preferredLanguage"):
            user.setdefault(key, None)
        user.setdefault("businessPhones", [])
        key = user["id"].lower()
        if key not in self.users:
            self.user_ids.append(key)
        self.users[key] = user
        return user

    def _add_app(self, a: Mapping[str, Any], i: int) -> None:
        app = dict(a)
        fics = app.pop("federatedIdentityCredentials", None) or []
        owners = app.pop("owners", None) or []
        if not app.get("id"):
            app["id"] = det_uuid("app", app.get("appId") or app.get("displayName") or i)
        if not app.get("appId"):
            app["appId"] = det_uuid("appid", app["id"].lower())
        app.setdefault("displayName", f"app-{i}")
        if "createdDateTime" not in app:
            app["createdDateTime"] = iso(_EPOCH + timedelta(minutes=i))
        app.setdefault("deletedDateTime", None)
        app.setdefault("description", None)
        app.setdefault("notes", None)
        app.setdefault("signInAudience", "AzureADMyOrg")
        app.setdefault("publisherDomain", "contoso.onmicrosoft.com")
        app.setdefault("identifierUris", [])
        app.setdefault("tags", [])
        key = app["id"].lower()
        if key not in self.apps:
            self.app_ids.append(key)
        self.apps[key] = app
        self.app_by_appid[app["appId"].lower()] = key
        self.app_fics[key] = [self._graph_fic(key, f) for f in fics]
        owner_ids: list[str] = []
        for o in owners:
            if isinstance(o, Mapping):
                oid = str(o.get("id") or "").lower()
                if not oid or (oid not in self.users and oid not in self.sps):
                    oid = self._add_user(o, len(self.user_ids))["id"].lower()
                owner_ids.append(oid)
            else:
                owner_ids.append(str(o).lower())
        self.app_owners[key] = owner_ids

    @staticmethod
    def _graph_fic(app_key: str, f: Mapping[str, Any]) -> dict[str, Any]:
        src = dict(f.get("properties") or {}, name=f.get("name")) if "properties" in f else dict(f)
        out: dict[str, Any] = {
            "id": src.get("id") or det_uuid("fic", app_key, src.get("name")),
            "name": src.get("name"),
            "issuer": src.get("issuer"),
            "subject": src.get("subject"),
            "description": src.get("description"),
            "audiences": list(src.get("audiences") or [DEFAULT_AUDIENCE]),
        }
        if src.get("claimsMatchingExpression") is not None:
            out["claimsMatchingExpression"] = dict(src["claimsMatchingExpression"])
        return out

    def _add_sp(self, s: Mapping[str, Any]) -> None:
        sp = dict(s)
        if not sp.get("id"):
            sp["id"] = service_principal_id_for(sp.get("appId") or det_uuid("spapp", len(self.sps)))
        if not sp.get("appId"):
            sp["appId"] = det_uuid("spapp", sp["id"])
        sp.setdefault("displayName", None)
        sp.setdefault("servicePrincipalType", "Application")
        sp.setdefault("accountEnabled", True)
        sp.setdefault("appOwnerOrganizationId", self.tenant_id)
        sp.setdefault("servicePrincipalNames", [sp["appId"]])
        sp.setdefault("alternativeNames", [])
        sp.setdefault("tags", [])
        self.privilege.take_sp_fields(sp)
        key = sp["id"].lower()
        if key not in self.sps:
            self.sp_ids.append(key)
        self.sps[key] = sp
        self.sp_by_appid.setdefault(sp["appId"].lower(), key)

    def _add_subscription(self, s: Mapping[str, Any]) -> None:
        sub_id = str(s.get("subscriptionId") or det_uuid("sub", len(self.subscriptions)))
        skey = sub_id.lower()
        self.subscriptions[skey] = {
            "id": f"/subscriptions/{sub_id}",
            "subscriptionId": sub_id,
            "displayName": s.get("displayName") or f"subscription-{len(self.subscriptions)}",
            "state": s.get("state", "Enabled"),
            "tenantId": self.tenant_id,
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                     "spendingLimit": "Off"},
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "tags": dict(s.get("tags") or {}),
            # Not served by ARM; lets at-or-above role assignment queries include MG scopes.
            "_mgAncestors": [str(m).lower() for m in (s.get("managementGroupAncestors") or [])]
            + [self.tenant_id.lower()],
        }
        self.uamis_by_sub.setdefault(skey, [])
        for rg in s.get("resourceGroups") or []:
            self._ensure_rg(sub_id, rg["name"], rg.get("tags"), rg.get("location"))
        for u in s.get("userAssignedIdentities") or []:
            self._add_uami(sub_id, u)
        for ra in s.get("roleAssignments") or []:
            self._add_role_assignment(ra, default_scope=f"/subscriptions/{sub_id}")

    def _ensure_rg(self, sub_id: str, name: str, tags: Mapping[str, str] | None = None,
                   location: str | None = None) -> dict[str, Any]:
        key = (sub_id.lower(), name.lower())
        rg = self.resource_groups.get(key)
        if rg is None:
            rg = {
                "id": f"/subscriptions/{sub_id}/resourceGroups/{name}",
                "name": name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": location or "westeurope",
                "tags": dict(tags or {}),
                "properties": {"provisioningState": "Succeeded"},
            }
            self.resource_groups[key] = rg
        elif tags:
            rg["tags"].update(tags)
        return rg

    def _add_uami(self, sub_id: str, u: Mapping[str, Any]) -> None:
        uami = dict(u)
        fics = uami.pop("federatedIdentityCredentials", None) or []
        if uami.get("id"):
            _, rg, name = parse_uami_id(uami["id"])
        else:
            name = uami.get("name") or f"id-{len(self.uamis)}"
            rg = uami.pop("resourceGroup", None) or uami.pop("resourceGroupName", None) or "rg-identities"
            uami["id"] = uami_resource_id(sub_id, rg, name)
        uami.pop("resourceGroup", None)
        uami["name"] = name
        uami.setdefault("type", UAMI_TYPE)
        uami.setdefault("location", "westeurope")
        uami.setdefault("tags", {})
        props = dict(uami.get("properties") or {})
        props.setdefault("tenantId", self.tenant_id)
        if not props.get("principalId"):
            props["principalId"] = uami_principal_id_for(uami["id"])
        if not props.get("clientId"):
            props["clientId"] = uami_client_id_for(uami["id"])
        props.setdefault("isolationScope", "None")
        uami["properties"] = props
        self._ensure_rg(sub_id, rg)
        key = uami["id"].lower()
        self.uamis[key] = uami
        self.uamis_by_sub.setdefault(sub_id.lower(), []).append(key)
        self.uami_fics[key] = {}
        for f in fics:
            fic = self._arm_fic(uami["id"], f)
            self.uami_fics[key][fic["name"].lower()] = fic
        if props["principalId"].lower() not in self.sps:
            self._add_sp({"id": props["principalId"], "appId": props["clientId"], "displayName": name,
                          "servicePrincipalType": "ManagedIdentity",
                          "alternativeNames": ["isExplicit=True", uami["id"]]})

    @staticmethod
    def _arm_fic(uami_id: str, f: Mapping[str, Any]) -> dict[str, Any]:
        props = dict(f["properties"]) if "properties" in f else {
            k: f[k] for k in ("issuer", "subject", "audiences", "claimsMatchingExpression") if k in f}
        name = str(f.get("name", "")).rsplit("/", 1)[-1]
        props.setdefault("audiences", [DEFAULT_AUDIENCE])
        out = {
            "id": f"{uami_id}/federatedIdentityCredentials/{name}",
            "name": name,
            "type": FIC_TYPE,
            "properties": props,
        }
        if "systemData" in f:
            out["systemData"] = f["systemData"]
        return out

    def _add_role_assignment(self, r: Mapping[str, Any], default_scope: str) -> dict[str, Any]:
        ra = dict(r)
        props = dict(ra.get("properties") or {})
        rid = ra.get("id")
        if "scope" not in props:
            if rid and RA_MARKER in rid.lower():
                props["scope"] = rid[: rid.lower().index(RA_MARKER)] or "/"
            else:
                props["scope"] = default_scope
        scope = props["scope"]
        ra.setdefault("name", (rid.rsplit("/", 1)[-1] if rid else None)
                      or det_uuid("ra", scope.lower(), props.get("principalId"), props.get("roleDefinitionId")))
        ra["id"] = rid or f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{ra['name']}"
        ra["type"] = RA_TYPE
        rd = str(props.get("roleDefinitionId", ""))
        if rd and "/" not in rd:  # bare GUID: ARM always returns the full id
            sub = _subscription_of(scope)
            prefix = f"/subscriptions/{sub}" if sub else ""
            props["roleDefinitionId"] = f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{rd}"
        props.setdefault("principalType", "ServicePrincipal")
        for key in ("condition", "conditionVersion", "description", "delegatedManagedIdentityResourceId"):
            props.setdefault(key, None)
        props.setdefault("createdOn", "2024-01-01T00:00:00.0000000Z")
        props.setdefault("updatedOn", props["createdOn"])
        props.setdefault("createdBy", None)
        props.setdefault("updatedBy", None)
        ra["properties"] = props
        self.role_assignments[ra["id"].lower()] = ra
        return ra

    def _add_role_definition(self, d: Mapping[str, Any]) -> None:
        rd = dict(d)
        guid = str(rd.get("name") if _is_guid(rd.get("name")) else "") or \
            str(rd.get("id", "")).rsplit("/", 1)[-1] or det_uuid("rd", rd.get("roleName"))
        if "properties" not in rd:
            rd = {"properties": {
                "roleName": rd.get("roleName") or rd.get("name"),
                "type": rd.get("type", "CustomRole"),
                "description": rd.get("description", ""),
                "assignableScopes": rd.get("assignableScopes", ["/"]),
                "permissions": rd.get("permissions") or [{
                    "actions": rd.get("actions", []), "notActions": rd.get("notActions", []),
                    "dataActions": rd.get("dataActions", []), "notDataActions": rd.get("notDataActions", [])}],
            }}
        rd["name"] = guid
        rd.setdefault("id", f"/providers/Microsoft.Authorization/roleDefinitions/{guid}")
        rd["type"] = "Microsoft.Authorization/roleDefinitions"
        rd["properties"].setdefault("type", "CustomRole")
        self.role_definitions[guid.lower()] = rd

    # -- lookups ----------------------------------------------------------------------------------

    def app_key(self, ref: str) -> str | None:
        key = ref.lower()
        return key if key in self.apps else None

    def directory_object(self, oid: str) -> dict[str, Any] | None:
        """A user or service principal with its ``@odata.type``, as Graph returns owners."""
        key = oid.lower()
        if key in self.users:
            return {"@odata.type": "#microsoft.graph.user", **self.users[key]}
        if key in self.sps:
            return {"@odata.type": "#microsoft.graph.servicePrincipal", **self.sps[key]}
        if key in self.apps:
            return {"@odata.type": "#microsoft.graph.application", **self.apps[key]}
        return None

    def role_definition(self, guid: str, scope: str = "") -> dict[str, Any] | None:
        g = guid.lower()
        if g in BUILTIN_ROLE_DEFINITIONS:
            return arm_role_definition(g, BUILTIN_ROLE_DEFINITIONS[g], _role_def_scope(scope))
        rd = self.role_definitions.get(g)
        return copy.deepcopy(rd) if rd is not None else None

    def all_role_definitions(self, scope: str = "") -> list[dict[str, Any]]:
        out = [arm_role_definition(g, d, _role_def_scope(scope)) for g, d in BUILTIN_ROLE_DEFINITIONS.items()]
        out += [copy.deepcopy(rd) for rd in self.role_definitions.values()]
        return out

    # -- Graph FIC mutations ---------------------------------------------------------------------

    def graph_add_fic(self, app_key: str, body: Mapping[str, Any]) -> dict[str, Any]:
        code = "Request_BadRequest"
        fics = self.app_fics[app_key]
        validate_fic(name=body.get("name"), issuer=body.get("issuer"), subject=body.get("subject"),
                     audiences=body.get("audiences"), description=body.get("description"),
                     cme=body.get("claimsMatchingExpression"), code=code)
        if len(fics) >= MAX_FICS:
            raise SimError(400, code, f"The maximum number of federated identity credentials ({MAX_FICS}) "
                                      "for this application has been reached.")
        _check_unique(((f["name"], f["issuer"], f.get("subject")) for f in fics),
                      body["name"], body["issuer"], body.get("subject"), code)
        fic = self._graph_fic(app_key, {**body, "id": str(uuid.uuid4())})
        fics.append(fic)
        return fic

    def graph_find_fic(self, app_key: str, ref: str) -> dict[str, Any] | None:
        low = ref.lower()
        for f in self.app_fics[app_key]:
            if f["id"].lower() == low or f["name"].lower() == low:
                return f
        return None

    def graph_patch_fic(self, app_key: str, fic: dict[str, Any], body: Mapping[str, Any]) -> None:
        code = "Request_BadRequest"
        if "name" in body and body["name"] != fic["name"]:
            raise SimError(400, code, "Property 'name' is read-only and cannot be changed once set.")
        merged = {**fic, **{k: v for k, v in body.items() if k in GRAPH_FIC_KEYS and k != "id"}}
        validate_fic(name=merged.get("name"), issuer=merged.get("issuer"), subject=merged.get("subject"),
                     audiences=merged.get("audiences"), description=merged.get("description"),
                     cme=merged.get("claimsMatchingExpression"), code=code)
        _check_unique(((f["name"], f["issuer"], f.get("subject")) for f in self.app_fics[app_key]),
                      merged["name"], merged["issuer"], merged.get("subject"), code, skip_name=fic["name"])
        fic.update(self._graph_fic(app_key, merged))
        if merged.get("claimsMatchingExpression") is None:
            fic.pop("claimsMatchingExpression", None)

    def graph_delete_fic(self, app_key: str, fic: Mapping[str, Any]) -> None:
        self.app_fics[app_key] = [f for f in self.app_fics[app_key] if f["id"] != fic["id"]]

    # -- ARM FIC mutations ------------------------------------------------------------------------

    def arm_put_fic(self, uami_key: str, name: str, body: Mapping[str, Any], allow_cme: bool) -> tuple[
            dict[str, Any], bool]:
        code = "BadRequest"
        props = body.get("properties")
        if not isinstance(props, Mapping):
            raise SimError(400, "InvalidRequestContent", "The request content was invalid: 'properties' is "
                                                         "required.")
        cme = props.get("claimsMatchingExpression")
        if cme is not None and not allow_cme:
            raise SimError(400, code, "claimsMatchingExpression is not supported in this api-version.")
        validate_fic(name=name, issuer=props.get("issuer"), subject=props.get("subject"),
                     audiences=props.get("audiences"), cme=cme, code=code)
        fics = self.uami_fics[uami_key]
        existing = fics.get(name.lower())
        if existing is None and len(fics) >= MAX_FICS:
            raise SimError(400, code, f"Too many Federated Identity Credentials. The maximum number of "
                                      f"Federated Identity Credentials per identity is {MAX_FICS}.")
        _check_unique(((f["name"], f["properties"].get("issuer"), f["properties"].get("subject"))
                       for f in fics.values()), name, props["issuer"], props.get("subject"), code,
                      skip_name=name)
        uami = self.uamis[uami_key]
        clean = {k: props[k] for k in ("issuer", "subject", "audiences", "claimsMatchingExpression")
                 if props.get(k) is not None}
        fic = self._arm_fic(uami["id"], {"name": existing["name"] if existing else name, "properties": clean})
        fic["systemData"] = {"createdAt": (existing or {}).get("systemData", {}).get("createdAt", now_iso()),
                             "lastModifiedAt": now_iso()}
        fics[name.lower()] = fic
        return fic, existing is None

    # -- role assignments -------------------------------------------------------------------------

    def put_role_assignment(self, scope: str, name: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        props = body.get("properties")
        if not isinstance(props, Mapping) or not props.get("roleDefinitionId") or not props.get("principalId"):
            raise SimError(400, "InvalidRoleAssignmentRequest",
                           "The request must contain properties.roleDefinitionId and properties.principalId.")
        rid = f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}"
        created = rid.lower() not in self.role_assignments
        if created:
            for ra in self.role_assignments.values():
                p = ra["properties"]
                if (p["scope"].lower() == scope.lower() and p["principalId"].lower() == str(
                        props["principalId"]).lower()
                        and p["roleDefinitionId"].rsplit("/", 1)[-1].lower()
                        == str(props["roleDefinitionId"]).rsplit("/", 1)[-1].lower()):
                    raise SimError(409, "RoleAssignmentExists", "The role assignment already exists.")
        p = {k: v for k, v in props.items() if k != "scope"}
        p["scope"] = scope
        p["createdOn"] = p["updatedOn"] = now_iso()
        ra = self._add_role_assignment({"id": rid, "name": name, "properties": p}, default_scope=scope)
        return ra, created

    def list_role_assignments(self, scope: str, at_scope_only: bool, principal_id: str | None) -> list[
            dict[str, Any]]:
        scope_l = _norm_scope(scope)
        above = _ancestor_scopes(scope_l, self)
        out = []
        for ra in self.role_assignments.values():
            p = ra["properties"]
            if principal_id is not None and p["principalId"].lower() != principal_id:
                continue
            s = _norm_scope(p["scope"])
            if s in above or (not at_scope_only and scope_l != "" and s.startswith(scope_l + "/")):
                out.append(ra)
        return out

    # -- snapshots (seed-shaped, deep copies) -----------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        subs = []
        for skey, s in self.subscriptions.items():
            uamis = []
            for ukey in self.uamis_by_sub.get(skey, []):
                u = copy.deepcopy(self.uamis[ukey])
                u["federatedIdentityCredentials"] = copy.deepcopy(list(self.uami_fics[ukey].values()))
                uamis.append(u)
            prefix = f"/subscriptions/{skey}"
            subs.append({
                "subscriptionId": s["subscriptionId"],
                "displayName": s["displayName"],
                "resourceGroups": [{"name": rg["name"], "tags": dict(rg["tags"]), "location": rg["location"]}
                                   for (sk, _), rg in self.resource_groups.items() if sk == skey],
                "userAssignedIdentities": uamis,
                "roleAssignments": [copy.deepcopy(ra) for ra in self.role_assignments.values()
                                    if _norm_scope(ra["properties"]["scope"]).startswith(prefix)],
            })
        apps = []
        for key in self.app_ids:
            a = copy.deepcopy(self.apps[key])
            a["federatedIdentityCredentials"] = copy.deepcopy(self.app_fics[key])
            a["owners"] = list(self.app_owners.get(key, []))
            apps.append(a)
        out = {
            "tenantId": self.tenant_id,
            "users": [copy.deepcopy(self.users[k]) for k in self.user_ids],
            "applications": apps,
            "servicePrincipals": [copy.deepcopy(self.sps[k]) for k in self.sp_ids],
            "subscriptions": subs,
            "managementGroupRoleAssignments": [
                copy.deepcopy(ra) for ra in self.role_assignments.values()
                if not _norm_scope(ra["properties"]["scope"]).startswith("/subscriptions/")],
            "roleDefinitions": [copy.deepcopy(rd) for rd in self.role_definitions.values()],
            "simulation": self.sim.to_dict(),
        }
        self.privilege.snapshot_into(out)
        return out

    def get_app_fics(self, ref: str) -> list[dict[str, Any]]:
        """FICs of an application by object id or appId (Graph shape, beta: with flexible FICs)."""
        key = self.app_key(ref) or self.app_by_appid.get(ref.lower())
        if key is None:
            raise KeyError(ref)
        return copy.deepcopy(self.app_fics[key])

    def get_uami_fics(self, resource_id: str) -> list[dict[str, Any]]:
        key = resource_id.lower()
        if key not in self.uami_fics:
            raise KeyError(resource_id)
        return copy.deepcopy(list(self.uami_fics[key].values()))

    def get_role_assignments(self, principal_id: str | None = None) -> list[dict[str, Any]]:
        return [copy.deepcopy(ra) for ra in self.role_assignments.values()
                if principal_id is None or ra["properties"]["principalId"].lower() == principal_id.lower()]


# -- scope helpers ------------------------------------------------------------------------------------

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _is_guid(v: Any) -> bool:
    return isinstance(v, str) and bool(_GUID_RE.match(v))


def _norm_scope(scope: str) -> str:
    return "/" + "/".join(p for p in scope.lower().split("/") if p) if scope.strip("/") else ""


def _subscription_of(scope: str) -> str | None:
    parts = [p for p in scope.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1]
    return None


def _role_def_scope(scope: str) -> str:
    sub = _subscription_of(scope)
    return f"/subscriptions/{sub}" if sub else ""


def _ancestor_scopes(scope_l: str, tenant: Tenant) -> set[str]:
    """The scope itself and every scope above it (management groups of a subscription, root)."""
    out = {scope_l, ""}
    parts = [p for p in scope_l.split("/") if p]
    for n in range(1, len(parts) + 1):
        out.add("/" + "/".join(parts[:n]))
    sub = _subscription_of(scope_l)
    mg_prefix = "/providers/microsoft.management/managementgroups/"
    if sub and sub in tenant.subscriptions:
        out.update(mg_prefix + mg for mg in tenant.subscriptions[sub]["_mgAncestors"])
    elif scope_l.startswith(mg_prefix):
        out.add(mg_prefix + tenant.tenant_id.lower())
    return out
