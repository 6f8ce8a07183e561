"""Start and stop a local Azurite (Microsoft's storage emulator) for tests and the demo.

Azurite comes from the npm package pinned in ``package.json`` (``make setup`` installs it).
Each instance gets free loopback ports and its own data folder, so parallel test workers
never share state.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

# The well-known development account of the Azure storage emulators (public, not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass(frozen=True)
class Azurite:
    blob_port: int
    queue_port: int
    table_port: int
    data_dir: Path

    @property
    def connection_string(self) -> str:
        host = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={host}:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint={host}:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint={host}:{self.table_port}/{ACCOUNT};"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def azurite_executable(project_root: Path | None = None) -> str:
    root = project_root or Path(__file__).resolve().parent.parent
    local = root / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found:
        return found
    raise FileNotFoundError(
        "azurite is not installed: run `make setup` (it installs the npm package pinned in package.json)"
    )


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"azurite exited early with code {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"azurite did not open port {port} within {timeout:.0f}s")


@contextmanager
def run_azurite(data_dir: Path | None = None, timeout: float = 120.0) -> Iterator[Azurite]:
    """Run Azurite (blob, queue, table) until the block exits."""
    own_dir = data_dir is None
    folder = Path(tempfile.mkdtemp(prefix="wifguard-azurite-")) if data_dir is None else data_dir
    folder.mkdir(parents=True, exist_ok=True)
    inst = Azurite(_free_port(), _free_port(), _free_port(), folder)
    cmd = [
        azurite_executable(),
        "--silent",
        "--skipApiVersionCheck",
        "--disableProductStyleUrl",
        "--location", str(folder),
        "--blobHost", "127.0.0.1", "--blobPort", str(inst.blob_port),
        "--queueHost", "127.0.0.1", "--queuePort", str(inst.queue_port),
        "--tableHost", "127.0.0.1", "--tablePort", str(inst.table_port),
    ]
    log = open(folder / "azurite.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        for port in (inst.blob_port, inst.queue_port, inst.table_port):
            _wait_port(port, proc, timeout)
        yield inst
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=3)  # Azurite sometimes lingers ~10 s after SIGTERM; its data dir is throwaway
        except subprocess.TimeoutExpired:
            logger.warning("Azurite did not stop within 3 s of SIGTERM; killed it")
            proc.kill()
        log.close()
        if own_dir:
            shutil.rmtree(folder, ignore_errors=True)
