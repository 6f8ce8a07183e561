"""The ``wifguard`` command line. Heavy modules are imported inside commands to keep start-up fast."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(
    name="wifguard",
    help="Compliance responder for Microsoft Entra workload identity federation.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _Run:
    """Options of the whole invocation (set by the root callback)."""

    debug = False
    quiet = False
    verbose = False
    no_color = False
    progress = False


RUN = _Run()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        from wifguard import __version__

        try:
            v = version("wifguard")
        except PackageNotFoundError:  # a checkout that was never installed
            v = __version__
        typer.echo(f"wifguard {v}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logging.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only findings and errors: no summaries or "
                                        "notes.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens (INFO).")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours (NO_COLOR is honoured too).")] = False,
) -> None:
    """Compliance responder for Microsoft Entra workload identity federation.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 unusable input or a failure."""
    RUN.debug, RUN.quiet, RUN.verbose, RUN.no_color = debug, quiet, verbose, no_color
    if no_color:
        import os

        os.environ["NO_COLOR"] = "1"  # rich, and anything else that honours the convention
    if debug or verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG if debug else logging.INFO)


def console(output: Path | None = None) -> Any:
    """A rich console; wide when writing to a file or pipe so tables stay readable."""
    from rich.console import Console

    if output is not None:
        return Console(file=open(output, "w", encoding="utf-8"), width=160)
    c = Console()
    if not c.is_terminal:
        c = Console(width=160)
    return c


class EvalFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"
    csv = "csv"
    junit = "junit"
    markdown = "markdown"


class SeverityOpt(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


SeverityFilter = Annotated[SeverityOpt | None, typer.Option("--severity", help="Report only findings at or above "
                                                                                "this severity.")]
RuleFilter = Annotated[list[str] | None, typer.Option("--rule", help="Report only these rule ids (globs, e.g. "
                                                                     "'WIF1*'); repeatable.")]
SkipRuleFilter = Annotated[list[str] | None, typer.Option("--skip-rule", help="Do not report these rule ids "
                                                                              "(globs); repeatable.")]


def _selector(severity: SeverityOpt | None, rule: list[str] | None, skip_rule: list[str] | None) -> Any:
    from wifguard.domain.model import Severity
    from wifguard.reporting.selection import wanted

    sev = Severity.parse(severity.value) if severity else None
    return lambda f: wanted(f, severity=sev, rules=rule or (), skip_rules=skip_rule or ())


def _render_rows(fmt: str, rows: list[dict[str, Any]], checked: int, title: str) -> str:
    from wifguard.reporting.formats import to_csv, to_junit, to_markdown

    if fmt == "csv":
        return to_csv(rows)
    if fmt == "junit":
        return to_junit(rows, suite=title, checked=checked)
    return to_markdown(rows, title=title)


class FailOn(StrEnum):
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


def _note(msg: str) -> None:
    """Informational stderr line (silenced by --quiet)."""
    if not RUN.quiet:
        typer.echo(msg, err=True)


def _settings() -> Any:
    """The ``WIFGUARD_*`` app settings; a bad value is a usage error."""
    from wifguard.settings import Settings, SettingsError

    try:
        return Settings.from_env()
    except SettingsError as exc:
        _err(f"wifguard: {exc} (environment)")
        raise typer.Exit(exc.exit_code) from None


def _resolve(config: Path | None, tenant_id: str | None = None, flags: Any = None) -> Any:
    """Config file, then WIFGUARD_* settings, then flags: the one resolution (wifguard.resolve)."""
    from wifguard.catalogue.rules import RuleError
    from wifguard.config import ConfigError
    from wifguard.resolve import Flags, resolve
    from wifguard.settings import SettingsError

    settings = _settings()
    try:
        return resolve(settings, config, tenant_id=tenant_id, flags=flags or Flags())
    except (ConfigError, RuleError, SettingsError) as exc:
        _err(f"wifguard: {exc}")
        raise typer.Exit(exc.exit_code) from None


def _load_engine(config: Path | None, tenant_id: str | None = None, flags: Any = None) -> Any:
    return _engine_of(_resolve(config, tenant_id, flags))


def _dump(data: Any) -> str:
    """Indented JSON, fast: the standard encoder is pure Python once indenting (20 s for 200k findings)."""
    import orjson

    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode()


def write_text(text: str, output: Path | None) -> None:
    _write(text, output)


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
    severity: SeverityFilter = None,
    rule: RuleFilter = None,
    skip_rule: SkipRuleFilter = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="A previous JSON or SARIF report: its "
                                                  "findings (by fingerprint) are not reported again.")] = None,
) -> None:
    """Evaluate credential files offline (pre-merge checks); `-` reads standard input.

    Exit 0 clean, 1 findings at or above --fail-on, 2 unusable input."""
    from wifguard.domain.model import Severity
    from wifguard.offline.evaluate import evaluate_paths
    from wifguard.reporting.report import render_table, summary_line
    from wifguard.reporting.sarif import build_sarif
    from wifguard.reporting.selection import BaselineError, load_baseline, split_baseline

    engine = _load_engine(config)
    known: frozenset[str] = frozenset()
    if baseline is not None:
        try:
            known = load_baseline(baseline)
        except BaselineError as exc:
            _err(f"wifguard: {exc}")
            raise typer.Exit(exc.exit_code) from None
    result = evaluate_paths(engine, paths)
    keep = _selector(severity, rule, skip_rule)
    result.located = [(f, loc) for f, loc in result.located if keep(f)]
    in_baseline = 0
    if known:
        result.located, in_baseline = split_baseline(result.located, known, key=lambda p: p[0])
    if result.files == 0:
        # A CI path typo must not pass as "0 files, clean".
        _err(f"wifguard: no *.json credential file found in {', '.join(map(str, paths))} (evaluate)")
        raise typer.Exit(2)
    for e in result.errors:
        _err(f"wifguard: {e}")
    for ex in engine.expired_exemptions():
        _note(f"wifguard: exemption expired on {ex.expires} (rule {ex.rule}, identity {ex.identity}): {ex.reason}")
    findings = [f for f, _ in result.located]
    if in_baseline:
        _note(f"wifguard: {in_baseline} finding(s) already in the baseline {baseline} are not reported")
    if format is EvalFormat.json:
        data = result.to_json(engine)
        data["summary"]["in_baseline"] = in_baseline
        _write(_dump(data), output)
    elif format in (EvalFormat.csv, EvalFormat.junit, EvalFormat.markdown):
        _write(_render_rows(format.value, result.to_json(engine)["findings"], result.credentials,
                            "wifguard evaluate"), output)
    elif format is EvalFormat.sarif:
        severities = {r.id: engine.severity_of(r) for r in engine.all_rules}
        log = build_sarif(result.located, engine.all_rules, severities,
                          [(e.path, e.problem) for e in result.errors])
        _write(_dump(log), output)
    else:
        out = console(output)
        if findings:
            out.print(render_table(findings))
        if not RUN.quiet:
            out.print(f"{result.files} file(s), {result.credentials} credential(s): {summary_line(findings)}"
                      + (f"; {len(result.exempted)} exempted" if result.exempted else "")
                      + (f"; {in_baseline} in the baseline" if in_baseline else ""))
    if result.errors:
        raise typer.Exit(2)
    if fail_on is not FailOn.none:
        threshold = Severity.parse(fail_on.value)
        if any(f.severity >= threshold for f in findings):
            raise typer.Exit(1)


class SweepFormat(StrEnum):
    table = "table"
    json = "json"


class SweepOutFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    junit = "junit"
    markdown = "markdown"


class QuarantineMode(StrEnum):
    off = "off"
    dry_run = "dry-run"
    enforce = "enforce"


QuarantineModeOpt = Annotated[
    QuarantineMode | None,
    typer.Option("--quarantine-mode", help="Override the quarantine mode of the config and WIFGUARD_QUARANTINE_MODE."),
]
NoNotifyOpt = Annotated[bool, typer.Option("--no-notify", help="Send nothing; new findings stay pending for the "
                                                             "next run.")]


@app.command()
def sweep(
    sim: Annotated[Path | None, typer.Option("--sim", help="Sweep a simulated tenant started from this seed.")] = None,
    config: ConfigOpt = None,
    format: Annotated[SweepOutFormat, typer.Option("--format", "-f")] = SweepOutFormat.table,
    store: Annotated[str | None, typer.Option("--store", help="Record findings in this store (connection string); "
                                              "this may notify and quarantine.", envvar="WIFGUARD_STORAGE")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 when a finding reaches this severity.")] = FailOn.none,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Evaluate only: record, notify and change nothing; "
                                          "list what quarantine would remove.")] = False,
    no_notify: NoNotifyOpt = False,
    quarantine_mode: QuarantineModeOpt = None,
    severity: SeverityFilter = None,
    rule: RuleFilter = None,
    skip_rule: SkipRuleFilter = None,
    progress_flag: Annotated[bool, typer.Option("--progress", help="Show progress on stderr even when it is not "
                                                "a terminal.")] = False,
) -> None:
    """Read the whole tenant (live, or --sim SEED) and evaluate every federated identity.

    --severity/--rule/--skip-rule choose what is reported and what --fail-on sees; --store
    records every finding regardless (the store's view of an identity stays whole).

    With --store the findings are recorded and the run may notify and quarantine: it says so
    before it starts and lists what it did."""
    import asyncio

    from wifguard.catalogue.engine import Engine
    from wifguard.cli.announce import announce, notification_tally, would_quarantine
    from wifguard.domain.model import Severity
    from wifguard.pipeline.sweep import connection_for, sweep_with_checks
    from wifguard.reporting.report import render_table, summary_line
    from wifguard.resolve import Flags

    _seed(sim, "--sim")
    settings = _settings()
    flags = Flags(quarantine_mode=quarantine_mode.value if quarantine_mode else None, notify=not no_notify)
    recording = bool(store) and not dry_run
    record: Any = None
    record_error: str | None = None
    planned: list[dict[str, Any]] = []
    with connection_for(sim) as (conn, _):
        resolved = _resolve(config, conn.tenant_id, flags)
        engine = _engine_of(resolved)
        if store or dry_run:
            text = f"wifguard: {announce(resolved, store=recording, dry_run=dry_run)}"
            _err(text) if resolved.quarantine_mode == "enforce" and recording else _note(text)

        async def run(report: Any) -> Any:
            nonlocal record, record_error
            rep = await sweep_with_checks(conn, engine, report, env=settings.env,
                                          store=str(store) if recording else None, prefix=settings.table_prefix)
            if recording:
                from wifguard.pipeline.responder import record_sweep

                try:
                    record = await record_sweep(str(store), engine, rep, conn=conn)
                except Exception as exc:  # the tenant read is still written out below
                    from wifguard.cli.errors import describe

                    if RUN.debug:
                        import traceback

                        traceback.print_exc()
                    record_error = f"recording the sweep in the store failed: {describe(exc, 'sweep --store')}"
            return rep

        err_console = console_err()
        show = (err_console.is_terminal or progress_flag) and not RUN.quiet
        progress = _progress(err_console) if show else None
        try:
            if progress is not None:
                with progress:
                    task = progress.add_task("reading tenant", total=None)

                    def report(stage: str, done: int, total: int) -> None:
                        progress.update(task, description=f"{stage}: {done}")

                    rep = asyncio.run(run(report))
            else:
                rep = asyncio.run(run(None))
        except Exception as exc:  # a failure to reach the tenant at all
            _fail(exc, "sweep")
        if dry_run:
            planned = would_quarantine(resolved, rep.evaluations, settings.responder_ids)
    assert isinstance(engine, Engine)
    keep = _selector(severity, rule, skip_rule)
    data = rep.to_json()
    data["findings"] = [d for d, f in zip(data["findings"], _sorted_findings(rep.findings), strict=True) if keep(f)]
    shown = [f for f in rep.findings if keep(f)]
    expired = engine.expired_exemptions()
    data["expired_exemptions"] = [x.model_dump(mode="json") for x in expired]
    data["run"] = {"dry_run": dry_run, "store": recording, "quarantine_mode": resolved.quarantine_mode,
                   "quarantine_mode_from": resolved.origin("quarantine.mode"),
                   "notify": bool(resolved.channel_names())}
    if dry_run:
        data["would_quarantine"] = planned
    if record is not None:
        data["recorded"] = record.recorded
        data["quarantined"] = record.quarantined
        data["notifications"] = notification_tally(record.notifications,
                                                   channels_configured=bool(resolved.channel_names()))
        data["errors"] = [*data["errors"], *record.errors]
    for e in [*rep.errors, *(record.errors if record is not None else [])]:
        _err(f"wifguard: {e}")
    for x in expired:
        _note(f"wifguard: exemption expired on {x.expires} (rule {x.rule}, identity {x.identity}): {x.reason}")
    if format is SweepOutFormat.json:
        _write(_dump(data), output)
    elif format is not SweepOutFormat.table:
        _write(_render_rows(format.value, data["findings"], data["summary"]["credentials"], "wifguard sweep"), output)
    else:
        out = console(output)
        findings = shown
        if findings:
            out.print(render_table(findings, title="wifguard sweep"))
        actions = data.get("quarantined") or data.get("would_quarantine") or []
        if actions:
            out.print(_actions_table(actions, "quarantine (dry run: would remove)" if dry_run else "quarantine"))
        s = data["summary"]
        out.print(
            f"{s['identities']} identities ({s['federated_identities']} federated), {s['credentials']} credentials, "
            f"{s['role_assignments']} role assignments; {summary_line(findings)}"
        )
        if record is not None:
            n = data["notifications"]
            r = data["recorded"]
            out.print(f"recorded: {r.get('new', 0)} new, {r.get('updated', 0)} updated, {r.get('reopened', 0)} "
                      f"reopened, {r.get('resolved', 0)} resolved; notifications: {n['delivered']} delivered, "
                      f"{n['pending']} pending, {n['failed']} failed; quarantine ({resolved.quarantine_mode}): "
                      + _count_statuses(record.quarantined))
        out.print(f"{s['requests']} requests, {s['throttled_retries']} throttled retries, "
                  f"{s['duration_seconds']:.1f} s")
    if record_error is not None:
        _err(f"wifguard: {record_error}")
        raise typer.Exit(2)
    if fail_on is not FailOn.none and any(f.severity >= Severity.parse(fail_on.value) for f in shown):
        raise typer.Exit(1)


def _sorted_findings(findings: list[Any]) -> list[Any]:
    from wifguard.reporting.report import sort_findings

    return list(sort_findings(findings))


def _engine_of(resolved: Any) -> Any:
    from wifguard.catalogue.engine import Engine
    from wifguard.catalogue.rules import RuleError
    from wifguard.config import ConfigError

    try:
        return Engine(resolved.config)
    except (ConfigError, RuleError) as exc:
        _err(f"wifguard: {exc}")
        raise typer.Exit(exc.exit_code) from None


def _fail(exc: BaseException, where: str) -> NoReturn:
    """One line for a failure caught inside a command (the traceback only with --debug)."""
    from wifguard.cli.errors import describe
    from wifguard.errors import exit_code

    if RUN.debug:
        import traceback

        traceback.print_exc()
    _err(f"wifguard: {describe(exc, where)}")
    raise typer.Exit(exit_code(exc))


def _seed(path: Path | None, option: str) -> Path | None:
    """A tenant seed must exist and be a JSON object with tenant content (not a credential file)."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _err(f"wifguard: {path}: no such seed file ({option})")
        raise typer.Exit(2) from None
    except (OSError, UnicodeDecodeError) as exc:
        _err(f"wifguard: {path}: cannot read the seed: {getattr(exc, 'strerror', None) or exc} ({option})")
        raise typer.Exit(2) from None
    except json.JSONDecodeError as exc:
        _err(f"wifguard: {path}: seed is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
             f"({option})")
        raise typer.Exit(2) from None
    if not isinstance(data, dict) or not ({"applications", "subscriptions", "servicePrincipals"} & set(data)):
        _err(f"wifguard: {path}: not a tenant seed: expected an object with applications/subscriptions "
             f"(a credential file goes to `wifguard evaluate`) ({option})")
        raise typer.Exit(2)
    return path


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _count_statuses(actions: list[dict[str, Any]]) -> str:
    if not actions:
        return "nothing"
    counts: dict[str, int] = {}
    for a in actions:
        counts[a["status"]] = counts.get(a["status"], 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def _actions_table(actions: list[dict[str, Any]], title: str) -> Any:
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title)
    for col in ("status", "identity", "credential", "rule", "backup id / reason"):
        t.add_column(col, overflow="fold")
    for a in actions:
        ident = a.get("identity") or {}
        t.add_row(Text(str(a["status"])), Text(str(ident.get("name") or ident.get("id") or "")),
                  Text(str(a.get("credential") or "")), Text(str(a.get("rule_id") or "")),
                  Text(str(a.get("backup_id") or a.get("reason") or "")))
    return t


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

    _seed(seed, "--seed")
    try:
        serve(str(seed), port=port)
    except OSError as exc:
        _err(f"wifguard: cannot listen on port {port}: {exc.strerror or exc} (sim serve --port)")
        raise typer.Exit(2) from None


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


class ReplaySource(StrEnum):
    audit_log = "audit-log"
    event_grid = "event-grid"


@contextmanager
def _store_conn(store: str | None) -> Iterator[str]:
    """The given store, else an ephemeral Azurite for the duration of the command."""
    if store:
        yield store
        return
    from wifguard.azurite import run_azurite

    with run_azurite() as az:
        yield az.connection_string


@app.command()
def replay(
    source: Annotated[ReplaySource, typer.Argument(help="Which trigger the payload file is for.")],
    file: Annotated[Path, typer.Argument(help="Event Hub body/bodies or audit records; Event Grid events.")],
    sim: Annotated[Path | None, typer.Option("--sim", help="Re-read identities from a simulated tenant.")] = None,
    config: ConfigOpt = None,
    store: Annotated[str | None, typer.Option("--store", help="Store connection string (default: an ephemeral "
                                              "Azurite).", envvar="WIFGUARD_STORAGE")] = None,
    format: Annotated[SweepFormat, typer.Option("--format", "-f")] = SweepFormat.json,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    no_notify: NoNotifyOpt = False,
    quarantine_mode: QuarantineModeOpt = None,
) -> None:
    """Run trigger payloads through exactly the code the Azure Functions run.

    Like the Functions, it may notify and quarantine (it says so first). Exit 2 when any record
    was rejected or could not be processed."""
    import asyncio

    from wifguard.cli.announce import announce, notification_tally
    from wifguard.pipeline.runtime import (
        build_responder,
        open_store,
        process_audit_bodies,
        process_event_grid,
    )
    from wifguard.pipeline.sweep import connection_for
    from wifguard.resolve import Flags

    try:
        raw = file.read_bytes()
    except OSError as exc:
        _err(f"wifguard: {file}: cannot read: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    _seed(sim, "--sim")
    settings = _settings()
    flags = Flags(quarantine_mode=quarantine_mode.value if quarantine_mode else None, notify=not no_notify)

    async def run(conn_str: str, conn: Any, resolved: Any) -> Any:
        st = open_store(settings, conn_str)
        try:
            responder = await build_responder(settings, conn=conn, store=st, compose_messages=True,
                                              config=resolved.config)
        except Exception as exc:
            await st.close()
            raise exc
        try:
            if source is ReplaySource.audit_log:
                return await process_audit_bodies(responder, [raw])
            return await process_event_grid(responder, raw)
        finally:
            await responder.close()
            await st.close()

    from wifguard.pipeline.responder import BatchNotDurable

    not_durable: BatchNotDurable | None = None
    with _store_conn(store) as conn_str, connection_for(sim, mode="thread") as (conn, _):
        resolved = _resolve(config, conn.tenant_id, flags)
        _engine_of(resolved)  # rule errors are usage errors, before anything is read
        _err(f"wifguard: {announce(resolved, store=True)}")
        try:
            result = asyncio.run(run(conn_str, conn, resolved))
        except BatchNotDurable as exc:  # like the Functions: fail, so the batch is delivered again
            not_durable, result = exc, exc.result
    data = result.to_json()
    tally = notification_tally(result.notifications, channels_configured=bool(resolved.channel_names()))
    data["summary"]["notifications"] = tally
    statuses = data["summary"].get("events") or {}
    bad = int(statuses.get("rejected", 0)) + int(statuses.get("failed", 0)) + int(statuses.get("parked", 0))
    for e in result.errors:
        _err(f"wifguard: {e}")
    if format is SweepFormat.json:
        _write(_dump(data), output)
    else:
        from rich.table import Table
        from rich.text import Text

        from wifguard.reporting.report import render_table, summary_line

        out = console(output)
        t = Table(title="events")
        for col in ("id", "status", "reason"):
            t.add_column(col, overflow="fold")
        for e in result.events:
            t.add_row(Text(e.id), Text(e.status), Text(e.reason))
        out.print(t)
        if result.findings:
            out.print(render_table(result.findings, title="findings"))
        if result.quarantined:
            out.print(_actions_table(result.quarantined, "quarantine"))
        out.print(f"{summary_line(result.findings)}; notifications: {tally['delivered']} delivered, "
                  f"{tally['pending']} pending, {tally['failed']} failed; quarantine ({resolved.quarantine_mode}): "
                  + _count_statuses(result.quarantined))
    if not_durable is not None:
        _err(f"wifguard: {not_durable}; replay the same file again once the store is back")
        raise typer.Exit(not_durable.exit_code)
    total = len(result.events)
    if bad or result.errors:
        _err(f"wifguard: {bad} of {total} record(s) rejected or not processed"
             + (f", {len(result.errors)} error(s)" if result.errors else ""))
        raise typer.Exit(2)


quarantine_app = typer.Typer(help="Quarantine backups: list and restore.", no_args_is_help=True)


class BackupStateOpt(StrEnum):
    backed_up = "backed_up"
    removed = "removed"
    verified = "verified"
    restored = "restored"
    rolled_back = "rolled_back"

app.add_typer(quarantine_app, name="quarantine")
StoreOpt = Annotated[str | None, typer.Option("--store", help="Store connection string.", envvar="WIFGUARD_STORAGE")]


def _need_store(store: str | None) -> Any:
    """The store named by --store / WIFGUARD_STORAGE, with the table prefix of WIFGUARD_TABLE_PREFIX."""
    if not store:
        _err("wifguard: no store: pass --store CONNECTION_STRING or set WIFGUARD_STORAGE")
        raise typer.Exit(2)
    from wifguard.settings import Settings
    from wifguard.store import Store

    return Store.from_connection_string(store, prefix=Settings.from_env().table_prefix)


@quarantine_app.command("list")
def quarantine_list(
    store: StoreOpt = None,
    state: Annotated[BackupStateOpt | None, typer.Option(help="Only backups in this state.")] = None,
    format: Annotated[SweepFormat, typer.Option("--format", "-f")] = SweepFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """List quarantine backups."""
    import asyncio


    async def run() -> list[Any]:
        async with _need_store(store) as st:
            await st.ensure()
            return list(await st.list_backups(state=state.value if state else None))

    backups = asyncio.run(run())
    if format is SweepFormat.json:
        _write(_dump([b.to_dict() for b in backups]), output)
        return
    from rich.table import Table
    from rich.text import Text

    t = Table(title="quarantine backups")
    for col in ("backup id", "state", "identity", "credential", "rule", "created"):
        t.add_column(col, overflow="fold")
    for b in backups:
        t.add_row(Text(b.id), Text(b.state.value), Text(f"{b.identity_name} ({b.identity_kind})"),
                  Text(b.credential_name), Text(b.rule_id), Text(str(b.created_at)))
    console(output).print(t)


@quarantine_app.command("restore")
def quarantine_restore(
    backup_id: Annotated[str, typer.Argument(help="Backup id from `wifguard quarantine list`.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the risk is accepted (3-500 characters).")],
    expires: Annotated[int, typer.Option("--expires", help="Days until the exemption ends (1-365).")] = 30,
    store: StoreOpt = None,
    sim: Annotated[Path | None, typer.Option("--sim", help="Restore into a simulated tenant.")] = None,
) -> None:
    """Recreate a quarantined credential exactly and record that you accept its risk until --expires.

    Exit 0 restored, 1 refused (unknown backup, identity gone...), 2 conflict (someone else restored
    it or is restoring it, or the credential is back) or bad input."""
    import asyncio
    import getpass

    from wifguard.actions.quarantine import (
        RestoreConflict,
        RestoreError,
        restore,
        validate_expiry_days,
        validate_reason,
    )
    from wifguard.pipeline.sweep import connection_for
    from wifguard.sources.inventory.tenant import CredentialWriter, Inventory

    try:
        validate_reason(reason)
        validate_expiry_days(expires)
    except ValueError as exc:
        _err(f"wifguard: {exc}")
        raise typer.Exit(2) from None
    who = f"cli:{getpass.getuser()}"

    async def run(conn: Any) -> dict[str, Any]:
        async with _need_store(store) as st, Inventory(conn) as inv:
            await st.ensure()
            return await restore(st, CredentialWriter(inv), backup_id, reason=reason, actor=who,
                                 expires_days=expires)

    with connection_for(sim, mode="thread") as (conn, _):
        try:
            out = asyncio.run(run(conn))
        except RestoreConflict as exc:
            _err(f"wifguard: restore conflict: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except RestoreError as exc:
            _err(f"wifguard: restore refused: {exc} (quarantine restore {backup_id})")
            raise typer.Exit(exc.exit_code) from None
    _write(_dump(out), None)


def _mount_findings() -> None:
    from wifguard.cli.findings import findings_app

    app.add_typer(findings_app, name="findings", help="Recorded findings: list and show.")


_mount_findings()
app.add_typer(__import__("wifguard.cli.parked", fromlist=["parked_app"]).parked_app, name="parked")
app.add_typer(__import__("wifguard.cli.migrate", fromlist=["migrate_app"]).migrate_app, name="migrate")


def _mount_catalogue() -> None:
    from wifguard.cli.catalogue import config_app, rules_app

    app.add_typer(rules_app, name="rules")
    app.add_typer(config_app, name="config")


_mount_catalogue()


class ReportFormat(StrEnum):
    markdown = "markdown"
    json = "json"
    html = "html"


@app.command()
def report(
    store: StoreOpt = None,
    format: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.markdown,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    top: Annotated[int, typer.Option(help="How many identities to list.")] = 15,
    config: ConfigOpt = None,
) -> None:
    """The posture report from the store: the last sweep (tenant, scope, identities checked and
    clean, changes), open findings by severity, the riskiest identities with owners, strongest
    privilege and trust path, exemptions, quarantines, recent actions and parked payloads.
    ``--format html`` writes one self-contained HTML file."""
    import asyncio

    from wifguard.config import load_config
    from wifguard.reporting.markdown import build_report, render_markdown
    from wifguard.settings import Settings

    settings = Settings.from_env()
    cfg = load_config(config if config is not None else settings.config_path)

    async def run() -> dict[str, Any]:
        async with _need_store(store) as st:
            await st.ensure()
            return await build_report(st, top=top, config=cfg, tenant_id=settings.tenant_id or cfg.home_tenant_id or "")

    data = asyncio.run(run())
    if format is ReportFormat.html:
        from wifguard.reporting.html import render_html

        text = render_html(data)
    elif format is ReportFormat.markdown:
        text = render_markdown(data)
    else:
        text = json.dumps(data, indent=2, default=str)
    _write(text, output)


@app.command()
def demo(
    out: Annotated[Path | None, typer.Option("--out", "--keep", help="Folder for the demo's outputs (cards, SARIF, "
                                             "report); default ./demo-out.")] = None,
) -> None:
    """Run the local demo: Azurite + the shipped demo tenant, sweep, replays, quarantine and restore."""
    from wifguard.cli.demo import run_demo

    raise typer.Exit(run_demo(out))


def main() -> None:
    import os

    from wifguard.cli.errors import run
    from wifguard.logsafe import install

    install(os.environ)
    raise SystemExit(run(app))


if __name__ == "__main__":
    main()
