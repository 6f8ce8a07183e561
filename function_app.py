"""wifguard's Azure Functions (Python v2 programming model): triggers only.

Each function decides nothing: its payload goes through the trigger's decoder (``handlers/``, the
same one ``wifguard replay`` finds by source name) into the pipeline (``Responder.handle``); the
core never imports this module or ``handlers``. Importing this module stays
cheap: wifguard and the Azure SDKs load on the first invocation, and the Responder (engine,
Graph/ARM clients, store, notifier) is created once per worker and reused.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import azure.functions as func

if TYPE_CHECKING:
    from wifguard.api.http import HttpApi
    from wifguard.pipeline.responder import Responder, RunResult

app = func.FunctionApp()
log = logging.getLogger(__name__)

_responder: Responder | None = None


async def responder() -> Responder:
    """The worker's Responder, created on first use and reused by every invocation."""
    global _responder
    if _responder is None:
        from wifguard.pipeline.runtime import build_responder
        from wifguard.settings import Settings

        _responder = await build_responder(Settings.from_env())
    return _responder


def _log_result(name: str, result: RunResult) -> None:
    counts: dict[str, int] = {}
    for e in result.events:
        counts[e.status] = counts.get(e.status, 0) + 1
    log.info("%s: events=%s findings=%d recorded=%s notifications=%d quarantined=%d errors=%d", name, counts,
             len(result.findings), result.recorded, len(result.notifications), len(result.quarantined),
             len(result.errors))
    for e in result.events:
        if e.status == "rejected":
            log.warning("%s: rejected %s: %s", name, e.id, e.reason)
    for err in result.errors:
        log.warning("%s: %s", name, err)


#: Event Hub retry policy: when a batch raises (records could be neither processed nor parked,
#: e.g. the store is down), the host runs the same batch again before it checkpoints, backing
#: off exponentially; bounded, so a long outage leaves the batch to the next start-up or owner.
EVENTHUB_RETRY = {"strategy": "exponential_backoff", "max_retry_count": "8",
                  "minimum_interval": "00:00:05", "maximum_interval": "00:05:00"}


@app.function_name("audit_logs")
@app.event_hub_message_trigger(arg_name="events", event_hub_name="%WIFGUARD_EVENTHUB_NAME%",
                               connection="WIFGUARD_EVENTHUB", cardinality="many", consumer_group="wifguard")
@app.retry(**EVENTHUB_RETRY)
async def audit_logs(events: list[func.EventHubEvent]) -> None:
    """Entra audit records streamed by the tenant's diagnostic setting.

    One bad record never fails the batch: it is parked (its own bytes, reason, transient or
    permanent) and the rest goes on. The function raises only when records could be neither
    processed nor parked, so the host's retry policy delivers the batch again; records already
    done are then duplicates, the others are processed.
    """
    from handlers.audit_logs import decode_audit_bodies
    from wifguard.pipeline.responder import BatchNotDurable

    try:
        result = await (await responder()).handle(decode_audit_bodies([e.get_body() for e in events]))
    except BatchNotDurable as exc:
        _log_result("audit_logs", exc.result)
        log.error("audit_logs: %s; failing the invocation so the batch is delivered again", exc)
        raise
    _log_result("audit_logs", result)


@app.function_name("resource_events")
@app.event_grid_trigger(arg_name="event")
async def resource_events(event: func.EventGridEvent) -> None:
    """Role-assignment and managed-identity credential writes/deletes from the subscription topic.

    Fails (raises) when the event could be neither processed nor parked, so Event Grid retries
    it and finally dead-letters it (retry policy and dead-letter container are in infra/).
    """
    from handlers.event_grid import decode_function_event
    from wifguard.pipeline.responder import BatchNotDurable

    try:
        result = await (await responder()).handle([decode_function_event(event)])
    except BatchNotDurable as exc:
        _log_result("resource_events", exc.result)
        log.error("resource_events: %s; failing so that Event Grid retries", exc)
        raise
    _log_result("resource_events", result)


@app.function_name("sweep_planner")
@app.timer_trigger(arg_name="timer", schedule="%WIFGUARD_SWEEP_SCHEDULE%", run_on_startup=False, use_monitor=True)
@app.queue_output(arg_name="shards", queue_name="%WIFGUARD_SWEEP_QUEUE%", connection="WIFGUARD_QUEUE")
async def sweep_planner(timer: func.TimerRequest, shards: func.Out[list[str]]) -> None:
    """Plans a sweep: one queue message per shard, so many instances evaluate a large tenant."""
    from wifguard.pipeline.runtime import plan_sweep, shard_message

    if timer.past_due:
        # A missed schedule (host down, deployment) still sweeps: late is better than never.
        log.warning("sweep_planner: timer is past due; sweeping now")
    r = await responder()
    from wifguard.settings import Settings

    plan = await plan_sweep(r, Settings.from_env().sweep_shard_size)
    # Housekeeping rides on the schedule: dedup records past their expiry are dropped.
    purged = await r.store.purge_expired_events()
    shards.set([shard_message(s) for s in plan])
    log.info("sweep_planner: %d shard(s) queued, %d expired event records purged", len(plan), purged)
    await _redrive_parked(r)


async def _redrive_parked(r: Responder) -> None:
    """Transient parked records (outages, partial reads) go through the pipeline again: a bounded
    number per tick, each after a backoff that doubles with its attempts."""
    import handlers  # noqa: F401 - registers the decoders the re-drive looks up by source
    from wifguard.pipeline.redrive import redrive_due

    try:
        report = await redrive_due(r)
        abandoned = await r.ledger.abandoned()
    except Exception as exc:  # the sweep was queued; the next tick re-drives
        log.warning("sweep_planner: re-drive of parked records failed: %s", exc)
        return
    log.info("sweep_planner: parked records re-driven: %d done, %d still parked; %d abandoned claim(s)",
             report.count("done"), report.count("parked"), abandoned)


@app.function_name("sweep_shard")
@app.queue_trigger(arg_name="msg", queue_name="%WIFGUARD_SWEEP_QUEUE%", connection="WIFGUARD_QUEUE")
async def sweep_shard(msg: func.QueueMessage) -> None:
    """Evaluates one shard. A failure raises, so the queue retries it and then poisons it."""
    from handlers.sweep import ShardError, decode_shard
    from wifguard.pipeline.runtime import run_shard

    try:
        shard = decode_shard(msg.get_body())
    except ShardError as exc:
        # Retrying cannot fix a malformed message: say why and let it go (it is in the logs).
        log.error("sweep_shard: message %s rejected: %s", msg.id, exc)
        return
    result = await run_shard(await responder(), shard)
    _log_result(f"sweep_shard[{shard['kind']}]", result)


def _json(body: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")


_api: HttpApi | None = None


def api() -> HttpApi:
    """The worker's HTTP API logic (token validation, parameter checks): wifguard.api.http."""
    global _api
    if _api is None:
        from wifguard.api.http import HttpApi

        _api = HttpApi(responder)
    return _api


@app.function_name("health")
@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    """healthy | unhealthy and timestamps, from one point read of the store. Anonymous; a caller
    with a Findings.Read token also gets the warnings (missing permissions)."""
    reply = await api().health(req.headers.get("Authorization"))
    return _json(reply.body, reply.status)


# Callers authenticate with a Microsoft Entra ID token carrying an app role (validated in code,
# wifguard/api/auth.py), so the host-level key is not what protects these routes.
@app.function_name("findings")
@app.route(route="findings", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def findings(req: func.HttpRequest) -> func.HttpResponse:
    """Findings from the store (app role Findings.Read); filters: severity, status, rule, identity, limit."""
    reply = await api().findings(dict(req.params), req.headers.get("Authorization"))
    return _json(reply.body, reply.status)


@app.function_name("restore")
@app.route(route="quarantine/{id}/restore", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def restore(req: func.HttpRequest) -> func.HttpResponse:
    """Recreate a quarantined credential and record the accepted risk (app role Quarantine.Restore;
    JSON body: reason, expires_days)."""
    reply = await api().restore(req.route_params.get("id", ""), req.get_body(), req.headers.get("Authorization"))
    return _json(reply.body, reply.status)
