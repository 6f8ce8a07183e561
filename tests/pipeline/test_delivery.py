"""Owners are told once; a failed delivery is recorded and retried on the next run, never dropped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pipeline_helpers import PAYMENTS

from wifguard.pipeline.responder import RunResult
from wifguard.pipeline.runtime import build_responder
from wifguard.pipeline.sweep import sweep
from wifguard.settings import Settings


class Hook:
    def __init__(self) -> None:
        self.fail = True
        self.received: list[dict[str, Any]] = []
        self.url = ""


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    h = Hook()

    async def handler(request: web.Request) -> web.Response:
        if h.fail:
            return web.Response(status=400, text="flow is off")
        h.received.append(await request.json())
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/teams", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    h.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/teams"  # type: ignore[union-attr]
    yield h
    await runner.cleanup()


async def test_failed_delivery_is_retried_next_run_and_sent_once(env: dict[str, str], hook: Hook,
                                                                tmp_path: Path) -> None:
    cfg = tmp_path / "wifguard.yaml"
    cfg.write_text(
        "notifications:\n"
        "  channels:\n"
        "    secops: {type: teams, url_setting: WIFGUARD_TEAMS_WEBHOOK_URL}\n"
        "  routes:\n"
        "    - {min_severity: critical, channels: [secops]}\n"
        "  retry: {max_attempts: 1, base_delay_seconds: 0.01}\n")
    r = await build_responder(Settings.from_env({**env, "WIFGUARD_CONFIG": str(cfg),
                                                 "WIFGUARD_TEAMS_WEBHOOK_URL": hook.url}))
    try:
        rep = await sweep(r.conn, r.engine)
        critical = {f.fingerprint for f in rep.findings if f.severity.label == "critical"}
        assert critical

        first = await r.record_sweep(rep.evaluations, RunResult())
        assert first.recorded["new"] == len(rep.findings)
        failed = [c for n in first.notifications for c in n["channels"] if not c["ok"]]
        assert failed and hook.received == []
        pending = {x.fingerprint for x in await r.store.pending_notifications()}
        assert critical <= pending  # recorded as not delivered, not dropped

        hook.fail = False
        second = await r.record_sweep(rep.evaluations, RunResult())
        assert second.recorded["new"] == 0
        delivered = [json.dumps(m) for m in hook.received]
        # each critical finding exactly once: one message per identity carries all of its findings
        told = {f.identity["id"].lower() for f in rep.findings if f.fingerprint in critical}
        assert len(hook.received) == len(told)
        carried = {c["fingerprint"]: c["notification_id"] for n in second.notifications for c in n["channels"]
                   if c["ok"]}
        assert set(carried) == critical and len(set(carried.values())) == len(told)
        assert {m["notificationId"] for m in hook.received} == set(carried.values())
        # the messages that failed are sent again under the same ids (the outbox kept them pending)
        assert {c["notification_id"] for c in failed} == set(carried.values())
        assert all("adaptive" in d for d in delivered)
        assert {x.fingerprint for x in await r.store.pending_notifications()} & critical == set()

        third = await r.record_sweep(rep.evaluations, RunResult())
        assert third.notifications == [] and len(hook.received) == len(told)
        assert any(f.identity["id"] == PAYMENTS for f in rep.findings if f.fingerprint in critical)
    finally:
        await r.close()
        await r.store.close()
