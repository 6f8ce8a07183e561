"""What every table module of the store shares: limits, entity helpers, errors, and the
construction and lifetime of the table clients (``StoreBase``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.data.tables.aio import TableClient, TableServiceClient

from wifguard.errors import ConfigError, Conflict, NotFound
from wifguard.errors import StoreError as StoreError  # the old import path
from wifguard.store.entities import (
    FindingStatus,
    as_utc,
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


class StoreBase:
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
    def from_connection_string(cls, conn: str, *, prefix: str = "wifguard") -> Self:
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
    ) -> Self:
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

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()



#: a row left unchanged is rewritten anyway once its last_seen is this old (see Store.record)
TOUCH_AFTER = timedelta(hours=1)
_TOUCHED = frozenset({"last_seen", "occurrences"})
def _unchanged(entity: Mapping[str, Any], prev: Mapping[str, Any], now: datetime) -> bool:
    """Would writing ``entity`` over ``prev`` change nothing but last_seen and occurrences?"""
    if entity.get("status") not in (FindingStatus.OPEN.value, FindingStatus.EXEMPTED.value) \
            or prev.get("status") != entity.get("status"):
        return False
    seen = prev.get("last_seen")
    if not isinstance(seen, datetime) or now - as_utc(seen) >= TOUCH_AFTER:
        return False
    for k, v in entity.items():
        if k not in _TOUCHED and k not in ("PartitionKey", "RowKey") and prev.get(k) != v:
            return False
    # a property stored before and not written now would be dropped by a REPLACE
    return all(k in entity or prev[k] is None for k in prev if k not in ("PartitionKey", "RowKey"))
