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

# Re-exported: existing callers import these from here.
from wifguard.errors import StoreError  # noqa: F401
from wifguard.store.action_log import ActionLogTable
from wifguard.store.backups import BackupsTable
from wifguard.store.base import (  # noqa: F401
    TOUCH_AFTER,
    BackupVerificationError,
    ConcurrencyError,
    ConnectionStringError,
    RecordNotFound,
    fit_string,
    table_service,
)
from wifguard.store.events import EventsTable
from wifguard.store.findings import FindingsTable
from wifguard.store.parked import ParkedTable


class Store(FindingsTable, EventsTable, ParkedTable, BackupsTable, ActionLogTable):
    """Findings, processed events, parked payloads, quarantine backups and the action log on
    Azure Table Storage: one mixin per table module over ``StoreBase`` (``wifguard.store.base``)."""
