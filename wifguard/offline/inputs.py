"""Credential files for ``wifguard evaluate``: parsing, shape detection and source positions.

A file holds a Graph FIC object, an ARM FIC resource, a trust document, a Graph application
or ARM managed identity carrying ``federatedIdentityCredentials``, or a JSON list of those. The
list may also be a Graph or ARM list response ``{"value": [...]}`` (``az rest`` output), and ARM
credentials may come flattened as ``az identity federated-credential list|show`` prints them.
Objects remember where they start in the file so SARIF can point code scanning at the exact
credential.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wifguard.domain.model import (
    Credential,
    Identity,
    IdentityKind,
    ModelError,
    Owner,
    RoleAssignment,
    RoleDefinition,
    TrustContext,
)
from wifguard.domain.roles import definition_from_arm

log = logging.getLogger(__name__)


class PosDict(dict[str, Any]):
    """A JSON object that knows its offset in the source text."""

    pos: int = 0


# One pass over the text finds every object's braces outside strings (the regex engine skips
# strings and other characters itself). Objects close in the same order as the C decoder calls
# ``object_hook``, so the n-th hook call gets the start of the n-th closed object.
_BRACE = re.compile(r'(?>[^"{}]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+([{}])')


def _starts_in_close_order(text: str) -> list[int]:
    out: list[int] = []
    stack: list[int] = []
    pos = 0
    match = _BRACE.match
    while (m := match(text, pos)) is not None:
        pos = m.end()
        if m.group(1) == "{":
            stack.append(pos - 1)
        elif stack:
            out.append(stack.pop())
    return out


def loads_with_positions(text: str) -> Any:
    """``json.loads`` (the C decoder) whose objects are ``PosDict``s knowing their offset."""
    starts = iter(_starts_in_close_order(text))

    def hook(obj: dict[str, Any]) -> PosDict:
        d = PosDict(obj)
        d.pos = next(starts, 0)
        return d

    return json.loads(text, object_hook=hook)


class _Lines:
    """Line/column of offsets in one text; queries in ascending order cost one pass in total."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0
        self.line = 1
        self.line_start = 0

    def at(self, offset: int) -> tuple[int, int]:
        if offset < self.offset:
            self.offset, self.line, self.line_start = 0, 1, 0
        text = self.text
        self.line += text.count("\n", self.offset, offset)
        nl = text.rfind("\n", self.offset, offset)
        if nl >= 0:
            self.line_start = nl + 1
        self.offset = offset
        return self.line, offset - self.line_start + 1


_lines_cache: list[_Lines] = []


def line_col(text: str, offset: int) -> tuple[int, int]:
    # The index of the last text asked about is kept, so locating every credential of a file is
    # linear in the file's size (counting from the start each time was quadratic).
    if not _lines_cache or _lines_cache[0].text is not text:
        _lines_cache[:] = [_Lines(text)]
    return _lines_cache[0].at(offset)


@dataclass(frozen=True)
class Located:
    """Where an object of a trust context sits in its file."""

    path: str
    line: int
    column: int


@dataclass
class LoadedTrust:
    context: TrustContext
    path: str
    identity_location: Located
    credential_locations: dict[str, Located] = field(default_factory=dict)  # by credential name
    role_locations: dict[str, Located] = field(default_factory=dict)  # by role assignment id


@dataclass(frozen=True)
class InputError:
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def iter_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(x for x in path.rglob("*.json") if x.is_file())
        else:
            yield path


def _kind_of(obj: Mapping[str, Any]) -> str:
    if "identity" in obj or ("federatedIdentityCredentials" in obj and ("roleAssignments" in obj or "owners" in obj)):
        return "trust"
    if "federatedIdentityCredentials" in obj:
        t = str(obj.get("type", "")).lower()
        return "uami" if t.endswith("userassignedidentities") or ("properties" in obj and "principalId" in (
            obj.get("properties") or {})) else "application"
    if isinstance(obj.get("properties"), Mapping) and ("issuer" in obj["properties"] or "subject" in obj["properties"]):
        return "arm-fic"
    if "issuer" in obj or "subject" in obj or "claimsMatchingExpression" in obj or "audiences" in obj:
        return "graph-fic"
    if "properties" in obj and "name" in obj:
        return "arm-fic"
    return "unknown"


def _cred(obj: Any, where: str) -> Credential:
    if not isinstance(obj, Mapping):
        raise ModelError(f"{where}: a credential must be a JSON object, not {type(obj).__name__}")
    try:
        c = Credential.from_arm(obj) if isinstance(obj.get("properties"), Mapping) else Credential.from_graph(
            _with_name(obj))
    except ModelError as exc:
        raise ModelError(f"{where}: {exc}") from None
    if c.subject is None and c.claims_matching_expression is None:
        raise ModelError(f"{where}: credential {c.name!r} has neither 'subject' nor 'claimsMatchingExpression'")
    if c.subject is not None and c.claims_matching_expression is not None:
        raise ModelError(f"{where}: credential {c.name!r} has both 'subject' and 'claimsMatchingExpression'")
    return c


def _with_name(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    if "name" in obj:
        return obj
    if "issuer" not in obj:
        return obj
    return {**obj, "name": "(unnamed)"}


def _loc(path: str, text: str, obj: Any) -> Located:
    line, col = line_col(text, obj.pos if isinstance(obj, PosDict) else 0)
    return Located(path, line, col)


def _identity_from_arm_fic_id(fic_id: str | None) -> tuple[str, str] | None:
    if not fic_id:
        return None
    low = fic_id.lower()
    marker = "/federatedidentitycredentials/"
    idx = low.find(marker)
    if idx <= 0:
        return None
    uami = fic_id[:idx]
    return uami, uami.rsplit("/", 1)[-1]


def _bare(path: str, text: str, items: list[tuple[Any, str, Credential]],
          identity: tuple[str, str] | None = None) -> LoadedTrust:
    """Credentials without an identity: the file (or the list item) stands for the identity."""
    creds: list[Credential] = []
    locs: dict[str, Located] = {}
    kind = IdentityKind.APPLICATION
    ident_id, ident_name = identity or (path, Path(path).stem)
    for obj, _, c in items:
        if c.shape == "arm":
            kind = IdentityKind.MANAGED_IDENTITY
            derived = _identity_from_arm_fic_id(c.id)
            if derived:
                ident_id, ident_name = derived
        creds.append(c)
        locs.setdefault(c.name, _loc(path, text, obj))
    ident = Identity(ident_id, ident_name, kind)
    return LoadedTrust(TrustContext(ident, tuple(creds), (), None), path, _loc(path, text, items[0][0]), locs)


def _bare_list(path: str, text: str, items: list[tuple[Any, str, Credential]]) -> list[LoadedTrust]:
    """A JSON list of bare credentials is a list of separate credentials: nothing says they
    belong to one identity (rules across an identity's credentials must not fire between
    unrelated ones). ARM credentials whose resource id names their managed identity are grouped
    under it; anything else stands alone, as ``file[i]``."""
    groups: dict[str, list[tuple[Any, str, Credential]]] = {}
    for item in items:
        c = item[2]
        derived = _identity_from_arm_fic_id(c.id) if c.shape == "arm" else None
        groups.setdefault(derived[0].lower() if derived else item[1], []).append(item)
    stem = Path(path).stem
    return [_bare(path, text, group, (f"{path}{group[0][1]}", f"{stem}{group[0][1]}")) for group in groups.values()]


def _trust(path: str, text: str, obj: Mapping[str, Any], where: str, kind_hint: str) -> LoadedTrust:
    raw_ident = obj.get("identity")
    if raw_ident is None and kind_hint in {"application", "uami"}:
        raw_ident = {
            "id": obj.get("id") or obj.get("appId") or path,
            "displayName": obj.get("displayName") or obj.get("name") or Path(path).stem,
            "kind": "managedIdentity" if kind_hint == "uami" else "application",
            "appId": obj.get("appId"),
        }
    if raw_ident is None:
        raw_ident = {"id": path, "displayName": Path(path).stem, "kind": "application"}
    if not isinstance(raw_ident, Mapping):
        raise ModelError(f"{where}.identity: must be an object")
    kind_s = raw_ident.get("kind", "application")
    try:
        kind = IdentityKind(kind_s)
    except ValueError:
        raise ModelError(f"{where}.identity.kind: {kind_s!r} is not 'application' or 'managedIdentity'") from None
    ident_id = raw_ident.get("id")
    name = raw_ident.get("displayName", raw_ident.get("name"))
    if not isinstance(ident_id, str) or not ident_id:
        raise ModelError(f"{where}.identity.id: missing or not a string")
    if name is not None and not isinstance(name, str):
        raise ModelError(f"{where}.identity.displayName: must be a string")
    raw_props = obj.get("properties")
    props: Mapping[str, Any] = raw_props if isinstance(raw_props, Mapping) else {}
    ident = Identity(
        ident_id,
        name or ident_id,
        kind,
        app_id=_s(raw_ident.get("appId") or raw_ident.get("clientId") or props.get("clientId")),
        principal_id=_s(raw_ident.get("principalId") or props.get("principalId")),
        tags=dict(raw_ident.get("tags") or obj.get("tags") or {}),
    )
    fics = obj.get("federatedIdentityCredentials", [])
    if not isinstance(fics, list):
        raise ModelError(f"{where}.federatedIdentityCredentials: must be a list")
    creds: list[Credential] = []
    locs: dict[str, Located] = {}
    for i, f in enumerate(fics):
        c = _cred(f, f"{where}.federatedIdentityCredentials[{i}]")
        creds.append(c)
        locs.setdefault(c.name, _loc(path, text, f))
    ras: list[RoleAssignment] = []
    rlocs: dict[str, Located] = {}
    raw_ras = obj.get("roleAssignments", [])
    if not isinstance(raw_ras, list):
        raise ModelError(f"{where}.roleAssignments: must be a list")
    for i, r in enumerate(raw_ras):
        if not isinstance(r, Mapping):
            raise ModelError(f"{where}.roleAssignments[{i}]: must be an object")
        try:
            ra = RoleAssignment.from_arm(r)
        except ModelError as exc:
            raise ModelError(f"{where}.roleAssignments[{i}]: {exc}") from None
        ras.append(ra)
        rlocs[ra.id] = _loc(path, text, r)
    owners: tuple[Owner, ...] | None = None
    if "owners" in obj:
        raw_owners = obj["owners"]
        if not isinstance(raw_owners, list):
            raise ModelError(f"{where}.owners: must be a list (absent means unknown, [] means none)")
        owners = tuple(
            Owner.from_graph(o) if isinstance(o, Mapping) else Owner(str(o)) for o in raw_owners
        )
    defs: dict[str, RoleDefinition] = {}
    for i, d in enumerate(obj.get("roleDefinitions", []) or []):
        try:
            rd = definition_from_arm(d)
        except (ValueError, AttributeError) as exc:
            raise ModelError(f"{where}.roleDefinitions[{i}]: {exc}") from None
        defs[rd.id] = rd
    tenant = raw_ident.get("tenantId") or obj.get("tenantId")
    ctx = TrustContext(ident, tuple(creds), tuple(ras), owners, defs,
                       tenant_id=tenant if isinstance(tenant, str) and tenant else None)
    return LoadedTrust(ctx, path, _loc(path, text, raw_ident if isinstance(raw_ident, PosDict) else obj), locs, rlocs)


def _s(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


_GRAPH_PARENT_RE = re.compile(r"applications\('([^']+)'\)/federatedIdentityCredentials", re.I)


def _unwrap_list(data: Any) -> tuple[Any, str | None]:
    """A Graph/ARM list response ``{"value": [...]}`` → its items, and the Graph parent app id
    when ``@odata.context`` names it (``applications('<id>')/federatedIdentityCredentials``)."""
    if isinstance(data, Mapping) and isinstance(data.get("value"), list) and not (
            "issuer" in data or "properties" in data or "identity" in data):
        m = _GRAPH_PARENT_RE.search(str(data.get("@odata.context") or ""))
        return data["value"], (m.group(1) if m else None)
    return data, None


def _unflatten_arm(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``az identity federated-credential`` prints ARM credentials with the properties flattened
    to the top level; put them back under ``properties`` (the position is kept for SARIF)."""
    if isinstance(obj.get("properties"), Mapping) or "issuer" not in obj:
        return obj
    rtype = str(obj.get("type") or "").lower()
    rid = str(obj.get("id") or "").lower()
    if not (rtype.endswith("/federatedidentitycredentials") or "/providers/microsoft.managedidentity/" in rid):
        return obj
    props = {k: obj[k] for k in ("issuer", "subject", "audiences", "claimsMatchingExpression") if k in obj}
    out = PosDict({k: v for k, v in obj.items() if k not in props})
    out["properties"] = props
    out.pos = obj.pos if isinstance(obj, PosDict) else 0
    return out


def load_file(path: Path, display: str | None = None) -> tuple[list[LoadedTrust], list[InputError]]:
    """Parse one file into trust contexts; problems are returned, never raised."""
    shown = display or str(path)
    try:
        if str(path) == "-":  # standard input
            import sys

            shown = display or "<stdin>"
            text = sys.stdin.buffer.read().decode("utf-8-sig")
        else:
            text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return [], [InputError(shown, "no such file")]
    except UnicodeDecodeError as exc:
        return [], [InputError(shown, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        log.debug("%s: cannot read", shown, exc_info=exc)
        return [], [InputError(shown, f"cannot read: {exc.strerror or exc}")]
    try:
        data = loads_with_positions(text)
    except json.JSONDecodeError as exc:
        return [], [InputError(shown, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
    except RecursionError:
        return [], [InputError(shown, "JSON nested too deeply")]
    data, parent_app = _unwrap_list(data)
    items = data if isinstance(data, list) else [data]
    if isinstance(data, list) and not data:
        return [], [InputError(shown, "empty JSON list: no credential to evaluate")]
    items = [_unflatten_arm(o) if isinstance(o, Mapping) else o for o in items]
    loaded: list[LoadedTrust] = []
    errors: list[InputError] = []
    bare: list[tuple[Any, str, Credential]] = []
    for i, obj in enumerate(items):
        where = f"[{i}]" if isinstance(data, list) else "(top level)"
        if not isinstance(obj, Mapping):
            errors.append(InputError(shown, f"{where}: expected a JSON object, got {_json_type(obj)}"))
            continue
        kind = _kind_of(obj)
        try:
            if kind in {"graph-fic", "arm-fic"}:
                bare.append((obj, where, _cred(obj, where)))  # validated now so the error names this item
            elif kind in {"trust", "application", "uami"}:
                loaded.append(_trust(shown, text, obj, where, kind))
            else:
                errors.append(InputError(
                    shown,
                    f"{where}: unknown shape: expected a Graph federated credential (issuer, subject, audiences), "
                    "an ARM federated credential resource (name, properties{issuer, subject, audiences}), "
                    "a trust document (identity, federatedIdentityCredentials, roleAssignments, owners) or a list of those",
                ))
        except ModelError as exc:
            errors.append(InputError(shown, str(exc)))
    if bare:
        if parent_app:
            # A Graph page of one application's credentials: they do belong together.
            trust = _bare(shown, text, bare)
            if trust.context.identity.kind is IdentityKind.APPLICATION:
                ident = Identity(parent_app, trust.context.identity.name, IdentityKind.APPLICATION)
                trust.context = TrustContext(ident, trust.context.credentials, (), None)
            loaded.insert(0, trust)
        else:
            loaded[:0] = _bare_list(shown, text, bare) if isinstance(data, list) else [_bare(shown, text, bare)]
    return loaded, errors


def _json_type(v: Any) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "a list",
            type(None): "null"}.get(type(v), type(v).__name__)
