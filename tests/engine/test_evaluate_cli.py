"""``wifguard evaluate`` end to end, as a subprocess (DESIGN.md, "Command line")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from engine_helpers import ADO, AKS, AUD, EVIL, GH, OWNER, RG_SCOPE, SUB_SCOPE, UAMI_ID

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"
SELF_HOSTED = "https://myoidc.blob.core.windows.net/issuer"
CLEAN_SUBJECT = "repo:contoso@1001/app@2002:environment:prod"


def gfic(name: str, issuer: str = GH, subject: str = CLEAN_SUBJECT, description: str | None = "deploy",
         **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "issuer": issuer, "subject": subject, "audiences": [AUD]}
    if description is not None:
        d["description"] = description
    d.update(extra)
    return d


def afic(name: str, issuer: str = AKS, subject: str = "system:serviceaccount:payments:api") -> dict[str, Any]:
    return {
        "name": name,
        "id": f"{UAMI_ID}/federatedIdentityCredentials/{name}",
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        "properties": {"issuer": issuer, "subject": subject, "audiences": [AUD]},
    }


def arm_role(guid: str, scope: str, name: str) -> dict[str, Any]:
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            "principalId": "5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c",
            "principalType": "ServicePrincipal",
            "scope": scope,
        },
    }


def trust_doc(creds: list[dict[str, Any]], roles: list[dict[str, Any]] | None = None,
              owners: list[dict[str, Any]] | None = None, kind: str = "application") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "identity": {"id": "0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e", "displayName": "app-deploy", "kind": kind},
        "federatedIdentityCredentials": creds,
        "roleAssignments": roles or [],
    }
    if owners is not None:
        doc["owners"] = owners
    return doc


def write(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj, indent=2), encoding="utf-8")
    return path


def out_json(proc) -> dict[str, Any]:
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:  # pragma: no cover - diagnostic
        pytest.fail(f"stdout is not JSON (rc={proc.returncode}):\n{proc.stdout}\n--- stderr:\n{proc.stderr}")


def by_rule(doc: dict[str, Any], rule_id: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["rule_id"] == rule_id]


def check_finding_fields(f: dict[str, Any]) -> None:
    for key in ("rule_id", "severity", "title", "message", "identity", "remediation", "fingerprint"):
        assert f.get(key), (key, f)
    assert set(f["identity"]) >= {"id", "name", "kind"}
    assert f["identity"]["kind"] in {"application", "managedIdentity"}
    assert f["severity"] in {"info", "low", "medium", "high", "critical"}


def brace_line(text: str, cred_name: str) -> int:
    """1-based line of the `{` that opens the credential named ``cred_name``."""
    idx = text.index(f'"name": "{cred_name}"')
    return text.count("\n", 0, text.rindex("{", 0, idx)) + 1


# -- shapes -----------------------------------------------------------------------------------
def test_graph_fic_file(cli, tmp_path: Path) -> None:
    f = write(tmp_path / "evil.json", gfic("backdoor", issuer=EVIL))
    proc = cli(f, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = out_json(proc)
    assert {"findings", "summary"} <= set(doc)
    wif102 = by_rule(doc, "WIF102")
    assert len(wif102) == 1
    finding = wif102[0]
    check_finding_fields(finding)
    assert finding["severity"] == "critical"
    assert finding["credential"] == {"name": "backdoor", "issuer": EVIL, "subject": CLEAN_SUBJECT}
    assert finding["identity"]["kind"] == "application"
    assert EVIL in finding["message"]
    assert by_rule(doc, "WIF101")
    assert doc["summary"]["findings"] == len(doc["findings"])
    assert doc["summary"]["by_severity"]["critical"] == len([x for x in doc["findings"] if x["severity"] == "critical"])


def test_arm_fic_file_is_a_managed_identity(cli, tmp_path: Path) -> None:
    f = write(tmp_path / "uami-fic.json", afic("k8s", subject="system:serviceaccount:default:api"))
    proc = cli(f, "--format", "json")
    doc = out_json(proc)
    wif206 = by_rule(doc, "WIF206")
    assert len(wif206) == 1
    check_finding_fields(wif206[0])
    assert wif206[0]["identity"]["kind"] == "managedIdentity"
    assert wif206[0]["credential"]["subject"] == "system:serviceaccount:default:api"
    assert proc.returncode == 0, proc.stderr  # medium is below the default --fail-on high
    assert cli(f, "--format", "json", "--fail-on", "medium").returncode == 1


def test_trust_document(cli, tmp_path: Path) -> None:
    ra_sub = arm_role(OWNER, SUB_SCOPE, "ra-owner-sub")
    doc_in = trust_doc([gfic("clean"), gfic("pr", subject="repo:contoso/app:pull_request")],
                       [ra_sub, arm_role(OWNER, RG_SCOPE, "ra-owner-rg")], owners=[])
    f = write(tmp_path / "trust.json", doc_in)
    proc = cli(f, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = out_json(proc)
    for finding in doc["findings"]:
        check_finding_fields(finding)
        assert finding["identity"] == {"id": "0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e", "name": "app-deploy",
                                       "kind": "application"}
    wif601 = by_rule(doc, "WIF601")
    assert len(wif601) == 1
    ra = wif601[0]["role_assignment"]
    assert ra["id"] == ra_sub["id"] and ra["scope"] == SUB_SCOPE and ra["role"] in {"Owner", OWNER}
    assert wif601[0]["severity"] == "high"
    assert by_rule(doc, "WIF504")  # owners [] means none
    wif202 = by_rule(doc, "WIF202")
    assert [x["credential"]["name"] for x in wif202] == ["pr"]
    assert by_rule(doc, "WIF602")


def test_trust_document_owners_absent_means_unknown(cli, tmp_path: Path) -> None:
    f = write(tmp_path / "trust.json", trust_doc([gfic("clean")]))
    doc = out_json(cli(f, "--format", "json"))
    assert not by_rule(doc, "WIF504")


def test_json_list(cli, tmp_path: Path) -> None:
    f = write(tmp_path / "list.json", [gfic("one", issuer="https://idp.example.com"),
                                       gfic("two", issuer="https://idp2.example.com")])
    proc = cli(f, "--format", "json")
    assert proc.returncode == 1
    names = {x["credential"]["name"] for x in by_rule(out_json(proc), "WIF101")}
    assert names == {"one", "two"}


def test_json_list_of_mixed_shapes(cli, tmp_path: Path) -> None:
    f = write(tmp_path / "mixed.json", [
        gfic("bare-graph", issuer="https://idp.example.com"),
        trust_doc([gfic("in-doc", issuer="https://idp.example.net")]),
    ])
    doc = out_json(cli(f, "--format", "json"))
    assert {x["credential"]["name"] for x in by_rule(doc, "WIF101")} == {"bare-graph", "in-doc"}


def test_managed_identity_trust_document_with_arm_credentials(cli, tmp_path: Path) -> None:
    doc_in = trust_doc([afic("k8s-default", subject="system:serviceaccount:default:api")],
                       [arm_role(OWNER, SUB_SCOPE, "ra-1")], kind="managedIdentity")
    doc_in["identity"]["id"] = UAMI_ID
    f = write(tmp_path / "uami.json", doc_in)
    doc = out_json(cli(f, "--format", "json"))
    assert {x["identity"]["kind"] for x in doc["findings"]} == {"managedIdentity"}
    assert by_rule(doc, "WIF206") and by_rule(doc, "WIF601")
    assert not by_rule(doc, "WIF504")  # managed identities have no owners rule


def test_directory_is_walked_for_json(cli, tmp_path: Path) -> None:
    d = tmp_path / "creds"
    write(d / "a.json", gfic("from-a", issuer="https://idp.example.com"))
    write(d / "nested" / "b.json", afic("from-b", issuer="https://idp.example.org"))
    write(d / "notes.txt", "not a credential")
    proc = cli(d, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = out_json(proc)
    assert {x["credential"]["name"] for x in by_rule(doc, "WIF101")} == {"from-a", "from-b"}


# -- exit codes -------------------------------------------------------------------------------
def test_clean_file_exits_zero_with_no_findings(cli, tmp_path: Path) -> None:
    f = write(tmp_path / "clean.json", trust_doc([gfic("clean")], owners=[{"id": "u1", "displayName": "A"}]))
    proc = cli(f, "--format", "json", "--fail-on", "info")
    assert proc.returncode == 0, proc.stdout
    assert out_json(proc)["findings"] == []


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [(None, 0), ("info", 1), ("low", 0), ("critical", 0)],
)
def test_fail_on_with_an_info_finding(cli, tmp_path: Path, fail_on: str | None, code: int) -> None:
    f = write(tmp_path / "nodesc.json", gfic("nodesc", description=None))
    args = [f, "--format", "json"] + (["--fail-on", fail_on] if fail_on else [])
    proc = cli(*args)
    assert by_rule(out_json(proc), "WIF502")
    assert proc.returncode == code


@pytest.mark.parametrize(("fail_on", "code"), [(None, 1), ("high", 1), ("critical", 0), ("medium", 1)])
def test_fail_on_with_a_high_finding(cli, tmp_path: Path, fail_on: str | None, code: int) -> None:
    f = write(tmp_path / "unlisted.json", gfic("x", issuer="https://idp.example.com"))
    args = [f, "--format", "json"] + (["--fail-on", fail_on] if fail_on else [])
    proc = cli(*args)
    assert {x["severity"] for x in out_json(proc)["findings"]} == {"high"}
    assert proc.returncode == code


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"name": "x", "issuer": ', "JSON"),
        ('{"foo": 1, "bar": [1, 2]}', "shape"),
        (json.dumps({"name": "noissuer", "subject": CLEAN_SUBJECT, "audiences": [AUD]}), "issuer"),
        (json.dumps({"name": "x", "issuer": GH, "subject": CLEAN_SUBJECT, "audiences": AUD}), "audiences"),
        (json.dumps({"name": "x", "issuer": GH, "subject": 42, "audiences": [AUD]}), "subject"),
        (json.dumps({"name": "x", "issuer": ["https://a"], "subject": CLEAN_SUBJECT, "audiences": [AUD]}), "issuer"),
        (json.dumps({"name": "x", "properties": {"issuer": GH, "subject": CLEAN_SUBJECT, "audiences": "aud"}}),
         "audiences"),
        (json.dumps(trust_doc([gfic("x")], owners="nobody")), "owners"),  # type: ignore[arg-type]
        ('"just a string"', "string"),
        (json.dumps({"identity": {"id": "x", "kind": "robot"}, "federatedIdentityCredentials": []}), "kind"),
        (json.dumps({"name": "x", "issuer": GH, "audiences": [AUD]}), "subject"),  # neither subject nor expression
        (json.dumps(gfic("both", claimsMatchingExpression={"value": "claims['sub'] eq 'x'", "languageVersion": 1})),
         "both"),
        (json.dumps(trust_doc([gfic("x")]) | {"roleAssignments": {"not": "a list"}}), "roleAssignments"),
    ],
    ids=["bad-json", "unknown-shape", "missing-issuer", "audiences-string", "subject-number", "issuer-list",
         "arm-audiences-string", "owners-string", "top-level-string", "identity-kind", "no-subject",
         "subject-and-expression", "roles-not-a-list"],
)
def test_unusable_input_exits_2_and_keeps_good_findings(cli, tmp_path: Path, content: str, problem: str) -> None:
    bad = write(tmp_path / "in" / "bad-input.json", content)
    good = write(tmp_path / "in" / "good.json", gfic("unlisted", issuer="https://idp.example.com"))
    proc = cli(bad, good, "--format", "json")
    assert proc.returncode == 2
    assert "bad-input.json" in proc.stderr
    assert problem.lower() in proc.stderr.lower()
    assert "good.json" not in proc.stderr
    doc = out_json(proc)
    assert [x["credential"]["name"] for x in by_rule(doc, "WIF101")] == ["unlisted"]


def test_unusable_input_exits_2_even_with_fail_on_critical(cli, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.json", "[1, 2")
    proc = cli(bad, "--format", "json", "--fail-on", "critical")
    assert proc.returncode == 2
    assert "bad.json" in proc.stderr


def test_missing_file_exits_2(cli, tmp_path: Path) -> None:
    proc = cli(tmp_path / "does-not-exist.json", "--format", "json")
    assert proc.returncode == 2
    assert "does-not-exist.json" in proc.stderr


# -- SARIF ------------------------------------------------------------------------------------
def sarif_files(tmp_path: Path) -> tuple[Path, Path]:
    trust = write(tmp_path / "repo" / "trust.json", trust_doc(
        [gfic("clean-one"), gfic("backdoor", issuer=EVIL), gfic("pr", subject="repo:contoso/app:pull_request")],
        [arm_role(OWNER, SUB_SCOPE, "ra-owner-sub")], owners=[]))
    listing = write(tmp_path / "repo" / "list.json", [gfic("first", issuer="https://idp.example.com"),
                                                      gfic("second", description=None)])
    uami = trust_doc([afic("arm-ok"), afic("arm-bad", issuer="https://idp.example.org")], kind="managedIdentity")
    uami["identity"]["id"] = UAMI_ID
    write(tmp_path / "repo" / "uami.json", uami)
    return trust, listing


def test_sarif_validates_against_the_schema(cli, tmp_path: Path) -> None:
    trust, listing = sarif_files(tmp_path)
    proc = cli(trust, listing, "--format", "sarif")
    assert proc.returncode == 1, proc.stderr
    log = out_json(proc)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(log, schema, cls=jsonschema.Draft7Validator)
    assert log["version"] == "2.1.0"
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"WIF101", "WIF102", "WIF202", "WIF601", "WIF502"}
    rule_ids = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    for r in results:
        if "ruleIndex" in r:
            assert rule_ids[r["ruleIndex"]] == r["ruleId"]


def test_sarif_region_points_at_the_credential(cli, tmp_path: Path) -> None:
    trust, listing = sarif_files(tmp_path)
    uami = trust.parent / "uami.json"
    texts = {"trust.json": trust.read_text(), "list.json": listing.read_text(), "uami.json": uami.read_text()}
    log = out_json(cli(trust, listing, uami, "--format", "sarif"))
    checked = 0
    for r in log["runs"][0]["results"]:
        cred = r.get("properties", {}).get("credential")
        if not cred:
            continue
        loc = r["locations"][0]["physicalLocation"]
        fname = loc["artifactLocation"]["uri"].rsplit("/", 1)[-1]
        expected = brace_line(texts[fname], cred["name"])
        assert loc["region"]["startLine"] == expected, (r["ruleId"], cred["name"], fname)
        checked += 1
    assert checked >= 4
    names = {r["properties"]["credential"]["name"] for r in log["runs"][0]["results"]
             if r.get("properties", {}).get("credential")}
    assert {"backdoor", "pr", "first", "second", "arm-bad"} <= names


def test_sarif_bare_graph_fic_points_at_line_1(cli, tmp_path: Path) -> None:
    f = write(tmp_path / "one.json", gfic("x", issuer=EVIL))
    log = out_json(cli(f, "--format", "sarif"))
    lines = {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in log["runs"][0]["results"]}
    assert lines == {1}


def test_sarif_with_unusable_input_still_validates(cli, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.json", "{oops")
    good = write(tmp_path / "good.json", gfic("x", issuer=EVIL))
    proc = cli(bad, good, "--format", "sarif")
    assert proc.returncode == 2
    log = out_json(proc)
    jsonschema.validate(log, json.loads(SCHEMA.read_text(encoding="utf-8")), cls=jsonschema.Draft7Validator)
    assert {r["ruleId"] for r in log["runs"][0]["results"]} >= {"WIF102"}


# -- --config ---------------------------------------------------------------------------------
def test_config_file_owners_organizations_and_exact_issuer(cli, tmp_path: Path) -> None:
    cfg = tmp_path / "wifguard.yaml"
    cfg.write_text(
        "github:\n  allowed_owners: [contoso]\n"
        "azure_devops:\n  allowed_organizations: [contoso]\n"
        f"allowed_issuers:\n  - {SELF_HOSTED}\n",
        encoding="utf-8",
    )
    f = write(tmp_path / "creds.json", [
        gfic("gh-ours", subject=CLEAN_SUBJECT),
        gfic("gh-theirs", subject="repo:fabrikam@9/app@8:environment:prod"),
        gfic("ado-ours", issuer=ADO, subject="sc://contoso/infra/conn"),
        gfic("ado-theirs", issuer=ADO, subject="sc://fabrikam/infra/conn"),
        gfic("self-hosted", issuer=SELF_HOSTED, subject="system:serviceaccount:payments:api"),
        gfic("blob-other", issuer="https://myoidc.blob.core.windows.net/other",
             subject="system:serviceaccount:payments:api"),
    ])
    proc = cli(f, "--config", cfg, "--format", "json")
    doc = out_json(proc)
    assert [x["credential"]["name"] for x in by_rule(doc, "WIF201")] == ["gh-theirs"]
    assert [x["credential"]["name"] for x in by_rule(doc, "WIF208")] == ["ado-theirs"]
    assert [x["credential"]["name"] for x in by_rule(doc, "WIF102")] == ["blob-other"]
    assert [x["credential"]["name"] for x in by_rule(doc, "WIF101")] == ["blob-other"]
    assert proc.returncode == 1

    # Without the config: no owner/organisation checks, and the self-hosted issuer fires.
    doc = out_json(cli(f, "--format", "json"))
    assert not by_rule(doc, "WIF201") and not by_rule(doc, "WIF208")
    assert "self-hosted" in {x["credential"]["name"] for x in by_rule(doc, "WIF102")}


def test_broken_config_file_exits_2_and_names_it(cli, tmp_path: Path) -> None:
    cfg = write(tmp_path / "broken-config.yaml", "allowed_issuer: [x]\n")
    f = write(tmp_path / "a.json", gfic("x"))
    proc = cli(f, "--config", cfg, "--format", "json")
    assert proc.returncode == 2
    assert "broken-config.yaml" in proc.stderr and "allowed_issuer" in proc.stderr


def test_table_format(cli, tmp_path: Path) -> None:
    f = write(tmp_path / "evil.json", gfic("backdoor", issuer=EVIL))
    proc = cli(f)
    assert proc.returncode == 1
    assert "WIF102" in proc.stdout and "backdoor" in proc.stdout


def test_fingerprints_stable_across_runs(cli, tmp_path: Path) -> None:
    f = write(tmp_path / "evil.json", [gfic("a", issuer=EVIL), gfic("b", issuer=EVIL)])
    first = out_json(cli(f, "--format", "json"))
    second = out_json(cli(f, "--format", "json"))
    fp1 = sorted((x["rule_id"], x["credential"]["name"], x["fingerprint"]) for x in first["findings"])
    fp2 = sorted((x["rule_id"], x["credential"]["name"], x["fingerprint"]) for x in second["findings"])
    assert fp1 == fp2
    wif102 = {x["credential"]["name"]: x["fingerprint"] for x in by_rule(first, "WIF102")}
    assert wif102["a"] != wif102["b"]
