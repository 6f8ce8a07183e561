"""The findings store on Azure Table Storage (async).

``wifguard.store.entities`` and ``wifguard.store.keys`` load no SDK; ``Store`` (and the errors)
import azure-data-tables on first use, keeping ``import wifguard.store`` cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wifguard.store.entities import (
    ActionRecord,
    BackupState,
    EvaluationScope,
    FindingRecord,
    FindingStatus,
    QuarantineBackup,
    RecordResult,
    RejectedPayload,
)
from wifguard.store.keys import HashedKeyError, decode_key, encode_key, is_hashed_key

if TYPE_CHECKING:
    from wifguard.store.store import (
        BackupVerificationError,
        ConcurrencyError,
        Store,
        StoreError,
    )

__all__ = [
    "ActionRecord",
    "BackupState",
    "BackupVerificationError",
    "ConcurrencyError",
    "EvaluationScope",
    "FindingRecord",
    "FindingStatus",
    "HashedKeyError",
    "QuarantineBackup",
    "RecordResult",
    "RejectedPayload",
    "Store",
    "StoreError",
    "decode_key",
    "encode_key",
    "is_hashed_key",
]

_LAZY = {"Store", "StoreError", "ConcurrencyError", "BackupVerificationError"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from wifguard.store import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
