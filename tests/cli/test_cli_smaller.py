"""The smaller items: SARIF independent of the checkout path, config checks, documented settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from wifguard import settings

REPO = Path(__file__).resolve().parents[2]
EVIL = {"name": "backdoor", "issuer": "https://evil0x.blob.core.windows.net/oidc", "subject": "attacker",
        "audiences": ["api://AzureADTokenExchange"]}
GOOD = {"name": "ok", "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:contoso/app:environment:prod", "audiences": ["api://AzureADTokenExchange"]}


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wifguard.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)}, timeout=180)


def _checkout(root: Path) -> Path:
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "creds.json").write_text(json.dumps([EVIL, GOOD], indent=2), encoding="utf-8")
    return root


def test_sarif_is_the_same_from_two_checkouts(tmp_path: Path) -> None:
    logs = []
    for name, arg in (("one", "infra"), ("two-elsewhere", None)):
        root = _checkout(tmp_path / name)
        out = _cli(["evaluate", arg or str(root / "infra"), "-f", "sarif", "--fail-on", "none"], root)
        assert out.returncode == 0, out.stderr
        assert str(tmp_path) not in out.stdout  # no absolute path leaks
        logs.append(json.loads(out.stdout))
    runs = [log["runs"][0] for log in logs]
    fps = [sorted(r["partialFingerprints"]["wifguardFingerprint/v1"] for r in run["results"]) for run in runs]
    assert fps[0] == fps[1] and fps[0]
    loc = runs[0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": "infra/creds.json", "uriBaseId": "%SRCROOT%"}
    assert "uri" not in runs[0]["originalUriBaseIds"]["%SRCROOT%"]
    for rule in runs[0]["tool"]["driver"]["rules"]:
        assert rule["helpUri"].endswith(f"#the-rules:~:text={rule['id']}")
        assert rule["fullDescription"]["text"] != rule["shortDescription"]["text"]


def test_file_outside_the_working_directory_has_no_base(tmp_path: Path) -> None:
    root = _checkout(tmp_path / "repo")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    out = _cli(["evaluate", str(root / "infra" / "creds.json"), "-f", "sarif", "--fail-on", "none"], elsewhere)
    loc = json.loads(out.stdout)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc["uri"].startswith("file:///") and "uriBaseId" not in loc


def test_config_rejects_unknown_exemption_rules_and_bad_tenant_ids(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("exemptions:\n  - {rule: WIF1O2, identity: x, reason: because}\n", encoding="utf-8")
    out = _cli(["config", "validate", str(typo)], tmp_path)
    assert out.returncode == 2 and "exemptions[0].rule: 'WIF1O2' matches no rule id" in out.stderr
    glob = tmp_path / "glob.yaml"
    glob.write_text("exemptions:\n  - {rule: 'WIF5*', identity: x, reason: because}\n", encoding="utf-8")
    assert _cli(["config", "validate", str(glob)], tmp_path).returncode == 0
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text("home_tenant_id: not-a-guid\n", encoding="utf-8")
    out = _cli(["config", "validate", str(tenant)], tmp_path)
    assert out.returncode == 2 and "home_tenant_id" in out.stderr and "not a tenant id" in out.stderr


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [name for name in settings.ALL_SETTINGS if f"`{name}`" not in readme]
    assert missing == []
    # how to point the CLI at `sim serve`
    block = readme[readme.index("export WIFGUARD_GRAPH_URL="):][:600]
    for name in ("WIFGUARD_GRAPH_URL", "WIFGUARD_ARM_URL", "WIFGUARD_CA_BUNDLE", "WIFGUARD_STATIC_TOKEN"):
        assert f"{name}=" in block, name
