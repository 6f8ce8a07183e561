"""``wifguard sweep --sim SEED --config FILE --format json`` with outside checks, end to end: the
simulated tenant serves Graph, ARM, GitHub, GitLab and Terraform Cloud over HTTPS; each case
fires exactly its rule, look-alikes fire none, and an unreachable provider yields "unknown"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from external_helpers import CASES, CONFIG_ALL, seed

OUTSIDE = {"WIF212", "WIF213", "WIF214", "WIF215", "WIF216"}


def sweep(tmp_path: Path, seed_data: dict[str, Any], config: str) -> dict[str, Any]:
    (tmp_path / "seed.json").write_text(json.dumps(seed_data))
    (tmp_path / "config.yaml").write_text(config)
    out = subprocess.run([sys.executable, "-m", "wifguard.cli", "sweep", "--sim", str(tmp_path / "seed.json"),
                          "--config", str(tmp_path / "config.yaml"), "--format", "json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def outside_by_identity(data: dict[str, Any]) -> dict[str, set[str]]:
    got: dict[str, set[str]] = {name: set() for name, *_ in CASES}
    for f in data["findings"]:
        if f["rule_id"] in OUTSIDE:
            got[f["identity"]["name"]].add(f["rule_id"])
    return got


def test_each_case_fires_exactly_its_rule(tmp_path: Path) -> None:
    data = sweep(tmp_path, seed(), CONFIG_ALL)
    expected = {name: ({rule} if rule else set()) for name, _, _, _, _, rule in CASES}
    assert outside_by_identity(data) == expected
    by = {(f["rule_id"], f["identity"]["name"]): f for f in data["findings"]}
    # Severity follows privilege for WIF212; WIF213 is always critical.
    assert by[("WIF212", "app-ghost-owner")]["severity"] == "critical"
    assert by[("WIF212", "app-deleted-repo")]["severity"] == "high"
    assert by[("WIF213", "app-reregistered")]["severity"] == "critical"
    # Outside rules do not chain into WIF602 (they already escalate on privilege).
    assert ("WIF602", "app-ghost-owner") not in by
    # What was checked, when, and the provider's answer.
    ev = by[("WIF212", "app-ghost-owner")]["evidence"]["external"]
    owner = next(e for e in ev if e["checked"].startswith("github owner"))
    assert owner["answer"] == "404 Not Found" and owner["state"] == "missing"
    assert owner["request"].endswith("/users/ghost-org") and owner["at"].endswith("Z")
    assert "ghost-org" in by[("WIF212", "app-ghost-owner")]["message"]
    ev213 = by[("WIF213", "app-reregistered")]["evidence"]["external"]
    assert any("id 9999" in e["answer"] for e in ev213)
    stats = data["summary"]["external"]
    assert stats["github"]["requests"] > 0 and stats["github"]["unknown"] == 0


def test_providers_are_off_by_default(tmp_path: Path) -> None:
    data = sweep(tmp_path, seed(), "{}\n")
    assert not any(outside_by_identity(data).values())
    assert "external" not in data["summary"]


def test_unreachable_provider_is_unknown_never_missing(tmp_path: Path) -> None:
    # The seed has no `github` key: the simulated tenant serves no GitHub at all.
    data = sweep(tmp_path, seed(github=False), CONFIG_ALL)
    got = outside_by_identity(data)
    assert not any(r in {"WIF212", "WIF213", "WIF214"} for rules in got.values() for r in rules)
    assert got["app-gitlab-gone-group"] == {"WIF215"}  # the other providers still answer
    assert data["summary"]["external"]["github"]["unknown"] > 0


def test_provider_answering_503_is_unknown(tmp_path: Path) -> None:
    s = seed()
    s["github"]["unavailable"] = True
    data = sweep(tmp_path, s, CONFIG_ALL)
    assert not any(r in {"WIF212", "WIF213", "WIF214"} for rules in outside_by_identity(data).values()
                   for r in rules)


def test_api_url_nobody_listens_on_is_unknown(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = f"external:\n  github: {{enabled: true, api_url: 'https://127.0.0.1:{port}', timeout_seconds: 3}}\n"
    data = sweep(tmp_path, seed(), config)
    assert not any(outside_by_identity(data).values())
    assert data["summary"]["external"]["github"]["unknown"] > 0
