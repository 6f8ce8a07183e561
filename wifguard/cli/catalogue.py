"""``wifguard rules`` and ``wifguard config``: the catalogue and the config file, from the CLI.

Mounted by ``wifguard/cli/main.py``. Severities and actions shown are the effective ones under the
given config (its overrides applied), so `rules list --config FILE` shows what a run will do.
"""

from __future__ import annotations

import functools
import json
import textwrap
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

rules_app = typer.Typer(help="The rule catalogue: list, show, lint and document rules.", no_args_is_help=True)
config_app = typer.Typer(help="The config file: validate it, print its JSON Schema.", no_args_is_help=True)


class ListFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Config whose overrides apply.",
                                                envvar="WIFGUARD_CONFIG")]


def _engine(config: Path | None) -> Any:
    from wifguard.catalogue.engine import Engine
    from wifguard.catalogue.rules import RuleError
    from wifguard.config import ConfigError, load_config

    try:
        return Engine(load_config(config))
    except (ConfigError, RuleError) as exc:
        typer.echo(f"wifguard: {exc}", err=True)
        raise typer.Exit(2) from None


def rule_row(engine: Any, rule: Any) -> dict[str, Any]:
    s = rule.spec
    enabled = any(r.id == rule.id for r in engine.rules)
    return {"id": rule.id, "severity": engine.severity_of(rule).label, "action": engine.action_of(rule),
            "title": s.title, "category": s.category, "applies_to": s.applies_to, "enabled": enabled,
            "references": list(s.references), "source": str(rule.source)}


@rules_app.command("list")
def rules_list(
    config: ConfigOpt = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Every rule: id, effective severity and action, title, references."""
    from wifguard.cli.main import console, write_text

    engine = _engine(config)
    rows = [rule_row(engine, r) for r in sorted(engine.all_rules, key=lambda r: r.id)]
    if format is ListFormat.json:
        write_text(json.dumps(rows, indent=2, ensure_ascii=False), output)
        return
    if format is ListFormat.markdown:
        lines = ["| id | severity | action | title | enabled |", "|---|---|---|---|---|"]
        lines += [f"| {r['id']} | {r['severity']} | {r['action']} | {r['title'].replace('|', '/')} | "
                  f"{'yes' if r['enabled'] else 'no'} |" for r in rows]
        write_text("\n".join(lines), output)
        return
    from rich.table import Table
    from rich.text import Text

    t = Table(title=f"{len(rows)} rules")
    for col in ("id", "severity", "action", "title", "enabled"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(Text(r["id"]), Text(r["severity"]), Text(r["action"]), Text(r["title"]),
                  Text("yes" if r["enabled"] else "no"))
    console(output).print(t)


@rules_app.command("show")
def rules_show(
    rule_id: Annotated[str, typer.Argument(help="Rule id, e.g. WIF102.")],
    config: ConfigOpt = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """One rule in full: severity, action, when it fires, triage, remediation, false positives, ATT&CK
    techniques, references, condition."""
    from wifguard.cli.main import write_text

    engine = _engine(config)
    rule = next((r for r in engine.all_rules if r.id.upper() == rule_id.upper()), None)
    if rule is None:
        known = ", ".join(sorted(r.id for r in engine.all_rules))
        typer.echo(f"wifguard: no rule {rule_id!r} (rules show); known: {known}", err=True)
        raise typer.Exit(2)
    from wifguard.catalogue.lint import attack_techniques, attack_url

    s = rule.spec
    names = attack_techniques()
    row = rule_row(engine, rule)
    row.update({"description": s.description, "fires_when": " ".join(s.fires_when.split()),
                "severity_note": s.severity_note, "remediation": " ".join(s.remediation.split()),
                "triage": " ".join(s.triage.split()), "false_positives": list(s.false_positives),
                "attack": [{"id": t, "name": names.name(t), "url": attack_url(t)} for t in s.attack],
                "message": s.message, "condition": s.condition})
    if format is ListFormat.json:
        write_text(json.dumps(row, indent=2, ensure_ascii=False), output)
        return
    wrap = functools.partial(textwrap.fill, width=100, initial_indent="  ", subsequent_indent="  ")
    lines = [f"{row['id']}  {row['title']}", f"severity: {row['severity']}   action: {row['action']}   "
             f"category: {row['category']}   applies to: {row['applies_to']}   enabled: {row['enabled']}"]
    if row["severity_note"]:
        lines.append(f"default severity: {row['severity_note']}")
    for label, text in (("fires when", row["fires_when"]), ("description", row["description"].strip()),
                        ("triage", row["triage"]), ("remediation", row["remediation"])):
        if text:
            lines += ["", f"{label}:", wrap(text)]
    if row["false_positives"]:
        lines += ["", "false positives:", *[wrap(f"- {' '.join(fp.split())}") for fp in row["false_positives"]]]
    if row["attack"]:
        lines += ["", "MITRE ATT&CK:", *[f"  {a['id']}  {a['name']}  {a['url']}" for a in row["attack"]]]
    if row["references"]:
        lines += ["", "references:", *[f"  {u}" for u in row["references"]]]
    lines += ["", "condition:", row["condition"].strip(), "", f"defined in {row['source']}"]
    write_text("\n".join(lines), output)


@rules_app.command("lint")
def rules_lint(config: ConfigOpt = None) -> None:
    """Check the catalogue's metadata: unique ids, known ATT&CK ids, https references, triage notes on
    high/critical rules; shipped rules also need references, false positives and "fires when".
    Exit 0 clean, 1 problems found, 2 a rule or config file does not load."""
    from wifguard.catalogue.lint import lint_rules
    from wifguard.catalogue.rules import load_rules
    from wifguard.package_data import rules_dir

    engine = _engine(config)
    shipped = {r.id for r in load_rules([rules_dir()])}
    problems = lint_rules(engine.all_rules, shipped=shipped)
    for p in problems:
        typer.echo(str(p))
    if problems:
        typer.echo(f"wifguard: {len(problems)} problem(s) in {len(engine.all_rules)} rules", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(engine.all_rules)} rules: no problems")


@rules_app.command("docs")
def rules_docs(
    readme: Annotated[Path | None, typer.Option("--readme", help="Rewrite the rule table of this README "
                                                "(between its rules-table markers).")] = None,
    check: Annotated[bool, typer.Option("--check", help="With --readme: only report drift (exit 1).")] = False,
) -> None:
    """The README's rule table, generated from the shipped rule files (printed, or written into --readme)."""
    from wifguard.catalogue.docs import rules_table, with_table
    from wifguard.catalogue.rules import RuleError, load_rules
    from wifguard.errors import InputError
    from wifguard.package_data import rules_dir

    try:
        table = rules_table(load_rules([rules_dir()]))
    except RuleError as exc:
        typer.echo(f"wifguard: {exc}", err=True)
        raise typer.Exit(2) from None
    if readme is None:
        if check:
            typer.echo("wifguard: --check needs --readme FILE (rules docs)", err=True)
            raise typer.Exit(2)
        typer.echo(table, nl=False)
        return
    try:
        current = readme.read_text(encoding="utf-8")
        updated = with_table(current, table)
    except (OSError, InputError) as exc:
        typer.echo(f"wifguard: {readme}: {exc} (rules docs)", err=True)
        raise typer.Exit(2) from None
    if updated == current:
        typer.echo(f"{readme}: rule table is current")
        return
    if check:
        typer.echo(f"wifguard: {readme}: rule table differs from rules/*.yaml; run "
                   f"`wifguard rules docs --readme {readme}`", err=True)
        raise typer.Exit(1)
    readme.write_text(updated, encoding="utf-8")
    typer.echo(f"{readme}: rule table updated")


@config_app.command("validate")
def config_validate(
    file: Annotated[Path, typer.Argument(help="The YAML config file to check.")],
) -> None:
    """Check a config file (schema, rule ids, patterns, notifications, custom rules). Exit 0 valid, 2 not."""
    engine = _engine(file)
    n = len(engine.rules)
    typer.echo(f"{file}: valid ({n} of {len(engine.all_rules)} rules enabled, quarantine "
               f"{engine.config.quarantine.mode})")


@config_app.command("schema")
def config_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Print the JSON Schema of the config file (for editors and CI)."""
    from wifguard.cli.main import write_text
    from wifguard.config_schema import render

    write_text(render(), output)
