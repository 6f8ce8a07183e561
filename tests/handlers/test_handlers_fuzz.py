"""Property-based fuzzing of both decoders.

Whatever arrives (random bytes, random JSON, valid payloads with fields dropped or replaced by
random JSON, also inside the JSON-encoded credential arrays), no exception escapes, every input
record or event is accounted for by exactly one ``Decoded`` entry, and each entry is well formed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import orjson
from handlers_testdata import DATA, fic_property, load_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import ACCEPTED, IGNORED, REJECTED, STATUSES, Decoded, decode_audit_bodies, decode_event_grid
from wifguard.domain.model import Change, ChangeKind, IdentityKind

FUZZ = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

AUDIT_RECORDS: list[dict[str, Any]] = [
    rec for path in sorted(DATA.glob("audit_*.json")) for rec in load_json(path.name)["records"]
]
EVENTS: list[dict[str, Any]] = []
for _path in sorted(DATA.glob("*event*.json")):
    _doc = load_json(_path.name)
    EVENTS.extend(_doc if isinstance(_doc, list) else [_doc])

KEYS = st.sampled_from(
    ["records", "properties", "id", "result", "activityDisplayName", "operationName", "targetResources",
     "modifiedProperties", "displayName", "oldValue", "newValue", "type", "data", "eventType", "specversion",
     "resourceUri", "subject", "Name", "Issuer", "Audiences", "Id"]
) | st.text(max_size=6)
SPICY = st.sampled_from(
    ["", " ", "[]", "null", "[{]", "9" * 5000, "Update application", "success", "FederatedIdentityCredentials",
     "Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Authorization/roleAssignments/write",
     "/federatedIdentityCredentials/", '"[]"', '[{"Name":"n","Issuer":"i"}]', '{"Name":1}', -1, 2**70, True,
     1e308, [], {}, [None], {"records": None}]
)
JSON_SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20) | SPICY
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=12,
)


# -- oracles ----------------------------------------------------------------------------------------


def _parse(text: bytes | str) -> tuple[bool, Any]:
    if isinstance(text, bytes) and text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    if isinstance(text, str) and text.startswith("\ufeff"):
        text = text[1:]
    try:
        return True, orjson.loads(text)
    except orjson.JSONDecodeError:
        return False, None


def expected_audit_units(body: Any) -> list[Any]:
    """What each Decoded for this body stands for: a record, or the body itself (``BODY``)."""
    if isinstance(body, bytes | str):
        ok, parsed = _parse(body)
        if not ok:
            return _ndjson_units(body) or [BODY]
        body = parsed
    if isinstance(body, dict):
        if "records" not in body and "properties" not in body and isinstance(body.get("value"), list):
            return list(body["value"])  # a Graph page of directoryAudits
        if "records" in body:
            recs = body["records"]
            return list(recs) if isinstance(recs, list) else [BODY]
        return [body]
    if isinstance(body, list):
        units: list[Any] = []
        for item in body:
            if isinstance(item, dict) and "properties" not in item and (
                    "records" in item or isinstance(item.get("value"), list)):
                units.extend(expected_audit_units(item))
            else:
                units.append(item)
        return units
    return [BODY]


def _ndjson_units(body: bytes | str) -> list[Any] | None:
    """NDJSON: two or more non-blank lines, the first a JSON object; one unit per line's content."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    lines = [line for line in body.lstrip("\ufeff").splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    ok, first = _parse(lines[0])
    if not ok or not isinstance(first, dict):
        return None
    units: list[Any] = []
    for line in lines:
        ok, parsed = _parse(line)
        units += expected_audit_units(parsed) if ok else [BODY]
    return units


def expected_event_units(item: Any) -> list[Any]:
    if isinstance(item, bytes | str):
        ok, parsed = _parse(item)
        if not ok:
            return [BODY]
        if isinstance(parsed, list):
            return list(parsed)
        return [parsed] if isinstance(parsed, dict) else [BODY]
    if isinstance(item, list):
        return list(item)
    return [item] if isinstance(item, dict) else [BODY]


BODY = object()


def check_common(d: Decoded, source: str) -> None:
    assert isinstance(d, Decoded)
    assert d.status in STATUSES
    assert d.source == source
    assert isinstance(d.id, str) and d.id
    assert isinstance(d.reason, str)
    # the catch-all safety net must never be what handled an input: that would be a bug
    assert "unexpected error" not in d.reason, d.reason
    if d.status == REJECTED:
        assert d.reason and d.raw is not None and d.changes == ()
        assert isinstance(d.raw, bytes | str)
    elif d.status == IGNORED:
        assert d.reason and d.raw is None and d.changes == ()
    else:
        assert d.status == ACCEPTED and d.reason == "" and isinstance(d.raw, bytes | str) and d.changes
        for change in d.changes:
            assert isinstance(change, Change)
            assert change.source == source and change.event_id == d.id
            assert isinstance(change.kind, ChangeKind)


def check_audit(decoded: list[Decoded], units: list[Any]) -> None:
    assert len(decoded) == len(units)
    for d, unit in zip(decoded, units, strict=True):
        check_common(d, "audit-log")
        if unit is BODY:
            assert d.status == REJECTED
            continue
        props = unit.get("properties") if isinstance(unit, dict) else None
        if props is None and isinstance(unit, dict) and ("activityDisplayName" in unit or "targetResources" in unit):
            props = unit  # a Graph directoryAudit: the fields at the top level
        pid = props.get("id") if isinstance(props, dict) else None
        if isinstance(pid, str) and pid.strip():
            assert d.id == pid
        if d.status != IGNORED and isinstance(unit, dict):
            assert d.raw is not None and json.loads(d.raw) == unit  # the record itself (its own bytes) is parked
        for change in d.changes:
            assert change.identity_kind is IdentityKind.APPLICATION
            assert isinstance(change.identity_id, str) and change.identity_id
            assert change.identity_id_kind in ("objectId", "servicePrincipalId")
            assert change.kind in (
                ChangeKind.CREDENTIAL_ADDED, ChangeKind.CREDENTIAL_CHANGED,
                ChangeKind.CREDENTIAL_REMOVED, ChangeKind.IDENTITY,
            )


def check_events(decoded: list[Decoded], units: list[Any]) -> None:
    assert len(decoded) == len(units)
    for d, unit in zip(decoded, units, strict=True):
        check_common(d, "event-grid")
        if unit is BODY:
            assert d.status == REJECTED
            continue
        eid = unit.get("id") if isinstance(unit, dict) else None
        if isinstance(eid, str) and eid.strip():
            assert d.id == eid
        if d.status == ACCEPTED:
            (change,) = d.changes
            if change.kind in (ChangeKind.ROLE_ASSIGNMENT_WRITTEN, ChangeKind.ROLE_ASSIGNMENT_REMOVED):
                assert change.principal_id is None  # never the caller from authorization.evidence
                assert change.role_assignment_id
            else:
                assert change.kind in (ChangeKind.CREDENTIAL_WRITTEN, ChangeKind.CREDENTIAL_REMOVED)
                assert change.identity_kind is IdentityKind.MANAGED_IDENTITY
                assert change.identity_id and change.credential_name


# -- structured mutations ------------------------------------------------------------------------------


def _paths(obj: Any) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside ``obj`` (iteratively: no recursion limit surprises)."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), obj)]
    while stack:
        prefix, node = stack.pop()
        if prefix:
            yield prefix
        if isinstance(node, dict):
            stack.extend(((*prefix, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*prefix, i), v) for i, v in enumerate(node))


def _mutate_tree(draw: st.DrawFn, doc: Any, rounds: int) -> Any:
    for _ in range(rounds):
        paths = list(_paths(doc))
        if not paths:
            return doc
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[key]
        else:
            # A copy: SPICY samples the same list/dict objects every time, and a later round may
            # mutate inside them (shared state makes hypothesis report a flaky strategy).
            parent[key] = copy.deepcopy(draw(JSON))
    return doc


@st.composite
def mutated_records(draw: st.DrawFn) -> Any:
    rec = copy.deepcopy(draw(st.sampled_from(AUDIT_RECORDS)))
    if draw(st.booleans()):
        # mutate inside the JSON-encoded credential arrays
        try:
            mod = fic_property(rec)
        except AssertionError:
            mod = None
        if mod is not None:
            side = draw(st.sampled_from(["oldValue", "newValue"]))
            inner = json.loads(mod[side]) if isinstance(mod[side], str) and mod[side] else mod[side]
            inner = _mutate_tree(draw, inner, draw(st.integers(1, 3)))
            mod[side] = json.dumps(inner) if draw(st.booleans()) else inner
    return _mutate_tree(draw, rec, draw(st.integers(0, 3)))


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    event = copy.deepcopy(draw(st.sampled_from(EVENTS)))
    return _mutate_tree(draw, event, draw(st.integers(1, 4)))


# -- audit logs ------------------------------------------------------------------------------------------


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=4))
def test_audit_arbitrary_bytes(bodies: list[bytes]) -> None:
    out = decode_audit_bodies(bodies)
    check_audit(out, [u for b in bodies for u in expected_audit_units(b)])


@FUZZ
@given(st.lists(JSON, max_size=3), st.booleans())
def test_audit_arbitrary_json(bodies: list[Any], as_bytes: bool) -> None:
    items: list[Any] = [json.dumps(b).encode() for b in bodies] if as_bytes else bodies
    out = decode_audit_bodies(items)
    check_audit(out, [u for b in items for u in expected_audit_units(b)])


@FUZZ
@given(st.lists(mutated_records() | JSON, min_size=1, max_size=5), st.sampled_from(["bytes", "dict", "list"]))
def test_audit_mutated_records(records: list[Any], shape: str) -> None:
    body: Any = {"records": records}
    if shape == "bytes":
        body = json.dumps(body).encode()
    elif shape == "list":
        body = records
    good = json.dumps({"records": [AUDIT_RECORDS[0]]})
    out = decode_audit_bodies([body, good])
    units = expected_audit_units(body)
    check_audit(out[:-1], units)
    # the well-formed body after the mutated one is always decoded
    assert out[-1].status == ACCEPTED and out[-1].id == AUDIT_RECORDS[0]["properties"]["id"]


@FUZZ
@given(mutated_records(), st.integers(0, 400))
def test_audit_truncated_bodies(record: Any, cut: int) -> None:
    text = json.dumps({"records": [record]}).encode()
    chunk = text[: min(cut, len(text) - 1)]
    out = decode_audit_bodies([chunk])
    check_audit(out, expected_audit_units(chunk))
    assert out[0].status == REJECTED and out[0].raw == chunk


# -- Event Grid ---------------------------------------------------------------------------------------------


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=4))
def test_event_grid_arbitrary_bytes(items: list[bytes]) -> None:
    out = decode_event_grid(items)
    check_events(out, [u for i in items for u in expected_event_units(i)])


@FUZZ
@given(st.lists(JSON, max_size=3), st.booleans())
def test_event_grid_arbitrary_json(items: list[Any], as_bytes: bool) -> None:
    inputs: list[Any] = [json.dumps(i).encode() for i in items] if as_bytes else items
    out = decode_event_grid(inputs)
    check_events(out, [u for i in inputs for u in expected_event_units(i)])


@FUZZ
@given(st.lists(mutated_events() | JSON, min_size=1, max_size=5), st.booleans())
def test_event_grid_mutated_events(events: list[Any], as_bytes: bool) -> None:
    batch: Any = json.dumps(events).encode() if as_bytes else events
    good = EVENTS[0]
    out = decode_event_grid([batch, good])
    check_events(out[:-1], expected_event_units(batch))
    assert out[-1].status in (ACCEPTED, IGNORED) and out[-1].id == good["id"]
