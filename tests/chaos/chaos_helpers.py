"""A tenant of N privileged apps, one credential-change record per app, a CloudEvents receiver,
and the real processes the chaos tests kill: ``wifguard replay`` / ``wifguard parked retry``
subprocesses and Azurite itself. Shared with ``bench/bench_chaos.py``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from wifguard.azurite import Azurite, azurite_executable
from wifguard.sim import service_principal_id_for

TENANT = "6b1c7d8e-2f3a-4b4c-9d5e-0f1a2b3c4d5e"
SUB = "9d1e6f3a-5c4b-4d2e-8f9a-8b7c6d5e4f3a"
OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
OWNER_USER = "c2000000-0000-4000-8000-000000000001"
GITHUB = "https://token.actions.githubusercontent.com"
AUD = ["api://AzureADTokenExchange"]


def app_ids(i: int) -> tuple[str, str]:
    return f"a2000000-0000-4000-8000-{i:012d}", f"b2000000-0000-4000-8000-{i:012d}"


def fic(i: int) -> dict[str, Any]:
    # a pull_request subject on an Owner (WIF202), name-based (WIF205): findings that depend on
    # the role assignments (WIF202, WIF601, WIF602) and some that do not
    return {"id": f"f2000000-0000-4000-8000-{i:012d}", "name": f"deploy-{i}", "issuer": GITHUB,
            "subject": f"repo:contoso/svc-{i}:pull_request", "audiences": list(AUD), "description": "ci"}


def seed(n: int) -> dict[str, Any]:
    apps, ras = [], []
    for i in range(n):
        oid, app_id = app_ids(i)
        apps.append({"id": oid, "appId": app_id, "displayName": f"svc-{i}", "owners": [OWNER_USER],
                     "federatedIdentityCredentials": [fic(i)]})
        ras.append({"id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/"
                          f"e2000000-0000-4000-8000-{i:012d}",
                    "properties": {"roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/"
                                                       f"roleDefinitions/{OWNER_ROLE}",
                                   "principalId": service_principal_id_for(app_id),
                                   "principalType": "ServicePrincipal", "scope": f"/subscriptions/{SUB}"}})
    return {"tenantId": TENANT,
            "users": [{"id": OWNER_USER, "displayName": "Ada Owner", "userPrincipalName": "ada@contoso.com",
                       "mail": "ada@contoso.com"}],
            "applications": apps,
            "subscriptions": [{"subscriptionId": SUB, "displayName": "prod", "roleAssignments": ras}]}


def record(i: int) -> dict[str, Any]:
    """``Update application``: credential ``deploy-i`` added (by a user who is not an owner)."""
    oid, _ = app_ids(i)
    c = fic(i)
    new = json.dumps([{"Name": c["name"], "Issuer": c["issuer"], "Subject": c["subject"], "Id": c["id"],
                       "Description": c["description"], "Audiences": c["audiences"],
                       "ClaimsMatchingExpressionValue": None, "ClaimsMatchingExpressionLanguageVersion": 0,
                       "EncodingVersion": 2, "TrustedIssuer": None}])
    return {
        "time": "2026-11-20T10:00:00Z", "operationName": "Update application", "category": "AuditLogs",
        "tenantId": TENANT, "resultSignature": "None", "correlationId": str(uuid.UUID(int=i)), "Level": 4,
        "properties": {
            "id": f"Directory_chaos_{i}", "category": "ApplicationManagement", "result": "success",
            "activityDisplayName": "Update application", "activityDateTime": "2026-11-20T10:00:00Z",
            "loggedByService": "Core Directory", "operationType": "Update",
            "initiatedBy": {"user": {"id": "d2000000-0000-4000-8000-000000000009",
                                     "userPrincipalName": "eve@contoso.com"}, "app": None},
            "targetResources": [{"id": oid, "displayName": f"svc-{i}", "type": "Application",
                                 "modifiedProperties": [{"displayName": "FederatedIdentityCredentials",
                                                         "oldValue": "[]", "newValue": new}]}],
            "additionalDetails": [],
        },
    }


def body(n: int) -> bytes:
    """One Event Hub message body holding every record (what the trigger delivers as a batch)."""
    return json.dumps({"records": [record(i) for i in range(n)]}, indent=1).encode()


CONFIG = """\
home_tenant_id: {tenant}
rules:  # fewer findings per identity keep the tests quick: role-based, credential and event-only remain
  WIF205: {{enabled: false}}
  WIF602: {{enabled: false}}
  WIF605: {{enabled: false}}
notifications:
  channels:
    soar: {{type: webhook, url_setting: WIFGUARD_CHAOS_WEBHOOK_URL}}
  default_channels: [soar]
"""


#: what every credential-change record must leave in the store (with CONFIG)
EXPECTED_RULES = frozenset({"WIF202", "WIF601", "WIF701"})


def write_inputs(folder: Path, n: int, *, all_rules: bool = False) -> tuple[Path, Path, Path]:
    seed_path, body_path, config_path = folder / "seed.json", folder / "body.json", folder / "config.yaml"
    seed_path.write_text(json.dumps(seed(n)))
    body_path.write_bytes(body(n))
    text = CONFIG.format(tenant=TENANT)
    if all_rules:
        text = "\n".join(line for line in text.splitlines() if not line.startswith(("rules:", "  WIF")))
    config_path.write_text(text + "\n")
    return seed_path, body_path, config_path


def notification_id(fingerprint: str, kind: str = "new") -> str:
    """The CloudEvents id wifguard gives a notification (see wifguard.notify.compose.event_id)."""
    from wifguard.notify.compose import EVENT_ID_NAMESPACE

    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{fingerprint}:{kind}"))


def stored_findings(conn: str, prefix: str) -> list[Any]:
    import asyncio

    from wifguard.store import Store

    async def go() -> list[Any]:
        async with Store.from_connection_string(conn, prefix=prefix) as st:
            return list(await st.query())

    return asyncio.run(go())


def parked_rows(conn: str, prefix: str) -> list[Any]:
    import asyncio

    from wifguard.store import Store

    async def go() -> list[Any]:
        async with Store.from_connection_string(conn, prefix=prefix) as st:
            return list(await st.list_rejected())

    return asyncio.run(go())


# -- a CloudEvents receiver (real HTTP, in a thread: the processes under test are elsewhere) -------


@dataclass
class Receiver:
    ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def count(self) -> int:
        with self.lock:
            return len(self.ids)

    def duplicates(self) -> int:
        with self.lock:
            return sum(c - 1 for c in Counter(self.ids).values())

    def distinct(self) -> set[str]:
        with self.lock:
            return set(self.ids)


@contextmanager
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                msg = json.loads(data)  # a CloudEvent's id, or a Teams message's notificationId
                event_id = str(msg.get("id") or msg.get("notificationId"))
            except ValueError:  # the sender was killed mid-request: nothing was delivered
                return
            with rec.lock:
                rec.ids.append(event_id)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


# -- the processes -------------------------------------------------------------------------------


def cli_env(conn: str, prefix: str, hook: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIFGUARD_")}
    return {**env, "WIFGUARD_STORAGE": conn, "WIFGUARD_TABLE_PREFIX": prefix, "WIFGUARD_CHAOS_WEBHOOK_URL": hook,
            **extra}


def wifguard(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "wifguard.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run(*args: str, env: dict[str, str], timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    proc = wifguard(*args, env=env)
    out, err = proc.communicate(timeout=timeout)
    try:
        data = json.loads(out)
    except ValueError:
        data = {}
    return proc.returncode, data, err.decode(errors="replace")


def wait_until(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 240) -> bool:
    """Wait until ``ready()`` while ``proc`` runs; False when it finished first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if ready():
            return True
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("the process neither finished nor reached the point")
        time.sleep(0.01)
    return False


def kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 240) -> bool:
    """SIGKILL ``proc`` as soon as ``ready()``; False when it finished first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return True
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("the process neither finished nor reached the kill point")
        time.sleep(0.01)
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AzuriteProcess:
    """An Azurite this test owns: stopped (SIGKILL) and started again on the same ports and data."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.inst = Azurite(_free_port(), _free_port(), _free_port(), folder)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return self.inst.connection_string

    def start(self) -> None:
        cmd = [azurite_executable(), "--silent", "--skipApiVersionCheck", "--disableProductStyleUrl",
               "--location", str(self.folder),
               "--blobHost", "127.0.0.1", "--blobPort", str(self.inst.blob_port),
               "--queueHost", "127.0.0.1", "--queuePort", str(self.inst.queue_port),
               "--tableHost", "127.0.0.1", "--tablePort", str(self.inst.table_port)]
        self.folder.mkdir(parents=True, exist_ok=True)
        for attempt in range(5):  # a restart may race the old process's sockets: try again
            self.starts = getattr(self, "starts", 0) + 1
            log = open(self.folder / f"azurite-{self.starts}.log", "wb")  # noqa: SIM115 - owned by the process
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            if self._wait_ports():
                return
            time.sleep(1 + attempt)
        raise RuntimeError(f"azurite did not start; see {self.folder}/azurite-*.log")

    def _wait_ports(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + 60
        for port in (self.inst.blob_port, self.inst.table_port):
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    if self.proc.poll() is None:
                        self.proc.kill()
                    return False
                time.sleep(0.05)
        return True

    def stop(self) -> None:
        """Stop the store (SIGTERM: Azurite saves its in-memory tables on the way down; a SIGKILL
        would lose writes it had acknowledged, which durable Table Storage never does)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


@contextmanager
def azurite_process(folder: Path) -> Iterator[AzuriteProcess]:
    az = AzuriteProcess(folder)
    az.start()
    try:
        yield az
    finally:
        az.stop()
