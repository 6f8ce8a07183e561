"""The findings store on Azure Table Storage (async clients).

Tables (``{prefix}`` defaults to ``wifguard``):

``{prefix}findings``
    PartitionKey = ``encode_key(identity id, lower-cased)``, RowKey = fingerprint. One identity's
    findings are one partition (a point query), and ``record`` writes them in transactions of at
    most 100 entities. Tenant-wide listing filters on ``status``, ``severity_rank``, ``rule_id``,
    ``identity_name_lc`` and ``notify_pending`` (server-side filter over the table).
``{prefix}events``
    event claims (``wifguard.store.ledger``): PartitionKey = encoded source, RowKey = a digest of
    the event id and the record's content; claimed (leased) until done.
``{prefix}rejected`` (+ blob container ``{prefix}-rejected``)
    parked payloads: PartitionKey = encoded source, RowKey = time + uuid.
``{prefix}backups``
    quarantine backups: PartitionKey = ``backup``, RowKey = encoded backup id.
``{prefix}quarantine``
    the quarantine ledger (hourly removal counter, per-credential leases, states and
    restore exemptions): see ``wifguard.store.quarantine_ledger``.
``{prefix}outbox``
    notification outbox (``wifguard.store.outbox``): PartitionKey = identity partition,
    RowKey = notification id; pending before a send, sent after.
``{prefix}trail``
    when each credential was last added and removed (WIF703; ``wifguard/store/trail.py``).
``{prefix}actions``
    append-only action log: PartitionKey = ``YYYY-MM``, RowKey = ISO time (µs) + uuid, so rows
    sort by time; rows are only ever inserted.

Every key is built with ``encode_key``; the original ids are kept in properties.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from wifguard.errors import ConfigError, Conflict, NotFound
from wifguard.errors import StoreError as StoreError  # the old import path
from wifguard.model import Finding, Severity
from wifguard.store.keys import encode_key
from wifguard.store.models import (
    ACTIVE_STATUSES,
    ActionRecord,
    BackupState,
    EvaluationScope,
    FindingRecord,
    FindingStatus,
    QuarantineBackup,
    RecordResult,
    RejectedPayload,
    as_utc,
    utcnow,
)

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.storage.blob.aio import BlobServiceClient

    from wifguard.store.quarantine_ledger import QuarantineLedger

log = logging.getLogger(__name__)

DEV_STORAGE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)

#: a string property may hold 64 KiB, i.e. 32,768 UTF-16 code units; keep a margin
MAX_STRING_UNITS = 32_000
#: a binary property may hold 64 KiB
MAX_BINARY_BYTES = 64_000
#: entities per transaction (service limit)
MAX_BATCH = 100
#: a transaction's payload is limited to 4 MiB; stay well below
MAX_BATCH_BYTES = 3_000_000
#: attempts of an optimistic-concurrency loop before giving up
MAX_ATTEMPTS = 10

BACKUP_PARTITION = "backup"
_TRUNCATED = "…[truncated]"
_RETRY_STATUS = {404, 409, 412}
_RETRY_CODES = {"EntityAlreadyExists", "UpdateConditionNotSatisfied", "ResourceNotFound", "ConditionNotMet"}
_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,54}$")

Entity = dict[str, Any]


class ConcurrencyError(Conflict, StoreError):
    """Another writer changed the row (ETag mismatch), or retries were exhausted."""


class RecordNotFound(NotFound, KeyError):
    """No row with that key (a ``KeyError`` too, as before)."""

    __str__ = Exception.__str__  # the message, not KeyError's quoted repr


class ConnectionStringError(ConfigError):
    """The storage connection string (``--store`` / ``WIFGUARD_STORAGE``) cannot be parsed."""


class BackupVerificationError(StoreError):
    """A backup read back differs from what was written."""


# -- small helpers ----------------------------------------------------------------------------


def _utf16_units(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def fit_string(value: str, max_units: int = MAX_STRING_UNITS) -> str:
    """Cut a string so that it fits in one string property (marking the cut)."""
    if _utf16_units(value) <= max_units:
        return value
    budget = max_units - len(_TRUNCATED)
    raw = value.encode("utf-16-le", "surrogatepass")[: budget * 2]
    return raw.decode("utf-16-le", "ignore") + _TRUNCATED


def _opt_fit(value: Any) -> str | None:
    return None if value is None else fit_string(str(value))


def evidence_json(evidence: Mapping[str, Any], max_units: int = MAX_STRING_UNITS) -> tuple[str, bool]:
    """Evidence as JSON that fits one property; always valid JSON. Returns (text, truncated)."""
    text = json.dumps(dict(evidence), ensure_ascii=False, sort_keys=True, default=str)
    if _utf16_units(text) <= max_units:
        return text, False
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    keep = max_units - 400
    while keep > 0:
        wrapped = json.dumps(
            {"_truncated": True, "original_chars": len(text), "sha256": digest, "preview": text[:keep]},
            ensure_ascii=False,
        )
        if _utf16_units(wrapped) <= max_units:
            return wrapped, True
        keep = keep * 3 // 4
    return json.dumps({"_truncated": True, "original_chars": len(text), "sha256": digest}), True


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str) and value:
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        v = as_utc(value)  # a plain datetime, not the SDK's TablesEntityDatetime subclass
        return datetime(
            v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=timezone.utc
        )
    return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _entity_bytes(entity: Mapping[str, Any]) -> int:
    """An estimate of an entity's size on the wire (the SDK sends ASCII-escaped JSON)."""
    total = 64
    for k, v in entity.items():
        total += len(k) * 2 + 48
        if isinstance(v, str):
            total += len(json.dumps(v))
        else:
            total += 40
    return total


def _batches(plan: Sequence[Any], entity_of: Any) -> Iterable[Sequence[Any]]:
    """Transactions of at most ``MAX_BATCH`` operations and about ``MAX_BATCH_BYTES`` of payload."""
    batch: list[Any] = []
    size = 0
    for item in plan:
        n = _entity_bytes(entity_of(item))
        if batch and (len(batch) >= MAX_BATCH or size + n > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch


def _props(entity: Mapping[str, Any]) -> Entity:
    """A plain copy of an entity's properties (metadata dropped, keys kept)."""
    return dict(entity.items())


def _etag(entity: Any) -> str | None:
    meta = getattr(entity, "metadata", None)
    if isinstance(meta, Mapping):
        value = meta.get("etag")
        return str(value) if value is not None else None
    return None


def _is_retryable(error: HttpResponseError) -> bool:
    code = str(getattr(error, "error_code", "") or "")
    return error.status_code in _RETRY_STATUS or code in _RETRY_CODES


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(min(0.5, 0.01 * (2**attempt)) * (0.5 + random.random()))


def _filter(*clauses: str) -> str:
    """Join OData clauses with ``and``; parameters (``@name``) must stand alone between spaces."""
    return " and ".join(f"( {c} )" for c in clauses if c)


def _action_partition(ts: datetime) -> str:
    return f"{ts:%Y-%m}"


def _action_row_prefix(ts: datetime) -> str:
    return f"{ts:%Y-%m-%dT%H:%M:%S.%f}Z"


# -- the store ---------------------------------------------------------------------------------


def table_service(conn: str) -> TableServiceClient:
    """A Table service client for a (normalized) connection string; a malformed one is a
    :class:`ConnectionStringError` (the SDK says ``ValueError``, like for any other bad value)."""
    try:
        return TableServiceClient.from_connection_string(conn)
    except ValueError as exc:
        raise ConnectionStringError(str(exc), where="--store / WIFGUARD_STORAGE") from exc


class Store:
    """Async access to the wifguard tables. Create once, reuse, and close (``async with``)."""

    def __init__(
        self,
        tables: TableServiceClient,
        blobs: BlobServiceClient | None = None,
        *,
        prefix: str = "wifguard",
        credential: AsyncTokenCredential | None = None,
    ) -> None:
        if not _PREFIX_RE.match(prefix):
            raise ValueError(
                f"table prefix {prefix!r} must start with a letter and hold 1-55 letters or digits"
            )
        self.prefix = prefix
        self._tables = tables
        self._blobs = blobs
        self._credential = credential  # owned: closed by close()
        self.findings_table = f"{prefix}findings"
        self.events_table = f"{prefix}events"
        self.rejected_table = f"{prefix}rejected"
        self.backups_table = f"{prefix}backups"
        self.actions_table = f"{prefix}actions"
        self.quarantine_table = f"{prefix}quarantine"
        self.outbox_table = f"{prefix}outbox"
        self.rejected_container = f"{prefix.lower()}-rejected"
        self._findings: TableClient = tables.get_table_client(self.findings_table)
        self._events: TableClient = tables.get_table_client(self.events_table)
        self._rejected: TableClient = tables.get_table_client(self.rejected_table)
        self._backups: TableClient = tables.get_table_client(self.backups_table)
        self._actions: TableClient = tables.get_table_client(self.actions_table)
        self._ledger: QuarantineLedger | None = None
        self._outbox: TableClient = tables.get_table_client(self.outbox_table)
        self._fp_partition: dict[str, str] = {}
        self._last_action_ts: datetime | None = None
        self._action_lock = asyncio.Lock()
        self._closed = False
        from wifguard.store.trail import CredentialTrail

        self.trail = CredentialTrail(tables, prefix)

    # -- construction and lifetime ---------------------------------------------------------

    @staticmethod
    def normalize_connection_string(conn: str) -> str:
        compact = conn.strip().replace(" ", "").rstrip(";").lower()
        if compact == "usedevelopmentstorage=true":
            return DEV_STORAGE_CONNECTION_STRING
        return conn.strip()

    @classmethod
    def from_connection_string(cls, conn: str, *, prefix: str = "wifguard") -> Store:
        """Connect with a storage connection string (Azurite's, or ``UseDevelopmentStorage=true``)."""
        from azure.storage.blob.aio import BlobServiceClient

        conn = cls.normalize_connection_string(conn)
        tables = table_service(conn)
        parts = {k.strip().lower() for k, _, _ in (p.partition("=") for p in conn.split(";")) if k}
        blobs: BlobServiceClient | None = None
        if "blobendpoint" in parts or "tableendpoint" not in parts:
            try:
                blobs = BlobServiceClient.from_connection_string(conn)
            except ValueError as exc:
                raise ConnectionStringError(str(exc), where="--store / WIFGUARD_STORAGE") from exc
        return cls(tables, blobs, prefix=prefix)

    @classmethod
    def from_account(
        cls,
        account: str,
        credential: AsyncTokenCredential | None = None,
        *,
        prefix: str = "wifguard",
        blob_url: str | None = None,
    ) -> Store:
        """Connect to an Azure storage account with Entra ID (no keys).

        ``account`` is an account name or the table endpoint URL
        (``https://NAME.table.core.windows.net``). Without ``credential`` a
        ``DefaultAzureCredential`` is created (and closed with the store).
        """
        from azure.storage.blob.aio import BlobServiceClient

        owned: AsyncTokenCredential | None = None
        if credential is None:
            from azure.identity.aio import DefaultAzureCredential

            credential = owned = DefaultAzureCredential()
        if "://" in account:
            table_url = account.rstrip("/")
            if blob_url is None and ".table." in table_url:
                blob_url = table_url.replace(".table.", ".blob.", 1)
        else:
            table_url = f"https://{account}.table.core.windows.net"
            blob_url = blob_url or f"https://{account}.blob.core.windows.net"
        tables = TableServiceClient(endpoint=table_url, credential=credential)
        blobs = BlobServiceClient(account_url=blob_url, credential=credential) if blob_url else None
        return cls(tables, blobs, prefix=prefix, credential=owned)

    async def ensure(self) -> None:
        """Create the tables and the blob container when missing (idempotent)."""
        for name in (
            self.findings_table,
            self.events_table,
            self.rejected_table,
            self.backups_table,
            self.actions_table,
            self.quarantine_table,
            self.outbox_table,
        ):
            await self._tables.create_table_if_not_exists(name)
        await self.trail.ensure()
        if self._blobs is not None:
            try:
                await self._blobs.create_container(self.rejected_container)
            except ResourceExistsError:
                pass

    create_tables = ensure

    @property
    def ledger(self) -> QuarantineLedger:
        """The quarantine ledger (limit, leases, states, exemptions), created on first use."""
        if self._ledger is None:
            from wifguard.store.quarantine_ledger import QuarantineLedger

            self._ledger = QuarantineLedger(self._tables.get_table_client(self.quarantine_table))
        return self._ledger

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for client in (self._findings, self._events, self._rejected, self._backups, self._actions, self._outbox):
            await client.close()
        if self._ledger is not None:
            await self._ledger.close()
        await self.trail.close()
        await self._tables.close()
        if self._blobs is not None:
            await self._blobs.close()
        if self._credential is not None:
            await self._credential.close()

    aclose = close  # the old name: callers use close() (Azure SDK naming)

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

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
    ) -> RecordResult:
        """Record one evaluation of one identity.

        Findings not seen before are ``new``; seen again ``updated``; resolved and back
        ``reopened``. Stored findings of the identity covered by ``scope`` (default: the whole
        identity) that were not produced again are ``resolved``. ``exempted`` findings are stored
        with status ``exempted``. Quarantined findings stay ``quarantined`` until resolved.
        Concurrent writers are serialised per row with insert-if-absent and ETags.
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

    # -- processed events ------------------------------------------------------------------

    async def claim_event(
        self,
        source: str,
        event_id: str,
        *,
        ttl: timedelta = timedelta(days=3),
        now: datetime | None = None,
    ) -> bool:
        """True the first time (source, event_id) is seen; False for a re-delivery.

        An expired claim that was not purged yet counts as absent.
        """
        now = as_utc(now or utcnow())
        entity: Entity = {
            "PartitionKey": encode_key(source),
            "RowKey": encode_key(event_id),
            "source": fit_string(source),
            "event_id": fit_string(event_id),
            "claimed_at": now,
            "expires_at": now + ttl,
        }
        try:
            await self._events.create_entity(entity)
            return True
        except ResourceExistsError:
            pass
        try:
            prev = await self._events.get_entity(entity["PartitionKey"], entity["RowKey"])
        except ResourceNotFoundError:  # purged in between: try once more
            try:
                await self._events.create_entity(entity)
                return True
            except ResourceExistsError:
                return False
        expires = _dt(prev.get("expires_at"))
        if expires is None or expires > now:
            return False
        try:
            await self._events.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=_etag(prev),
                match_condition=MatchConditions.IfNotModified,
            )
            return True
        except HttpResponseError as exc:
            if _is_retryable(exc):
                return False
            raise

    async def claim_events(
        self,
        source: str,
        event_ids: Sequence[str],
        *,
        ttl: timedelta = timedelta(days=3),
        now: datetime | None = None,
    ) -> dict[str, bool]:
        """``claim_event`` for a batch: one insert transaction per 100 ids (all new is the common
        case); a chunk with any id seen before falls back to claiming its ids one by one."""
        now = as_utc(now or utcnow())
        ids = list(dict.fromkeys(event_ids))
        out: dict[str, bool] = {}
        pk = encode_key(source)
        for chunk in _chunks(ids, 100):
            ops: list[Any] = [("create", {
                "PartitionKey": pk, "RowKey": encode_key(i), "source": fit_string(source),
                "event_id": fit_string(i), "claimed_at": now, "expires_at": now + ttl,
            }) for i in chunk]
            try:
                await self._events.submit_transaction(ops)
            except (TableTransactionError, HttpResponseError):
                for i in chunk:
                    out[i] = await self.claim_event(source, i, ttl=ttl, now=now)
                continue
            out.update((i, True) for i in chunk)
        return out

    async def purge_expired_events(self, now: datetime | None = None) -> int:
        """Delete processed-event rows whose ``expires_at`` is past. Returns how many."""
        now = as_utc(now or utcnow())
        by_pk: dict[str, list[str]] = defaultdict(list)
        async for e in self._events.query_entities(
            "expires_at le @now", parameters={"now": now}, select=["PartitionKey", "RowKey"]
        ):
            by_pk[str(e["PartitionKey"])].append(str(e["RowKey"]))
        return await self._delete_rows(self._events, by_pk)

    @staticmethod
    async def _delete_rows(table: TableClient, by_pk: Mapping[str, Sequence[str]]) -> int:
        count = 0
        for pk, rks in by_pk.items():
            for chunk in _chunks(list(rks), MAX_BATCH):
                ops = [("delete", {"PartitionKey": pk, "RowKey": rk}) for rk in chunk]
                try:
                    await table.submit_transaction(ops)
                    count += len(chunk)
                except TableTransactionError:
                    for rk in chunk:  # one of them vanished meanwhile: delete one by one
                        try:
                            await table.delete_entity(pk, rk)
                            count += 1
                        except ResourceNotFoundError:
                            pass
        return count

    # -- rejected payloads -----------------------------------------------------------------

    async def park(
        self,
        source: str,
        raw: bytes | str,
        reason: str,
        event_id: str | None = None,
        *,
        key: str | None = None,
        transient: bool = False,
        now: datetime | None = None,
    ) -> RejectedPayload:
        """Keep a payload that could not be processed, with its reason and raw body.

        Bodies too large for one property go to the blob container ``{prefix}-rejected``.
        With ``key`` (the record's dedup key: id + content digest) parking is idempotent: the
        same record parked again updates its row (attempt count, reason, transient) instead of
        adding one, so a re-delivered batch never multiplies parked rows.
        """
        now = as_utc(now or utcnow())
        kind = "str" if isinstance(raw, str) else "bytes"
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
        row_id = key or f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex}"
        pk = encode_key(source)
        if key is not None:
            try:
                prev = await self._rejected.get_entity(pk, key)
            except ResourceNotFoundError:
                prev = None
            if prev is not None:
                patch: Entity = {
                    "PartitionKey": pk, "RowKey": key, "reason": fit_string(reason),
                    "attempts": int(prev.get("attempts") or 1) + 1, "transient": transient,
                    "state": "parked", "last_attempt_at": now,
                }
                await self._rejected.update_entity(patch, mode=UpdateMode.MERGE)
                return _rejected_record({**_props(prev), **patch})
        entity: Entity = {
            "PartitionKey": pk,
            "RowKey": row_id,
            "source": fit_string(source),
            "reason": fit_string(reason),
            "event_id": _opt_fit(event_id),
            "received_at": now,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "kind": kind,
            "attempts": 1,
            "transient": transient,
            "state": "parked",
            "last_attempt_at": now,
        }
        blob_name: str | None = None
        clean_text = isinstance(raw, str) and _is_clean_text(raw)
        if isinstance(raw, str) and clean_text and _utf16_units(raw) <= MAX_STRING_UNITS:
            entity["raw_text"] = raw
        elif len(data) <= MAX_BINARY_BYTES:
            entity["raw_bytes"] = data
        else:
            if self._blobs is None:
                raise StoreError("payload too large for a table property and no blob endpoint is configured")
            blob_name = f"{now:%Y/%m/%d}/{row_id}.bin"
            from azure.storage.blob import ContentSettings

            container = self._blobs.get_container_client(self.rejected_container)
            await container.upload_blob(
                blob_name,
                data,
                overwrite=key is not None,  # a keyed body is the same record's bytes
                metadata={"source": encode_key(source)[:256], "kind": kind},
                content_settings=ContentSettings(
                    content_type="text/plain; charset=utf-8" if kind == "str" else "application/octet-stream"
                ),
            )
            entity["blob_container"] = self.rejected_container
            entity["blob_name"] = blob_name
        try:
            await self._rejected.create_entity(entity)
        except ResourceExistsError:
            if key is None:
                raise
            return await self.park(source, raw, reason, event_id, key=key, transient=transient, now=now)
        return _rejected_record(entity)

    async def get_parked(self, parked_id: str) -> RejectedPayload | None:
        """One parked payload by its id (any source); the body is loaded when it lives in a blob."""
        async for e in self._rejected.query_entities("RowKey eq @rk", parameters={"rk": parked_id}):
            rec = _rejected_record(e)
            if rec.raw is None and rec.blob_name is not None:
                from dataclasses import replace

                rec = replace(rec, raw=await self.read_rejected_body(rec))
            return rec
        return None

    async def update_parked(self, payload: RejectedPayload, *, state: str | None = None,
                            reason: str | None = None, transient: bool | None = None,
                            attempted: bool = False, note: str | None = None,
                            now: datetime | None = None) -> RejectedPayload:
        """Re-drive bookkeeping on a parked row: its state, reason, attempt count, note."""
        now = as_utc(now or utcnow())
        patch: Entity = {"PartitionKey": encode_key(payload.source), "RowKey": payload.id}
        if state is not None:
            patch["state"] = state
        if reason is not None:
            patch["reason"] = fit_string(reason)
        if transient is not None:
            patch["transient"] = transient
        if note is not None:
            patch["note"] = fit_string(note)
        if attempted:
            patch["attempts"] = payload.attempts + 1
            patch["last_attempt_at"] = now
        await self._rejected.update_entity(patch, mode=UpdateMode.MERGE)
        e = await self._rejected.get_entity(patch["PartitionKey"], payload.id)
        return _rejected_record(e)

    async def list_rejected(
        self,
        *,
        source: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[RejectedPayload]:
        """Parked payloads, newest first. Blob bodies are not loaded (see ``read_rejected_body``)."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if source is not None:
            clauses.append("PartitionKey eq @pk")
            params["pk"] = encode_key(source)
        if since is not None:
            clauses.append("received_at ge @since")
            params["since"] = as_utc(since)
        query_filter = _filter(*clauses)
        pager = (self._rejected.query_entities(query_filter, parameters=params) if query_filter
                 else self._rejected.list_entities())
        out = [_rejected_record(e) async for e in pager]
        out.sort(key=lambda r: (r.received_at, r.id), reverse=True)
        return out[:limit] if limit is not None else out

    async def read_rejected_body(self, payload: RejectedPayload) -> bytes | str:
        """The raw body of a parked payload, from the row or from its blob."""
        if payload.raw is not None:
            return payload.raw
        if self._blobs is None or payload.blob_name is None:
            raise StoreError(f"rejected payload {payload.id} has no body")
        container = payload.blob_container or self.rejected_container
        blob = self._blobs.get_blob_client(container, payload.blob_name)
        downloader = await blob.download_blob()
        data = await downloader.readall()
        return data.decode("utf-8", "surrogatepass") if payload.kind == "str" else data

    # -- quarantine backups ----------------------------------------------------------------

    async def save_backup(self, backup: QuarantineBackup) -> QuarantineBackup:
        """Store a backup (never overwriting one) and read it back to verify it."""
        entity = _backup_entity(backup)
        try:
            await self._backups.create_entity(entity)
        except ResourceExistsError:
            raise StoreError(f"a backup with id {backup.id} already exists") from None
        stored = await self.get_backup(backup.id)
        if stored is None or stored.credential_json != backup.credential_json:
            raise BackupVerificationError(f"backup {backup.id} did not read back identically")
        return stored

    async def get_backup(self, backup_id: str) -> QuarantineBackup | None:
        try:
            e = await self._backups.get_entity(BACKUP_PARTITION, encode_key(backup_id))
        except ResourceNotFoundError:
            return None
        return _backup_record(e)

    async def list_backups(
        self,
        *,
        state: BackupState | str | None = None,
        identity_id: str | None = None,
    ) -> list[QuarantineBackup]:
        """Backups, oldest first."""
        clauses = ["PartitionKey eq @pk"]
        params: dict[str, Any] = {"pk": BACKUP_PARTITION}
        if state is not None:
            clauses.append("state eq @state")
            params["state"] = BackupState(state).value
        if identity_id is not None:
            clauses.append("identity_id_lc eq @iid")
            params["iid"] = fit_string(identity_id.lower())
        pager = self._backups.query_entities(_filter(*clauses), parameters=params)
        out = [_backup_record(e) async for e in pager]
        out.sort(key=lambda b: (b.created_at, b.id))
        return out

    async def update_backup_state(
        self,
        backup_id: str,
        state: BackupState | str,
        etag: str | None,
        *,
        detail: str | None = None,
        now: datetime | None = None,
    ) -> QuarantineBackup:
        """Move a backup to ``state`` if it is unchanged since ``etag`` was read.

        Raises ``ConcurrencyError`` when someone else changed it, ``KeyError`` when absent.
        """
        new_state = BackupState(state)
        patch: Entity = {
            "PartitionKey": BACKUP_PARTITION,
            "RowKey": encode_key(backup_id),
            "state": new_state.value,
            "updated_at": as_utc(now or utcnow()),
        }
        if detail is not None:
            patch["detail"] = fit_string(detail)
        kwargs: dict[str, Any] = (
            {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag
            else {"match_condition": MatchConditions.Unconditionally}
        )
        try:
            await self._backups.update_entity(patch, mode=UpdateMode.MERGE, **kwargs)
        except ResourceNotFoundError:
            raise RecordNotFound(f"no backup {backup_id}") from None
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise ConcurrencyError(f"backup {backup_id} was changed by someone else") from exc
            raise
        stored = await self.get_backup(backup_id)
        if stored is None:
            raise RecordNotFound(f"no backup {backup_id}")
        return stored

    # -- action log ------------------------------------------------------------------------

    async def log_action(
        self,
        kind: str,
        target: str,
        detail: Mapping[str, Any] | None = None,
        actor: str | None = None,
        *,
        now: datetime | None = None,
    ) -> ActionRecord:
        """Append one entry (never overwrites). Entries of one store sort in call order."""
        async with self._action_lock:
            ts = as_utc(now or utcnow())
            if self._last_action_ts is not None and ts <= self._last_action_ts:
                ts = self._last_action_ts + timedelta(microseconds=1)
            self._last_action_ts = ts
        detail_text, truncated = evidence_json(detail or {})
        for _ in range(3):
            entity: Entity = {
                "PartitionKey": _action_partition(ts),
                "RowKey": f"{_action_row_prefix(ts)}-{uuid.uuid4().hex[:16]}",
                "time": ts,
                "kind": fit_string(kind),
                "target": fit_string(target),
                "detail": detail_text,
                "detail_truncated": truncated,
                "actor": _opt_fit(actor),
            }
            try:
                await self._actions.create_entity(entity)
            except ResourceExistsError:  # astronomically unlikely uuid clash: new row key
                continue
            return _action_record(entity)
        raise StoreError("could not append to the action log")

    async def list_actions(
        self,
        since: datetime | None = None,
        kind: str | None = None,
        *,
        limit: int | None = None,
    ) -> list[ActionRecord]:
        """Entries in time order (oldest first), optionally from ``since`` and of one ``kind``."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if since is not None:
            s = as_utc(since)
            clauses.append("PartitionKey ge @spk")
            clauses.append("RowKey ge @srk")
            params["spk"] = _action_partition(s)
            params["srk"] = _action_row_prefix(s)
        if kind is not None:
            clauses.append("kind eq @kind")
            params["kind"] = kind
        query_filter = _filter(*clauses)
        pager = (self._actions.query_entities(query_filter, parameters=params) if query_filter
                 else self._actions.list_entities())
        out = [_action_record(e) async for e in pager]
        out.sort(key=lambda a: a.id)
        return out[:limit] if limit is not None else out


# -- entity <-> value ------------------------------------------------------------------------


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


def _rejected_record(e: Mapping[str, Any]) -> RejectedPayload:
    kind = str(e.get("kind") or "bytes")
    raw: bytes | str | None = None
    if e.get("raw_text") is not None:
        raw = str(e["raw_text"])
    elif e.get("raw_bytes") is not None:
        data = bytes(e["raw_bytes"])
        raw = data.decode("utf-8", "surrogatepass") if kind == "str" else data
    return RejectedPayload(
        id=str(e["RowKey"]),
        source=str(e.get("source") or ""),
        reason=str(e.get("reason") or ""),
        received_at=_dt(e.get("received_at")) or datetime.fromtimestamp(0, timezone.utc),
        size=int(e.get("size") or 0),
        sha256=str(e.get("sha256") or ""),
        kind=kind,
        event_id=_str_or_none(e.get("event_id")),
        raw=raw,
        blob_container=_str_or_none(e.get("blob_container")),
        blob_name=_str_or_none(e.get("blob_name")),
        attempts=int(e.get("attempts") or 1),
        transient=bool(e.get("transient") or False),
        state=str(e.get("state") or "parked"),
        last_attempt_at=_dt(e.get("last_attempt_at")),
        note=_str_or_none(e.get("note")),
    )


_JSON_CHUNK = 15_000  # code points per property: at most 30,000 UTF-16 units


def _backup_entity(b: QuarantineBackup) -> Entity:
    text = b.credential_json
    chunks = [text[i : i + _JSON_CHUNK] for i in range(0, len(text), _JSON_CHUNK)] or [""]
    if len(chunks) > 30:
        raise StoreError(f"backup {b.id}: credential JSON too large ({len(b.credential_json)} chars)")
    entity: Entity = {
        "PartitionKey": BACKUP_PARTITION,
        "RowKey": encode_key(b.id),
        "backup_id": fit_string(b.id),
        "fingerprint": b.fingerprint,
        "rule_id": b.rule_id,
        "identity_kind": b.identity_kind,
        "identity_id": b.identity_id,
        "identity_id_lc": fit_string(b.identity_id.lower()),
        "identity_name": b.identity_name,
        "identity_object_id": b.identity_object_id,
        "identity_resource_id": b.identity_resource_id,
        "credential_name": b.credential_name,
        "credential_shape": b.credential_shape,
        "credential_json_chunks": len(chunks),
        "credential_sha256": hashlib.sha256(b.credential_json.encode("utf-8", "surrogatepass")).hexdigest(),
        "state": BackupState(b.state).value,
        "created_at": as_utc(b.created_at),
        "updated_at": as_utc(b.updated_at) if b.updated_at else None,
        "actor": b.actor,
        "detail": _opt_fit(b.detail),
    }
    for i, chunk in enumerate(chunks):
        entity[f"credential_json_{i}"] = chunk
    return entity


def _backup_record(e: Mapping[str, Any]) -> QuarantineBackup:
    n = int(e.get("credential_json_chunks") or 0)
    text = "".join(str(e.get(f"credential_json_{i}") or "") for i in range(n))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    if e.get("credential_sha256") and digest != e.get("credential_sha256"):
        raise BackupVerificationError(f"backup {e.get('backup_id')}: stored credential JSON is damaged")
    return QuarantineBackup(
        id=str(e.get("backup_id") or e["RowKey"]),
        fingerprint=str(e.get("fingerprint") or ""),
        rule_id=str(e.get("rule_id") or ""),
        identity_kind=str(e.get("identity_kind") or ""),
        identity_id=str(e.get("identity_id") or ""),
        identity_name=str(e.get("identity_name") or ""),
        credential_name=str(e.get("credential_name") or ""),
        credential_json=text,
        created_at=_dt(e.get("created_at")) or datetime.fromtimestamp(0, timezone.utc),
        actor=str(e.get("actor") or ""),
        state=BackupState(str(e.get("state") or BackupState.BACKED_UP.value)),
        identity_object_id=_str_or_none(e.get("identity_object_id")),
        identity_resource_id=_str_or_none(e.get("identity_resource_id")),
        credential_shape=str(e.get("credential_shape") or "graph"),
        updated_at=_dt(e.get("updated_at")),
        detail=_str_or_none(e.get("detail")),
        etag=_etag(e),
    )


def _action_record(e: Mapping[str, Any]) -> ActionRecord:
    try:
        detail = json.loads(str(e.get("detail") or "{}"))
    except ValueError:
        detail = {"_unparsable": str(e.get("detail"))}
    return ActionRecord(
        id=str(e["RowKey"]),
        time=_dt(e.get("time")) or datetime.fromtimestamp(0, timezone.utc),
        kind=str(e.get("kind") or ""),
        target=str(e.get("target") or ""),
        detail=detail if isinstance(detail, dict) else {"value": detail},
        actor=_str_or_none(e.get("actor")),
    )
