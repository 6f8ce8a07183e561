"""The permission manifest (``wifguard/data/permissions.yaml``) and the typed permission error.

Every Graph and ARM call wifguard makes is listed in the manifest with the permission it needs.
A 403 is never read as "no data": the clients raise :class:`PermissionDenied`, which names the
call and, from the manifest, the missing permission, so that an identity is not evaluated from a
partial view and an operator can see what to grant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

from wifguard import errors

MODES = ("observe", "notify", "enforce")

# Graph path segments kept as they are in a route template (the simulator's route names).
_GRAPH_COLLECTIONS = frozenset({"applications", "federatedIdentityCredentials", "owners", "servicePrincipals", "users",
                                "directoryObjects", "getByIds", "$batch", "appRoleAssignments", "appRoleAssignedTo",
                                "ownedObjects", "roleManagement", "directory", "roleAssignments",
                                "roleEligibilitySchedules", "roleDefinitions"})
_ARM_NAMES = frozenset({"subscriptions", "resourcegroups", "providers", "microsoft.managedidentity",
                        "userassignedidentities", "federatedidentitycredentials", "microsoft.authorization",
                        "roleassignments", "roledefinitions", "microsoft.management", "managementgroups"})
_VERSION = re.compile(r"^/(v1\.0|beta)(?=/|$)")


@dataclass(frozen=True)
class Operation:
    api: str  # graph | arm
    call: str  # "GET /applications/{id}"
    what: str
    modes: tuple[str, ...]
    permission: str | None

    def matches(self, call: str) -> bool:
        # Only `*` is a wildcard; `{id}`, `[`... are literal parts of a template.
        pattern = re.escape(self.call).replace(r"\*", ".*")
        return re.fullmatch(pattern, call) is not None


@dataclass(frozen=True)
class Manifest:
    operations: tuple[Operation, ...]
    graph_implies: dict[str, tuple[str, ...]]
    graph_mode_extra: dict[str, tuple[str, ...]]
    arm_roles: dict[str, tuple[str, ...]]
    arm_granted: dict[str, tuple[str, ...]]

    def find(self, api: str, call: str) -> Operation | None:
        return next((op for op in self.operations if op.api == api and op.matches(call)), None)

    def graph_permissions(self, mode: str) -> set[str]:
        """The least set of Graph application permissions a mode needs (implied ones folded)."""
        need = {op.permission for op in self.operations
                if op.api == "graph" and mode in op.modes and op.permission}
        need |= set(self.graph_mode_extra.get(mode, ()))
        implied = {p for held in need for p in self.graph_implies.get(held, ())}
        return need - implied

    def arm_actions(self, mode: str) -> set[str]:
        return {op.permission for op in self.operations if op.api == "arm" and mode in op.modes and op.permission}

    def arm_actions_granted(self, mode: str) -> set[str]:
        return {a for role in self.arm_granted.get(mode, ()) for a in self.arm_roles.get(role, ())}


def _operations(api: str, raw: Any) -> list[Operation]:
    out = []
    for item in raw:
        modes = tuple(item["modes"])
        bad = set(modes) - set(MODES)
        if bad:
            raise ValueError(f"permissions.yaml: {item['call']}: unknown modes {sorted(bad)}")
        out.append(Operation(api, str(item["call"]), str(item.get("what", "")), modes, item.get("permission")))
    return out


@cache
def load_manifest() -> Manifest:
    import yaml

    text = resources.files("wifguard").joinpath("data/permissions.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    graph, arm = doc["graph"], doc["arm"]
    return Manifest(
        operations=tuple(_operations("graph", graph["operations"]) + _operations("arm", arm["operations"])),
        graph_implies={k: tuple(v) for k, v in (graph.get("implies") or {}).items()},
        graph_mode_extra={k: tuple(v) for k, v in (graph.get("mode_extra") or {}).items()},
        arm_roles={k: tuple(v) for k, v in arm["roles"].items()},
        arm_granted={k: tuple(v) for k, v in arm["granted"].items()},
    )


def graph_route(method: str, url: str) -> str:
    """``GET /applications/{id}/owners``: the route template of a Graph request URL."""
    path = unquote(urlsplit(url).path)
    path = _VERSION.sub("", path) or "/"
    segs = [s if s in _GRAPH_COLLECTIONS else ("{id}" if s and "(" not in s else s.split("(")[0] + "({key})")
            for s in path.strip("/").split("/")]
    return f"{method.upper()} /" + "/".join(segs)


def arm_route(method: str, url: str) -> str:
    """``GET /subscriptions/{}/providers/microsoft.authorization/roleassignments``."""
    low = [p.lower() for p in unquote(urlsplit(url).path).split("/") if p]
    return f"{method.upper()} /" + "/".join(s if s in _ARM_NAMES else "{}" for s in low)


class PermissionDenied(errors.PermissionDenied):
    """Graph or ARM answered 403: the identity lacks a permission. Never "no data".

    (No ``GraphError``: code that tolerates a failed Graph read must not tolerate this.)"""

    def __init__(self, api: str, method: str, url: str, detail: str = "") -> None:
        self.api = api
        self.call = graph_route(method, url) if api == "graph" else arm_route(method, url)
        op = load_manifest().find(api, self.call)
        self.permission = (op.permission if op else None) or "unknown (not in the permission manifest)"
        self.detail = detail
        service = "Microsoft Graph" if api == "graph" else "Azure Resource Manager"
        super().__init__(f"{service} denied {self.call}: the identity lacks {self.permission}"
                         + (f" ({detail})" if detail else ""), status=403, where=self.call)
