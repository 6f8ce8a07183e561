"""Domain values: identities, credentials, role assignments, owners, changes and findings.

Everything here is a frozen dataclass built from the real API shapes (Graph, ARM, audit-log
PascalCase). The original payload of a credential is kept in ``raw`` so that a quarantine
backup can recreate it exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any

from wifguard.errors import DecodeError

if TYPE_CHECKING:
    from wifguard.domain.privilege import Privilege


class ModelError(DecodeError):
    """An input object does not have the shape of the thing it claims to be."""


class IdentityKind(StrEnum):
    APPLICATION = "application"
    MANAGED_IDENTITY = "managedIdentity"


class Severity(IntEnum):
    """Ordered severity scale: info < low < medium < high < critical."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        if isinstance(value, Severity):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {value!r} (expected one of: {names})") from None

    @property
    def label(self) -> str:
        return _SEVERITY_LABELS[self]

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.label


_SEVERITY_LABELS = {s: s.name.lower() for s in Severity}


class ScopeLevel(IntEnum):
    """Role assignment scope levels, lowest first so that comparisons read naturally."""

    RESOURCE = 0
    RESOURCE_GROUP = 1
    SUBSCRIPTION = 2
    MANAGEMENT_GROUP = 3
    ROOT = 4

    @property
    def label(self) -> str:
        return {
            ScopeLevel.RESOURCE: "resource",
            ScopeLevel.RESOURCE_GROUP: "resourceGroup",
            ScopeLevel.SUBSCRIPTION: "subscription",
            ScopeLevel.MANAGEMENT_GROUP: "managementGroup",
            ScopeLevel.ROOT: "root",
        }[self]


def scope_level(scope: str, root_management_group_ids: frozenset[str] = frozenset()) -> ScopeLevel:
    """Classify an ARM scope string.

    The tenant root management group has the tenant id as its name; callers pass the known
    tenant ids so that ``/providers/Microsoft.Management/managementGroups/{tenantId}`` counts
    as ``root``.
    """
    s = scope.strip().rstrip("/")
    if s == "":
        return ScopeLevel.ROOT
    parts = [p for p in s.split("/") if p]
    low = [p.lower() for p in parts]
    if len(low) >= 4 and low[0] == "providers" and low[1] == "microsoft.management" and low[2] == "managementgroups":
        if len(low) == 4:
            if parts[3].lower() in {r.lower() for r in root_management_group_ids}:
                return ScopeLevel.ROOT
            return ScopeLevel.MANAGEMENT_GROUP
        return ScopeLevel.RESOURCE  # a resource under a management group (rare)
    if low and low[0] == "subscriptions":
        if len(low) <= 2:
            return ScopeLevel.SUBSCRIPTION
        if low[2] == "resourcegroups":
            return ScopeLevel.RESOURCE_GROUP if len(low) <= 4 else ScopeLevel.RESOURCE
        return ScopeLevel.RESOURCE
    return ScopeLevel.RESOURCE


def last_segment(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Identity:
    """An app registration or a user-assigned managed identity."""

    id: str  # Graph object id of the application, or the ARM resource id of the UAMI
    name: str
    kind: IdentityKind
    app_id: str | None = None  # appId (application) or clientId (UAMI)
    principal_id: str | None = None  # service principal object id (app) or principalId (UAMI)
    tags: Mapping[str, str] = field(default_factory=dict)
    resource_group_tags: Mapping[str, str] = field(default_factory=dict)
    # A derived Graph type, e.g. ``agentIdentityBlueprint`` (inherits from application and holds
    # federated credentials like one); None for a plain application or managed identity.
    subtype: str | None = None

    @property
    def subscription_id(self) -> str | None:
        if self.kind is IdentityKind.MANAGED_IDENTITY:
            parts = self.id.split("/")
            if len(parts) > 2 and parts[1].lower() == "subscriptions":
                return parts[2]
        return None

    def to_ref(self) -> dict[str, str]:
        ref = {"id": self.id, "name": self.name, "kind": self.kind.value}
        if self.subtype:
            ref["type"] = self.subtype
        return ref


def graph_subtype(obj: Mapping[str, Any]) -> str | None:
    """``agentIdentityBlueprint`` for ``@odata.type: #microsoft.graph.agentIdentityBlueprint``;
    None for a plain application (or no type)."""
    t = str(obj.get("@odata.type") or "").rsplit(".", 1)[-1]
    return t if t and t.lower() != "application" else None


@dataclass(frozen=True, slots=True)
class ClaimsMatchingExpression:
    value: str
    language_version: int = 1


@dataclass(frozen=True, slots=True)
class Credential:
    """A federated identity credential, normalised from any of its shapes.

    ``shape`` says where it came from: ``graph`` (Graph FIC object), ``arm`` (ARM FIC
    resource) or ``audit`` (PascalCase entry of an audit record). ``raw`` is the original.
    """

    name: str
    issuer: str
    subject: str | None
    audiences: tuple[str, ...]
    description: str | None = None
    claims_matching_expression: ClaimsMatchingExpression | None = None
    id: str | None = None
    shape: str = "graph"
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_ref(self) -> dict[str, str | None]:
        return {"name": self.name, "issuer": self.issuer, "subject": self.subject}

    @classmethod
    def from_graph(cls, obj: Mapping[str, Any]) -> Credential:
        cme = obj.get("claimsMatchingExpression")
        return cls(
            name=_req_str(obj, "name"),
            issuer=_req_str(obj, "issuer"),
            subject=_opt_str(obj, "subject"),
            audiences=_str_list(obj, "audiences"),
            description=_opt_str(obj, "description"),
            claims_matching_expression=_cme(cme, "claimsMatchingExpression"),
            id=_opt_str(obj, "id"),
            shape="graph",
            raw=dict(obj),
        )

    @classmethod
    def from_arm(cls, obj: Mapping[str, Any]) -> Credential:
        props = obj.get("properties")
        if not isinstance(props, Mapping):
            raise ModelError("'properties' must be an object")
        name = obj.get("name")
        if not isinstance(name, str) or not name:
            raise ModelError("'name' is missing or not a string")
        name = name.rsplit("/", 1)[-1]
        cme = props.get("claimsMatchingExpression")
        return cls(
            name=name,
            issuer=_req_str(props, "issuer", "properties.issuer"),
            subject=_opt_str(props, "subject", "properties.subject"),
            audiences=_str_list(props, "audiences", "properties.audiences"),
            description=_opt_str(props, "description", "properties.description"),
            claims_matching_expression=_cme(cme, "properties.claimsMatchingExpression"),
            id=_opt_str(obj, "id"),
            shape="arm",
            raw=dict(obj),
        )

    @classmethod
    def from_audit(cls, obj: Mapping[str, Any]) -> Credential:
        """From the PascalCase objects inside audit-log ``oldValue``/``newValue`` strings."""
        expr = obj.get("ClaimsMatchingExpressionValue")
        cme = None
        if isinstance(expr, str) and expr:
            ver = obj.get("ClaimsMatchingExpressionLanguageVersion")
            cme = ClaimsMatchingExpression(expr, int(ver) if isinstance(ver, int | str) and str(ver).isdigit() else 1)
        return cls(
            name=_req_str(obj, "Name"),
            issuer=_req_str(obj, "Issuer"),
            subject=_opt_str(obj, "Subject") or None,
            audiences=_str_list(obj, "Audiences"),
            description=_opt_str(obj, "Description"),
            claims_matching_expression=cme,
            id=_opt_str(obj, "Id"),
            shape="audit",
            raw=dict(obj),
        )

    @classmethod
    def from_any(cls, obj: Mapping[str, Any]) -> Credential:
        if "properties" in obj and isinstance(obj.get("properties"), Mapping):
            return cls.from_arm(obj)
        if "Issuer" in obj or "Name" in obj:
            return cls.from_audit(obj)
        return cls.from_graph(obj)

    def to_graph(self) -> dict[str, Any]:
        """The Graph body that recreates this credential."""
        body: dict[str, Any] = {
            "name": self.name,
            "issuer": self.issuer,
            "audiences": list(self.audiences),
        }
        if self.subject is not None:
            body["subject"] = self.subject
        if self.description is not None:
            body["description"] = self.description
        if self.claims_matching_expression is not None:
            body["claimsMatchingExpression"] = {
                "value": self.claims_matching_expression.value,
                "languageVersion": self.claims_matching_expression.language_version,
            }
        return body

    def to_arm_properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {"issuer": self.issuer, "audiences": list(self.audiences)}
        if self.subject is not None:
            props["subject"] = self.subject
        if self.claims_matching_expression is not None:
            props["claimsMatchingExpression"] = {
                "value": self.claims_matching_expression.value,
                "languageVersion": self.claims_matching_expression.language_version,
            }
        return props


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    id: str  # the GUID (last segment of the ARM id)
    name: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    id: str
    role_definition_id: str  # full ARM id or bare GUID as given
    principal_id: str
    scope: str
    principal_type: str | None = None
    condition: str | None = None
    condition_version: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def role_guid(self) -> str:
        return last_segment(self.role_definition_id).lower()

    def to_ref(self, role_name: str | None = None) -> dict[str, str]:
        return {"id": self.id, "role": role_name or self.role_guid, "scope": self.scope}

    @classmethod
    def from_arm(cls, obj: Mapping[str, Any]) -> RoleAssignment:
        props = obj.get("properties")
        if not isinstance(props, Mapping):
            raise ModelError("role assignment: 'properties' must be an object")
        rid = obj.get("id")
        if not isinstance(rid, str) or not rid:
            raise ModelError("role assignment: 'id' is missing or not a string")
        scope = props.get("scope")
        if not isinstance(scope, str):
            # ARM always returns scope; derive it from the id when a caller omitted it.
            marker = "/providers/microsoft.authorization/roleassignments/"
            idx = rid.lower().find(marker)
            scope = rid[:idx] if idx >= 0 else ""
            scope = scope or "/"
        return cls(
            id=rid,
            role_definition_id=_req_str(props, "roleDefinitionId", "properties.roleDefinitionId"),
            principal_id=_req_str(props, "principalId", "properties.principalId"),
            scope=scope,
            principal_type=_opt_str(props, "principalType", "properties.principalType"),
            condition=_opt_str(props, "condition", "properties.condition") or None,
            condition_version=_opt_str(props, "conditionVersion", "properties.conditionVersion"),
            raw=dict(obj),
        )


@dataclass(frozen=True, slots=True)
class Owner:
    id: str
    display_name: str | None = None
    user_principal_name: str | None = None
    mail: str | None = None
    kind: str = "user"  # user | servicePrincipal | tag

    @classmethod
    def from_graph(cls, obj: Mapping[str, Any]) -> Owner:
        odata = str(obj.get("@odata.type", "#microsoft.graph.user"))
        return cls(
            id=str(obj.get("id", "")),
            display_name=_opt_str(obj, "displayName"),
            user_principal_name=_opt_str(obj, "userPrincipalName"),
            mail=_opt_str(obj, "mail"),
            kind="servicePrincipal" if odata.endswith("servicePrincipal") else "user",
        )

    @property
    def address(self) -> str | None:
        """Where a chat mention should point: mail, then UPN."""
        return self.mail or self.user_principal_name


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, from audit-log ``initiatedBy`` or Event Grid ``claims``."""

    kind: str  # user | app
    id: str | None = None
    display_name: str | None = None
    user_principal_name: str | None = None
    app_id: str | None = None
    ip_address: str | None = None


@dataclass(frozen=True, slots=True)
class TrustContext:
    """Everything the rules need about one identity, read live."""

    identity: Identity
    credentials: tuple[Credential, ...] = ()
    role_assignments: tuple[RoleAssignment, ...] = ()
    owners: tuple[Owner, ...] | None = None  # None: unknown
    # Shared by every context of a sweep (all definitions read live), so left out of repr: Python
    # 3.11's asyncio.run formats the main task's result when it restores the SIGINT handler.
    role_definitions: Mapping[str, RoleDefinition] = field(default_factory=dict, repr=False)
    tenant_id: str | None = None  # when known, its root management group counts as root scope
    # Graph-side privilege (app permissions, directory roles, ownership, trust chains); None: not read.
    privilege: Privilege | None = field(default=None, repr=False)
    # What registered context sources read (wifguard.sources.ContextSource), by source name; a
    # source that could not read an identity leaves no entry (never "nothing there").
    extras: Mapping[str, Any] = field(default_factory=dict, repr=False)


class ChangeKind(StrEnum):
    CREDENTIAL_ADDED = "credentialAdded"
    CREDENTIAL_CHANGED = "credentialChanged"
    CREDENTIAL_REMOVED = "credentialRemoved"
    CREDENTIAL_WRITTEN = "credentialWritten"  # ARM write: added or changed, unknown which
    ROLE_ASSIGNMENT_WRITTEN = "roleAssignmentWritten"
    ROLE_ASSIGNMENT_REMOVED = "roleAssignmentRemoved"
    IDENTITY = "identity"  # re-evaluate the identity as a whole (sweep)


@dataclass(frozen=True, slots=True)
class Change:
    """A decoded trigger payload: which identity changed, how, and what the payload showed.

    For applications ``identity_id`` is the Graph object id (audit ``targetResources[].id``
    for ``Application``; for ``ServicePrincipal`` targets it is the service principal id and
    ``identity_id_kind`` says so). For managed identities it is the ARM resource id.
    Role-assignment changes carry ``principal_id`` (may be unknown after a delete).
    """

    source: str  # audit-log | event-grid | sweep | cli
    event_id: str
    kind: ChangeKind
    identity_kind: IdentityKind | None = None
    identity_id: str | None = None
    identity_id_kind: str = "objectId"  # objectId | servicePrincipalId | resourceId | principalId
    identity_name: str | None = None
    credential_name: str | None = None
    old_credential: Credential | None = None
    new_credential: Credential | None = None
    role_assignment_id: str | None = None
    principal_id: str | None = None
    actor: Actor | None = None
    time: str | None = None
    tenant_id: str | None = None
    # Set by the pipeline, not by handlers: the verified quarantine backup of this very
    # credential (it was removed and has come back).
    quarantined_backup: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    severity: Severity
    title: str
    message: str
    identity: Mapping[str, str]
    remediation: str
    fingerprint: str
    credential: Mapping[str, str | None] | None = None
    role_assignment: Mapping[str, str] | None = None
    action: str = "notify"  # notify | quarantine
    category: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule_id": self.rule_id,
            "severity": self.severity.label,
            "title": self.title,
            "message": self.message,
            "identity": dict(self.identity),
            "credential": dict(self.credential) if self.credential is not None else None,
            "role_assignment": dict(self.role_assignment) if self.role_assignment is not None else None,
            "remediation": self.remediation,
            "action": self.action,
            "fingerprint": self.fingerprint,
        }
        if self.evidence:
            # `evidence: event` marks a finding made from an event's copy of the credential
            # (the live read found nothing); the rest says which event and why.
            detail = dict(self.evidence)
            basis = detail.pop("basis", None)
            if basis is not None:
                out["evidence"] = basis
                out["evidence_detail"] = detail
            else:
                out["evidence"] = detail
        return out


def fingerprint(
    rule_id: str,
    identity_id: str,
    credential: Mapping[str, str | None] | None = None,
    role_assignment_id: str | None = None,
) -> str:
    """Stable id of one violation: the same rule on the same object always gives the same value.

    Credential findings key on name (immutable) plus issuer and subject, so that a credential
    patched to a *different* risky trust is a new finding while re-deliveries and re-sweeps
    hit the same record. Ids are compared case-insensitively (GUIDs, ARM ids).
    """
    parts = [rule_id.upper(), identity_id.lower()]
    if credential is not None:
        parts += [
            "c",
            str(credential.get("name") or ""),
            str(credential.get("issuer") or ""),
            str(credential.get("subject") or ""),
        ]
    if role_assignment_id:
        parts += ["r", role_assignment_id.lower()]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


# -- small shape helpers ----------------------------------------------------------------------

def _req_str(obj: Mapping[str, Any], key: str, label: str | None = None) -> str:
    v = obj.get(key)
    if v is None:
        raise ModelError(f"'{label or key}' is missing")
    if not isinstance(v, str):
        raise ModelError(f"'{label or key}' must be a string, not {type(v).__name__}")
    return v


def _opt_str(obj: Mapping[str, Any], key: str, label: str | None = None) -> str | None:
    v = obj.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ModelError(f"'{label or key}' must be a string, not {type(v).__name__}")
    return v


def _str_list(obj: Mapping[str, Any], key: str, label: str | None = None) -> tuple[str, ...]:
    v = obj.get(key)
    if v is None:
        return ()
    if isinstance(v, str):
        raise ModelError(f"'{label or key}' must be a list of strings, not a string")
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ModelError(f"'{label or key}' must be a list of strings")
    return tuple(v)


def _cme(v: Any, label: str) -> ClaimsMatchingExpression | None:
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise ModelError(f"'{label}' must be an object")
    value = v.get("value")
    if not isinstance(value, str):
        raise ModelError(f"'{label}.value' must be a string")
    ver = v.get("languageVersion", 1)
    if not isinstance(ver, int):
        raise ModelError(f"'{label}.languageVersion' must be an integer")
    return ClaimsMatchingExpression(value, ver)
