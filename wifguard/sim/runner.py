"""``SimTenant``: start the simulator in a background thread or a subprocess and talk to it."""

from __future__ import annotations

import asyncio
import os
import selectors
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import orjson

from .server import SimServer

_START_TIMEOUT_S = 60.0


class SimTenant:
    """A running simulated tenant (Graph + ARM over HTTPS on loopback).

    Use as a context manager: ``with SimTenant.start(seed) as sim: ...``. ``mode="thread"`` runs
    the aiohttp server on its own event loop in a daemon thread; ``mode="process"`` runs it in a
    subprocess (client and server then do not share the GIL, which matters for benchmarks).
    """

    graph_url: str
    arm_url: str
    ca_path: str
    token: str
    tenant_id: str
    mode: str

    def __init__(self) -> None:  # use SimTenant.start()
        self._server: SimServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp_seed: str | None = None
        self._ssl: ssl.SSLContext | None = None
        self._stopped = False

    # -- starting and stopping --------------------------------------------------------------------

    @classmethod
    def start(cls, seed: Mapping[str, Any] | str | Path, *, mode: Literal["thread", "process"] = "thread",
              port: int = 0, arm_port: int | None = None) -> SimTenant:
        sim = cls()
        sim.mode = mode
        if mode == "thread":
            sim._start_thread(seed, port, arm_port)
        elif mode == "process":
            sim._start_process(seed, port, arm_port)
        else:
            raise ValueError(f"mode must be 'thread' or 'process', not {mode!r}")
        return sim

    def _start_thread(self, seed: Mapping[str, Any] | str | Path, port: int, arm_port: int | None) -> None:
        server = SimServer(seed, port=port, arm_port=arm_port)
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.start())
            except BaseException as e:  # surfaced to the caller of start()
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="wifguard-sim", daemon=True)
        thread.start()
        ready.wait(_START_TIMEOUT_S)
        if failure:
            raise RuntimeError(f"simulator failed to start: {failure[0]}") from failure[0]
        self._server, self._loop, self._thread = server, loop, thread
        self._adopt(server.info())

    def _start_process(self, seed: Mapping[str, Any] | str | Path, port: int, arm_port: int | None) -> None:
        if isinstance(seed, Mapping):
            fd, self._tmp_seed = tempfile.mkstemp(prefix="wifguard-seed-", suffix=".json")
            with os.fdopen(fd, "wb") as fh:
                fh.write(orjson.dumps(seed))
            seed_path = self._tmp_seed
        else:
            seed_path = str(seed)
        cmd = [sys.executable, "-m", "wifguard.sim.server", "--seed", seed_path, "--port", str(port), "--json"]
        if arm_port is not None:
            cmd += ["--arm-port", str(arm_port)]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        assert self._proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self._proc.stdout, selectors.EVENT_READ)
        if not sel.select(_START_TIMEOUT_S):
            self.stop()
            raise RuntimeError("simulator subprocess did not report its URLs in time")
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait()
            self._cleanup_tmp()
            raise RuntimeError(f"simulator subprocess exited with status {code} before starting")
        self._adopt(orjson.loads(line))

    def _adopt(self, info: Mapping[str, Any]) -> None:
        self.graph_url = info["graph_url"]
        self.arm_url = info["arm_url"]
        self.ca_path = info["ca_path"]
        self.token = info["token"]
        self.tenant_id = info["tenant_id"]
        self.external_urls: dict[str, str] = dict(info.get("external") or {})  # provider -> API base URL

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None and self._loop is not None:
            fut = asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop)
            fut.result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            self._loop.close()
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            ca_dir = Path(getattr(self, "ca_path", "") or ".").parent
            if ca_dir.name.startswith("wifguard-sim-"):  # the child's temp dir, if it died uncleanly
                shutil.rmtree(ca_dir, ignore_errors=True)
        self._cleanup_tmp()

    def _cleanup_tmp(self) -> None:
        if self._tmp_seed:
            Path(self._tmp_seed).unlink(missing_ok=True)
            self._tmp_seed = None

    def __enter__(self) -> SimTenant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- client conveniences ----------------------------------------------------------------------

    @property
    def graph_v1_url(self) -> str:
        return self.graph_url + "/v1.0"

    @property
    def graph_beta_url(self) -> str:
        return self.graph_url + "/beta"

    def ssl_context(self) -> ssl.SSLContext:
        """A client SSL context that trusts the simulator's CA (and nothing else)."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=self.ca_path)
        return self._ssl

    def env(self) -> dict[str, str]:
        """Environment variables that make requests/httpx/azure-core trust the simulator's CA."""
        return {"SSL_CERT_FILE": self.ca_path, "REQUESTS_CA_BUNDLE": self.ca_path}

    # -- live state and statistics ----------------------------------------------------------------

    def _call(self, op: str, **args: Any) -> Any:
        if self._stopped:
            raise RuntimeError("simulator is stopped")
        if self._server is not None and self._loop is not None:
            server = self._server

            async def run() -> Any:
                return server.call(op, args)

            result = asyncio.run_coroutine_threadsafe(run(), self._loop).result(60)
            # Same isolation as process mode: callers get copies, never live state.
            return orjson.loads(orjson.dumps(result))
        req = urllib.request.Request(
            self.graph_url + "/_sim/call", data=orjson.dumps({"op": op, "args": args}), method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=60) as resp:
                return orjson.loads(resp.read())["result"]
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise KeyError(orjson.loads(e.read()).get("error")) from None
            raise

    def stats(self) -> dict[str, Any]:
        """Requests by API and route, throttled counts, RU spent, faults injected, mutations."""
        return self._call("stats")

    def reset_stats(self) -> None:
        self._call("reset_stats")

    def snapshot(self) -> dict[str, Any]:
        """The whole current tenant in seed shape (loadable as a seed)."""
        return self._call("snapshot")

    def get_app_fics(self, app: str) -> list[dict[str, Any]]:
        """Current FICs (Graph shape) of an application, by object id or appId. KeyError if unknown."""
        return self._call("app_fics", app=app)

    def get_uami_fics(self, resource_id: str) -> list[dict[str, Any]]:
        """Current FICs (ARM shape) of a user-assigned identity by resource id. KeyError if unknown."""
        return self._call("uami_fics", resource_id=resource_id)

    def get_role_assignments(self, principal_id: str | None = None) -> list[dict[str, Any]]:
        return self._call("role_assignments", principal_id=principal_id)

    def set_simulation(self, **settings: Any) -> dict[str, Any]:
        """Change the ``simulation`` block at run time (latency, throttling, faults); resets buckets."""
        return self._call("set_simulation", **settings)

    def outage(self, api: str, seconds: float, *, after: float | None = 0.0) -> dict[str, Any]:
        """Open a fault window: every ``api`` (``graph`` | ``arm``) request fails with 503 for
        ``seconds``, starting ``after`` seconds from now, or with ``after=None`` at the next
        request to that API (replacing earlier windows; ``seconds=0`` clears them). Seeds can
        hold windows too: ``simulation.outages``."""
        import time

        if seconds <= 0:
            return self.set_simulation(outages=[])
        if after is None:
            return self.set_simulation(outages=[{"api": api, "seconds": seconds}])
        now = time.time()
        return self.set_simulation(outages=[{"api": api, "from": now + after, "until": now + after + seconds}])

    def reset_throttle(self) -> None:
        self._call("reset_throttle")
