"""Azure Event Grid resource events (subscription system topic) → changes.

Both delivery schemas are accepted: the Event Grid schema (``id, topic, subject, eventType,
eventTime, dataVersion, metadataVersion, data``) and CloudEvents 1.0 (``specversion, id, source,
type, subject, time, data``), one event at a time or as a JSON array (what a webhook receives,
and what replay files hold). :func:`decode_function_event` takes what the Functions Event Grid
binding passes (``azure.functions.EventGridEvent`` or ``azure.functions.CloudEvent``).

Relevant: ``Microsoft.Resources.ResourceWriteSuccess`` / ``ResourceDeleteSuccess`` with
``data.operationName`` one of

* ``Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write|delete``
  → ``CREDENTIAL_WRITTEN`` / ``CREDENTIAL_REMOVED`` on the managed identity;
* ``Microsoft.Authorization/roleAssignments/write|delete`` → ``ROLE_ASSIGNMENT_WRITTEN`` /
  ``ROLE_ASSIGNMENT_REMOVED``.

The payload carries no request body. In particular ``data.authorization.evidence`` describes the
*caller's* own role assignment and ``data.claims`` the caller's token: they name who made the
change (``Change.actor``), never the principal the new assignment is for, so ``principal_id``
stays ``None`` and the pipeline reads the assignment itself.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import orjson

from handlers.base import (
    ACCEPTED,
    IGNORED,
    REJECTED,
    SOURCE_EVENT_GRID,
    Decoded,
    Malformed,
    as_items,
    decode_each,
    dumps,
    loads,
    opt_str,
    sha256_id,
    truncate,
    type_name,
)
from handlers.spans import with_raw
from wifguard.domain.model import Actor, Change, ChangeKind, IdentityKind
from wifguard.pipeline.intake import register_decoder

if TYPE_CHECKING:  # pragma: no cover
    import azure.functions as func

__all__ = ["decode_event_grid", "decode_function_event"]

VALIDATION_EVENT: Final = "microsoft.eventgrid.subscriptionvalidationevent"
WRITE_SUCCESS: Final = "microsoft.resources.resourcewritesuccess"
DELETE_SUCCESS: Final = "microsoft.resources.resourcedeletesuccess"
_FAILED_EVENTS: Final = frozenset(
    {
        "microsoft.resources.resourcewritefailure",
        "microsoft.resources.resourcewritecancel",
        "microsoft.resources.resourcedeletefailure",
        "microsoft.resources.resourcedeletecancel",
        "microsoft.resources.resourceactionfailure",
        "microsoft.resources.resourceactioncancel",
    }
)
_FAILED_STATUSES: Final = frozenset({"failed", "failure", "canceled", "cancelled", "conflict"})

FIC_OPERATION: Final = "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials/"
ROLE_ASSIGNMENT_OPERATION: Final = "microsoft.authorization/roleassignments/"
_FIC_SEGMENT: Final = "/federatedidentitycredentials/"
_RA_SEGMENT: Final = "/providers/microsoft.authorization/roleassignments/"

CLAIM_OBJECT_ID: Final = "http://schemas.microsoft.com/identity/claims/objectidentifier"
CLAIM_UPN: Final = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
CLAIM_TENANT: Final = "http://schemas.microsoft.com/identity/claims/tenantid"


@register_decoder(SOURCE_EVENT_GRID)
def decode_event_grid(events: Iterable[Any] | Mapping[str, Any] | bytes | str) -> list[Decoded]:
    """Decode Event Grid events (either schema, single or JSON arrays) into one entry per event."""
    return decode_each(as_items(events), _decode_item, "item", SOURCE_EVENT_GRID)


def decode_function_event(event: func.EventGridEvent | func.CloudEvent | Any) -> Decoded:
    """Decode what the Functions Event Grid trigger binding passes to the function."""
    try:
        mapping = _function_event_mapping(event)
    except Exception as exc:
        raw = repr(event)
        return _rejected(sha256_id(raw), f"event object could not be read: {type(exc).__name__}: {exc}", raw)
    # the binding hands over an object, not bytes: its JSON form is what is parked and digested
    return with_raw([_decode_one(mapping, "event", None)], [mapping], None, None)[0]


def _function_event_mapping(event: Any) -> dict[str, Any]:
    if isinstance(event, Mapping):
        return dict(event)
    if hasattr(event, "specversion") and hasattr(event, "type"):  # azure.functions.CloudEvent
        return {
            "specversion": event.specversion,
            "id": event.id,
            "source": event.source,
            "type": event.type,
            "subject": event.subject,
            "time": _iso(event.time),
            "data": event.get_json(),
        }
    return {
        "id": event.id,
        "topic": event.topic,
        "subject": event.subject,
        "eventType": event.event_type,
        "eventTime": _iso(event.event_time),
        "dataVersion": getattr(event, "data_version", None),
        "data": event.get_json(),
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


# -- items and events --------------------------------------------------------------------------


def _decode_item(item: Any, where: str) -> list[Decoded]:
    if isinstance(item, bytearray | memoryview):
        item = bytes(item)
    if isinstance(item, bytes | str):
        try:
            parsed = loads(item)
        except Malformed as exc:
            return [_rejected(sha256_id(item), f"{where} {exc}", item)]
        if isinstance(parsed, list):
            # each event keeps its own exact bytes: parking and dedup digest them
            return with_raw([_decode_one(ev, _label(where, i), None) for i, ev in enumerate(parsed)],
                            parsed, item, None)
        if isinstance(parsed, Mapping):
            one = _decode_one(parsed, _label(where, None), item)
            return [one if one.status == IGNORED else dataclasses.replace(one, raw=item)]
        reason = f"{where} is not a JSON object or array (got {type_name(parsed)})"
        return [_rejected(sha256_id(item), reason, item)]
    if isinstance(item, list | tuple):
        return with_raw([_decode_one(ev, _label(where, i), None) for i, ev in enumerate(item)], item, None, None)
    if isinstance(item, Mapping):
        return with_raw([_decode_one(item, _label(where, None), None)], [item], None, None)
    if hasattr(item, "get_json") and hasattr(item, "id"):
        return [decode_function_event(item)]
    raw = dumps(item)
    return [_rejected(sha256_id(raw), f"{where} has unsupported type {type(item).__name__}", raw)]


def _label(where: str, index: int | None) -> str:
    prefix = "" if where == "body" else f"{where} "
    return f"{prefix}event {index}" if index is not None else f"{prefix}event"


def _rejected(rid: str, reason: str, raw: bytes | str) -> Decoded:
    return Decoded(id=rid, status=REJECTED, reason=reason, changes=(), raw=raw, source=SOURCE_EVENT_GRID)


def _ignored(rid: str, reason: str) -> Decoded:
    return Decoded(id=rid, status=IGNORED, reason=reason, changes=(), raw=None, source=SOURCE_EVENT_GRID)


def _event_id(ev: Mapping[str, Any]) -> str | None:
    eid = ev.get("id")
    if isinstance(eid, bool):
        return None
    if isinstance(eid, int):
        return str(eid)
    return opt_str(eid)


def _decode_one(ev: Any, label: str, raw_text: bytes | str | None) -> Decoded:
    eid: str | None = None
    try:
        if not isinstance(ev, Mapping):
            raise Malformed(f"{label} is not an object (got {type_name(ev)})")
        eid = _event_id(ev)
        if eid is None:
            raise Malformed(f"{label}: 'id' is missing")
        return _decode_event(ev, eid, label)
    except Malformed as exc:
        raw = raw_text if raw_text is not None else dumps(ev)
        return _rejected(eid or sha256_id(raw), str(exc), raw)
    except Exception as exc:  # defensive: a bug here must not lose the rest of the batch
        raw = raw_text if raw_text is not None else dumps(ev)
        return _rejected(eid or sha256_id(raw), f"{label}: unexpected error {type(exc).__name__}: {exc}", raw)


def _decode_event(ev: Mapping[str, Any], eid: str, label: str) -> Decoded:
    cloud = "specversion" in ev or ("eventType" not in ev and "type" in ev)
    etype = opt_str(ev.get("type") if cloud else ev.get("eventType"))
    if etype is None:
        raise Malformed(f"{label}: '{'type' if cloud else 'eventType'}' is missing")
    norm_type = etype.strip().casefold()
    if norm_type == VALIDATION_EVENT:
        return _ignored(eid, "subscription validation")
    if norm_type in _FAILED_EVENTS:
        return _ignored(eid, f"operation failed: eventType={etype}")
    if norm_type not in (WRITE_SUCCESS, DELETE_SUCCESS):
        return _ignored(eid, f"event type '{etype}' is not a resource write or delete")

    data = _event_data(ev, label)
    operation = opt_str(data.get("operationName"))
    if operation is None:
        raise Malformed(f"{label}: data.operationName is missing")
    resource_uri = opt_str(data.get("resourceUri"))
    if resource_uri is None:
        raise Malformed(f"{label}: data.resourceUri is missing")
    status = opt_str(data.get("status"))
    if status is not None and status.strip().casefold() in _FAILED_STATUSES:
        return _ignored(eid, f"operation failed: status={status}")

    op = operation.strip().casefold()
    family, _, verb = op.rpartition("/")
    family += "/"
    if verb not in ("write", "delete") or family not in (FIC_OPERATION, ROLE_ASSIGNMENT_OPERATION):
        reason = f"operation '{operation}' is not a federated credential or role assignment change"
        return _ignored(eid, reason)
    common: dict[str, Any] = {
        "source": SOURCE_EVENT_GRID,
        "event_id": eid,
        "actor": _actor(data),
        "time": _event_time(ev, cloud),
        "tenant_id": _tenant(data),
        "evidence": _evidence(ev, data, etype, operation, resource_uri, cloud),
    }
    subject = opt_str(ev.get("subject"))
    if family == FIC_OPERATION:
        split = _split_fic(resource_uri) or (_split_fic(subject) if subject else None)
        if split is None:
            raise Malformed(
                f"{label}: data.resourceUri '{resource_uri}' does not name a federated identity credential"
            )
        identity_id, credential_name = split
        change = Change(
            kind=ChangeKind.CREDENTIAL_WRITTEN if verb == "write" else ChangeKind.CREDENTIAL_REMOVED,
            identity_kind=IdentityKind.MANAGED_IDENTITY,
            identity_id=identity_id,
            identity_id_kind="resourceId",
            identity_name=identity_id.rstrip("/").rsplit("/", 1)[-1],
            credential_name=credential_name,
            **common,
        )
    else:
        assignment_id = _role_assignment_id(resource_uri) or (_role_assignment_id(subject) if subject else None)
        if assignment_id is None:
            raise Malformed(f"{label}: data.resourceUri '{resource_uri}' does not name a role assignment")
        written = verb == "write"
        change = Change(
            kind=ChangeKind.ROLE_ASSIGNMENT_WRITTEN if written else ChangeKind.ROLE_ASSIGNMENT_REMOVED,
            role_assignment_id=assignment_id,
            principal_id=None,  # not in the payload; data.authorization.evidence is the caller's
            **common,
        )
    return Decoded(id=eid, status=ACCEPTED, reason="", changes=(change,), raw=None, source=SOURCE_EVENT_GRID)


def _event_data(ev: Mapping[str, Any], label: str) -> Mapping[str, Any]:
    data = ev.get("data")
    if data is None and isinstance(ev.get("data_base64"), str):
        try:
            data = base64.b64decode(ev["data_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise Malformed(f"{label}: data_base64 is not valid base64") from None
    if isinstance(data, bytes | str):
        try:
            data = loads(data)
        except Malformed as exc:
            raise Malformed(f"{label}: data {exc}") from None
    if data is None:
        raise Malformed(f"{label}: data is missing")
    if not isinstance(data, Mapping):
        raise Malformed(f"{label}: data is not an object (got {type_name(data)})")
    return data


def _split_fic(uri: str) -> tuple[str, str] | None:
    """``.../userAssignedIdentities/{uami}/federatedIdentityCredentials/{name}`` → (uami id, name)."""
    trimmed = uri.strip().rstrip("/")
    idx = trimmed.casefold().rfind(_FIC_SEGMENT)
    if idx <= 0:
        return None
    identity_id = trimmed[:idx]
    name = trimmed[idx + len(_FIC_SEGMENT):]
    if not name or "/" in name or not identity_id.strip("/"):
        return None
    return identity_id, name


def _role_assignment_id(uri: str) -> str | None:
    """``{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`` as given, else None."""
    trimmed = uri.strip().rstrip("/")
    idx = trimmed.casefold().rfind(_RA_SEGMENT)
    if idx < 0:
        return None
    name = trimmed[idx + len(_RA_SEGMENT):]
    if not name or "/" in name:
        return None
    return trimmed


def _event_time(ev: Mapping[str, Any], cloud: bool) -> str | None:
    value = ev.get("time") if cloud else ev.get("eventTime")
    return opt_str(_iso(value))


def _tenant(data: Mapping[str, Any]) -> str | None:
    tid = opt_str(data.get("tenantId"))
    if tid:
        return tid
    claims = _claims(data)
    return opt_str(claims.get(CLAIM_TENANT)) or opt_str(claims.get("tid"))


def _claims(data: Mapping[str, Any]) -> Mapping[str, Any]:
    claims = data.get("claims")
    if isinstance(claims, str):
        try:
            claims = orjson.loads(claims)
        except orjson.JSONDecodeError:
            return {}
    return claims if isinstance(claims, Mapping) else {}


def _actor(data: Mapping[str, Any]) -> Actor | None:
    """The caller, from the token claims (falling back to the caller's authorization evidence)."""
    claims = _claims(data)
    object_id = opt_str(claims.get(CLAIM_OBJECT_ID)) or opt_str(claims.get("oid"))
    app_id = opt_str(claims.get("appid")) or opt_str(claims.get("azp"))
    name = opt_str(claims.get("name"))
    upn = opt_str(claims.get(CLAIM_UPN)) or opt_str(claims.get("upn"))
    idtyp = (opt_str(claims.get("idtyp")) or "").casefold()
    http = data.get("httpRequest")
    ip = opt_str(claims.get("ipaddr"))
    if ip is None and isinstance(http, Mapping):
        ip = opt_str(http.get("clientIpAddress"))
    evidence = _authorization_evidence(data)
    from_evidence = False
    if object_id is None:
        # The caller's principal, from the caller's own authorization: fine for the *actor*.
        object_id = _dashed_guid(opt_str(evidence.get("principalId")))
        from_evidence = object_id is not None
    if not any((object_id, app_id, name, upn)):
        return None
    if upn or name:
        kind = "app" if idtyp == "app" else "user"
    elif from_evidence:
        kind = "user" if (opt_str(evidence.get("principalType")) or "").casefold() == "user" else "app"
    else:
        kind = "app"
    return Actor(
        kind=kind,
        id=object_id,
        display_name=name,
        user_principal_name=upn if kind == "user" else None,
        app_id=app_id,
        ip_address=ip,
    )


def _dashed_guid(value: str | None) -> str | None:
    """ARM writes ``evidence.principalId`` as 32 hex digits; give it the usual dashed form."""
    if value is not None and len(value) == 32 and all(c in "0123456789abcdefABCDEF" for c in value):
        v = value.lower()
        return f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}"
    return value


def _authorization_evidence(data: Mapping[str, Any]) -> Mapping[str, Any]:
    auth = data.get("authorization")
    if not isinstance(auth, Mapping):
        return {}
    evidence = auth.get("evidence")
    return evidence if isinstance(evidence, Mapping) else {}


def _evidence(
    ev: Mapping[str, Any],
    data: Mapping[str, Any],
    etype: str,
    operation: str,
    resource_uri: str,
    cloud: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "eventType": etype,
        "operationName": operation,
        "resourceUri": resource_uri,
        "subject": opt_str(ev.get("subject")),
        "topic": opt_str(ev.get("source") if cloud else ev.get("topic")),
        "schema": "cloudEvents" if cloud else "eventGrid",
        "status": opt_str(data.get("status")),
        "correlationId": opt_str(data.get("correlationId")),
        "subscriptionId": opt_str(data.get("subscriptionId")),
        "resourceProvider": opt_str(data.get("resourceProvider")),
    }
    http = data.get("httpRequest")
    if isinstance(http, Mapping):
        out["clientIpAddress"] = opt_str(http.get("clientIpAddress"))
        out["httpMethod"] = opt_str(http.get("method"))
        out["clientRequestId"] = opt_str(http.get("clientRequestId"))
    auth = data.get("authorization")
    if isinstance(auth, Mapping):
        out["callerAction"] = opt_str(auth.get("action"))
        caller = _authorization_evidence(data)
        if caller:
            # The caller's own role assignment that allowed the call (NOT the new assignment).
            out["callerAuthorization"] = {
                k: truncate(v, 500) for k, v in caller.items() if isinstance(k, str) and v is not None
            }
    return {k: v for k, v in out.items() if v is not None}
