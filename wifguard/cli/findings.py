"""``wifguard findings``: list and show stored findings (mounted by the main CLI)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from wifguard.domain.model import Severity
from wifguard.store.entities import FindingRecord, FindingStatus

T = TypeVar("T")

findings_app = typer.Typer(
    name="findings",
    help="Stored findings (Azure Table Storage): list and show.",
    no_args_is_help=True,
    add_completion=False,
)


class ListFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ShowFormat(StrEnum):
    panel = "panel"
    json = "json"


StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="WIFGUARD_STORAGE",
        help="Storage connection string, or a table endpoint URL / account name (Entra ID sign-in).",
        show_default=True,
    ),
]
PrefixOption = Annotated[
    str,
    typer.Option("--prefix", envvar="WIFGUARD_TABLE_PREFIX", help="Table name prefix."),
]

DEFAULT_STORE = "UseDevelopmentStorage=true"

_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}

CSV_COLUMNS = [
    "fingerprint", "status", "severity", "rule_id", "title", "identity_id", "identity_name",
    "identity_kind", "credential_name", "credential_issuer", "credential_subject",
    "role_assignment_id", "role_assignment_role", "role_assignment_scope", "action",
    "first_seen", "last_seen", "resolved_at", "occurrences", "notified_at", "notify_attempts",
]


def open_store(conn: str, prefix: str) -> Any:
    """A ``Store`` for a connection string, or for an account URL/name with Entra ID."""
    from wifguard.store.store import Store

    text = conn.strip()
    if "=" in text:
        return Store.from_connection_string(text, prefix=prefix)
    return Store.from_account(text, prefix=prefix)


def _run(conn: str, prefix: str, work: Callable[[Any], Awaitable[T]]) -> T:
    from azure.core.exceptions import AzureError

    async def main() -> T:
        async with open_store(conn, prefix) as store:
            return await work(store)

    try:
        return asyncio.run(main())
    except AzureError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        typer.echo(f"wifguard: cannot read the findings store: {first}", err=True)
        raise typer.Exit(2) from None


def _console() -> Console:
    """Wide when piped: a pipe is not an 80-column terminal."""
    c = Console()
    return c if c.is_terminal else Console(width=160)


def _missing_table(exc: BaseException) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(exc, ResourceNotFoundError)


def _iso(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _flat(rec: FindingRecord) -> dict[str, Any]:
    d = rec.to_dict()
    cred = d["credential"] or {}
    ra = d["role_assignment"] or {}
    return {
        "fingerprint": rec.fingerprint,
        "status": rec.status.value,
        "severity": rec.severity.label,
        "rule_id": rec.rule_id,
        "title": rec.title,
        "identity_id": rec.identity_id,
        "identity_name": rec.identity_name,
        "identity_kind": rec.identity_kind,
        "credential_name": cred.get("name") or "",
        "credential_issuer": cred.get("issuer") or "",
        "credential_subject": cred.get("subject") or "",
        "role_assignment_id": ra.get("id") or "",
        "role_assignment_role": ra.get("role") or "",
        "role_assignment_scope": ra.get("scope") or "",
        "action": rec.action,
        "first_seen": _iso(d["first_seen"]),
        "last_seen": _iso(d["last_seen"]),
        "resolved_at": _iso(d["resolved_at"]),
        "occurrences": rec.occurrences,
        "notified_at": _iso(d["notified_at"]),
        "notify_attempts": rec.notify_attempts,
    }


def render_csv(records: list[FindingRecord]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow(_flat(rec))
    return buf.getvalue()


def render_json(records: list[FindingRecord]) -> str:
    by_status: dict[str, int] = {}
    for rec in records:
        by_status[rec.status.value] = by_status.get(rec.status.value, 0) + 1
    return json.dumps(
        {
            "findings": [r.to_dict() for r in records],
            "summary": {"count": len(records), "by_status": by_status},
        },
        indent=2,
        ensure_ascii=False,
    )


def render_table(records: list[FindingRecord], console: Console) -> None:
    table = Table(title=f"{len(records)} finding(s)", show_lines=False, expand=False)
    for col in ("severity", "status", "rule", "identity", "object", "title", "last seen", "seen",
                "fingerprint"):
        table.add_column(col, overflow="fold")
    for rec in records:
        obj = ""
        if rec.credential_name is not None:
            obj = f"fic {rec.credential_name}"
        if rec.role_assignment_id is not None:
            role = rec.role_assignment_role or rec.role_assignment_id.rsplit("/", 1)[-1]
            obj = f"{obj}\n" if obj else ""
            obj += f"role {role} @ {rec.role_assignment_scope or ''}"
        table.add_row(
            Text(rec.severity.label, style=_SEVERITY_STYLE.get(rec.severity, "")),
            rec.status.value,
            rec.rule_id,
            Text(rec.identity_name or rec.identity_id),
            Text(obj),
            Text(rec.title),
            f"{rec.last_seen:%Y-%m-%d %H:%M}",
            str(rec.occurrences),
            rec.fingerprint,
        )
    console.print(table)


def render_panel(rec: FindingRecord, console: Console) -> None:
    d = rec.to_dict()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")

    def row(label: str, value: Any) -> None:
        if value is None or value == "":
            return
        grid.add_row(label, Text(str(value)))

    row("fingerprint", rec.fingerprint)
    row("status", rec.status.value)
    row("severity", rec.severity.label)
    row("rule", rec.rule_id)
    row("title", rec.title)
    row("message", rec.message)
    row("identity", f"{rec.identity_name} ({rec.identity_kind}) {rec.identity_id}")
    if rec.credential is not None:
        row("credential", rec.credential_name)
        row("  issuer", rec.credential_issuer)
        row("  subject", rec.credential_subject)
    if rec.role_assignment is not None:
        row("role assignment", rec.role_assignment_id)
        row("  role", rec.role_assignment_role)
        row("  scope", rec.role_assignment_scope)
    row("remediation", rec.remediation)
    row("action", rec.action)
    row("category", rec.category)
    row("first seen", d["first_seen"])
    row("last seen", d["last_seen"])
    row("resolved at", d["resolved_at"])
    row("occurrences", rec.occurrences)
    row("notified at", d["notified_at"] or ("pending" if rec.notify_pending else "-"))
    row("notify attempts", rec.notify_attempts)
    row("last notify error", rec.last_notify_error)
    row("status changed", " ".join(x for x in (d["status_changed_at"], rec.status_by or "") if x))
    row("status note", rec.status_note)
    if rec.evidence:
        note = " (truncated)" if rec.evidence_truncated else ""
        row("evidence" + note, json.dumps(dict(rec.evidence), indent=2, ensure_ascii=False, default=str))
    style = _SEVERITY_STYLE.get(rec.severity, "")
    console.print(Panel(grid, title=Text(f"{rec.severity.label.upper()}  {rec.rule_id}", style=style)))


@findings_app.command("list")
def list_findings(
    severity: Annotated[
        str | None, typer.Option("--severity", help="Minimum severity: info, low, medium, high, critical.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="open, resolved, exempted or quarantined.")
    ] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Rule id, e.g. WIF-001.")] = None,
    identity: Annotated[str | None, typer.Option("--identity", help="Identity id or display name.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many.")] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", help="Output format.")] = ListFormat.table,
    store: StoreOption = DEFAULT_STORE,
    prefix: PrefixOption = "wifguard",
) -> None:
    """List findings, most severe first."""
    try:
        sev = Severity.parse(severity) if severity is not None else None
        st = FindingStatus.parse(status) if status is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    async def work(s: Any) -> list[FindingRecord]:
        try:
            result: list[FindingRecord] = await s.query(
                severity=sev, status=st, rule_id=rule, identity=identity, limit=limit
            )
        except Exception as exc:
            if _missing_table(exc):
                typer.echo("note: the findings table does not exist yet (nothing recorded)", err=True)
                return []
            raise
        return result

    records = _run(store, prefix, work)
    if fmt is ListFormat.json:
        typer.echo(render_json(records))
    elif fmt is ListFormat.csv:
        sys.stdout.write(render_csv(records))
    else:
        render_table(records, _console())


@findings_app.command("show")
def show_finding(
    fingerprint: Annotated[str, typer.Argument(help="The finding's fingerprint.")],
    identity: Annotated[
        str | None, typer.Option("--identity", help="Identity id (makes the lookup a point read).")
    ] = None,
    fmt: Annotated[ShowFormat, typer.Option("--format", help="Output format.")] = ShowFormat.panel,
    store: StoreOption = DEFAULT_STORE,
    prefix: PrefixOption = "wifguard",
) -> None:
    """Show every field of one finding."""

    async def work(s: Any) -> FindingRecord | None:
        try:
            rec: FindingRecord | None = await s.get(fingerprint.strip(), identity_id=identity)
        except Exception as exc:
            if _missing_table(exc):
                return None
            raise
        return rec

    rec = _run(store, prefix, work)
    if rec is None:
        typer.echo(f"wifguard: no finding with fingerprint {fingerprint} (findings show)", err=True)
        raise typer.Exit(1)
    if fmt is ShowFormat.json:
        typer.echo(json.dumps(rec.to_dict(), indent=2, ensure_ascii=False))
    else:
        render_panel(rec, _console())
