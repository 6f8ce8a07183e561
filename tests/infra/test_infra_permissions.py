"""infra/ grants exactly the permission manifest's permissions, per mode: no more, no less."""

from __future__ import annotations

import fnmatch
import json

import pytest
from infra_helpers import (
    INFRA,
    MODULES,
    ROOT,
    condition_of,
    parse_bicep,
    resolve,
    resource_body,
    resources_of_type,
)

from wifguard.sources.inventory.permissions import MODES, load_manifest

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _graph_by_mode() -> dict[str, list[str]]:
    t = parse_bicep(MODULES / "graph-permissions.bicep")
    return {k: list(v) for k, v in resolve(t, "permissionsByMode").items()}


def _role_ids() -> dict[str, str]:
    t = parse_bicep(MODULES / "graph-permissions.bicep")
    return {k.strip("'"): v for k, v in resolve(t, "appRoleIds").items()}  # pycep keeps key quotes


@pytest.mark.parametrize("mode", MODES)
def test_graph_grants_are_exactly_the_manifest(mode: str) -> None:
    granted = set(_graph_by_mode()[mode])
    needed = load_manifest().graph_permissions(mode)
    assert granted == needed, f"{mode}: infra grants {sorted(granted)}, the code needs {sorted(needed)}"
    assert granted <= set(_role_ids()), "every granted permission has its app role id"


def test_every_graph_call_is_covered_by_what_its_modes_are_granted() -> None:
    """The held-out rule, stated directly: a Graph call is made only in modes whose grants cover it."""
    manifest = load_manifest()
    by_mode = _graph_by_mode()
    for op in manifest.operations:
        if op.api != "graph" or op.permission is None:
            continue
        for mode in op.modes:
            held = set(by_mode[mode])
            held |= {p for h in held for p in manifest.graph_implies.get(h, ())}
            assert op.permission in held, f"{op.call} in {mode} needs {op.permission}; granted {sorted(by_mode[mode])}"


def _custom_role_actions() -> list[str]:
    t = parse_bicep(MODULES / "subscription-events.bicep")
    (role,) = resources_of_type(t, "Microsoft.Authorization/roleDefinitions").values()
    assert condition_of(role) == "enforce"
    return list(resource_body(role)["properties"]["permissions"][0]["actions"])


def test_arm_roles_are_the_manifest_roles() -> None:
    manifest = load_manifest()
    assert sorted(_custom_role_actions()) == sorted(manifest.arm_roles["wifguard federated credential responder"])
    text = json.dumps(parse_bicep(MODULES / "subscription-events.bicep"))
    assert READER in text  # Reader in every monitored subscription, every mode
    assert manifest.arm_granted == {"observe": ("Reader",), "notify": ("Reader",),
                                    "enforce": ("Reader", "wifguard federated credential responder")}


@pytest.mark.parametrize("mode", MODES)
def test_arm_actions_needed_are_granted_and_nothing_more(mode: str) -> None:
    manifest = load_manifest()
    granted = manifest.arm_actions_granted(mode)
    needed = manifest.arm_actions(mode)
    for action in needed:
        assert any(fnmatch.fnmatchcase(action.lower(), g.lower()) for g in granted), f"{mode}: {action} not granted"
    # no more: every explicit (non-wildcard) action granted is one the code uses in that mode
    unused = {g for g in granted if "*" not in g} - needed
    assert not unused, f"{mode}: granted but never used: {sorted(unused)}"
    if mode != "enforce":
        assert not any(a.endswith(("/write", "/delete")) for a in needed), f"{mode} must not write"


def test_readme_permission_table_names_the_manifest() -> None:
    text = (ROOT / "infra" / "README.md").read_text(encoding="utf-8")
    assert "wifguard/data/permissions.yaml" in text
    assert (INFRA / "modules" / "graph-permissions.bicep").exists()
