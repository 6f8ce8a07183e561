"""Entra audit-log records (streamed to Event Hub) → federated identity credential changes.

Input shapes, all accepted by :func:`decode_audit_bodies`:

* an Event Hub message body ``{"records": [record, ...]}`` as ``bytes``/``str``/``dict``
  (one trigger invocation holds several of them), or an object with ``get_body()``
  (``azure.functions.EventHubEvent``);
* a single record, or a JSON list of records / bodies (replay files);
* the Graph ``directoryAudit`` shape (``GET /auditLogs/directoryAudits``, Log Analytics exports,
  incident write-ups): the same fields at the top level, without the ``properties`` wrapper,
  alone, in a list, or in a ``{"value": [...]}`` page;
* NDJSON: one record, body or page per line (exports); each line is reported on its own.

Every record yields exactly one :class:`~handlers.base.Decoded`; a body that cannot be parsed
(or whose ``records`` is not a list) yields one ``rejected`` entry for the whole body.

A federated identity credential (FIC) change is a successful ``Update application`` or
``Update service principal`` whose ``targetResources[].modifiedProperties[]`` holds an entry
named ``FederatedIdentityCredentials``. Its ``oldValue``/``newValue`` are JSON-encoded arrays of
PascalCase credential objects. Whether those arrays hold the identity's *full* list of
credentials or only the entry that changed is not documented, so the diff is built to be right
under both readings (see :func:`diff_credentials`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol

import orjson

from handlers.base import (
    ACCEPTED,
    IGNORED,
    REJECTED,
    SOURCE_AUDIT_LOG,
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
from wifguard.domain.model import Actor, Change, ChangeKind, Credential, IdentityKind, ModelError
from wifguard.pipeline.intake import register_decoder

__all__ = ["decode_audit_bodies", "diff_credentials"]

log = logging.getLogger(__name__)

FIC_PROPERTY: Final = "FederatedIdentityCredentials"
#: normalised activity name → the target type it acts on
FIC_ACTIVITIES: Final = {
    "update application": "Application",
    "update service principal": "ServicePrincipal",
    # Agent identity blueprints inherit from application and hold federated credentials; their
    # audit activity name is not documented yet (unverified), the target type is.
    "update agent identity blueprint": "Application",
}
_MAX_NESTED_JSON: Final = 4  # how many times a value may be JSON-encoded inside a string


class HasBody(Protocol):
    """What the Event Hub trigger passes (``azure.functions.EventHubEvent``)."""

    def get_body(self) -> bytes: ...


Body = bytes | str | Mapping[str, Any] | list[Any] | HasBody


@register_decoder(SOURCE_AUDIT_LOG)
def decode_audit_bodies(bodies: Iterable[Body] | Body) -> list[Decoded]:
    """Decode Event Hub message bodies (or replay-file content) into one entry per record."""
    return decode_each(as_items(bodies), _decode_body, "body", SOURCE_AUDIT_LOG)


# -- bodies ----------------------------------------------------------------------------------


def _decode_body(body: Any, where: str) -> list[Decoded]:
    if hasattr(body, "get_body") and callable(body.get_body):
        try:
            body = body.get_body()
        except Exception as exc:
            raw = repr(body)
            return [_rejected(sha256_id(raw), f"{where} could not be read ({type(exc).__name__}: {exc})", raw)]
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if isinstance(body, bytes | str):
        try:
            parsed = loads(body)
        except Malformed as exc:
            lines = _ndjson_lines(body)
            if lines is None:
                return [_rejected(sha256_id(body), f"{where} {exc}", body)]
            return _decode_ndjson(lines, where)
        return _decode_parsed(parsed, where, body)
    if isinstance(body, Mapping | list | tuple):
        return _decode_parsed(body, where, None)
    raw = dumps(body)
    return [_rejected(sha256_id(raw), f"{where} has unsupported type {type(body).__name__}", raw)]


def _ndjson_lines(body: bytes | str) -> list[tuple[int, str]] | None:
    """The non-blank lines of an NDJSON text (1-based numbers), or None if it is not NDJSON:
    at least two lines, the first of which is a JSON object on its own."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None  # not text: rejected whole, as not UTF-8
    else:
        text = body
    lines = [(n, line) for n, line in enumerate(text.lstrip("\ufeff").splitlines(), 1) if line.strip()]
    if len(lines) < 2:
        return None
    try:
        first = loads(lines[0][1])
    except Malformed:
        return None
    return lines if isinstance(first, Mapping) else None


def _decode_ndjson(lines: list[tuple[int, str]], where: str) -> list[Decoded]:
    prefix = "" if where == "body" else f"{where} "
    out: list[Decoded] = []
    for n, line in lines:
        label = f"{prefix}line {n}"
        try:
            parsed = loads(line)
        except Malformed as exc:
            out.append(_rejected(sha256_id(line), f"{label} {exc}", line))
            continue
        out.extend(_decode_parsed(parsed, label, line))
    return out


def _decode_parsed(obj: Any, where: str, raw_body: bytes | str | None) -> list[Decoded]:
    if isinstance(obj, Mapping):
        if "records" not in obj and isinstance(obj.get("value"), list | tuple) and "properties" not in obj:
            # A Graph page: {"@odata.context": ..., "value": [directoryAudit, ...]}
            return with_raw([_decode_record(rec, i, _label(where, i)) for i, rec in enumerate(obj["value"])],
                            obj["value"], raw_body, "value")
        if "records" in obj:
            records = obj["records"]
            if not isinstance(records, list | tuple):
                raw = raw_body if raw_body is not None else dumps(obj)
                reason = f"{where}: 'records' is not a list (got {type_name(records)})"
                return [_rejected(sha256_id(raw), reason, raw)]
            # each record keeps its own exact bytes: parking and dedup digest them
            return with_raw([_decode_record(rec, i, _label(where, i)) for i, rec in enumerate(records)],
                            records, raw_body, "records")
        one = _decode_record(obj, 0, _label(where, None))
        if one.status == IGNORED:
            return [one]
        return [dataclasses.replace(one, raw=raw_body if raw_body is not None else dumps(obj))]
    if isinstance(obj, list | tuple):
        out: list[Decoded] = []
        if not any(_nested_body(item) for item in obj):
            return with_raw([_decode_record(item, i, _label(where, i)) for i, item in enumerate(obj)],
                            obj, raw_body, None)
        for i, item in enumerate(obj):
            if _nested_body(item):
                out.extend(_decode_parsed(item, f"{where} item {i}", None))
            else:
                d = _decode_record(item, i, _label(where, i))
                out.append(d if d.raw is not None or d.status == IGNORED else dataclasses.replace(d, raw=dumps(item)))
        return out
    raw = raw_body if raw_body is not None else dumps(obj)
    return [_rejected(sha256_id(raw), f"{where} is not a JSON object or array (got {type_name(obj)})", raw)]


def _nested_body(item: Any) -> bool:
    """An Event Hub body or a Graph page inside a list (not a record)."""
    return isinstance(item, Mapping) and "properties" not in item and (
        "records" in item or isinstance(item.get("value"), list | tuple))


def _label(where: str, index: int | None) -> str:
    prefix = "" if where == "body" else f"{where} "
    return f"{prefix}record {index}" if index is not None else f"{prefix}record"


def _rejected(rid: str, reason: str, raw: bytes | str) -> Decoded:
    return Decoded(id=rid, status=REJECTED, reason=reason, changes=(), raw=raw, source=SOURCE_AUDIT_LOG)


# -- one record ------------------------------------------------------------------------------


def _record_id(rec: Mapping[str, Any], props: Mapping[str, Any] | None, index: int) -> str | None:
    if props is not None:
        pid = props.get("id")
        if isinstance(pid, str) and pid.strip():
            return pid
    corr = opt_str(rec.get("correlationId"))
    if corr is None and props is not None:
        corr = opt_str(props.get("correlationId"))
    if corr is not None:
        return f"{corr}#{index}"
    return None


def _decode_record(rec: Any, index: int, label: str) -> Decoded:
    rid: str | None = None
    try:
        if not isinstance(rec, Mapping):
            raise Malformed(f"{label} is not an object (got {type_name(rec)})")
        props = rec.get("properties")
        if isinstance(props, str):  # some forwarders stringify nested objects
            try:
                props = orjson.loads(props)
            except orjson.JSONDecodeError:
                raise Malformed(f"{label}: properties is not valid JSON") from None
        if props is None and ("activityDisplayName" in rec or "targetResources" in rec):
            # The Graph directoryAudit shape: the properties' fields at the top level.
            props = rec
        rid = _record_id(rec, props if isinstance(props, Mapping) else None, index)
        if props is None:
            raise Malformed(f"{label}: properties is missing (neither an Event Hub record nor a Graph "
                            "directoryAudit: no activityDisplayName or targetResources)")
        if not isinstance(props, Mapping):
            raise Malformed(f"{label}: properties is not an object (got {type_name(props)})")
        return _decode_properties(rec, props, rid or _hash_record(rec), label)
    except Malformed as exc:
        raw = dumps(rec)
        return _rejected(rid or sha256_id(raw), str(exc), raw)
    except Exception as exc:  # defensive: a bug here must not lose the rest of the batch
        log.warning("%s: decoding failed unexpectedly: %s", label, type(exc).__name__, exc_info=exc)
        raw = dumps(rec)
        return _rejected(rid or sha256_id(raw), f"{label}: unexpected error {type(exc).__name__}: {exc}", raw)


def _hash_record(rec: Mapping[str, Any]) -> str:
    return sha256_id(dumps(rec))


def _decode_properties(rec: Mapping[str, Any], props: Mapping[str, Any], rid: str, label: str) -> Decoded:
    activity = opt_str(props.get("activityDisplayName")) or opt_str(rec.get("operationName"))
    if activity is None:
        raise Malformed(f"{label}: properties.activityDisplayName is missing")
    norm = " ".join(activity.split()).casefold()
    if norm not in FIC_ACTIVITIES:
        return _ignored(rid, _not_fic_activity(activity, norm))

    result = opt_str(props.get("result")) or opt_str(rec.get("resultType"))
    if result is None:
        raise Malformed(f"{label}: properties.result is missing")
    if result.strip().casefold() != "success":
        why = opt_str(props.get("resultReason"))
        return _ignored(rid, f"operation failed: result={result}" + (f" ({why})" if why else ""))

    targets = props.get("targetResources")
    if not isinstance(targets, list | tuple):
        got = "is missing" if targets is None else f"is not a list (got {type_name(targets)})"
        raise Malformed(f"{label}: properties.targetResources {got}")

    changes: list[Change] = []
    other_props: list[str] = []
    for t_index, target in enumerate(targets):
        tpath = f"properties.targetResources[{t_index}]"
        if not isinstance(target, Mapping):
            raise Malformed(f"{label}: {tpath} is not an object (got {type_name(target)})")
        mods = target.get("modifiedProperties")
        if mods is None:
            continue
        if not isinstance(mods, list | tuple):
            raise Malformed(f"{label}: {tpath}.modifiedProperties is not a list (got {type_name(mods)})")
        for m_index, mod in enumerate(mods):
            mpath = f"{tpath}.modifiedProperties[{m_index}]"
            if not isinstance(mod, Mapping):
                raise Malformed(f"{label}: {mpath} is not an object (got {type_name(mod)})")
            name = mod.get("displayName")
            if not (isinstance(name, str) and name.strip().casefold() == FIC_PROPERTY.casefold()):
                if isinstance(name, str) and name and name != "Included Updated Properties":
                    other_props.append(name)
                continue
            changes.extend(_fic_changes(rec, props, target, tpath, mod, mpath, norm, rid, activity, label))

    if not changes:
        base = " ".join(activity.split())
        seen = ", ".join(dict.fromkeys(other_props)) or "no modified properties"
        return _ignored(rid, f"{base} without {FIC_PROPERTY} change ({seen})")
    return Decoded(
        id=rid, status=ACCEPTED, reason="", changes=tuple(changes), raw=None, source=SOURCE_AUDIT_LOG
    )


def _not_fic_activity(activity: str, norm: str) -> str:
    shown = " ".join(activity.split())
    for known in FIC_ACTIVITIES:
        if norm.startswith(known):
            detail = shown[len(known):].strip(" -\u2013\u2014:")
            return f"{shown[: len(known)]} without {FIC_PROPERTY} change ({detail or shown})"
    return f"activity '{shown}' is not a federated credential change"


def _ignored(rid: str, reason: str) -> Decoded:
    return Decoded(id=rid, status=IGNORED, reason=reason, changes=(), raw=None, source=SOURCE_AUDIT_LOG)


# -- the credential diff ---------------------------------------------------------------------


def _fic_changes(
    rec: Mapping[str, Any],
    props: Mapping[str, Any],
    target: Mapping[str, Any],
    tpath: str,
    mod: Mapping[str, Any],
    mpath: str,
    norm_activity: str,
    rid: str,
    activity: str,
    label: str,
) -> list[Change]:
    target_id = opt_str(target.get("id"))
    if target_id is None:
        raise Malformed(f"{label}: {tpath}.id is missing")
    ttype = opt_str(target.get("type"))
    kind_name = (ttype or "").strip().casefold()
    if kind_name == "agentidentityblueprint":
        kind_name = "application"  # an application (derived type): same object id and credentials
    if kind_name not in ("application", "serviceprincipal"):
        kind_name = FIC_ACTIVITIES[norm_activity].casefold()
    id_kind = "servicePrincipalId" if kind_name == "serviceprincipal" else "objectId"

    old_raw, new_raw = mod.get("oldValue"), mod.get("newValue")
    old = _credentials(old_raw, f"{label}: {mpath}.oldValue")
    new = _credentials(new_raw, f"{label}: {mpath}.newValue")
    diffs, unmatched = diff_credentials(old, new)

    evidence: dict[str, Any] = {
        "recordId": rid,
        "correlationId": opt_str(props.get("correlationId")) or opt_str(rec.get("correlationId")),
        "activity": activity,
        "operationType": opt_str(props.get("operationType")),
        "callerIpAddress": opt_str(rec.get("callerIpAddress")),
        "loggedByService": opt_str(props.get("loggedByService")),
        "targetType": ttype,
        "oldValue": truncate(old_raw),
        "newValue": truncate(new_raw),
    }
    user_agent = _user_agent(props.get("additionalDetails"))
    if user_agent:
        evidence["userAgent"] = user_agent
    if unmatched:
        # Entries only in oldValue while newValue looks like a partial list: not treated as
        # removed (see diff_credentials); kept as evidence for the re-evaluation.
        evidence["unmatchedOldCredentials"] = [c.name for c in unmatched]
    evidence = {k: v for k, v in evidence.items() if v is not None}

    common: dict[str, Any] = {
        "source": SOURCE_AUDIT_LOG,
        "event_id": rid,
        "identity_kind": IdentityKind.APPLICATION,
        "identity_id": target_id,
        "identity_id_kind": id_kind,
        "identity_name": opt_str(target.get("displayName")),
        "actor": _actor(rec, props),
        "time": opt_str(props.get("activityDateTime")) or opt_str(rec.get("time")),
        "tenant_id": _tenant_id(rec, props),
        "evidence": evidence,
    }
    if not diffs:
        return [Change(kind=ChangeKind.IDENTITY, **common)]
    return [
        Change(
            kind=kind,
            credential_name=_name(old_c, new_c),
            old_credential=old_c,
            new_credential=new_c,
            **common,
        )
        for kind, old_c, new_c in diffs
    ]


def _name(old: Credential | None, new: Credential | None) -> str | None:
    cred = new or old
    return cred.name if cred is not None else None


def _credentials(value: Any, path: str) -> list[Credential]:
    entries = _entries(value, path)
    out: list[Credential] = []
    for j, entry in enumerate(entries):
        try:
            out.append(Credential.from_audit(entry))
        except (ModelError, ValueError, TypeError) as exc:
            raise Malformed(f"{path}[{j}]: {exc}") from None
    return out


def _entries(value: Any, path: str) -> list[Mapping[str, Any]]:
    """The credential objects in an ``oldValue``/``newValue``, liberal about the encoding."""
    v = value
    for _ in range(_MAX_NESTED_JSON):
        if not isinstance(v, str):
            break
        if not v.strip():
            return []
        try:
            v = orjson.loads(v)
        except orjson.JSONDecodeError:
            raise Malformed(f"{path} is not valid JSON") from None
    if isinstance(v, str):
        raise Malformed(f"{path} is JSON text nested too deeply")
    if v is None:
        return []
    if isinstance(v, Mapping):
        v = [v]
    if not isinstance(v, list | tuple):
        raise Malformed(f"{path} is not a list of credentials (got {type_name(v)})")
    out: list[Mapping[str, Any]] = []
    for j, item in enumerate(v):
        if isinstance(item, str):
            try:
                item = orjson.loads(item)
            except orjson.JSONDecodeError:
                raise Malformed(f"{path}[{j}] is not valid JSON") from None
        if not isinstance(item, Mapping):
            raise Malformed(f"{path}[{j}] is not an object (got {type_name(item)})")
        out.append(item)
    return out


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").casefold() == (b or "").casefold()


def _differs(a: Credential, b: Credential) -> bool:
    return (
        a.issuer != b.issuer
        or (a.subject or None) != (b.subject or None)
        or a.audiences != b.audiences
        or (a.description or None) != (b.description or None)
        or a.claims_matching_expression != b.claims_matching_expression
    )


def diff_credentials(
    old: list[Credential], new: list[Credential]
) -> tuple[list[tuple[ChangeKind, Credential | None, Credential | None]], list[Credential]]:
    """Compare ``oldValue`` against ``newValue`` entries.

    Entries are paired by ``Id`` (case-insensitive) and, when either side has no ``Id``, by
    ``Name`` (case-insensitive; names are unique per identity and immutable). Returns the
    differences ``(kind, old, new)`` and the old entries left unpaired that were *not* reported
    as removed.

    The arrays may hold the full list or only the changed entry (unverified), so:

    * a new entry without a partner is **added** under both readings;
    * a paired entry whose issuer, subject, audiences, description or claims-matching
      expression differ is **changed**;
    * an old entry without a partner is **removed** only when the arrays look like full lists:
      ``newValue`` is empty (the last credential went away, or the single changed entry was
      deleted: both readings agree), or ``newValue`` also carries an *unchanged* entry (only a
      full list repeats untouched credentials). Otherwise (``newValue`` holds only added or
      changed entries) the missing old entries may simply have been left out of a partial
      list, so they are returned as unmatched instead of being reported as removed; the
      pipeline re-reads the live credentials in any case.
    """
    used: set[int] = set()
    diffs: list[tuple[ChangeKind, Credential | None, Credential | None]] = []
    unchanged = 0
    for n in new:
        match: int | None = None
        if n.id:
            match = next((i for i, o in enumerate(old) if i not in used and o.id and _same(o.id, n.id)), None)
        if match is None:
            match = next(
                (
                    i
                    for i, o in enumerate(old)
                    if i not in used and (not o.id or not n.id) and _same(o.name, n.name)
                ),
                None,
            )
        if match is None:
            diffs.append((ChangeKind.CREDENTIAL_ADDED, None, n))
            continue
        used.add(match)
        o = old[match]
        if _differs(o, n):
            diffs.append((ChangeKind.CREDENTIAL_CHANGED, o, n))
        else:
            unchanged += 1
    leftover = [o for i, o in enumerate(old) if i not in used]
    if leftover and (not new or unchanged):
        diffs.extend((ChangeKind.CREDENTIAL_REMOVED, o, None) for o in leftover)
        leftover = []
    return diffs, leftover


# -- who, when, where --------------------------------------------------------------------------


def _actor(rec: Mapping[str, Any], props: Mapping[str, Any]) -> Actor | None:
    initiated = props.get("initiatedBy")
    if not isinstance(initiated, Mapping):
        return None
    caller_ip = opt_str(rec.get("callerIpAddress"))
    user = initiated.get("user")
    if isinstance(user, Mapping) and (opt_str(user.get("id")) or opt_str(user.get("userPrincipalName"))):
        return Actor(
            kind="user",
            id=opt_str(user.get("id")),
            display_name=opt_str(user.get("displayName")),
            user_principal_name=opt_str(user.get("userPrincipalName")),
            ip_address=opt_str(user.get("ipAddress")) or caller_ip,
        )
    app = initiated.get("app")
    if isinstance(app, Mapping) and any(
        opt_str(app.get(k)) for k in ("servicePrincipalId", "appId", "displayName", "servicePrincipalName")
    ):
        return Actor(
            kind="app",
            id=opt_str(app.get("servicePrincipalId")),
            display_name=opt_str(app.get("displayName")) or opt_str(app.get("servicePrincipalName")),
            app_id=opt_str(app.get("appId")),
            ip_address=caller_ip,
        )
    return None


def _tenant_id(rec: Mapping[str, Any], props: Mapping[str, Any]) -> str | None:
    tid = opt_str(rec.get("tenantId")) or opt_str(props.get("tenantId"))
    if tid:
        return tid
    resource_id = opt_str(rec.get("resourceId"))
    if resource_id:
        parts = [p for p in resource_id.split("/") if p]
        if len(parts) >= 2 and parts[0].casefold() == "tenants":
            return parts[1]
    return None


def _user_agent(details: Any) -> str | None:
    if not isinstance(details, list | tuple):
        return None
    for item in details:
        if isinstance(item, Mapping) and _same(opt_str(item.get("key")), "User-Agent"):
            return truncate(opt_str(item.get("value")), 300)
    return None
