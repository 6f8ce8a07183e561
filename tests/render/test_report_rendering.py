"""`wifguard sweep --store` then `wifguard report --format html|markdown|json` on the demo tenant, end
to end through the CLI; the HTML report rendered in headless Chromium (one self-contained file:
nothing fetched), screenshot kept in the test's tmp dir."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from render_helpers import BACKSLASH_ESCAPE, render

from wifguard.azurite import Azurite, run_azurite
from wifguard.cli.demo import CONFIG, SEED


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("report")
    az: Azurite
    with run_azurite() as az:
        env = {"WIFGUARD_TABLE_PREFIX": "r" + uuid.uuid4().hex[:12], "PATH": "/usr/bin:/bin",
               "WIFGUARD_STORAGE": az.connection_string}

        def cli(*args: str) -> str:
            proc = subprocess.run([sys.executable, "-m", "wifguard.cli", *args], capture_output=True, text=True,
                                  env=env, timeout=600, check=False)
            assert proc.returncode in (0, 1), proc.stderr
            return proc.stdout

        swept = json.loads(cli("sweep", "--sim", str(SEED), "--config", str(CONFIG), "--store",
                               az.connection_string, "--format", "json"))
        for fmt in ("html", "markdown", "json"):
            cli("report", "--config", str(CONFIG), "--format", fmt, "-o", str(out / f"report.{fmt}"))
        yield {"out": out, "swept": swept, "html": (out / "report.html").read_text(),
               "md": (out / "report.markdown").read_text(), "json": json.loads((out / "report.json").read_text())}


def test_json_report_has_the_first_screen(reports: dict[str, Any]) -> None:
    data = reports["json"]
    findings = reports["swept"]["findings"]
    assert data["tenant"] and data["scope"] == "whole tenant" and data["swept_at"]
    assert data["identities_checked"] > data["identities_clean"] >= 0
    assert data["open_total"] == len(findings)
    assert data["changes"]["new"] == len(findings)
    top = data["identities"][0]
    assert top["worst"] == "critical"
    assert top["owners"] is not None and top["paths"]
    assert any(i["privilege"] for i in data["identities"])
    assert data["exemptions"] and all("expires" in e for e in data["exemptions"])
    assert data["parked_total"] == 0


def test_markdown_report_reads_top_down(reports: dict[str, Any]) -> None:
    md = reports["md"]
    assert md.index("identities checked") < md.index("## Open findings by severity") < md.index(
        "## Riskiest identities") < md.index("## Exemptions") < md.index("## Quarantine") < md.index(
        "## Recent actions") < md.index("## Parked payloads")
    assert md.count("```mermaid") == len(reports["json"]["identities"])
    assert "flowchart LR" in md
    # Tables stay tables: every row of a table has that table's number of cells.
    widths = {line.count("|") for line in md.splitlines() if line.startswith("|")}
    assert widths <= {4, 5, 7, 8}


def test_html_report_is_self_contained_and_readable(reports: dict[str, Any]) -> None:
    html = reports["html"]
    out: Path = reports["out"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html
    assert html.count("<svg") == len(reports["json"]["identities"])
    results = render([{"name": "report", "out": str(out / "report.png"), "html": str(out / "report.html"),
                       "width": 1100}], out)
    r = results["report"]
    assert r["errors"] == [] and r["requests"] == []
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    text = r["text"]
    assert BACKSLASH_ESCAPE.search(text) is None
    assert text.index("identities checked") < text.index("Open findings by severity") < text.index(
        "Riskiest identities")
    top = reports["json"]["identities"][0]
    assert top["name"] in text and "Strongest privilege" in text
    low = [(run["text"], run["ratio"]) for run in r["runs"] if run["ratio"] < 4.5]
    assert low == []
