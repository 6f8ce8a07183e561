"""``wifguard parked``: list, show, retry and discard parked records (mounted by the main CLI).

``retry`` runs the parked bytes through exactly the code the Functions run (the trigger's handler
and the pipeline), against the live tenant or a simulated one (``--sim SEED``), like ``replay``.
"""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from wifguard.store.entities import RejectedPayload

parked_app = typer.Typer(help="Parked records: list, show, retry (re-drive) and discard.", no_args_is_help=True)


class Format(StrEnum):
    table = "table"
    json = "json"


StoreOpt = Annotated[str | None, typer.Option("--store", help="Store connection string.", envvar="WIFGUARD_STORAGE")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f")]


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _store(conn: str | None) -> Any:
    if not conn:
        _err("wifguard: no store: pass --store CONNECTION_STRING or set WIFGUARD_STORAGE")
        raise typer.Exit(2)
    from wifguard.pipeline.runtime import open_store
    from wifguard.settings import Settings

    return open_store(Settings.from_env(), conn)


def _summary(p: RejectedPayload) -> dict[str, Any]:
    d = p.to_dict()
    d.pop("body", None)
    return d


def _table(rows: list[RejectedPayload], title: str) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title)
    for col in ("id", "state", "source", "event id", "kind", "attempts", "received", "reason"):
        t.add_column(col, overflow="fold")
    for p in rows:
        t.add_row(Text(p.id), Text(p.state), Text(p.source), Text(p.event_id or ""),
                  Text("transient" if p.transient else "permanent"), Text(str(p.attempts)),
                  Text(f"{p.received_at:%Y-%m-%d %H:%M:%S}"), Text(p.reason))
    Console().print(t)


@parked_app.command("list")
def parked_list(
    store: StoreOpt = None,
    state: Annotated[str, typer.Option(help="parked | done | discarded | all")] = "parked",
    source: Annotated[str | None, typer.Option(help="audit-log | event-grid")] = None,
    format: FormatOpt = Format.table,
) -> None:
    """Parked records (by default the ones still waiting), newest first."""
    from wifguard.pipeline.redrive import select

    if state not in ("parked", "done", "discarded", "all"):
        _err(f"wifguard: --state {state!r}: expected parked, done, discarded or all")
        raise typer.Exit(2)

    async def run() -> list[RejectedPayload]:
        async with _store(store) as st:
            await st.ensure()
            return select(await st.list_rejected(), state=None if state == "all" else state, source=source)

    rows = asyncio.run(run())
    if format is Format.json:
        typer.echo(json.dumps({"parked": [_summary(p) for p in rows], "count": len(rows)}, indent=2,
                              ensure_ascii=False))
        return
    _table(rows, f"parked records ({state})")


async def _get(st: Any, parked_id: str) -> RejectedPayload:
    p = await st.get_parked(parked_id)
    if p is None:
        _err(f"wifguard: no parked record {parked_id!r} (see `wifguard parked list --state all`)")
        raise typer.Exit(2)
    return p


@parked_app.command("show")
def parked_show(
    parked_id: Annotated[str, typer.Argument(help="Id from `wifguard parked list`.")],
    store: StoreOpt = None,
    format: FormatOpt = Format.json,
) -> None:
    """One parked record with its exact bytes."""

    async def run() -> RejectedPayload:
        async with _store(store) as st:
            await st.ensure()
            return await _get(st, parked_id)

    p = asyncio.run(run())
    if format is Format.json:
        typer.echo(json.dumps(p.to_dict(), indent=2, ensure_ascii=False))
        return
    _table([p], "parked record")
    body = p.raw.decode("utf-8", "replace") if isinstance(p.raw, bytes) else (p.raw or "")
    typer.echo(body)


@parked_app.command("retry")
def parked_retry(
    ids: Annotated[list[str] | None, typer.Argument(help="Parked ids (default: every record still parked).")] = None,
    store: StoreOpt = None,
    sim: Annotated[Path | None, typer.Option("--sim", help="Re-read identities from a simulated tenant.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config merged over the shipped "
                                                "defaults.", envvar="WIFGUARD_CONFIG")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source (audit-log | event-grid).")] = None,
    format: FormatOpt = Format.json,
) -> None:
    """Re-drive parked records through the trigger's handler and the pipeline (transient and
    permanent alike). Exit 0 when every one went through, 1 when some stay parked, 3 when the
    store went away meanwhile."""
    from wifguard.pipeline.redrive import RedriveReport, redrive_many, select
    from wifguard.pipeline.responder import BatchNotDurable
    from wifguard.pipeline.runtime import build_responder
    from wifguard.pipeline.sweep import connection_for
    from wifguard.settings import Settings

    if sim is not None and not sim.exists():
        _err(f"wifguard: --sim {sim}: no such seed file")
        raise typer.Exit(2)
    settings = Settings.from_env()

    async def run(conn: Any) -> RedriveReport:
        st = _store(store)
        try:
            responder = await build_responder(settings, conn=conn, store=st, compose_messages=False,
                                              config_path=str(config) if config else None)
        except Exception:
            await st.close()
            raise
        try:
            rows = [await _get(st, i) for i in ids] if ids else \
                select(await st.list_rejected(), state="parked", source=source)
            rows.sort(key=lambda p: (p.received_at, p.id))  # oldest first: arrival order per identity
            return await redrive_many(responder, rows)
        finally:
            await responder.close()
            await st.close()

    try:
        with connection_for(sim, mode="thread") as (conn, _):
            report = asyncio.run(run(conn))
    except BatchNotDurable as exc:
        _err(f"wifguard: {exc}; nothing is lost, run `wifguard parked retry` again once the store is back")
        raise typer.Exit(exc.exit_code) from None
    data = report.to_json()
    for e in data["errors"]:
        _err(f"wifguard: {e}")
    if format is Format.json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        s = data["summary"]
        typer.echo(f"re-driven: {s['done']} done, {s['parked']} still parked, {s['failed']} failed; "
                   f"{s['findings']} finding(s), {s['notifications']} notification(s)")
    if report.count("parked") or report.count("failed"):
        raise typer.Exit(1)


@parked_app.command("discard")
def parked_discard(
    parked_id: Annotated[str, typer.Argument(help="Id from `wifguard parked list`.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is dropped (kept for audit).")],
    store: StoreOpt = None,
) -> None:
    """Stop retrying a parked record; the row and its bytes are kept, marked discarded."""
    if not reason.strip():
        _err("wifguard: --reason must say why the record is discarded")
        raise typer.Exit(2)

    async def run() -> RejectedPayload:
        async with _store(store) as st:
            await st.ensure()
            p = await _get(st, parked_id)
            if p.state == "done":
                _err(f"wifguard: parked record {parked_id} was re-driven already (state done)")
                raise typer.Exit(1)
            out: RejectedPayload = await st.update_parked(p, state="discarded", note=f"discarded: {reason}")
            await st.log_action("parked-discard", parked_id, {"reason": reason, "event_id": p.event_id}, "cli")
            return out

    p = asyncio.run(run())
    typer.echo(json.dumps(_summary(p), indent=2, ensure_ascii=False))
