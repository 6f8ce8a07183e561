"""The one flow every trigger ends in.

    Decoded payloads ─▶ dedup (processed-events table) ─▶ per Change:
        load TrustContext live ─▶ evaluate ─▶ record ─▶ notify new findings ─▶ quarantine

Handlers only decode; this module knows no trigger. A ``Responder`` holds the clients of one
worker (engine, inventory, store, notifier) and is created once and reused.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wifguard.actions.quarantine import Quarantiner
from wifguard.actions.requarantine import QuarantineGuard
from wifguard.catalogue.engine import Engine, Evaluation
from wifguard.domain.model import Change, ChangeKind, Finding, IdentityKind, ModelError, TrustContext
from wifguard.errors import NotificationError, StoreError
from wifguard.notify import Notice, NoticeKind, NotifyConfig, compose, privileges_of
from wifguard.notify.compose import event_id
from wifguard.notify.dispatch import (
    NOTIFY_IN_FLIGHT as NOTIFY_IN_FLIGHT,  # re-exported: what a crash re-sends
)
from wifguard.notify.dispatch import Dispatch, Dispatcher, RunNotices
from wifguard.pipeline import evidence
from wifguard.pipeline.intake import Decoded
from wifguard.pipeline.permission_health import record_denied
from wifguard.sources import identity_sources
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.gaps import ContextIncomplete, gaps, raise_if_incomplete
from wifguard.sources.inventory.permissions import PermissionDenied
from wifguard.sources.inventory.tenant import CredentialWriter, Inventory
from wifguard.store import EvaluationScope, RecordResult, Store
from wifguard.store.ledger import Claim, EventKey, EventLedger
from wifguard.store.outbox import Outbox

log = logging.getLogger(__name__)
RECORD_CONCURRENCY = 16
EVENT_CONCURRENCY = 16
PREFETCH_MIN = 4  # below this, per-identity reads (filtered by principal) are cheaper
COMPOSED_CHANNELS = ("teams", "slack")
# True while a batch of trigger payloads is processed (notices then say they came from an event).
_EVENT_PATH: contextvars.ContextVar[bool] = contextvars.ContextVar("wifguard_event_path", default=False)
REPORT_PROFILES = 25  # riskiest identities whose owners and privilege the sweep summary keeps
# The notices of the run (event batch, sweep) in progress: grouped chat messages wait for its end.
_RUN_NOTICES: contextvars.ContextVar[RunNotices | None] = contextvars.ContextVar("wifguard_run_notices",
                                                                               default=None)
# The event record being processed (its notices name it, so it is done only once they are sent).
_CURRENT_EVENT: contextvars.ContextVar[EventKey | None] = contextvars.ContextVar("wifguard_current_event",
                                                                                default=None)


@dataclass
class EventResult:
    id: str
    status: str  # processed | ignored | rejected (parked) | duplicate | failed (not even parked)
    reason: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "reason": self.reason}


@dataclass
class RunResult:
    """What one batch (or one sweep) did; `wifguard replay` prints it."""

    events: list[EventResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    recorded: dict[str, int] = field(default_factory=lambda: {"new": 0, "updated": 0, "reopened": 0,
                                                                "resolved": 0, "exempted": 0})
    errors: list[str] = field(default_factory=list)
    # Per event id: what was evaluated from the event's evidence, or why nothing was.
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, event_id: str, text: str) -> None:
        notes = self.notes.setdefault(event_id, [])
        if text not in notes:
            notes.append(text)

    def add_record(self, r: RecordResult) -> None:
        for k, v in r.counts().items():
            self.recorded[k] = self.recorded.get(k, 0) + v

    def to_json(self) -> dict[str, Any]:
        from wifguard.reporting.report import sort_findings, summary

        findings = sort_findings({f.fingerprint: f for f in self.findings}.values())
        statuses: dict[str, int] = {}
        for e in self.events:
            statuses[e.status] = statuses.get(e.status, 0) + 1
        return {
            "events": [e.to_dict() for e in self.events],
            "findings": [f.to_dict() for f in findings],
            "notifications": self.notifications,
            "quarantined": self.quarantined,
            "summary": summary(findings, events=statuses, recorded=self.recorded,
                               notifications=len(self.notifications), quarantined=len(self.quarantined),
                               errors=len(self.errors)),
            "errors": self.errors,
        }


def _identity_key(c: Change) -> tuple[str, str, str]:
    return (str(c.identity_kind.value if c.identity_kind else ""), c.identity_id_kind, (c.identity_id or "").lower())


class Responder:
    """Engine + inventory + store + notifier of one worker."""

    def __init__(self, engine: Engine, conn: Connection, store: Store, *, env: Mapping[str, str] | None = None,
                 responder_ids: Iterable[str] = (), actor: str = "wifguard", compose_messages: bool = False) -> None:
        self.engine = engine
        self.conn = conn
        self.store = store
        self.env = dict(env or {})
        self.inventory = Inventory(conn)
        self.writer = CredentialWriter(self.inventory)
        self.actor = actor
        self.compose_messages = compose_messages
        self.tenant_id = conn.tenant_id or engine.config.home_tenant_id or ""
        self.notify_config = NotifyConfig.from_mapping(engine.config.notifications or {})
        self.quarantiner = Quarantiner(engine.config.quarantine, store, self.writer,
                                       frozenset(i for i in responder_ids if i), actor)
        self.guard = QuarantineGuard(store, self.writer, engine, actor)
        self.ledger = EventLedger(store, owner=f"{actor}:{os.getpid()}")
        self.outbox = Outbox(store)
        self.dispatcher = Dispatcher(self.outbox)
        self._http: Any = None
        self._notifier: Any = None
        self._change_rules = frozenset(r.id for r in engine.rules if r.spec.applies_to == "change")
        self._tenant_rules = frozenset(r.id for r in engine.rules if r.spec.applies_to == "tenant")
        self._external_rules = frozenset(r.id for r in engine.rules if r.spec.category == "external")
        self._external: Any = None  # wifguard.sources.external.checks.ExternalChecks, opened on first use
        self._external_lock = asyncio.Lock()
        # A batch's records about one identity are processed together: one live read, one
        # evaluation per change (each keeps its event-only findings), one findings write.
        self.collapse_bursts = True
        # Findings rows whose content did not change are not rewritten (see Store.record).
        self.skip_unchanged_writes = True

    async def close(self) -> None:
        if self._external not in (None, False):
            await self._external.close()
        await self.inventory.close()
        if self._notifier is not None:
            await self._notifier.close()
        if self._http is not None:
            await self._http.aclose()

    async def __aenter__(self) -> Responder:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def notifier(self) -> Any:
        if self._notifier is None:
            import httpx

            from wifguard.notify import Notifier

            self._http = httpx.AsyncClient(timeout=httpx.Timeout(self.notify_config.timeout_seconds))
            self._notifier = Notifier(self.notify_config, self.env, self._http)
        return self._notifier

    # -- events ------------------------------------------------------------------------------------
    async def handle(self, decoded: Sequence[Decoded], result: RunResult | None = None) -> RunResult:
        """Process decoded payloads: claim, process, then commit.

        Records about different identities run concurrently; records about the same identity
        run in their arrival order. ``events`` keeps the input order. One bad record never
        stops the batch: it is parked (its own bytes, reason, transient or permanent). Raises
        :class:`BatchNotDurable` only when records could be neither processed nor parked (the
        store is down), so that the platform delivers the batch again.
        """
        result = result or RunResult()
        self._begin_run()
        await self._resume_quarantine(result)
        keys = {i: EventKey.of(d.source, d.id, d.raw) for i, d in enumerate(decoded) if d.status == "accepted"}
        try:
            claims = await self.ledger.claim(list(keys.values()))
        except Exception as exc:
            # Nothing was processed: the platform must deliver the whole batch again.
            raise BatchNotDurable(f"could not claim {len(keys)} record(s): {_short(exc)}", result) from exc
        todo = [d for i, d in enumerate(decoded)
                if i in keys and claims.get(keys[i]) in (Claim.FRESH, Claim.RETAKEN)]
        prefetched = await self._prefetch(todo, result)
        slots: list[EventResult | None] = [None] * len(decoded)
        lanes: dict[tuple[str, str, str], list[int]] = {}
        for i, d in enumerate(decoded):
            key = _identity_key(d.changes[0]) if d.status == "accepted" and d.changes else ("", "", f"#{i}")
            lanes.setdefault(key, []).append(i)
        sem = asyncio.Semaphore(EVENT_CONCURRENCY)
        settle = _Settlement()
        seen: set[EventKey] = set()

        async def lane(indexes: list[int]) -> None:
            async with sem:
                if self.collapse_bursts and len(indexes) > 1:
                    indexes = await self._burst(decoded, indexes, keys, claims, seen, slots, result, prefetched,
                                                settle)
                for i in indexes:
                    k = keys.get(i)
                    claim = claims.get(k) if k is not None else None
                    if k is not None and k in seen:
                        claim = Claim.DONE  # the same record twice in one batch
                    if k is not None:
                        seen.add(k)
                    slots[i] = await self._one(decoded[i], result, prefetched, claim, k, settle)
                    await settle.flush(self.ledger, result, eager=False)

        run = RunNotices()  # the batch is one run: each identity's chat notices go out together at its end
        token, run_token = _EVENT_PATH.set(True), _RUN_NOTICES.set(run)  # the lanes' tasks copy this context
        try:
            await asyncio.gather(*(lane(ix) for ix in lanes.values()))
        finally:
            _RUN_NOTICES.reset(run_token)
            _EVENT_PATH.reset(token)
        await self._finish_notices(run, decoded, keys, slots, result, settle)
        result.events += [e for e in slots if e is not None]
        await settle.flush(self.ledger, result, eager=True)
        if settle.unparked:
            raise BatchNotDurable(f"{len(settle.unparked)} record(s) could be neither processed nor parked "
                                  f"(first: {settle.unparked[0]})", result)
        return result

    async def _finish_notices(self, run: RunNotices, decoded: Sequence[Decoded], keys: Mapping[int, EventKey],
                              slots: list[EventResult | None], result: RunResult, settle: _Settlement) -> None:
        """Send the batch's grouped notices; then its records that waited for them are done, except
        those whose notices could not be written to the outbox: parked (transient), so that they
        are processed, and notified, again."""
        held = await self._flush(run, result)
        index = {k: i for i, k in keys.items()}
        for k in settle.waiting:
            if k not in held:
                settle.done.append(k)
                continue
            d = decoded[index[k]]
            reason = "processing failed (transient): its notifications could not be written to the outbox"
            ok = await self._park(d, reason, k, True, result, settle)
            slots[index[k]] = EventResult(d.id, "rejected" if ok else "failed",
                                          reason if ok else f"could not park: {reason}", d.source)
        settle.waiting.clear()

    async def _burst(self, decoded: Sequence[Decoded], indexes: list[int], keys: Mapping[int, EventKey],
                     claims: Mapping[EventKey, Claim], seen: set[EventKey], slots: list[EventResult | None],
                     result: RunResult, prefetched: Mapping[str, TrustContext | None],
                     settle: _Settlement) -> list[int]:
        """Process a lane's records (one identity) together: the changes of all of them go through
        one live read, one evaluation per change and one findings write, and each record is marked
        done only after that is durable. Returns the records left for one-by-one processing: those
        not to process (duplicates, rejected, ignored), or all of them when the joint attempt
        failed (each is then processed, and if need be parked, on its own: recording is idempotent,
        so nothing is written twice)."""
        picked: list[int] = []
        picked_keys: set[EventKey] = set()
        lane_key: tuple[str, str, str] | None = None
        for i in indexes:
            d, k = decoded[i], keys.get(i)
            if k is None or d.status != "accepted" or k in seen or k in picked_keys                     or claims.get(k) not in (Claim.FRESH, Claim.RETAKEN):
                continue
            ids = {_identity_key(c) for c in d.changes}
            if len(ids) != 1 or (lane_key is not None and ids != {lane_key}):
                continue
            lane_key = next(iter(ids))
            picked.append(i)
            picked_keys.add(k)
        if len(picked) < 2:
            return indexes
        try:
            await self._process_identity([c for i in picked for c in decoded[i].changes], result, prefetched)
        except Exception as exc:
            log.warning("%d records about one identity failed together (%s); processing them one by one",
                        len(picked), _short(exc))
            return indexes
        for i in picked:
            d, k = decoded[i], keys[i]
            seen.add(k)
            settle.done.append(k)
            reason = "; ".join([_describe(d.changes), *result.notes.get(d.id, [])]) + (
                " (retried: an earlier attempt did not finish)" if claims.get(k) is Claim.RETAKEN else "")
            slots[i] = EventResult(d.id, "processed", reason, d.source)
        await settle.flush(self.ledger, result, eager=False)
        done = set(picked)
        return [i for i in indexes if i not in done]

    async def _prefetch(self, decoded: Sequence[Decoded], result: RunResult) -> dict[str, TrustContext | None]:
        """Read the app registrations of a batch together (a handful of $batch calls and one
        role-assignment listing per subscription) instead of a few requests per record.

        Fail closed: when the bulk read has gaps (a subscription's role assignments could not be
        listed), nothing is taken from it; each record then reads (and fails) on its own."""
        ids = {d.changes[0].identity_id or "" for d in decoded if d.status == "accepted" and d.changes
               and d.changes[0].identity_kind is IdentityKind.APPLICATION
               and d.changes[0].identity_id_kind == "objectId"}
        ids.discard("")
        if len(ids) < PREFETCH_MIN:
            return {}
        errors: list[str] = []
        try:
            out = await self.inventory.application_contexts(sorted(ids), errors=errors)
        except Exception as exc:  # fall back to reading each identity on its own
            result.errors.append(f"batch read failed, reading one by one: {exc}")
            return {}
        result.errors += errors
        if gaps(errors):
            return {}
        return out

    async def _one(self, d: Decoded, result: RunResult, prefetched: Mapping[str, TrustContext | None],
                   claim: Claim | None, key: EventKey | None, settle: _Settlement) -> EventResult:
        if d.status == "rejected":
            # Malformed: retrying cannot help; kept (idempotently) until a person looks at it.
            pkey = EventKey.of(d.source, d.id, d.raw)
            if await self._park(d, d.reason, pkey, False, result, settle):
                return EventResult(d.id, "rejected", d.reason, d.source)
            return EventResult(d.id, "failed", f"could not park: {d.reason}", d.source)
        if d.status == "ignored":
            return EventResult(d.id, "ignored", d.reason, d.source)
        assert key is not None
        if claim is Claim.DONE:
            return EventResult(d.id, "duplicate", "already processed", d.source)
        if claim is Claim.BUSY:
            return EventResult(d.id, "duplicate", "being processed by another worker", d.source)
        event_token = _CURRENT_EVENT.set(key)  # notices it queues wait for the batch's end with it
        try:
            await self._process(d.changes, result, prefetched)
        except Exception as exc:
            transient = _is_transient(exc)
            if isinstance(exc, ContextIncomplete):
                log.warning("processing %s deferred: %s", d.id, exc)
            else:
                log.exception("processing %s failed", d.id)
            if isinstance(exc, PermissionDenied):
                # Not evaluated from a partial view: parked (re-driven once granted) and shown
                # on the health endpoint, naming the permission.
                try:
                    await record_denied(self.store, exc, f"{d.source} event {d.id}")
                except Exception as rec_exc:
                    result.errors.append(f"{d.id}: could not record the missing permission: {_short(rec_exc)}")
            reason = f"processing failed ({'transient' if transient else 'permanent'}): " \
                     f"{type(exc).__name__}: {str(exc)[:300]}"
            if await self._park(d, reason, key, transient, result, settle):
                return EventResult(d.id, "rejected", reason, d.source)
            return EventResult(d.id, "failed", reason, d.source)
        finally:
            _CURRENT_EVENT.reset(event_token)
        run = _RUN_NOTICES.get()
        # Done once its notifications are sent (the batch's end) when some wait for it.
        (settle.waiting if run is not None and run.waits_for(key) else settle.done).append(key)
        reason = "; ".join([_describe(d.changes), *result.notes.get(d.id, [])]) + (
            " (retried: an earlier attempt did not finish)" if claim is Claim.RETAKEN else "")
        return EventResult(d.id, "processed", reason, d.source)

    async def _park(self, d: Decoded, reason: str, key: EventKey, transient: bool, result: RunResult,
                    settle: _Settlement) -> bool:
        """Park the record's own bytes; False when even that failed (the batch must be retried)."""
        raw = d.raw if d.raw is not None else b""
        try:
            await self.store.park(d.source, raw, reason, d.id, key=key.row, transient=transient)
        except Exception as exc:  # the store itself is down: the platform has to deliver it again
            log.error("could not park %s (%s): %s", d.id, reason, _short(exc))
            result.errors.append(f"{d.id}: could not park: {_short(exc)}")
            settle.unparked.append(d.id)
            return False
        if d.status == "accepted":
            settle.parked.append(key)
        return True

    async def _process(self, changes: Sequence[Change], result: RunResult,
                       prefetched: Mapping[str, TrustContext | None]) -> None:
        groups: dict[tuple[str, str, str], list[Change]] = {}
        for c in changes:
            groups.setdefault(_identity_key(c), []).append(c)
        for group in groups.values():
            await self._process_identity(group, result, prefetched)

    async def _load(self, c: Change, errors: list[str]) -> tuple[TrustContext | None, list[str]]:
        """The live context of the identity a change is about, and the identity ids it covers."""
        inv = self.inventory
        if c.kind in (ChangeKind.ROLE_ASSIGNMENT_WRITTEN, ChangeKind.ROLE_ASSIGNMENT_REMOVED):
            principal = c.principal_id
            if principal is None and c.role_assignment_id and c.kind is ChangeKind.ROLE_ASSIGNMENT_WRITTEN:
                ra = await inv.role_assignment(c.role_assignment_id)
                principal = ra.principal_id if ra else None
            if principal is None:
                # Deleted (or gone again): whoever had findings about this assignment is re-read.
                ids = await self._identities_with_assignment(c.role_assignment_id or "")
                return None, ids
            ctx = await inv.principal_context(principal, errors=errors)
            return ctx, [ctx.identity.id] if ctx else []
        ident_id = c.identity_id or ""
        kind = c.identity_kind or IdentityKind.APPLICATION
        if kind is IdentityKind.APPLICATION and c.identity_id_kind == "servicePrincipalId":
            ctx = await inv.principal_context(ident_id, errors=errors)
            return ctx, [ctx.identity.id] if ctx else []
        # The identity source registered for its kind (wifguard.sources): Graph apps, ARM identities.
        return await identity_sources.get(kind.value).context(inv, ident_id, errors), [ident_id]

    async def _identities_with_assignment(self, assignment_id: str) -> list[str]:
        records = await self.store.query(status=("open", "quarantined"))
        return sorted({r.identity_id for r in records
                       if r.role_assignment_id and r.role_assignment_id.lower() == assignment_id.lower()})

    async def _process_identity(self, changes: list[Change], result: RunResult,
                                prefetched: Mapping[str, TrustContext | None] | None = None) -> None:
        errors: list[str] = []
        changes = await self._with_trail(changes, result)
        first = changes[0]
        pre_id = first.identity_id or ""
        if prefetched and pre_id in prefetched and first.identity_kind is IdentityKind.APPLICATION \
                and first.identity_id_kind == "objectId":
            ctx, ids = prefetched[pre_id], [pre_id]
        else:
            ctx, ids = await self._load(first, errors)
        result.errors += errors
        # Fail closed: with any part of the context unreadable, nothing is created or resolved
        # from the partial view; the record is parked as transient and re-driven.
        raise_if_incomplete(ctx.identity.id if ctx else (pre_id or "identity"), errors)
        if ctx is None:
            if changes[0].kind is ChangeKind.ROLE_ASSIGNMENT_REMOVED and ids:
                for ident_id in ids:
                    kind = _kind_of(ident_id)
                    c2 = Change(changes[0].source, changes[0].event_id, ChangeKind.IDENTITY, identity_kind=kind,
                                identity_id=ident_id,
                                identity_id_kind="resourceId" if kind is IdentityKind.MANAGED_IDENTITY else "objectId")
                    await self._process_identity([c2], result)
                return
            for ident_id in ids:  # the identity is gone: nothing of it is risky any more
                r = await self.store.record(ident_id, [], scope=EvaluationScope.whole_identity())
                result.add_record(r)
            await self.respond_from_evidence(changes, None, result)
            return
        facts = await self.external_facts([ctx])
        evaluations = [self.engine.evaluate(ctx, change=c, external=facts) for c in changes
                       if c.kind is not ChangeKind.IDENTITY] or [self.engine.evaluate(ctx, external=facts)]
        await self.respond(ctx, evaluations, result, tenant_rules_ran=False, external=facts,
                           changes=changes)
        await self.respond_from_evidence(changes, ctx, result)

    async def external_facts(self, contexts: Sequence[TrustContext]) -> Any:
        """Outside checks (WIF212-216) for these identities, when the config enables a provider;
        the answers are cached in the store's ``external`` table."""
        async with self._external_lock:
            if self._external is None:
                from wifguard.sources.external.runtime import open_checks

                self._external = await open_checks(self.engine.config, conn=self.conn, env=self.env,
                                                   tables=getattr(self.store, "_tables", None),
                                                   prefix=getattr(self.store, "prefix", "wifguard")) or False
        if self._external is False:
            return None
        from wifguard.sources.external.runtime import privileged_by

        return await self._external.resolve(contexts, privileged_by(self.engine))

    # -- evidence that outlives the identity (wifguard/pipeline/evidence.py) --------------------------------
    async def _with_trail(self, changes: list[Change], result: RunResult) -> list[Change]:
        """Note additions and removals in the credential trail; a credential both added and
        removed gets its lifetime in the change's evidence (WIF703). One identity's notes are
        written together (a burst of changes is one read per credential and one transaction)."""
        out: list[Change] = list(changes)
        by_identity: dict[str, list[tuple[int, tuple[str, str, Any]]]] = {}
        for i, c in enumerate(changes):
            ev = evidence.trail_event(c)
            if ev is not None:
                what, name, when = ev
                by_identity.setdefault(c.identity_id or "", []).append((i, (name, what, when)))
        for ident, notes in by_identity.items():
            try:
                answers = await self.store.trail.note_many(ident, [n for _, n in notes])
            except Exception as exc:  # the trail is a fact for one rule: never lose the event for it
                for i, _ in notes:
                    result.errors.append(f"{changes[i].event_id}: credential trail not updated: {exc}")
                continue
            for (i, _), (added, removed) in zip(notes, answers, strict=True):
                out[i] = evidence.with_lifetime(changes[i], evidence.lifetime_minutes(added, removed))
        return out

    async def respond_from_evidence(self, changes: Sequence[Change], live: TrustContext | None,
                                    result: RunResult) -> None:
        """Evaluate what the live read cannot show, as the event carries it (``evidence: event``):
        the whole change when the identity is gone, else the credentials it no longer holds.
        Recorded like change findings (never resolved by a live read); notified, not quarantined."""
        pairs = evidence.evidence_credentials(changes, live)
        credential_changes = [c for c in changes if c.kind not in (
            ChangeKind.IDENTITY, ChangeKind.ROLE_ASSIGNMENT_WRITTEN, ChangeKind.ROLE_ASSIGNMENT_REMOVED)]
        if live is None and not credential_changes:
            for c in changes:
                result.note(c.event_id, "identity not found live and the event carries no credential: "
                                        "nothing to evaluate")
            return
        findings: list[Finding] = []
        ctx: TrustContext | None = None
        if live is None:
            for c in credential_changes:
                creds = [cred for ch, cred in pairs if ch is c]
                ctx = evidence.evidence_context(c, creds, None)
                label = f"{c.identity_kind.value if c.identity_kind else 'identity'} {c.identity_id!r}"
                if creds or c.kind is ChangeKind.CREDENTIAL_REMOVED:
                    why = f"{label} could not be read live (not found)"
                    findings += evidence.mark(self.engine.evaluate(ctx, change=c).findings, c, why)
                    result.note(c.event_id, f"evaluated from the event's evidence: {why}")
                else:
                    result.note(c.event_id, f"{label} not found live and the event carries no credential "
                                            "that grants access: nothing to evaluate")
        else:
            live_names = {x.name.lower() for x in live.credentials}
            for c in credential_changes:
                gone = c.credential_name and c.credential_name.lower() not in live_names
                if c.kind is ChangeKind.CREDENTIAL_WRITTEN and c.new_credential is None and gone:
                    # Event Grid carries no request body: nothing of the credential is left to judge.
                    result.note(c.event_id, f"credential {c.credential_name!r} is no longer on "
                                            f"{live.identity.name!r} and the event carries no copy of it: "
                                            "nothing to evaluate")
            for c, cred in pairs:
                ctx = evidence.evidence_context(c, [cred], live)
                why = f"credential {cred.name!r} is no longer on {live.identity.name!r} (removed before the event " \
                      "was handled)"
                ev = self.engine.evaluate(ctx)
                findings += evidence.mark([f for f in ev.findings if f.credential is not None], c, why)
                result.note(c.event_id, f"evaluated from the event's evidence: {why}")
        if ctx is None or not findings:
            return
        findings = list({f.fingerprint: f for f in findings}.values())
        rec = await self.store.record(ctx.identity.id, findings, scope=EvaluationScope.nothing())
        result.add_record(rec)
        result.findings += findings
        if rec.to_notify:
            await self.notify(ctx, [r.to_finding() for r in rec.to_notify], result)

    # -- record, notify, quarantine ---------------------------------------------------------------
    @property
    def tenant_rule_ids(self) -> frozenset[str]:
        return self._tenant_rules

    def scope(self, tenant_rules_ran: bool, only_rules: frozenset[str] | None = None,
              external_complete: bool = False) -> EvaluationScope:
        """Which stored findings an evaluation may resolve: event-only rules never resolve (their
        evidence is the event), tenant rules only after a sweep, outside rules (WIF212-216) only
        when every outside answer was definite (an "unknown" is no evidence that a name came back)."""
        if only_rules is not None:
            return EvaluationScope.whole_identity(rule_ids=sorted(only_rules))
        skip = set(self._change_rules)
        if not external_complete:
            skip |= self._external_rules
        if not tenant_rules_ran:
            skip |= self._tenant_rules
        return EvaluationScope.whole_identity(rule_ids=[r.id for r in self.engine.rules if r.id not in skip])

    async def respond(self, ctx: TrustContext, evaluations: Sequence[Evaluation], result: RunResult, *,
                      tenant_rules_ran: bool, notify: bool = True,
                      only_rules: frozenset[str] | None = None, external: Any = None,
                      resolve: bool = True, changes: Sequence[Change] = ()) -> RecordResult:
        findings = list({f.fingerprint: f for ev in evaluations for f in ev.findings}.values())
        exempted = list({f.fingerprint: f for ev in evaluations for f, _ in ev.exempted}.values())
        # Restore exemptions and re-adds after quarantine live in the store (quarantine ledger).
        review = await self.guard.review(ctx, findings, changes)
        findings, exempted = review.findings, [*exempted, *review.exempted]
        for ev in evaluations:
            result.errors += list(ev.errors)
        from wifguard.sources.external.runtime import incomplete

        # resolve=False: part of what was read is missing (fail closed), so absence proves nothing
        scope = self.scope(tenant_rules_ran, only_rules, external_complete=not incomplete(external, ctx)) \
            if resolve else EvaluationScope.nothing()
        rec = await self.store.record(ctx.identity.id, findings, scope=scope, exempted=exempted,
                                      skip_unchanged=self.skip_unchanged_writes)
        result.add_record(rec)
        await self.guard.after_record(review)
        result.findings += findings
        # Still due from an earlier attempt (a crash or outage before the send was marked) counts
        # too: the outbox sends only what was not delivered yet.
        # (With no channel configured nothing is ever marked, so only new ones are composed.)
        due = [*rec.to_notify, *(r for r in rec.updated if r.notify_pending and r.status.value == "open"
                                 and self.notify_config.channels)]
        if notify and due:
            held = await self.notify(ctx, [r.to_finding() for r in due], result)
            if held:
                # The findings are recorded but their notifications are not in the outbox: the
                # record is not done (it is parked or delivered again, and then they are sent).
                raise NotificationsNotQueued(f"{held} notification(s) of {ctx.identity.id} could not be "
                                             "written to the outbox")
        if self.quarantiner.mode != "off":
            open_now = {r.fingerprint for r in [*rec.new, *rec.updated, *rec.reopened] if r.status.value == "open"}
            targets = [f for f in findings if f.fingerprint in open_now]
            outcomes = await self.quarantiner.run(ctx, targets)
            for o in outcomes:
                result.quarantined.append(o.to_dict())
                if o.status in ("quarantined", "dry-run"):
                    f = next(x for x in findings if x.fingerprint == o.fingerprint)
                    kind = NoticeKind.QUARANTINED if o.status == "quarantined" else NoticeKind.DRY_RUN
                    await self.notify(ctx, [f], result, kind=kind,
                                      restore_hint=f"wifguard quarantine restore {o.backup_id}" if o.backup_id else None,
                                      mark=False)
        return rec

    async def notify(self, ctx: TrustContext, findings: Sequence[Finding], result: RunResult, *,
                     kind: NoticeKind = NoticeKind.NEW, restore_hint: str | None = None, mark: bool = True,
                     sequence: int = 0) -> int:
        """Send notices through the outbox (``wifguard.notify.dispatch``): each has a stable id
        (fingerprint + kind), is written as pending before it is sent and marked sent after; one
        already sent is not sent again. Within a run (an event batch, a sweep) grouped chat
        channels wait for the run's end: one message per identity per channel. When the outbox
        cannot be written nothing is sent (the finding stays due). Returns how many notices were
        held back for that reason."""
        privileges = privileges_of(ctx, frozenset(g.lower() for g in self.engine.config.privileged_roles))
        notices = [Notice(f, ctx.owners or (), self.tenant_id, kind, identity=ctx.identity,
                          restore_hint=restore_hint, owners_known=ctx.owners is not None, sequence=sequence,
                          privileges=privileges, source="event" if _EVENT_PATH.get() else "")
                   for f in findings]
        if not self.notify_config.channels:
            for n in notices:
                self._report(n, [], result)
            return 0
        run = _RUN_NOTICES.get()
        own = RunNotices() if run is None else run
        done = await self.dispatcher.queue(self.notifier(), notices, own, mark=mark, origin=_CURRENT_EVENT.get(),
                                           errors=result.errors)
        await self._settle(done, result)
        held = len(done.held)
        if run is None:  # not within a run: this call is the run
            held += len(await self._flush(own, result))
        return held

    async def _flush(self, run: RunNotices, result: RunResult) -> set[Any]:
        """Send what a run queued (one message per identity per channel); the event records whose
        notifications could not be written to the outbox."""
        if not len(run):
            return set()
        done = await self.dispatcher.flush(self.notifier(), run, result.errors)
        await self._settle(done, result)
        return {o for q in done.held for o in q.origins} | ({None} if any(not q.origins for q in done.held) else set())

    async def _settle(self, done: Dispatch, result: RunResult) -> None:
        for o in done.outcomes:
            if o.recorded:
                await self._bookkeep(o.notice.finding.fingerprint, event_id(o.notice), o.deliveries, o.mark, result)
            self._report(o.notice, o.deliveries, result)
        for q in done.held:
            self._report(q.notice, q.deliveries, result)

    def _report(self, n: Notice, deliveries: Sequence[Any], result: RunResult) -> None:
        entry: dict[str, Any] = {
            "id": event_id(n),
            "fingerprint": n.finding.fingerprint,
            "rule_id": n.finding.rule_id,
            "severity": n.finding.severity.label,
            "kind": n.kind.value,
            "identity": dict(n.finding.identity),
            "owners": [o.user_principal_name or o.mail or o.id for o in n.owners],
            "channels": [d.to_dict() for d in deliveries],
        }
        if self.compose_messages:
            # Replay and the demo show what would be sent even with no channel configured.
            entry["messages"] = {ct: compose(n, ct) for ct in COMPOSED_CHANNELS}
        result.notifications.append(entry)

    async def _bookkeep(self, fp: str, nid: str, sent: list[Any], mark: bool, result: RunResult) -> None:
        """Delivered (or nothing to deliver to): notified on the finding. Failed: kept pending for
        the next run (the outbox remembers which channels took it)."""
        try:
            ok = all(d.ok for d in sent)
            if mark:
                if ok:
                    await self.store.mark_notified(fp)
                else:
                    errs = "; ".join(f"{d.channel}: {d.error}" for d in sent if not d.ok)
                    await self.store.mark_notify_failed(fp, errs[:1000])
            for d in sent:
                await self.store.log_action("notify", fp, {**d.to_dict(), "id": nid}, self.actor)
        except Exception as exc:
            result.errors.append(f"notification bookkeeping for {fp} failed: {exc}")

    async def retry_pending(self, result: RunResult) -> None:
        """Deliveries that failed earlier are retried on the next run, never dropped."""
        if not self.notify_config.channels:
            return
        by_identity: dict[str, list[Any]] = {}
        for rec in await self.store.pending_notifications(limit=500):
            by_identity.setdefault(rec.identity_id.lower(), []).append(rec)
        for recs in by_identity.values():  # one identity's together: one message per channel
            ctx = TrustContext(identity=_identity_from_ref(recs[0].identity))
            await self.notify(ctx, [r.to_finding() for r in recs], result)

    def _begin_run(self) -> None:
        """Per-run notifier state (circuit breakers, warnings) starts afresh in a warm worker."""
        if self._notifier is not None:
            self._notifier.begin_run()

    async def _resume_quarantine(self, result: RunResult) -> None:
        if self.quarantiner.mode == "off":
            return
        try:
            for o in await self.quarantiner.resume():
                result.quarantined.append(o.to_dict())
        except Exception as exc:
            result.errors.append(f"resuming interrupted quarantines failed: {exc}")

    # -- sweeps ------------------------------------------------------------------------------------
    async def record_sweep(self, evaluations: Sequence[tuple[TrustContext, Evaluation]], result: RunResult, *,
                           all_identity_ids: Iterable[str] | None = None, notify: bool = True,
                           only_rules: frozenset[str] | None = None, external: Any = None,
                           resolve: bool = True) -> RunResult:
        """Record a sweep. ``resolve=False`` (the sweep could not read a subscription or a Graph
        page): findings are created and updated, none is resolved, and that is reported."""
        self._begin_run()
        await self._resume_quarantine(result)
        if not resolve:
            all_identity_ids = None
            result.errors.append("the sweep could not read everything: nothing was resolved in this run")
        sem = asyncio.Semaphore(RECORD_CONCURRENCY)

        async def one(ctx: TrustContext, ev: Evaluation) -> None:
            async with sem:
                try:
                    await self.respond(ctx, [ev], result, tenant_rules_ran=True, notify=notify,
                                       only_rules=only_rules, external=external, resolve=resolve)
                except Exception as exc:
                    result.errors.append(f"{ctx.identity.name}: recording failed: {exc}")

        # The sweep is one run: each identity's chat notices go out together at its end.
        run = RunNotices()
        token = _RUN_NOTICES.set(run)
        try:
            await asyncio.gather(*(one(c, e) for c, e in evaluations))
            if all_identity_ids is not None:
                # Identities that vanished since the last sweep: their findings resolve.
                present = {i.lower() for i in all_identity_ids}
                stale = {r.identity_id for r in await self.store.query(status=("open", "quarantined"))
                         if r.identity_id.lower() not in present}
                for ident_id in sorted(stale):
                    result.add_record(await self.store.record(ident_id, [], scope=self.scope(True)))
            await self.retry_pending(result)
            await self.send_reminders(result)
        finally:
            _RUN_NOTICES.reset(token)
        await self._flush(run, result)  # held ones stay due on their findings (the next run's retry)
        if all_identity_ids is not None:
            await self.send_digest(result, identities_checked=len({i.lower() for i in all_identity_ids}),
                                   contexts=[c for c, _ in evaluations], post=notify)
        return result

    async def send_digest(self, result: RunResult, *, identities_checked: int, contexts: Sequence[TrustContext] = (),
                          post: bool = True, scope: str = "whole tenant") -> None:
        """After a whole-tenant sweep: its summary goes to the action log (kind ``digest``; the
        report's header reads it) and, with ``notifications.digest`` on, to each chat channel."""
        from dataclasses import replace
        from datetime import UTC, datetime

        from wifguard.notify.digest import build_digest, compose_digest, digest_channels, profile

        cfg = self.notify_config.digest
        try:
            previous = await self.store.list_actions(kind="digest")
            digest = build_digest(await self.store.query(), tenant_id=self.tenant_id, scope=scope,
                                  time=datetime.now(UTC), identities_checked=identities_checked,
                                  previous=previous[-1].time if previous else None, report_url=cfg.report_url,
                                  top=REPORT_PROFILES)
            wanted = {t.id.lower() for t in digest.top}
            privileged = frozenset(g.lower() for g in self.engine.config.privileged_roles)
            digest = replace(digest, profiles={c.identity.id.lower(): profile(c, privileged) for c in contexts
                                               if c.identity.id.lower() in wanted})
            await self.store.log_action("digest", self.tenant_id or "tenant", digest.to_dict(), self.actor)
            if not (post and cfg.enabled):
                return
            digest = replace(digest, top=digest.top[:cfg.top])
            channels = digest_channels(self.notify_config.channels, cfg.channels)
            entry: dict[str, Any] = {"kind": "digest", "digest": digest.to_dict(), "channels": []}
            for name in channels:
                body = compose_digest(digest, str(self.notify_config.channels[name].type))
                if body is not None:
                    entry["channels"].append((await self.notifier().post(name, body)).to_dict())
            if self.compose_messages:
                entry["messages"] = {ct: compose_digest(digest, ct) for ct in COMPOSED_CHANNELS}
            if channels or self.compose_messages:
                result.notifications.append(entry)
        except Exception as exc:  # the sweep itself is recorded; a missing digest is reported
            result.errors.append(f"sweep digest failed: {exc}")

    async def send_reminders(self, result: RunResult) -> None:
        """Findings still open N days after their last notification are sent again (optional)."""
        days = self.notify_config.reminders.after_days
        if not days or not self.notify_config.channels:
            return
        for rec in await self.store.due_reminders(days):
            ctx = TrustContext(identity=_identity_from_ref(rec.identity))
            # One reminder per interval: its id follows the last notification, so a reminder that
            # was sent but not marked is not sent twice.
            seq = int(rec.notified_at.timestamp()) if rec.notified_at else 0
            await self.notify(ctx, [rec.to_finding()], result, kind=NoticeKind.REMINDER, sequence=seq)


class NotificationsNotQueued(NotificationError):
    """Findings were recorded but their notifications could not be put in the outbox (transient)."""


class BatchNotDurable(StoreError):
    """Records could be neither processed nor parked (e.g. the store is down): the trigger must
    fail so that the platform delivers the batch again. ``result`` is what did happen."""

    exit_code = 3  # replay / parked: nothing is lost, run the same input again

    def __init__(self, message: str, result: RunResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class _Settlement:
    """Claims to mark done or parked, written in batches as a batch goes (and at its end)."""

    done: list[EventKey] = field(default_factory=list)
    parked: list[EventKey] = field(default_factory=list)
    waiting: list[EventKey] = field(default_factory=list)  # processed; done once the batch's notices are sent
    unparked: list[str] = field(default_factory=list)
    failed: bool = False

    async def flush(self, ledger: EventLedger, result: RunResult, *, eager: bool) -> None:
        if self.failed or not (self.done or self.parked) or (not eager and len(self.done) + len(self.parked) < 50):
            return
        done, parked = self.done, self.parked
        self.done, self.parked = [], []
        try:
            await ledger.settle(done, parked)
        except Exception as exc:
            # Not fatal: the effects are durable, so a re-delivery re-processes them idempotently.
            self.failed = True
            result.errors.append(f"could not mark {len(done) + len(parked)} record(s) done: {_short(exc)}")


#: exceptions that retrying cannot fix (the record's own content is wrong)
_PERMANENT = (ModelError,)


def _is_transient(exc: BaseException) -> bool:
    """Outages (Graph/ARM/store, throttling after retries, partial reads) are transient; a record
    that cannot be understood is permanent. Unknown errors count as transient: they are retried a
    bounded number of times, then wait for a person like permanent ones."""
    return not isinstance(exc, _PERMANENT)


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _kind_of(identity_id: str) -> IdentityKind:
    """Managed identities are known by ARM resource id, applications by object id."""
    return IdentityKind.MANAGED_IDENTITY if identity_id.lower().startswith("/subscriptions/") \
        else IdentityKind.APPLICATION


def _identity_from_ref(ref: Mapping[str, str]) -> Any:
    from wifguard.domain.model import Identity

    return Identity(ref.get("id", ""), ref.get("name", ""), IdentityKind(ref.get("kind", "application")))


def _describe(changes: Sequence[Change]) -> str:
    kinds = sorted({c.kind.value for c in changes})
    return ", ".join(kinds)


async def record_sweep(store_conn: str, engine: Engine, report: Any, *, conn: Connection | None = None) -> RunResult:
    """`wifguard sweep --store`: record a finished sweep's evaluations (and notify, quarantine)."""
    from wifguard.settings import Settings

    settings = Settings.from_env()
    async with Store.from_connection_string(store_conn, prefix=settings.table_prefix) as store:
        await store.ensure()
        async with Responder(engine, conn or Connection(), store, env=settings.env,
                             responder_ids=settings.responder_ids) as responder:
            result = RunResult()
            await responder.record_sweep(report.evaluations, result,
                                         all_identity_ids=report.result.all_identity_ids
                                         if not report.result.errors else None,
                                         external=getattr(report, "external", None),
                                         resolve=not gaps(report.result.errors))
            return result
