"""Quarantine backups (exact credential JSON, ETag-guarded state) and the append-only action log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from wifguard.domain.model import Credential, Finding, Identity, IdentityKind
from wifguard.store import BackupState, ConcurrencyError, QuarantineBackup, Store, StoreError

APP_OBJECT_ID = "6f1c9d2e-0000-4000-8000-00000000aaaa"
UAMI_ID = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ci/providers/"
           "Microsoft.ManagedIdentity/userAssignedIdentities/id-deploy")

# exactly as a live Graph read returns it (key order, unicode escapes, spacing kept)
GRAPH_FIC_TEXT = (
    '{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#applications(\'6f1c\')/'
    'federatedIdentityCredentials/$entity","audiences":["api://AzureADTokenExchange"],'
    '"description":"d\\u00e9ploiement \\"prod\\"","id":"4c1a-ff","issuer":'
    '"https://token.actions.githubusercontent.com","name":"gh-prod","subject":'
    '"repo:contoso/payments:environment:prod", "claimsMatchingExpression":null}'
)


def _graph_credential() -> Credential:
    return Credential.from_graph(json.loads(GRAPH_FIC_TEXT))


async def test_backup_saves_and_reads_back_exactly(store: Store, make_finding: Callable[..., Finding]) -> None:
    ident = Identity(id=APP_OBJECT_ID, name="payments", kind=IdentityKind.APPLICATION, app_id="app-1")
    cred = _graph_credential()
    finding = make_finding(APP_OBJECT_ID, credential="gh-prod")
    b = QuarantineBackup.from_live(ident, cred, finding, actor="wifguard", credential_json=GRAPH_FIC_TEXT)
    saved = await store.save_backup(b)
    got = await store.get_backup(b.id)
    assert got is not None
    assert got.credential_json == GRAPH_FIC_TEXT  # byte for byte
    assert got.credential_json.encode() == GRAPH_FIC_TEXT.encode()
    assert got.credential == json.loads(GRAPH_FIC_TEXT)
    assert got.identity_object_id == APP_OBJECT_ID and got.identity_resource_id is None
    assert got.fingerprint == finding.fingerprint and got.rule_id == finding.rule_id
    assert got.state is BackupState.BACKED_UP and got.actor == "wifguard"
    assert got.created_at == b.created_at and got.credential_shape == "graph"
    assert saved.etag is not None and saved.etag == got.etag
    with pytest.raises(StoreError):
        await store.save_backup(b)  # never overwritten


async def test_uami_backup_from_raw_object(store: Store, make_finding: Callable[..., Finding]) -> None:
    raw = {"id": UAMI_ID + "/federatedIdentityCredentials/aks", "name": "aks",
           "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
           "properties": {"issuer": "https://westeurope.oic.prod-aks.azure.com/t/u/",
                          "subject": "system:serviceaccount:ns:sa", "audiences": ["api://AzureADTokenExchange"]}}
    ident = Identity(id=UAMI_ID, name="id-deploy", kind=IdentityKind.MANAGED_IDENTITY)
    cred = Credential.from_arm(raw)
    big = dict(raw, properties={**raw["properties"], "description": "x" * 40_000})  # forces chunking
    b1 = QuarantineBackup.from_live(ident, cred, make_finding(UAMI_ID, kind="managedIdentity"), actor="ops")
    b2 = QuarantineBackup.from_live(ident, Credential.from_arm(big), make_finding(UAMI_ID), actor="ops")
    await store.save_backup(b1)
    await store.save_backup(b2)
    g1, g2 = await store.get_backup(b1.id), await store.get_backup(b2.id)
    assert g1 is not None and g2 is not None
    assert g1.credential == raw and g1.identity_resource_id == UAMI_ID and g1.identity_object_id is None
    assert g1.credential_shape == "arm"
    assert g2.credential_json == b2.credential_json and g2.credential == big
    assert [b.id for b in await store.list_backups(identity_id=UAMI_ID.upper())] == sorted([b1.id, b2.id])
    assert await store.get_backup("qb-missing") is None


async def test_backup_state_changes_are_etag_guarded(store: Store, make_finding: Callable[..., Finding]) -> None:
    ident = Identity(id=APP_OBJECT_ID, name="payments", kind=IdentityKind.APPLICATION)
    saved = await store.save_backup(
        QuarantineBackup.from_live(ident, _graph_credential(), make_finding(APP_OBJECT_ID), actor="wifguard")
    )
    removed = await store.update_backup_state(saved.id, BackupState.REMOVED, saved.etag, detail="deleted via Graph")
    assert removed.state is BackupState.REMOVED and removed.detail == "deleted via Graph"
    assert removed.etag != saved.etag and removed.updated_at is not None
    assert removed.credential_json == saved.credential_json
    with pytest.raises(ConcurrencyError):
        await store.update_backup_state(saved.id, BackupState.RESTORED, saved.etag)  # stale etag
    verified = await store.update_backup_state(saved.id, "verified", removed.etag)
    assert verified.state is BackupState.VERIFIED
    assert [b.id for b in await store.list_backups(state="verified")] == [saved.id]
    assert await store.list_backups(state="removed") == []
    with pytest.raises(KeyError):
        await store.update_backup_state("qb-nope", "removed", None)


async def test_action_log_is_ordered_and_append_only(store: Store) -> None:
    t = datetime(2025, 1, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc)
    first = await store.log_action("quarantine", "app/1", {"fic": "a"}, actor="wifguard", now=t)
    # same timestamp again: a second entry 1 µs later (next month partition), nothing overwritten
    second = await store.log_action("quarantine", "app/1", {"fic": "b"}, actor="wifguard", now=t)
    third = await store.log_action("notify", "app/2", {"channel": "teams"}, now=t + timedelta(microseconds=5))
    assert first.id < second.id < third.id
    entries = await store.list_actions()
    assert [e.id for e in entries] == [first.id, second.id, third.id]
    assert [e.detail for e in entries] == [{"fic": "a"}, {"fic": "b"}, {"channel": "teams"}]
    assert [e.kind for e in await store.list_actions(kind="notify")] == ["notify"]
    assert [e.id for e in await store.list_actions(since=t + timedelta(microseconds=1))] == [second.id, third.id]
    assert [e.id for e in await store.list_actions(since=t + timedelta(microseconds=2))] == [third.id]
    assert second.id.startswith("2025-02-01T00:00:00.000000Z") and first.id.startswith("2025-01-31")
    assert entries[2].time == t + timedelta(microseconds=5)
    assert entries[1].time == t + timedelta(microseconds=1)


async def test_concurrent_action_logging_keeps_every_entry(store: Store) -> None:
    records = await asyncio.gather(*(store.log_action("dry-run", f"t{i}", {"i": i}) for i in range(30)))
    assert len({r.id for r in records}) == 30
    listed = await store.list_actions(kind="dry-run")
    assert sorted(e.detail["i"] for e in listed) == list(range(30))
    assert [e.time for e in listed] == sorted(e.time for e in listed)
