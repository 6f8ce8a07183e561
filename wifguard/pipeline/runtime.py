"""Building a Responder from settings, and the entry points the Functions and the CLI share.

``function_app.py`` and ``wifguard replay`` call exactly these functions, so a replayed payload
goes through the same handler and pipeline code as a live one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wifguard.catalogue.engine import Engine
from wifguard.config import Config
from wifguard.errors import DecodeError
from wifguard.pipeline.responder import Responder, RunResult
from wifguard.settings import Settings
from wifguard.sources.inventory.connection import Connection


def build_config(settings: Settings, config_path: str | None = None, tenant_id: str | None = None) -> Config:
    """The Functions' config: file, then ``WIFGUARD_*`` settings (the same resolution as the CLI)."""
    from wifguard.resolve import resolve

    return resolve(settings, config_path, tenant_id=tenant_id).config


def open_store(settings: Settings, conn_string: str | None = None) -> Any:
    from wifguard.store import Store

    if conn_string or settings.storage:
        return Store.from_connection_string(conn_string or settings.storage or "", prefix=settings.table_prefix)
    if settings.storage_account:
        return Store.from_account(settings.storage_account, prefix=settings.table_prefix)
    from wifguard.settings import SettingsError

    raise SettingsError("no store configured: set WIFGUARD_STORAGE (connection string) or WIFGUARD_STORAGE_ACCOUNT")


async def build_responder(settings: Settings, *, conn: Connection | None = None, store: Any = None,
                          config_path: str | None = None, compose_messages: bool = False,
                          config: Config | None = None) -> Responder:
    from wifguard.logsafe import install

    install(settings.env)  # before any client exists: nothing it logs carries a secret
    conn = conn or settings.connection()  # type: ignore[assignment]
    assert isinstance(conn, Connection)
    cfg = config or build_config(settings, config_path, conn.tenant_id)
    engine = Engine(cfg)
    if store is None:
        store = open_store(settings)
    await store.ensure()
    return Responder(engine, conn, store, env=settings.env, responder_ids=settings.responder_ids,
                     compose_messages=compose_messages)


async def process(responder: Responder, source: str, payloads: Iterable[Any]) -> RunResult:
    """Decode one trigger's payloads with the decoder registered for ``source`` (wifguard.pipeline.intake),
    then run them through the pipeline. The core names no trigger module."""
    from wifguard.pipeline.intake import decode

    return await responder.handle(decode(source, payloads))


async def process_audit_bodies(responder: Responder, bodies: Iterable[Any]) -> RunResult:
    from wifguard.pipeline.intake import SOURCE_AUDIT_LOG

    return await process(responder, SOURCE_AUDIT_LOG, bodies)


async def process_event_grid(responder: Responder, events: Sequence[Any] | bytes | str) -> RunResult:
    from wifguard.pipeline.intake import SOURCE_EVENT_GRID

    # a whole body (bytes/str: one JSON array) is one payload; a list holds one event each
    return await process(responder, SOURCE_EVENT_GRID, [events] if isinstance(events, bytes | str) else events)


# -- sweep fan-out: a planner enqueues shards, workers evaluate one shard each ----------------------

SHARD_READ_CHUNK = 200

async def plan_sweep(responder: Responder, shard_size: int) -> list[dict[str, Any]]:
    """Shards: pages of application ids, one per subscription, and one for tenant-wide rules."""
    from wifguard.pipeline.permission_health import record_denied
    from wifguard.sources.inventory.permissions import PermissionDenied

    try:
        return await _plan_sweep(responder, shard_size)
    except PermissionDenied as exc:
        await record_denied(responder.store, exc, "sweep planner")
        raise


async def _plan_sweep(responder: Responder, shard_size: int) -> list[dict[str, Any]]:
    from wifguard.sources.inventory.graph import applications_url

    inv = responder.inventory
    ids: list[str] = []
    url = applications_url(inv.graph, select=["id"], top=999)
    async for page in inv.graph.pages(url, low_priority=True):
        ids += [a["id"] for a in page]
    shards: list[dict[str, Any]] = [
        {"kind": "applications", "ids": ids[i:i + shard_size]} for i in range(0, len(ids), shard_size)
    ]
    shards += [{"kind": "subscription", "id": s} for s in await inv.subscription_ids()]
    shards.append({"kind": "tenant"})
    return shards


async def run_shard(responder: Responder, shard: Mapping[str, Any]) -> RunResult:
    """Evaluate one shard and record it (tenant-wide rules only in the ``tenant`` shard).

    A missing permission raises :class:`PermissionDenied` (the queue retries, then poisons the
    shard) after recording it for the health endpoint: nothing of the shard is recorded or
    resolved from a partial view."""
    from wifguard.pipeline.permission_health import record_denied
    from wifguard.sources.inventory.permissions import PermissionDenied

    try:
        return await _run_shard(responder, shard)
    except PermissionDenied as exc:
        await record_denied(responder.store, exc, f"sweep shard {shard.get('kind')}")
        raise


async def _run_shard(responder: Responder, shard: Mapping[str, Any]) -> RunResult:
    result = RunResult()
    kind = shard.get("kind")
    inv = responder.inventory
    engine = responder.engine
    if kind == "applications":
        ids = [str(i) for i in shard.get("ids", [])]
        for start in range(0, len(ids), SHARD_READ_CHUNK):
            # $batch reads for the chunk and one role-assignment listing per subscription.
            errors: list[str] = []
            contexts = await inv.application_contexts(ids[start:start + SHARD_READ_CHUNK], errors=errors)
            result.errors += errors
            complete = _complete(errors, result)
            facts = await responder.external_facts([c for c in contexts.values() if c is not None])
            for ident_id, ctx in contexts.items():
                if ctx is None:
                    result.add_record(await responder.store.record(ident_id, [], scope=responder.scope(False)))
                elif ctx.credentials:
                    await responder.respond(ctx, [engine.evaluate(ctx, external=facts)], result,
                                            tenant_rules_ran=False, external=facts, resolve=complete)
    elif kind == "subscription":
        sub = str(shard["id"])
        for uami in await inv.arm.identities(sub):
            errors = []
            ctx = await inv.managed_identity_context(str(uami["id"]), errors=errors)
            result.errors += errors
            if ctx is not None and ctx.credentials:
                facts = await responder.external_facts([ctx])
                await responder.respond(ctx, [engine.evaluate(ctx, external=facts)], result, tenant_rules_ran=False,
                                        external=facts, resolve=_complete(errors, result))
    elif kind == "tenant":
        # Tenant-wide rules (duplicate trusts, unknown managed-identity subjects) need every
        # identity at once: one bulk read, evaluating only those rules.
        swept = await inv.sweep()
        result.errors += swept.errors
        if not _complete(swept.errors, result):
            # Tenant rules reason about absence (no managed identity has this principal id), so a
            # partial view would invent findings as well as resolve them: skip this run.
            return result
        only = frozenset({"tenant"})
        evaluations = [(ctx, engine.evaluate(ctx, tenant=swept.tenant, targets=only)) for ctx in swept.contexts]
        await responder.record_sweep(evaluations, result, only_rules=responder.tenant_rule_ids,
                                     all_identity_ids=None if swept.errors else swept.all_identity_ids)
    else:
        raise DecodeError(f"unknown sweep shard kind {kind!r}", where="sweep shard")
    return result


def _complete(errors: Sequence[str], result: RunResult) -> bool:
    """Fail closed: a shard that could not read part of its scope resolves nothing there."""
    from wifguard.sources.inventory.gaps import gaps

    found = gaps(errors)
    if found:
        result.errors.append(f"{len(found)} part(s) could not be read ({found[0]}): nothing resolved there")
    return not found


def shard_message(shard: Mapping[str, Any]) -> str:
    return json.dumps(shard, separators=(",", ":"))
