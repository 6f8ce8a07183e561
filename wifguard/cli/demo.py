"""`make demo` / `wifguard demo`: the whole product on the embedded default.

Local Azurite + the shipped demo tenant (Contoso, ~30 identities): a sweep, replays of audit-log
and Event Grid payloads through the Functions' code, the Teams card and Slack message that would
be sent, a dry-run then an enforced quarantine, a restore, and a pre-merge check with SARIF.
Everything it starts, it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from wifguard.package_data import data_file, examples_dir

SEED = data_file("demo-tenant.json")
CONFIG = data_file("demo-config.yaml")
AUDIT = data_file("demo-audit-logs.json")
EVENTS = data_file("demo-event-grid.json")


def _step(c: Console, n: int, text: str) -> None:
    c.rule(f"[bold cyan]{n}. {text}")


class Receiver:
    """Stands in for the Teams Workflows and Slack webhooks: a loopback HTTP server that keeps
    what it is sent, so the demo shows real deliveries without reaching the internet."""

    def __init__(self) -> None:
        self.received: dict[str, list[Any]] = {"teams": [], "slack": []}
        self._runner: Any = None
        self.url = ""

    async def __aenter__(self) -> Receiver:
        from aiohttp import web

        async def hook(request: web.Request) -> web.Response:
            self.received.setdefault(request.match_info["name"], []).append(await request.json())
            return web.Response(status=202)

        app = web.Application()
        app.router.add_post("/hooks/{name}", hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hooks"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._runner.cleanup()


@contextlib.asynccontextmanager
async def _services() -> Any:
    from wifguard.azurite import run_azurite
    from wifguard.sim import SimTenant

    with run_azurite() as az, SimTenant.start(SEED) as sim:
        yield az, sim


def _told(result: Any) -> str:
    """Messages a run delivered per channel, and to how many identities."""
    sent: dict[str, set[str]] = {}
    idents: dict[str, set[str]] = {}
    for n in result.notifications:
        for d in n.get("channels", []):
            if d.get("ok") and "identity" in n:
                sent.setdefault(d["channel"], set()).add(d.get("notification_id", ""))
                idents.setdefault(d["channel"], set()).add(str(n["identity"].get("id", "")).lower())
    return ", ".join(f"{ch}: {len(ids)} message(s) to {len(idents[ch])} identities"
                     for ch, ids in sorted(sent.items())) or "nothing new"


def _sent(received: list[Any], note: dict[str, Any], key: str) -> Any:
    """The message that was actually delivered for a notification (its identity's grouped one)."""
    ids = {d.get("notification_id") for d in note.get("channels", [])}
    for m in received:
        mid = m.get(key) if key == "notificationId" else (m.get(key) or {}).get("event_payload", {}).get(
            "notification_id")
        if mid in ids:
            return m
    return None


def _events_table(result: Any, title: str) -> Table:
    t = Table(title=title)
    for col in ("event id", "status", "reason"):
        t.add_column(col, overflow="fold")
    style = {"processed": "green", "ignored": "dim", "rejected": "red", "duplicate": "yellow"}
    for e in result.events:
        t.add_row(Text(e.id), Text(e.status, style=style.get(e.status, "")), Text(e.reason))
    return t


async def _run(c: Console, out: Path) -> None:
    from wifguard.actions.quarantine import restore
    from wifguard.offline.evaluate import evaluate_paths
    from wifguard.pipeline.responder import RunResult
    from wifguard.pipeline.runtime import build_responder, process_audit_bodies, process_event_grid
    from wifguard.pipeline.sweep import sweep
    from wifguard.reporting.report import render_table, summary_line
    from wifguard.reporting.sarif import build_sarif
    from wifguard.settings import Settings
    from wifguard.sources.inventory.connection import Connection

    t0 = time.perf_counter()
    _step(c, 1, "Start local Azurite (Table Storage, queues) and the simulated Contoso tenant")
    async with Receiver() as hooks, _services() as (az, sim):
        c.print(f"Azurite tables at {az.connection_string.split('TableEndpoint=')[1].rstrip(';')}")
        c.print(f"Graph {sim.graph_url}  ARM {sim.arm_url}  (HTTPS, throwaway CA {sim.ca_path})")
        c.print(f"Teams and Slack webhooks stand-ins at {hooks.url}/teams and {hooks.url}/slack")
        env = {"WIFGUARD_STORAGE": az.connection_string, "WIFGUARD_CONFIG": str(CONFIG),
               "WIFGUARD_TENANT_ID": sim.tenant_id,
               "WIFGUARD_TEAMS_WEBHOOK_URL": f"{hooks.url}/teams", "WIFGUARD_SLACK_WEBHOOK_URL": f"{hooks.url}/slack"}
        conn = Connection.from_sim(sim)

        async def responder(mode: str = "off") -> Any:
            return await build_responder(Settings.from_env({**env, "WIFGUARD_QUARANTINE_MODE": mode}), conn=conn,
                                         compose_messages=True)

        r = await responder()
        try:
            _step(c, 2, "Sweep the tenant (Graph + ARM through the real SDKs) and record findings")
            from wifguard.sources.external.runtime import open_checks

            external = await open_checks(r.engine.config, conn=conn, env=env, store_conn=az.connection_string)
            try:
                rep = await sweep(conn, r.engine, external=external)
            finally:
                if external is not None:
                    await external.close()
            s = rep.to_json()["summary"]
            c.print(render_table(rep.findings, title="Contoso: findings of the sweep"))
            c.print(f"{s['identities']} identities, {s['credentials']} credentials, {s['role_assignments']} role "
                    f"assignments; {summary_line(rep.findings)}; {s['requests']} requests in {s['duration_seconds']} s")
            for name, st in (s.get("external") or {}).items():
                c.print(f"outside checks, {name}: {st['lookups']} lookups, {st['requests']} requests, "
                        f"{st['cache_hits']} from the cache, {st['unknown']} unknown")
            for ex in r.engine.expired_exemptions():
                c.print(f"[yellow]exemption expired {ex.expires}: rule {ex.rule} on {ex.identity} ({ex.reason})")
            recorded = await r.record_sweep(rep.evaluations, RunResult(), all_identity_ids=rep.result.all_identity_ids,
                                            external=rep.external)
            c.print(f"store: {recorded.recorded}")
            c.print(f"owners told: {_told(recorded)} (one message per identity per channel, worst finding first), "
                    "plus one digest per channel")
            again = await r.record_sweep(rep.evaluations, RunResult())
            c.print(f"sweep recorded again: {again.recorded} (same fingerprints: no new rows, no new notifications)")

            _step(c, 3, "Replay Entra audit-log records through the Event Hub function's code")
            audit = await process_audit_bodies(r, [AUDIT.read_bytes()])
            c.print(_events_table(audit, "audit-log records"))
            c.print(f"owners told: {_told(audit)} (one message per identity per channel for the whole batch)")
            if audit.findings:
                c.print(render_table(audit.findings, title="findings from the audit records"))
            dup = await process_audit_bodies(r, [AUDIT.read_bytes()])
            c.print(f"re-delivery of the same batch: {[e.status for e in dup.events]}, "
                    f"{len(dup.notifications)} notifications")

            _step(c, 4, "Replay Event Grid resource events through the Event Grid function's code")
            eg = await process_event_grid(r, EVENTS.read_bytes())
            c.print(_events_table(eg, "Event Grid events"))

            _step(c, 5, "What owners got: Teams card and Slack message")
            c.print(f"delivered so far: {len(hooks.received['teams'])} Teams cards (critical/high), "
                    f"{len(hooks.received['slack'])} Slack messages, digests included (routing in {CONFIG.name})")
            notes = [n for n in audit.notifications + eg.notifications if "severity" in n]
            if notes:
                top = max(notes, key=lambda n: ["info", "low", "medium", "high", "critical"].index(n["severity"]))
                for kind, key, name in (("teams", "notificationId", "teams-card.json"),
                                        ("slack", "metadata", "slack-message.json")):
                    (out / name).write_text(json.dumps(_sent(hooks.received[kind], top, key) or top["messages"][kind],
                                                       indent=2))
                c.print(f"the {top['severity']} {top['rule_id']} notification for {top['identity']['name']} "
                        f"(owners: {', '.join(top['owners']) or 'none'}) is in {out / 'teams-card.json'} and "
                        f"{out / 'slack-message.json'}")
                fallback = top["messages"]["slack"].get("text", "")
                c.print(Panel(Text(fallback), title="Slack fallback text"))
        finally:
            await r.close()
            await r.store.close()

        _step(c, 6, "Quarantine, dry run first (rules WIF102 and WIF302 in the demo config)")
        r = await responder("dry-run")
        try:
            dry = await r.record_sweep(rep.evaluations, RunResult(), notify=False)
            for q in dry.quarantined:
                c.print(f"[yellow]{q['status']}[/]: {q['identity']['name']} / {q['credential']} ({q['rule_id']}): "
                        f"{q['reason']}")
        finally:
            await r.close()
            await r.store.close()

        _step(c, 7, "Quarantine enforced: back up exactly, delete, verify; then restore one")
        r = await responder("enforce")
        try:
            enf = await r.record_sweep(rep.evaluations, RunResult(), notify=False)
            done = [q for q in enf.quarantined if q["status"] == "quarantined"]
            for q in enf.quarantined:
                c.print(f"[red]{q['status']}[/]: {q['identity']['name']} / {q['credential']} ({q['rule_id']}): "
                        f"{q['reason']}")
            if done:
                b = await r.store.get_backup(done[0]["backup_id"])
                c.print(Panel(Text(json.dumps(b.credential, indent=2) if b else "?"),
                              title=f"backup {done[0]['backup_id']} (state {b.state.value if b else '?'})"))
                res = await restore(r.store, r.writer, done[0]["backup_id"], actor="demo",
                                    reason="demo: the owner confirmed this trust is expected")
                c.print(f"[green]restored[/] {res['credential']['name']} on {res['identity']['name']}: "
                        "name, issuer, subject, audiences and description identical to the backup")
            log = await r.store.list_actions()
            c.print(f"action log: {len(log)} entries ({', '.join(sorted({a.kind for a in log}))})")
            from wifguard.reporting.markdown import build_report, render_markdown

            md = render_markdown(await build_report(r.store))
            (out / "report.md").write_text(md)
            c.print(f"posture report (`wifguard report`) written to {out / 'report.md'}")
        finally:
            await r.close()
            await r.store.close()

    _step(c, 8, "Pre-merge check of credential files, with SARIF for code scanning")
    from wifguard.catalogue.engine import Engine
    from wifguard.config import load_config

    engine = Engine(load_config(CONFIG))
    ev = evaluate_paths(engine, [examples_dir()])
    findings = [f for f, _ in ev.located]
    c.print(render_table(findings, title="wifguard evaluate examples/credentials"))
    sarif = build_sarif(ev.located, engine.all_rules, {r.id: engine.severity_of(r) for r in engine.all_rules})
    (out / "evaluate.sarif").write_text(json.dumps(sarif, indent=2))
    c.print(f"{ev.files} files: {summary_line(findings)}; SARIF with {len(sarif['runs'][0]['results'])} results "
            f"written to {out / 'evaluate.sarif'}")
    c.rule(f"[bold green]demo finished in {time.perf_counter() - t0:.1f} s; Azurite and the simulator are stopped")


def run_demo(out_dir: Path | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.ERROR)  # the demo narrates; library warnings would drown it
    c = Console() if Console().is_terminal else Console(width=170)
    out = Path(out_dir) if out_dir else Path.cwd() / "demo-out"  # never inside the installed package
    out.mkdir(parents=True, exist_ok=True)
    os.environ.pop("WIFGUARD_STORAGE", None)
    asyncio.run(_run(c, out))
    return 0
