"""Connecting (connection strings, Entra ID endpoints), ensure(), and the `findings` CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from wifguard.azurite import Azurite
from wifguard.cli.findings import findings_app
from wifguard.domain.model import Finding, Severity
from wifguard.store import FindingStatus, Store

APP = "33333333-cccc-4ccc-8ccc-000000000003"


async def test_ensure_is_idempotent_and_creates_everything(azurite: Azurite, prefix: str) -> None:
    async with Store.from_connection_string(azurite.connection_string, prefix=prefix) as s:
        await s.ensure()
        await s.create_tables()
        names = {t.name async for t in s._tables.list_tables()}
        assert {s.findings_table, s.events_table, s.rejected_table, s.backups_table, s.actions_table} <= names
        assert s._blobs is not None
        assert await s._blobs.get_container_client(s.rejected_container).exists()
        assert await s.claim_event("x", "y") is True


async def test_development_storage_shorthand() -> None:
    s = Store.from_connection_string("UseDevelopmentStorage=true;")
    try:
        assert s._tables.url.startswith("http://127.0.0.1:10002/devstoreaccount1")
        assert s._blobs is not None and s._blobs.url.startswith("http://127.0.0.1:10000/devstoreaccount1")
        assert s.findings_table == "wifguardfindings" and s.rejected_container == "wifguard-rejected"
    finally:
        await s.close()


async def test_from_account_uses_entra_endpoints() -> None:
    from azure.identity.aio import DefaultAzureCredential

    cred = DefaultAzureCredential()
    try:
        s = Store.from_account("https://acct.table.core.windows.net/", cred, prefix="prod")
        assert s._tables.url.startswith("https://acct.table.core.windows.net")
        assert s._blobs is not None and s._blobs.url.startswith("https://acct.blob.core.windows.net")
        assert s.findings_table == "prodfindings"
        await s.close()
        s2 = Store.from_account("acct2")  # owns a DefaultAzureCredential, closed with the store
        assert s2._tables.url.startswith("https://acct2.table.core.windows.net")
        assert s2._credential is not None
        await s2.close()
    finally:
        await cred.close()


def test_invalid_prefix_is_refused() -> None:
    for bad in ("", "1abc", "with-dash", "x" * 60):
        with pytest.raises(ValueError):
            Store.from_connection_string("UseDevelopmentStorage=true", prefix=bad)


# -- CLI -----------------------------------------------------------------------------------

runner = CliRunner()


def _seed(conn: str, prefix: str, make_finding: Callable[..., Finding]) -> list[Finding]:
    crit = make_finding(APP, rule_id="WIF-001", credential="gh-pr", severity=Severity.CRITICAL)
    low = make_finding(APP, rule_id="WIF-009", credential="gh-main", severity=Severity.LOW)
    other = make_finding("app-other", rule_id="WIF-001", credential="x", identity_name="Other, \"quoted\"")

    async def go() -> None:
        async with Store.from_connection_string(conn, prefix=prefix) as s:
            await s.ensure()
            await s.record(APP, [crit, low])
            await s.record("app-other", [other])
            await s.set_status(low.fingerprint, FindingStatus.RESOLVED)

    asyncio.run(go())
    return [crit, low, other]


def test_cli_list_json_csv_table(azurite: Azurite, prefix: str, make_finding: Callable[..., Finding]) -> None:
    crit, low, other = _seed(azurite.connection_string, prefix, make_finding)
    env = {"WIFGUARD_STORAGE": azurite.connection_string, "COLUMNS": "200"}
    base = ["list", "--prefix", prefix]

    res = runner.invoke(findings_app, [*base, "--format", "json"], env=env)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [f["fingerprint"] for f in doc["findings"]] == [crit.fingerprint, other.fingerprint, low.fingerprint]
    assert doc["summary"] == {"count": 3, "by_status": {"open": 2, "resolved": 1}}

    res = runner.invoke(findings_app, [*base, "--format", "json", "--severity", "high", "--status", "open",
                                       "--identity", APP], env=env)
    assert [f["fingerprint"] for f in json.loads(res.stdout)["findings"]] == [crit.fingerprint]

    res = runner.invoke(findings_app, [*base, "--format", "csv", "--rule", "wif-001"], env=env)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert {r["fingerprint"] for r in rows} == {crit.fingerprint, other.fingerprint}
    assert {r["identity_name"] for r in rows} == {"payments-app", 'Other, "quoted"'}

    res = runner.invoke(findings_app, [*base, "--format", "table"], env=env)
    assert res.exit_code == 0, res.output
    assert "3 finding(s)" in res.stdout and crit.fingerprint in res.stdout and "critical" in res.stdout

    res = runner.invoke(findings_app, [*base, "--severity", "bogus"], env=env)
    assert res.exit_code == 2 and "unknown severity" in res.output


def test_cli_show(azurite: Azurite, prefix: str, make_finding: Callable[..., Finding]) -> None:
    crit, _, _ = _seed(azurite.connection_string, prefix, make_finding)
    args = ["show", crit.fingerprint, "--prefix", prefix, "--store", azurite.connection_string]
    res = runner.invoke(findings_app, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["fingerprint"] == crit.fingerprint and doc["status"] == "open"
    assert doc["credential"] == dict(crit.credential or {}) and doc["occurrences"] == 1
    assert doc["remediation"] == crit.remediation and doc["notified_at"] is None
    res = runner.invoke(findings_app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert crit.fingerprint in res.stdout and "gh-pr" in res.stdout and "pending" in res.stdout
    res = runner.invoke(findings_app, ["show", "0" * 32, "--prefix", prefix, "--store", azurite.connection_string])
    assert res.exit_code == 1 and "no finding" in res.output


def test_cli_on_an_empty_store(azurite: Azurite, prefix: str) -> None:
    res = runner.invoke(findings_app, ["list", "--format", "json", "--prefix", prefix,
                                       "--store", azurite.connection_string])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["findings"] == []
