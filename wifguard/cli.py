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


class SweepFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def sweep(
    sim: Annotated[Path | None, typer.Option("--sim", help="Sweep a simulated tenant started from this seed.")] = None,
    config: ConfigOpt = None,
    format: Annotated[SweepFormat, typer.Option("--format", "-f")] = SweepFormat.table,
    store: Annotated[str | None, typer.Option("--store", help="Record findings in this store (connection string).",
                                              envvar="WIFGUARD_STORAGE")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 when a finding reaches this severity.")] = FailOn.none,
) -> None:
    """Read the whole tenant (live, or --sim SEED) and evaluate every federated identity."""
    import asyncio

    from wifguard.model import Severity
    from wifguard.report import render_table, summary_line
    from wifguard.sweep import connection_for, sweep_and_record

    if sim is not None and not sim.exists():
        _err(f"wifguard: --sim {sim}: no such seed file")
        raise typer.Exit(2)
    with connection_for(sim) as (conn, _):
        engine = _load_engine(config, conn.tenant_id)
        err_console = console_err()
        progress = _progress(err_console) if err_console.is_terminal and format is SweepFormat.table else None
        try:
            if progress is not None:
                with progress:
                    task = progress.add_task("reading tenant", total=None)

                    def report(stage: str, done: int, total: int) -> None:
                        progress.update(task, description=f"{stage}: {done}")

                    rep = asyncio.run(sweep_and_record(conn, engine, store, report))
            else:
                rep = asyncio.run(sweep_and_record(conn, engine, store, None))
        except Exception as exc:  # a failure to reach the tenant at all
            _err(f"wifguard: sweep failed: {exc}")
            raise typer.Exit(2) from None
    data = rep.to_json()
    for e in rep.errors:
        _err(f"wifguard: {e}")
    if format is SweepFormat.json:
        _write(json.dumps(data, indent=2, ensure_ascii=False), output)
    else:
        out = console(output)
        findings = rep.findings
        if findings:
            out.print(render_table(findings, title="wifguard sweep"))
        s = data["summary"]
        out.print(
            f"{s['identities']} identities ({s['federated_identities']} federated), {s['credentials']} credentials, "
            f"{s['role_assignments']} role assignments; {summary_line(findings)}"
        )
        out.print(f"{s['requests']} requests, {s['throttled_retries']} throttled retries, "
                  f"{s['duration_seconds']:.1f} s")
    if fail_on is not FailOn.none and any(f.severity >= Severity.parse(fail_on.value) for f in rep.findings):
        raise typer.Exit(1)


def console_err() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _progress(c: Any) -> Any:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=c, transient=True)


sim_app = typer.Typer(help="The simulated tenant (Graph + ARM over HTTPS on loopback).", no_args_is_help=True)
app.add_typer(sim_app, name="sim")


@sim_app.command("serve")
def sim_serve(
    seed: Annotated[Path, typer.Option("--seed", help="Seed file (real Graph/ARM shapes).")],
    port: Annotated[int, typer.Option("--port", help="Graph port (ARM uses port+1); 0 picks free ports.")] = 0,
) -> None:
    """Run the simulated tenant in the foreground; prints base URLs and the CA path."""
    from wifguard.sim import serve

    if not seed.exists():
        _err(f"wifguard: --seed {seed}: no such file")
        raise typer.Exit(2)
    serve(str(seed), port=port)


@sim_app.command("generate")
def sim_generate(
    output: Annotated[Path, typer.Option("--output", "-o")],
    apps: int = 10000,
    uamis: int = 1000,
    subscriptions: int = 4,
    role_assignments: int = 1000,
    planted: int = 5,
    seed: int = 42,
) -> None:
    """Write a generated tenant seed (for benchmarks and load tests)."""
    from wifguard.sim import generate_seed

    data = generate_seed(apps=apps, uamis=uamis, subscriptions=subscriptions, role_assignments=role_assignments,
                         planted_attacker_issuers=planted, seed=seed)
    output.write_text(json.dumps(data), encoding="utf-8")
    typer.echo(f"wrote {output}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
