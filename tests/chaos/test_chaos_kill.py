"""SIGKILL a real ``wifguard replay`` of a 120-record batch at several points, deliver the same
batch again, re-drive what was parked: nothing lost, nothing resolved, duplicates (same
CloudEvents id) bounded by the notifications in flight."""

from __future__ import annotations

from pathlib import Path

from chaos_helpers import (
    EXPECTED_RULES,
    app_ids,
    azurite_process,
    cli_env,
    kill_when,
    notification_id,
    parked_rows,
    receiver,
    run,
    stored_findings,
    wifguard,
    write_inputs,
)

from wifguard.pipeline.responder import NOTIFY_IN_FLIGHT

N = 120


def check_nothing_lost(conn: str, prefix: str, received: set[str]) -> None:
    findings = stored_findings(conn, prefix)
    by_app: dict[str, set[str]] = {}
    for f in findings:
        by_app.setdefault(f.identity_id, set()).add(f.rule_id)
    missing = [i for i in range(N) if not by_app.get(app_ids(i)[0], set()) >= EXPECTED_RULES]
    assert missing == [], f"{len(missing)} credential(s) without their findings, e.g. svc-{missing[:5]}"
    assert [f.fingerprint for f in findings if f.status.value != "open"] == []  # none resolved
    unnotified = [f for f in findings if notification_id(f.fingerprint) not in received]
    assert unnotified == [], f"{len(unnotified)} finding(s) never notified"
    assert all(not f.notify_pending for f in findings)


def test_sigkill_at_several_points_then_redelivery_and_parked_retry(tmp_path: Path) -> None:
    seed, body, config = write_inputs(tmp_path, N)
    with azurite_process(tmp_path / "azurite") as az, receiver() as hook:
        env = cli_env(az.connection_string, "chaoskill", hook.url)
        replay = ("replay", "audit-log", str(body), "--sim", str(seed), "--store", az.connection_string,
                  "--config", str(config))
        kills = 0
        # killed right after its first delivery, then again mid-batch of a re-delivery
        for point in (1, 150):
            before = hook.count()
            proc = wifguard(*replay, env=env)
            kills += kill_when(proc, lambda before=before, point=point: hook.count() >= before + point)
        assert kills == 2, "the replay finished before it could be killed"
        partial = stored_findings(az.connection_string, "chaoskill")
        assert 0 < len(partial) < N * len(EXPECTED_RULES)  # really killed mid-way

        code, data, err = run(*replay, env=env)  # the platform delivers the batch again
        assert code == 0, err
        statuses = data["summary"]["events"]
        assert statuses.get("processed", 0) + statuses.get("duplicate", 0) == N, statuses
        assert statuses.get("processed", 0) > 0  # claims that were never done are processed again

        code, _, err = run("parked", "retry", "--sim", str(seed), "--store", az.connection_string,
                                 "--config", str(config), env=env)
        assert code == 0, err
        assert [p for p in parked_rows(az.connection_string, "chaoskill") if p.state == "parked"] == []

        check_nothing_lost(az.connection_string, "chaoskill", hook.distinct())
        # only what was in flight at each kill can arrive twice, and it carries the same id
        assert hook.duplicates() <= NOTIFY_IN_FLIGHT * kills, hook.duplicates()

        # a third delivery of the same batch changes nothing and sends nothing
        sent = hook.count()
        code, again, err = run(*replay, env=env)
        assert code == 0, err
        assert again["summary"]["events"] == {"duplicate": N}
        assert hook.count() == sent
