"""The findings table: record evaluations (idempotent by fingerprint), read and update findings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode

from wifguard.domain.model import Finding, Severity
from wifguard.errors import StoreError as StoreError  # the old import path
from wifguard.store.base import (
    MAX_ATTEMPTS,
    ConcurrencyError,
    Entity,
    RecordNotFound,
    StoreBase,
    _backoff,
    _batches,
    _dt,
    _etag,
    _filter,
    _is_retryable,
    _opt_fit,
    _props,
    _str_or_none,
    _unchanged,
    evidence_json,
    fit_string,
    log,
)
from wifguard.store.entities import (
    ACTIVE_STATUSES,
    EvaluationScope,
    FindingRecord,
    FindingStatus,
    RecordResult,
    as_utc,
    utcnow,
)
from wifguard.store.keys import encode_key


class FindingsTable(StoreBase):
    """The ``Store`` methods of this table (``Store`` combines every table's)."""

    # -- findings: record ------------------------------------------------------------------

    @staticmethod
    def identity_partition(identity_id: str) -> str:
        return encode_key(identity_id.lower())

    async def record(
        self,
        identity_id: str,
        findings: Sequence[Finding],
        *,
        scope: EvaluationScope | None = None,
        exempted: Sequence[Finding] = (),
        now: datetime | None = None,
        skip_unchanged: bool = False,
    ) -> RecordResult:
        """Record one evaluation of one identity.

        Findings not seen before are ``new``; seen again ``updated``; resolved and back
        ``reopened``. Stored findings of the identity covered by ``scope`` (default: the whole
        identity) that were not produced again are ``resolved``. ``exempted`` findings are stored
        with status ``exempted``. Quarantined findings stay ``quarantined`` until resolved.
        Concurrent writers are serialised per row with insert-if-absent and ETags.

        ``skip_unchanged`` (the event path): an open or exempted row that this evaluation would
        leave exactly as it is, but for ``last_seen`` and ``occurrences``, is not rewritten while
        its ``last_seen`` is younger than ``TOUCH_AFTER``; it is still reported as ``updated``.
        The decision is made on the rows just read, in the same attempt as the writes, so it needs
        no memory of earlier writes and a crash after it leaves nothing undone: what is skipped
        is already stored.
        """
        scope = scope if scope is not None else EvaluationScope()
        now = as_utc(now or utcnow())
        pk = self.identity_partition(identity_id)
        produced: dict[str, tuple[Finding, FindingStatus]] = {}
        for f, status in [*((f, FindingStatus.OPEN) for f in findings),
                          *((f, FindingStatus.EXEMPTED) for f in exempted)]:
            fid = str(f.identity.get("id", ""))
            if fid.lower() != identity_id.lower():
                raise ValueError(
                    f"finding {f.fingerprint} is about identity {fid!r}, not {identity_id!r}"
                )
            produced[f.fingerprint] = (f, status)

        result = RecordResult()
        done: set[str] = set()
        for attempt in range(MAX_ATTEMPTS):
            existing: dict[str, Any] = {}
            async for e in self._findings.query_entities(
                "PartitionKey eq @pk", parameters={"pk": pk}
            ):
                existing[str(e["RowKey"])] = e
            plan: list[tuple[str, str, tuple[Any, ...], Entity]] = []  # (fp, outcome, op, entity)
            for fp, (f, status) in produced.items():
                if fp in done:
                    continue
                prev = existing.get(fp)
                entity, outcome = _merge_finding(pk, identity_id, f, status, prev, now)
                if skip_unchanged and prev is not None and _unchanged(entity, prev, now):
                    result.updated.append(_finding_record(prev, etag=_etag(prev)))
                    done.add(fp)
                    self._fp_partition[fp] = pk
                    continue
                if prev is None:
                    op: tuple[Any, ...] = ("create", entity)
                else:
                    op = ("update", entity, {"mode": UpdateMode.REPLACE, "etag": _etag(prev),
                                             "match_condition": MatchConditions.IfNotModified})
                plan.append((fp, outcome, op, entity))
            for fp, prev in existing.items():
                if fp in produced or fp in done:
                    continue
                if FindingStatus.parse(prev.get("status", "open")) not in ACTIVE_STATUSES:
                    continue
                if not scope.covers(str(prev.get("rule_id", "")), _str_or_none(prev.get("credential_name")),
                                    _str_or_none(prev.get("role_assignment_id"))):
                    continue
                if '"basis": "event"' in str(prev.get("evidence") or ""):
                    continue  # made from an event's copy (evidence: event): like change findings, kept
                entity = _props(prev)
                entity.update(status=FindingStatus.RESOLVED.value, resolved_at=now, status_changed_at=now,
                              status_by="record", notify_pending=False)
                op = ("update", entity, {"mode": UpdateMode.REPLACE, "etag": _etag(prev),
                                         "match_condition": MatchConditions.IfNotModified})
                plan.append((fp, "resolved", op, entity))

            conflict = False
            for chunk in _batches(plan, lambda item: item[3]):
                try:
                    responses = await self._findings.submit_transaction([item[2] for item in chunk])
                except TableTransactionError as exc:
                    if _is_retryable(exc):
                        conflict = True
                        break
                    raise
                for (fp, outcome, _op, entity), meta in zip(chunk, responses, strict=True):
                    rec = _finding_record(entity, etag=_str_or_none(meta.get("etag")))
                    getattr(result, outcome).append(rec)
                    done.add(fp)
                    self._fp_partition[fp] = pk
            if not conflict:
                return result
            log.debug("record %s: concurrent change, retry %d", identity_id, attempt + 1)
            await _backoff(attempt)
        raise ConcurrencyError(f"record {identity_id}: gave up after {MAX_ATTEMPTS} concurrent conflicts")

    # -- findings: reads -------------------------------------------------------------------

    async def _find_entity(self, fingerprint: str, identity_id: str | None = None) -> Any | None:
        if identity_id is not None:
            pk: str | None = self.identity_partition(identity_id)
        else:
            pk = self._fp_partition.get(fingerprint)
        if pk is not None:
            try:
                return await self._findings.get_entity(pk, fingerprint)
            except ResourceNotFoundError:
                if identity_id is not None:
                    return None
        async for e in self._findings.query_entities("RowKey eq @fp", parameters={"fp": fingerprint}):
            self._fp_partition[fingerprint] = str(e["PartitionKey"])
            return e
        return None

    async def get(self, fingerprint: str, *, identity_id: str | None = None) -> FindingRecord | None:
        """One finding by fingerprint (a point read when ``identity_id`` is given or known)."""
        e = await self._find_entity(fingerprint, identity_id)
        return None if e is None else _finding_record(e)

    async def _query_findings(
        self, query_filter: str | None, parameters: dict[str, Any]
    ) -> list[FindingRecord]:
        out: list[FindingRecord] = []
        if query_filter:
            pager = self._findings.query_entities(query_filter, parameters=parameters)
        else:
            pager = self._findings.list_entities()
        async for e in pager:
            out.append(_finding_record(e))
        return out

    async def query(
        self,
        *,
        severity: Severity | str | None = None,
        status: FindingStatus | str | Iterable[FindingStatus | str] | None = None,
        rule_id: str | None = None,
        identity: str | None = None,
        limit: int | None = None,
    ) -> list[FindingRecord]:
        """Findings across the tenant; ``severity`` is a minimum; ``identity`` an id or a name.

        Sorted by severity (highest first), then most recently seen.
        """
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if severity is not None:
            clauses.append("severity_rank ge @sev")
            params["sev"] = int(Severity.parse(severity))
        if status is not None:
            statuses = [status] if isinstance(status, str | FindingStatus) else list(status)
            names = []
            for i, s in enumerate(statuses):
                params[f"st{i}"] = FindingStatus.parse(s).value
                names.append(f"status eq @st{i}")
            if names:
                clauses.append(" or ".join(names))
        if rule_id is not None:
            clauses.append("rule_id eq @rule")
            params["rule"] = rule_id.strip().upper()
        if identity is not None:
            clauses.append("PartitionKey eq @ipk or identity_name_lc eq @iname")
            params["ipk"] = self.identity_partition(identity)
            params["iname"] = fit_string(identity.lower())
        rows = await self._query_findings(_filter(*clauses), params)
        rows.sort(key=lambda r: (-int(r.severity), -r.last_seen.timestamp(), r.fingerprint))
        return rows[:limit] if limit is not None else rows

    async def pending_notifications(self, *, limit: int | None = None) -> list[FindingRecord]:
        """Open (or quarantined) findings whose notification was not delivered yet, oldest first."""
        rows = await self._query_findings(
            _filter("notify_pending eq @p", "status eq @open or status eq @quar"),
            {"p": True, "open": FindingStatus.OPEN.value, "quar": FindingStatus.QUARANTINED.value},
        )
        rows.sort(key=lambda r: (r.first_seen, r.fingerprint))
        return rows[:limit] if limit is not None else rows

    async def due_reminders(
        self, older_than_days: float, *, now: datetime | None = None
    ) -> list[FindingRecord]:
        """Open findings whose last notification is older than ``older_than_days``."""
        cutoff = as_utc(now or utcnow()) - timedelta(days=older_than_days)
        rows = await self._query_findings(
            _filter("status eq @open", "notify_pending eq @p", "notified_at le @cutoff"),
            {"open": FindingStatus.OPEN.value, "p": False, "cutoff": cutoff},
        )
        rows.sort(key=lambda r: (r.notified_at or r.first_seen, r.fingerprint))
        return rows

    # -- findings: bookkeeping updates -----------------------------------------------------

    async def _modify(
        self,
        fingerprint: str,
        change: Any,
        *,
        identity_id: str | None = None,
    ) -> FindingRecord:
        """Read-modify-write one finding row with ETag retry. ``change(entity)`` edits in place."""
        for attempt in range(MAX_ATTEMPTS):
            e = await self._find_entity(fingerprint, identity_id)
            if e is None:
                raise RecordNotFound(f"no finding with fingerprint {fingerprint}")
            entity = _props(e)
            change(entity)
            try:
                meta = await self._findings.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=_etag(e),
                    match_condition=MatchConditions.IfNotModified,
                )
            except HttpResponseError as exc:
                if _is_retryable(exc):
                    await _backoff(attempt)
                    continue
                raise
            return _finding_record(entity, etag=_str_or_none(meta.get("etag")))
        raise ConcurrencyError(f"finding {fingerprint}: gave up after {MAX_ATTEMPTS} concurrent conflicts")

    async def mark_notified(self, *fingerprints: str, at: datetime | None = None) -> list[FindingRecord]:
        """Notification delivered: clears the pending flag and stamps ``notified_at``."""
        when = as_utc(at or utcnow())

        def change(e: Entity) -> None:
            e["notified_at"] = when
            e["notify_pending"] = False
            e["notify_attempts"] = int(e.get("notify_attempts") or 0) + 1
            e["last_notify_error"] = None

        return [await self._modify(fp, change) for fp in fingerprints]

    async def mark_notify_failed(
        self, fingerprint: str, error: str, *, at: datetime | None = None
    ) -> FindingRecord:
        """Notification failed: keeps it pending for the next run, counts the attempt."""
        when = as_utc(at or utcnow())

        def change(e: Entity) -> None:
            e["notify_attempts"] = int(e.get("notify_attempts") or 0) + 1
            e["last_notify_error"] = fit_string(error)
            e["last_notify_attempt_at"] = when

        return await self._modify(fingerprint, change)

    async def set_status(
        self,
        fingerprint: str,
        status: FindingStatus | str,
        *,
        actor: str | None = None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> FindingRecord:
        """Set a finding's status by hand (quarantine, exemption, resolve, reopen).

        A manual exemption (``actor`` other than ``config``) sticks: ``record`` keeps it exempted.
        """
        new = FindingStatus.parse(status)
        when = as_utc(at or utcnow())

        def change(e: Entity) -> None:
            e["status"] = new.value
            e["status_changed_at"] = when
            e["status_by"] = actor or "manual"
            e["status_note"] = _opt_fit(note)
            if new is FindingStatus.RESOLVED:
                e["resolved_at"] = when
                e["notify_pending"] = False
            else:
                e["resolved_at"] = None
            if new is FindingStatus.EXEMPTED:
                e["notify_pending"] = False

        return await self._modify(fingerprint, change)



def _is_clean_text(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _merge_finding(
    pk: str,
    identity_id: str,
    f: Finding,
    status: FindingStatus,
    prev: Mapping[str, Any] | None,
    now: datetime,
) -> tuple[Entity, Literal["new", "updated", "reopened", "exempted"]]:
    """The row for finding ``f`` given the stored row ``prev``, and what happened to it."""
    evidence, truncated = evidence_json(f.evidence)
    cred = f.credential or {}
    ra = f.role_assignment or {}
    identity_name = str(f.identity.get("name") or "")
    entity: Entity = {
        "PartitionKey": pk,
        "RowKey": f.fingerprint,
        "rule_id": fit_string(f.rule_id.upper()),
        "severity": f.severity.label,
        "severity_rank": int(f.severity),
        "title": fit_string(f.title),
        "message": fit_string(f.message),
        "identity_id": fit_string(identity_id),
        "identity_id_lc": fit_string(identity_id.lower()),
        "identity_name": fit_string(identity_name),
        "identity_name_lc": fit_string(identity_name.lower()),
        "identity_kind": str(f.identity.get("kind") or ""),
        "credential_name": _opt_fit(cred.get("name")) if f.credential is not None else None,
        "credential_issuer": _opt_fit(cred.get("issuer")),
        "credential_subject": _opt_fit(cred.get("subject")),
        "role_assignment_id": _opt_fit(ra.get("id")) if f.role_assignment is not None else None,
        "role_assignment_role": _opt_fit(ra.get("role")),
        "role_assignment_scope": _opt_fit(ra.get("scope")),
        "remediation": fit_string(f.remediation),
        "action": f.action,
        "category": fit_string(f.category),
        "evidence": evidence,
        "evidence_truncated": truncated,
        "last_seen": now,
    }
    if prev is None:
        entity.update(
            status=status.value,
            first_seen=now,
            occurrences=1,
            notify_pending=status is FindingStatus.OPEN,
            notify_attempts=0,
            status_changed_at=now,
            status_by="config" if status is FindingStatus.EXEMPTED else "record",
        )
        return entity, "new" if status is FindingStatus.OPEN else "exempted"

    # carry the bookkeeping over
    for key in ("first_seen", "notified_at", "notify_pending", "notify_attempts", "last_notify_error",
                "last_notify_attempt_at", "status_changed_at", "status_by", "status_note", "resolved_at"):
        if prev.get(key) is not None:
            entity[key] = prev[key]
    entity["occurrences"] = int(prev.get("occurrences") or 0) + 1
    prev_status = FindingStatus.parse(str(prev.get("status") or "open"))
    # Exemptions from the config or from a restore (with an expiry) end by themselves; one set by hand sticks.
    manual_exemption = prev_status is FindingStatus.EXEMPTED and prev.get("status_by") not in ("config", "exemption")

    if status is FindingStatus.EXEMPTED:
        entity["status"] = FindingStatus.EXEMPTED.value
        entity["notify_pending"] = False
        entity["resolved_at"] = None
        if prev_status is not FindingStatus.EXEMPTED:
            entity.update(status_changed_at=now, status_by="config", status_note=None)
        return entity, "exempted"

    config_exemption = prev_status is FindingStatus.EXEMPTED and not manual_exemption
    if prev_status is FindingStatus.RESOLVED or config_exemption:
        entity.update(
            status=FindingStatus.OPEN.value,
            resolved_at=None,
            notified_at=None,
            notify_pending=True,
            notify_attempts=0,
            last_notify_error=None,
            last_notify_attempt_at=None,
            status_changed_at=now,
            status_by="record",
            status_note=None,
        )
        return entity, "reopened"
    entity["status"] = prev_status.value  # open stays open, quarantined stays quarantined,
    return entity, "updated"  # and a manual exemption sticks


def _finding_record(e: Mapping[str, Any], *, etag: str | None = None) -> FindingRecord:
    try:
        evidence = json.loads(str(e.get("evidence") or "{}"))
    except ValueError:
        evidence = {"_unparsable": str(e.get("evidence"))}
    if not isinstance(evidence, dict):
        evidence = {"value": evidence}
    severity = Severity(int(e.get("severity_rank", Severity.parse(str(e.get("severity", "info"))))))
    first_seen = _dt(e.get("first_seen")) or datetime.fromtimestamp(0, timezone.utc)
    return FindingRecord(
        fingerprint=str(e["RowKey"]),
        status=FindingStatus.parse(str(e.get("status") or "open")),
        rule_id=str(e.get("rule_id") or ""),
        severity=severity,
        title=str(e.get("title") or ""),
        message=str(e.get("message") or ""),
        identity_id=str(e.get("identity_id") or ""),
        identity_name=str(e.get("identity_name") or ""),
        identity_kind=str(e.get("identity_kind") or ""),
        remediation=str(e.get("remediation") or ""),
        action=str(e.get("action") or "notify"),
        category=str(e.get("category") or ""),
        first_seen=first_seen,
        last_seen=_dt(e.get("last_seen")) or first_seen,
        occurrences=int(e.get("occurrences") or 0),
        credential_name=_str_or_none(e.get("credential_name")),
        credential_issuer=_str_or_none(e.get("credential_issuer")),
        credential_subject=_str_or_none(e.get("credential_subject")),
        role_assignment_id=_str_or_none(e.get("role_assignment_id")),
        role_assignment_role=_str_or_none(e.get("role_assignment_role")),
        role_assignment_scope=_str_or_none(e.get("role_assignment_scope")),
        evidence=evidence,
        evidence_truncated=bool(e.get("evidence_truncated") or False),
        resolved_at=_dt(e.get("resolved_at")),
        notified_at=_dt(e.get("notified_at")),
        notify_pending=bool(e.get("notify_pending") or False),
        notify_attempts=int(e.get("notify_attempts") or 0),
        last_notify_error=_str_or_none(e.get("last_notify_error")),
        status_changed_at=_dt(e.get("status_changed_at")),
        status_by=_str_or_none(e.get("status_by")),
        status_note=_str_or_none(e.get("status_note")),
        partition_key=str(e.get("PartitionKey") or ""),
        etag=etag if etag is not None else _etag(e),
    )
