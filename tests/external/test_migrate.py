"""``wifguard migrate immutable``: plan, apply (twin created and read back, old one retired with a
verified, restorable backup), all or nothing, refusals; against the simulated tenant and Azurite."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from external_helpers import AUD, CASES, GH, app_object_id, seed

from wifguard.actions.migrate import apply as apply_steps
from wifguard.actions.migrate import immutable_subject, plan
from wifguard.actions.quarantine import restore
from wifguard.azurite import Azurite
from wifguard.config import QuarantineConfig
from wifguard.sim import SimTenant
from wifguard.sources.external.checks import ExternalChecks, SimEndpoints
from wifguard.sources.external.config import ExternalConfig
from wifguard.sources.inventory.connection import Connection
from wifguard.sources.inventory.tenant import CredentialWriter, Inventory
from wifguard.store import BackupState, Store


def _index(name: str) -> int:
    return next(i for i, (n, *_) in enumerate(CASES, start=1) if n == name)


def test_immutable_subject_format() -> None:
    assert immutable_subject("repo:octocat/my-repo:ref:refs/heads/main", "123456", "456789") == \
        "repo:octocat@123456/my-repo@456789:ref:refs/heads/main"
    assert immutable_subject("repo:o/r", "1", "2") == "repo:o@1/r@2"
    # A customised template keeps its other claims in place.
    assert immutable_subject("repository_owner:o:repo:o/r:environment:prod", "1", "2") == \
        "repository_owner:o:repo:o@1/r@2:environment:prod"
    assert immutable_subject("repo:o@1/r@2:ref:refs/heads/main", "1", "2") is None


async def _plan_and_apply(sim: SimTenant, store: Store | None, names: list[str],
                          quarantine: QuarantineConfig | None = None) -> list[Any]:
    conn = Connection.from_sim(sim)
    ext = ExternalConfig.from_mapping({"github": {"enabled": True}})
    checks = ExternalChecks(ext, env={}, sim=SimEndpoints(sim.external_urls, sim.token, sim.ca_path))
    try:
        async with Inventory(conn) as inv:
            contexts = [c for c in (await inv.sweep()).contexts if c.identity.name in names]
            steps = await plan(contexts, checks)
            if store is None:
                return steps
            return await apply_steps(steps, writer=CredentialWriter(inv), store=store,
                                     quarantine=quarantine or QuarantineConfig())
    finally:
        await checks.close()


async def test_plan_resolves_ids_and_refuses_what_it_cannot() -> None:
    with SimTenant.start(seed()) as sim:
        steps = await _plan_and_apply(sim, None, ["app-private-repo", "app-deleted-repo", "app-ghost-owner",
                                                  "app-immutable-ok"])
    by = {s.identity.name: s for s in steps}
    assert "app-immutable-ok" not in by  # already immutable: nothing to do
    ok = by["app-private-repo"]
    assert ok.status == "planned" and ok.new_subject == "repo:contoso@1001/secret-svc@6006:ref:refs/heads/main"
    assert ok.new_name == "gh-secret-immutable" and "200 OK" in ok.answer
    assert by["app-deleted-repo"].status == "refused" and "cannot be resolved" in by["app-deleted-repo"].reason
    assert by["app-ghost-owner"].status == "refused"
    # Planning changes nothing.


async def test_apply_leaves_one_verified_immutable_credential_and_a_restorable_backup(
        azurite: Azurite, prefix: str) -> None:
    i = _index("app-protected-env")
    with SimTenant.start(seed()) as sim:
        async with Store.from_connection_string(azurite.connection_string, prefix=prefix) as store:
            await store.ensure()
            (step,) = await _plan_and_apply(sim, store, ["app-protected-env"])
            assert step.status == "migrated", step.reason
            fics = sim.get_app_fics(app_object_id(i))
            assert [f["subject"] for f in fics] == ["repo:contoso@1001/api@4004:environment:staging"]
            assert fics[0]["name"] == "gh-api-staging-immutable" and fics[0]["audiences"] == AUD
            assert fics[0]["issuer"] == GH
            backup = await store.get_backup(step.backup_id or "")
            assert backup is not None and backup.state is BackupState.VERIFIED
            assert backup.credential["subject"] == "repo:contoso/api:environment:staging"
            actions = [a.kind for a in await store.list_actions()]
            assert {"migrate.twin-created", "quarantine", "migrate.immutable"} <= set(actions)
            # The old credential comes back exactly, beside its twin.
            async with Inventory(Connection.from_sim(sim)) as inv:
                await restore(store, CredentialWriter(inv), backup.id, reason="undo the migration")
            subjects = sorted(f["subject"] for f in sim.get_app_fics(app_object_id(i)))
            assert subjects == ["repo:contoso/api:environment:staging",
                                "repo:contoso@1001/api@4004:environment:staging"]


async def test_all_or_nothing_when_the_old_one_cannot_be_retired(azurite: Azurite, prefix: str) -> None:
    i = _index("app-protected-env")
    with SimTenant.start(seed()) as sim:
        async with Store.from_connection_string(azurite.connection_string, prefix=prefix) as store:
            await store.ensure()
            (step,) = await _plan_and_apply(sim, store, ["app-protected-env"], QuarantineConfig(max_per_hour=0))
            assert step.status == "failed" and "hourly limit" in step.reason and "twin was removed" in step.reason
            fics = sim.get_app_fics(app_object_id(i))
            assert [f["subject"] for f in fics] == ["repo:contoso/api:environment:staging"]  # untouched
            assert await store.list_backups() == []


async def test_refuses_at_the_credential_cap() -> None:
    s = seed()
    i = _index("app-protected-env")
    app = s["applications"][i - 1]
    app["federatedIdentityCredentials"] += [
        {"name": f"k8s-{n}", "issuer": "https://westeurope.oic.prod-aks.azure.com/t/u/",
         "subject": f"system:serviceaccount:ns{n}:sa", "audiences": AUD} for n in range(19)]
    with SimTenant.start(s) as sim:
        (step,) = await _plan_and_apply(sim, None, ["app-protected-env"])
    assert step.status == "refused" and "20-credential cap" in step.reason


def test_cli_plan_and_apply(tmp_path: Path) -> None:
    (tmp_path / "seed.json").write_text(json.dumps(seed()))
    base = [sys.executable, "-m", "wifguard.cli", "migrate", "immutable", "--sim", str(tmp_path / "seed.json"),
            "--identity", "app-protected-env", "--format", "json"]
    env = {k: v for k, v in __import__("os").environ.items() if k != "WIFGUARD_STORAGE"}
    planned = subprocess.run(base, capture_output=True, text=True, timeout=300, env=env)
    assert planned.returncode == 0, planned.stderr
    data = json.loads(planned.stdout)
    assert data["mode"] == "plan" and data["summary"]["planned"] == 1
    applied = subprocess.run([*base, "--apply"], capture_output=True, text=True, timeout=300, env=env)
    assert applied.returncode == 0, applied.stderr
    (step,) = json.loads(applied.stdout)["steps"]
    assert step["status"] == "migrated" and step["backup_id"]
    assert step["credentials_after"] == [{"name": "gh-api-staging-immutable", "issuer": GH,
                                          "subject": "repo:contoso@1001/api@4004:environment:staging"}]
    refused = subprocess.run([*base[:-4], "--identity", "app-deleted-repo", "--format", "json"],
                             capture_output=True, text=True, timeout=300, env=env)
    assert refused.returncode == 1 and json.loads(refused.stdout)["steps"][0]["status"] == "refused"
    assert copy.deepcopy(step) == step
