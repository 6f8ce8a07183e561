"""``wifguard migrate immutable``: the command line of ``wifguard.actions.migrate`` (mounted by ``wifguard.cli``)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from wifguard.errors import NotFound

migrate_app = typer.Typer(help="Safe migrations of federated credentials.", no_args_is_help=True)


class MigrateFormat(StrEnum):
    table = "table"
    json = "json"


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


@migrate_app.command("immutable")
def immutable(
    identity: Annotated[str | None, typer.Option("--identity", help="Only this identity (object id, appId, "
                                                 "client id, resource id or display name).")] = None,
    apply: Annotated[bool, typer.Option("--apply/--plan", help="--plan (default) prints what would change; "
                                        "--apply changes the tenant.")] = False,
    sim: Annotated[Path | None, typer.Option("--sim", help="A simulated tenant started from this seed.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (GitHub tokens, quarantine "
                                                "limits).", envvar="WIFGUARD_CONFIG")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Store for the backups and the action log "
                                              "(--apply; with --sim an ephemeral Azurite by default).",
                                              envvar="WIFGUARD_STORAGE")] = None,
    format: Annotated[MigrateFormat, typer.Option("--format", "-f")] = MigrateFormat.table,
) -> None:
    """Move GitHub name-based subjects (repo:OWNER/REPO:...) to immutable ones (repo:OWNER@ID/REPO@ID:...).

    For each credential: resolve the ids on GitHub, create the twin credential, read it back, then
    retire the old one through quarantine (verified, restorable backup). Exit 1 when a credential
    was refused or failed, 2 on unusable input."""
    import asyncio

    from wifguard.cli.main import _resolve, _store_conn, _write, console
    from wifguard.pipeline.sweep import connection_for

    if sim is not None and not sim.exists():
        _err(f"wifguard: --sim {sim}: no such seed file")
        raise typer.Exit(2)
    if apply and store is None and sim is None:
        _err("wifguard: migrate immutable --apply needs --store (or WIFGUARD_STORAGE) for the backups")
        raise typer.Exit(2)
    with connection_for(sim) as (conn, _):
        resolved = _resolve(config, conn.tenant_id)
        try:
            if apply:
                from contextlib import ExitStack

                with ExitStack() as stack:
                    conn_str = stack.enter_context(_store_conn(store))
                    steps = asyncio.run(_run(conn, resolved, identity, conn_str))
            else:
                steps = asyncio.run(_run(conn, resolved, identity, None))
        except LookupError as exc:
            _err(f"wifguard: {exc}")
            raise typer.Exit(2) from None
        except Exception as exc:
            _err(f"wifguard: migrate failed: {type(exc).__name__}: {str(exc)[:300]}")
            raise typer.Exit(2) from None
    summary = {k: sum(1 for s in steps if s.status == k) for k in ("planned", "migrated", "skipped", "refused",
                                                                     "failed")}
    data: dict[str, Any] = {"mode": "apply" if apply else "plan", "steps": [s.to_dict() for s in steps],
                            "summary": summary}
    if format is MigrateFormat.json:
        _write(json.dumps(data, indent=2, ensure_ascii=False), None)
    else:
        from rich.table import Table

        t = Table(title=f"wifguard migrate immutable ({data['mode']})", show_lines=True)
        for col in ("identity", "credential", "subject now", "immutable subject", "status", "why / backup"):
            t.add_column(col, overflow="fold")
        for s in steps:
            t.add_row(s.identity.name, s.credential.name + (f"\n→ {s.new_name}" if s.new_name else ""),
                      s.credential.subject or "", s.new_subject, s.status, s.reason)
        out = console(None)
        out.print(t)
        out.print(", ".join(f"{v} {k}" for k, v in summary.items() if v) or "nothing to migrate")
    if any(s.status in ("refused", "failed") for s in steps):
        raise typer.Exit(1)


async def _run(conn: Any, resolved: Any, identity: str | None, store_conn: str | None) -> list[Any]:
    from wifguard.actions import migrate
    from wifguard.sources.external.checks import ExternalChecks
    from wifguard.sources.external.config import ExternalConfig
    from wifguard.sources.external.runtime import sim_endpoints
    from wifguard.sources.inventory.tenant import CredentialWriter, Inventory

    cfg = resolved.config
    ext = ExternalConfig.from_mapping(cfg.external)
    # The migration asks GitHub itself, fresh (no cache), whether or not sweeps check it.
    gh = ext.providers["github"].model_copy(update={"enabled": True})
    ext = ExternalConfig({**ext.providers, "github": gh}, ext.specs)
    sim = await sim_endpoints(conn) if conn.simulated else None
    checks = ExternalChecks(ext, env=resolved.settings.env, sim=sim, cache=None)
    try:
        async with Inventory(conn) as inv:
            result = await inv.sweep()
            contexts = result.contexts
            if identity:
                key = identity.lower()
                contexts = [c for c in contexts if key in {x.lower() for x in (
                    c.identity.id, c.identity.name, c.identity.app_id or "", c.identity.principal_id or "") if x}]
                if not contexts:
                    raise NotFound(f"--identity {identity}: no federated identity with that id or name",
                                   where="--identity")
            steps = await migrate.plan(contexts, checks)
            if store_conn is None:
                return steps
            from wifguard.store import Store

            async with Store.from_connection_string(store_conn, prefix=resolved.settings.table_prefix) as store:
                await store.ensure()
                return await migrate.apply(steps, writer=CredentialWriter(inv), store=store,
                                           quarantine=cfg.quarantine, responder_ids=resolved.settings.responder_ids)
    finally:
        await checks.close()
