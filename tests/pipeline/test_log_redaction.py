"""No secret reaches a log record: every logger at DEBUG through a demo-like run (events with
webhook deliveries, a sweep, an enforced quarantine, a restore) and none of the configured
secrets appears in any record, message, argument or traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pipeline_helpers import PAYMENTS, audit_record, fic

from wifguard.actions.quarantine import restore
from wifguard.logsafe import MASK, NOISY_LOGGERS, install, redact
from wifguard.pipeline.runtime import build_responder, process_audit_bodies, run_shard
from wifguard.settings import Settings

SLACK_TOKEN = "sl4ckT0kenSecret0123456789"
TEAMS_SIG = "t3amsSigSecretAbCdEf0123456789"
HOOK_TOKEN = "g3nericHookSecret9876543210xyz"
EG_KEY = "EventGridTopicKeySecret0123456789abcdefABCDEF="


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.names: set[str] = set()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.names.add(record.name)
        self.lines.append(self.format(record))


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200, text="ok")

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_no_configured_secret_in_any_log_record(env: dict[str, str], sim: Any, receiver: str,
                                                      tmp_path: Path) -> None:
    urls = {
        "WIFGUARD_SLACK_WEBHOOK_URL": f"{receiver}/services/T0A1B2C3D/B0A1B2C3D/{SLACK_TOKEN}",
        "WIFGUARD_TEAMS_WEBHOOK_URL": f"{receiver}/workflows/0a1b2c3d/triggers/manual/paths/invoke"
                                      f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={TEAMS_SIG}",
        "WIFGUARD_WEBHOOK_URL": f"{receiver}/hooks/{HOOK_TOKEN}",
    }
    cfg = tmp_path / "wifguard.yaml"
    cfg.write_text(
        "quarantine: {mode: enforce, max_per_hour: 5}\n"
        "notifications:\n"
        "  channels:\n"
        "    t: {type: teams, url_setting: WIFGUARD_TEAMS_WEBHOOK_URL}\n"
        "    s: {type: slack, url_setting: WIFGUARD_SLACK_WEBHOOK_URL}\n"
        "    w: {type: webhook, url_setting: WIFGUARD_WEBHOOK_URL}\n"
        "  routes:\n"
        "    - {min_severity: info, channels: [t, s, w]}\n")
    full_env = {**env, **urls, "WIFGUARD_CONFIG": str(cfg), "WIFGUARD_EVENTGRID_TOPIC_KEY": EG_KEY}
    secrets = [*urls.values(), SLACK_TOKEN, TEAMS_SIG, HOOK_TOKEN, EG_KEY, sim.token,
               env["WIFGUARD_STORAGE"].split("AccountKey=")[1].split(";")[0]]

    cap = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(cap)
    root.setLevel(logging.DEBUG)
    r = await build_responder(Settings.from_env(full_env))  # installs redaction and quiets the SDK loggers
    assert all(logging.getLogger(n).level == logging.WARNING for n in NOISY_LOGGERS)
    # now the worst case: every logger, SDKs included, at DEBUG
    # (loggers without a level of their own follow the root, now at DEBUG)
    levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        backdoor = fic("backdoor", "https://evil0x.blob.core.windows.net/oidc", "attacker",
                       "f1000000-0000-4000-8000-000000000002", description="sync")
        body = json.dumps({"records": [audit_record("lr-1", PAYMENTS, "p", [], [backdoor])]}).encode()
        res = await process_audit_bodies(r, [body, b"\x00 not json"])
        sent = [c for n in res.notifications for c in n["channels"]]
        assert sent and all(c["ok"] for c in sent), sent
        backup = next(q["backup_id"] for q in res.quarantined if q["status"] == "quarantined")
        await run_shard(r, {"kind": "applications", "ids": [PAYMENTS]})
        await restore(r.store, r.writer, backup, reason="owner confirmed", actor="ada@contoso.com")
        logging.getLogger("wifguard.test").debug("config %s key %s", urls["WIFGUARD_WEBHOOK_URL"], EG_KEY)
        try:
            raise RuntimeError(f"delivery to {urls['WIFGUARD_SLACK_WEBHOOK_URL']} failed")
        except RuntimeError:
            logging.getLogger("wifguard.test").exception("boom")
    finally:
        await r.close()
        await r.store.close()
        root.removeHandler(cap)
        root.setLevel(old_level)
        for name, level in levels.items():  # the rest of the session logs as before
            logging.getLogger(name).setLevel(level)
        install(quiet=True)
    text = "\n".join(cap.lines)
    # the run did log, SDKs included, with the request URLs (redacted)
    assert {"httpx", "wifguard.test"} <= cap.names, sorted(cap.names)
    assert "127.0.0.1" in text and MASK in text
    leaked = [s for s in secrets if s in text]
    if leaked:
        print("\n".join(ln for ln in cap.lines if any(s in ln for s in leaked))[:3000])
    assert leaked == []


@pytest.mark.parametrize(("raw", "gone"), [
    ("POST https://hooks.slack.com/services/T01/B02/abcDEF123456ghiJKL789 200", "abcDEF123456ghiJKL789"),
    ("https://x.webhook.office.com/webhookb2/a@b/IncomingWebhook/0123abcd0123abcd/c", "0123abcd0123abcd"),
    ("https://p.logic.azure.com/workflows/w/invoke?api-version=1&sig=Zx9Zx9Zx9Zx9", "Zx9Zx9Zx9Zx9"),
    ("https://a.blob.core.windows.net/c/b?sv=2022-11-02&se=2026&sig=abc%2Bdef%3D", "abc%2Bdef%3D"),
    ("AccountName=a;AccountKey=SGVsbG8gd29ybGQhSGVsbG8=;EndpointSuffix=x", "SGVsbG8gd29ybGQhSGVsbG8="),
    ("headers {'Authorization': 'Bearer abc.def.ghi-jkl_mno'}", "abc.def.ghi-jkl_mno"),
    ("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln here", "eyJhbGciOiJSUzI1NiJ9"),
    ("https://user:pa55word@example.com/x", "pa55word"),
])
def test_redact_masks_secret_shapes(raw: str, gone: str) -> None:
    assert gone not in redact(raw)


def test_redact_keeps_what_is_not_secret() -> None:
    text = ("GET https://graph.microsoft.com/v1.0/applications/a1000000-0000-4000-8000-000000000001/"
            "federatedIdentityCredentials -> error code: 409 Conflict")
    assert redact(text) == text
