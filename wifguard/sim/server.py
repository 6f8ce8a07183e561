"""The simulator's HTTPS server (aiohttp): Graph on one port, ARM on another, both on loopback
with a server certificate from a throwaway CA (trustme).

Also an admin surface under ``/_sim/`` on the Graph port (bearer token required) that
``SimTenant`` uses in process mode to read state and statistics.

Run in the foreground: ``python -m wifguard.sim.server --seed FILE [--port N]`` (or ``serve()``).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import logging
import shutil
import signal
import ssl
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import trustme
from aiohttp import web
from multidict import CIMultiDict

from .arm import ArmApi, arm_error_body
from .errors import SimError
from .external import ExternalSim
from .faults import Fault, FaultInjector
from .graph import GraphApi, graph_error_body
from .state import SimulationConfig, Tenant
from .stats import Stats
from .wire import Req, Resp

log = logging.getLogger(__name__)
DEFAULT_TOKEN = "wifguard-sim-static-token"
GRAPH_CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false"


def load_seed(seed: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(seed, Mapping):
        return dict(seed)
    return orjson.loads(Path(seed).read_bytes())


class SimServer:
    """One simulated tenant served over HTTPS. Create, ``await start()``, ``await stop()``."""

    def __init__(self, seed: Mapping[str, Any] | str | Path, *, host: str = "127.0.0.1", port: int = 0,
                 arm_port: int | None = None, token: str = DEFAULT_TOKEN) -> None:
        seed_data = load_seed(seed)
        self.tenant = Tenant(seed_data)
        self.external = ExternalSim(seed_data)  # GitHub, GitLab, Terraform Cloud (wifguard.sim.external)
        self.stats = Stats()
        self.token = token
        self.host = host
        self._port = port
        self._arm_port = arm_port if arm_port is not None else (port + 1 if port else 0)
        self._configure_faults()
        self.graph = GraphApi(self.tenant, self.stats, self.faults)
        self.arm = ArmApi(self.tenant, self.stats)
        self._runner: web.AppRunner | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="wifguard-sim-"))
        atexit.register(shutil.rmtree, self._workdir, True)  # also when a caller never stops us
        self.ca_path = str(self._workdir / "sim-ca.pem")
        self.graph_port = 0
        self.arm_port = 0

    def _configure_faults(self) -> None:
        sim = self.tenant.sim
        self.faults = FaultInjector(sim.fault_rate, sim.fault_seed, sim.empty_retry_after_rate)

    @property
    def graph_url(self) -> str:
        return f"https://{self.host}:{self.graph_port}"

    @property
    def arm_url(self) -> str:
        return f"https://{self.host}:{self.arm_port}"

    def info(self) -> dict[str, Any]:
        return {"graph_url": self.graph_url, "arm_url": self.arm_url, "ca_path": self.ca_path,
                "token": self.token, "tenant_id": self.tenant.tenant_id, "external": dict(self.external.urls)}

    # -- lifecycle --------------------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        ca = trustme.CA(organization_name="wifguard simulated tenant")
        ca.cert_pem.write_to_path(self.ca_path)
        leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ctx)
        return ctx

    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        ctx = self._ssl_context()
        graph_site = web.TCPSite(self._runner, self.host, self._port, ssl_context=ctx)
        await graph_site.start()
        self.graph_port = _bound_port(graph_site)
        arm_site = web.TCPSite(self._runner, self.host, self._arm_port, ssl_context=ctx)
        await arm_site.start()
        self.arm_port = _bound_port(arm_site)
        await self.external.start(ctx, self.host)

    async def stop(self) -> None:
        await self.external.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        shutil.rmtree(self._workdir, ignore_errors=True)

    # -- HTTP -------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        api = "arm" if sock and sock[1] == self.arm_port else "graph"
        if api == "graph" and request.path.startswith("/_sim/"):
            return await self._admin(request)
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() != "bearer " or not auth[7:].strip():
            return self._render(api, request, self._auth_error(api, request))
        if self.tenant.sim.outages and self.tenant.sim.down(api, time.time()):
            self.stats.fault("outage")
            err = SimError(503, "serviceNotAvailable" if api == "graph" else "ServiceUnavailable",
                           "The service is temporarily unavailable. Please retry the request.",
                           {"Retry-After": "1"})
            return self._render(api, request, self._error(api, request, err))
        fault = self.faults.draw()
        if fault is Fault.RESET:
            self.stats.fault(fault.value)
            return _reset(request)
        if fault is Fault.UNAVAILABLE:
            self.stats.fault(fault.value)
            err = SimError(503, "serviceNotAvailable" if api == "graph" else "ServiceUnavailable",
                           "The service is temporarily unavailable. Please retry the request.",
                           {"Retry-After": "1"})
            return self._render(api, request, self._error(api, request, err))
        try:
            req = await self._to_req(api, request)
        except SimError as err:
            return self._render(api, request, self._error(api, request, err))
        try:
            resp = await self._dispatch(api, request, req)
        except Exception:  # a simulator bug must look like a service 500, not kill the connection
            log.exception("simulator error on %s %s", request.method, request.path)
            resp = self._error(api, request, SimError(500, "InternalServerError", "Simulator internal error."))
        if fault is Fault.TRUNCATED:
            self.stats.fault(fault.value)
            return await _truncated(request, resp)
        return self._render(api, request, resp)

    async def _dispatch(self, api: str, request: web.Request, req: Req) -> Resp:
        if api == "graph":
            if req.version not in ("v1.0", "beta"):
                err = SimError(400, "BadRequest", "Invalid version: the URL must start with /v1.0 or /beta.")
                return self._error(api, request, err)
            if self.tenant.sim.latency_ms:
                await asyncio.sleep(self.tenant.sim.latency_ms / 1000.0)
            try:
                return await self.graph.dispatch(req)
            except SimError as err:
                return self._error(api, request, err)
        return await self.arm.dispatch(req)

    async def _to_req(self, api: str, request: web.Request) -> Req:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    code = "BadRequest" if api == "graph" else "InvalidRequestContent"
                    raise SimError(400, code, "The request body is not valid JSON.") from None
        path = request.path
        while "//" in path:  # SDKs joining "/{scope}" with a scope that starts with "/"
            path = path.replace("//", "/")
        version = ""
        if api == "graph":
            seg = path.lstrip("/").split("/", 1)
            version = seg[0]
            path = "/" + (seg[1] if len(seg) > 1 else "")
            path = path.rstrip("/") or "/"
        else:
            path = path.rstrip("/") or "/"
        return Req(method=request.method, path=path, query=dict(request.query),
                   headers=CIMultiDict(request.headers), body=body,
                   base_url=f"{request.scheme}://{request.host}", version=version)

    def _error(self, api: str, request: web.Request, err: SimError) -> Resp:
        rid = str(uuid.uuid4())
        body = graph_error_body(err, CIMultiDict(request.headers), rid) if api == "graph" else arm_error_body(err)
        return Resp(err.status, body, {"request-id" if api == "graph" else "x-ms-request-id": rid, **err.headers})

    def _auth_error(self, api: str, request: web.Request) -> Resp:
        if api == "graph":
            return self._error(api, request, SimError(401, "InvalidAuthenticationToken", "Access token is empty."))
        resp = self._error(api, request, SimError(
            401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."))
        resp.headers["WWW-Authenticate"] = (
            'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", '
            "error_description=\"The authentication failed because of missing 'Authorization' header.\"")
        return resp

    def _render(self, api: str, request: web.Request, resp: Resp) -> web.Response:
        headers = dict(resp.headers)
        if api == "graph":
            headers.setdefault("request-id", str(uuid.uuid4()))
            headers["client-request-id"] = request.headers.get("client-request-id", headers["request-id"])
        if resp.body is None:
            return web.Response(status=resp.status, headers=headers)
        headers["Content-Type"] = GRAPH_CONTENT_TYPE if api == "graph" else "application/json; charset=utf-8"
        return web.Response(status=resp.status, body=orjson.dumps(resp.body), headers=headers)

    # -- admin ------------------------------------------------------------------------------------

    async def _admin(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if request.path == "/_sim/call" and request.method == "POST":
            payload = orjson.loads(await request.read())
            try:
                result = self.call(payload["op"], payload.get("args") or {})
            except KeyError as e:
                return web.Response(status=404, body=orjson.dumps({"error": f"not found: {e}"}),
                                    content_type="application/json")
            return web.Response(body=orjson.dumps({"result": result}), content_type="application/json")
        if request.path == "/_sim/info":
            return web.Response(body=orjson.dumps(self.info()), content_type="application/json")
        return web.json_response({"error": "unknown admin path"}, status=404)

    def call(self, op: str, args: Mapping[str, Any]) -> Any:
        """Operations on the live tenant; run on the server's loop thread only."""
        t = self.tenant
        if op == "stats":
            return {**self.stats.to_dict(), "external": dict(self.external.requests)}
        if op == "reset_stats":
            self.stats.reset()
            return None
        if op == "snapshot":
            return t.snapshot()
        if op == "app_fics":
            return t.get_app_fics(args["app"])
        if op == "uami_fics":
            return t.get_uami_fics(args["resource_id"])
        if op == "role_assignments":
            return t.get_role_assignments(args.get("principal_id"))
        if op == "set_simulation":
            merged = {**t.sim.to_dict(), **dict(args)}
            t.sim = SimulationConfig.from_dict(merged)
            self._configure_faults()
            self.graph.faults = self.faults
            self.graph.reset_throttle()
            self.arm.reset_throttle()
            return t.sim.to_dict()
        if op == "reset_throttle":
            self.graph.reset_throttle()
            self.arm.reset_throttle()
            return None
        raise KeyError(op)


def _bound_port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp keeps the asyncio server here; the public name is the URL
    assert server is not None and server.sockets
    return int(server.sockets[0].getsockname()[1])


def _reset(request: web.Request) -> web.StreamResponse:
    """Drop the connection without a response: the client sees a reset / remote protocol error."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError  # aiohttp treats a cancelled handler on a dead connection quietly


async def _truncated(request: web.Request, resp: Resp) -> web.StreamResponse:
    """Announce the full Content-Length, send half of the body, then drop the connection."""
    payload = orjson.dumps(resp.body) if resp.body is not None else b'{"value": []}'
    stream = web.StreamResponse(status=resp.status, headers={**resp.headers, "Content-Type": "application/json"})
    stream.content_length = len(payload)
    await stream.prepare(request)
    await stream.write(payload[: max(1, len(payload) // 2)])
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


# -- foreground serving ---------------------------------------------------------------------------

async def _serve_async(seed: Mapping[str, Any] | str | Path, port: int, arm_port: int | None,
                       json_line: bool) -> None:
    # Handlers first: a parent that terminates us right after reading the URLs must still get cleanup.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    server = SimServer(seed, port=port, arm_port=arm_port)
    await server.start()
    info = server.info()
    if json_line:
        sys.stdout.write(orjson.dumps(info).decode() + "\n")
    else:
        sys.stdout.write(
            f"wifguard simulated tenant {info['tenant_id']}\n"
            f"  Graph:  {info['graph_url']}  (append /v1.0 or /beta)\n"
            f"  ARM:    {info['arm_url']}\n"
            f"  CA:     {info['ca_path']}  (e.g. export SSL_CERT_FILE=... REQUESTS_CA_BUNDLE=...)\n"
            f"  token:  {info['token']}  (any bearer token is accepted)\n"
            "Point the wifguard CLI at it (sweep, quarantine restore) with:\n"
            f"  export WIFGUARD_GRAPH_URL={info['graph_url']} WIFGUARD_ARM_URL={info['arm_url']} \\\n"
            f"         WIFGUARD_CA_BUNDLE={info['ca_path']} WIFGUARD_STATIC_TOKEN={info['token']} \\\n"
            f"         WIFGUARD_TENANT_ID={info['tenant_id']}\n"
            "Press Ctrl+C to stop.\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await server.stop()


def serve(seed_path: str | Path, port: int = 0, arm_port: int | None = None, *, json_line: bool = False) -> None:
    """Serve the seed in the foreground until interrupted; prints the base URLs and the CA path."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_async(seed_path, port, arm_port, json_line))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m wifguard.sim.server", description=__doc__)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--arm-port", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON line with the URLs (for SimTenant)")
    args = ap.parse_args(argv)
    serve(args.seed, args.port, args.arm_port, json_line=args.json)


if __name__ == "__main__":
    main()
