"""The ``wifguard`` command line. Heavy modules are imported inside commands to keep start-up fast."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="wifguard",
    help="Compliance responder for Microsoft Entra workload identity federation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Compliance responder for Microsoft Entra workload identity federation."""


def console(output: Path | None = None) -> Any:
    """A rich console; wide when writing to a file or pipe so tables stay readable."""
    from rich.console import Console

    if output is not None:
        return Console(file=open(output, "w", encoding="utf-8"), width=160)
    c = Console()
    if not c.is_terminal:
        c = Console(width=160)
    return c


class EvalFormat(str, Enum):
    table = "table"
    json = "json"
    sarif = "sarif"


class FailOn(str, Enum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"
    none = "none"


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config merged over the shipped defaults.", envvar="WIFGUARD_CONFIG"),
]


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _load_engine(config: Path | None, tenant_id: str | None = None) -> Any:
    from wifguard.config import ConfigError, load_config
    from wifguard.engine import Engine
    from wifguard.rules import RuleError

    try:
        cfg = load_config(config)
        if tenant_id:
            cfg = cfg.with_home_tenant(tenant_id)
        return Engine(cfg)
    except (ConfigError, RuleError) as exc:
        _err(f"wifguard: {exc}")
        raise typer.Exit(2) from None


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


@app.command()
def evaluate(
    paths: Annotated[list[Path], typer.Argument(help="Credential files or directories (walked for *.json).")],
    config: ConfigOpt = None,
    format: Annotated[EvalFormat, typer.Option("--format", "-f", help="Output format.")] = EvalFormat.table,
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 when a finding reaches this severity.")] = FailOn.high,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to a file.")] = None,
) -> None:
    """Evaluate credential files offline (pre-merge checks). Exit 0 clean, 1 findings, 2 unusable input."""
    from wifguard.evaluate import evaluate_paths
    from wifguard.model import Severity
    from wifguard.report import render_table, summary_line
    from wifguard.sarif import build_sarif

    engine = _load_engine(config)
    result = evaluate_paths(engine, paths)
    for e in result.errors:
        _err(f"wifguard: {e}")
    for ex in engine.expired_exemptions():
        _err(f"wifguard: exemption expired on {ex.expires} (rule {ex.rule}, identity {ex.identity}): {ex.reason}")
    findings = [f for f, _ in result.located]
    if format is EvalFormat.json:
        _write(json.dumps(result.to_json(engine), indent=2, ensure_ascii=False), output)
    elif format is EvalFormat.sarif:
        severities = {r.id: engine.severity_of(r) for r in engine.all_rules}
        log = build_sarif(result.located, engine.all_rules, severities,
                          [(e.path, e.problem) for e in result.errors])
        _write(json.dumps(log, indent=2, ensure_ascii=False), output)
    else:
        out = console(output)
        if findings:
            out.print(render_table(findings))
        out.print(f"{result.files} file(s), {result.credentials} credential(s): {summary_line(findings)}"
                      + (f"; {len(result.exempted)} exempted" if result.exempted else ""))
    if result.errors:
        raise typer.Exit(2)
    if fail_on is not FailOn.none:
        threshold = Severity.parse(fail_on.value)
        if any(f.severity >= threshold for f in findings):
            raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
