"""SIGKILL a real ``wifguard replay`` while it sends grouped Teams messages (one per identity, at
the batch's end), deliver the same batch again: every identity gets exactly one message id, a
message in flight at a kill arrives at most once more (same id, same findings), every finding is
accounted as notified, and a further delivery sends nothing."""

from __future__ import annotations

from pathlib import Path

from chaos_helpers import (
    CONFIG,
    EXPECTED_RULES,
    TENANT,
    app_ids,
    azurite_process,
    cli_env,
    kill_when,
    receiver,
    run,
    stored_findings,
    wifguard,
    write_inputs,
)

from wifguard.pipeline.responder import NOTIFY_IN_FLIGHT

N = 30


def test_sigkill_while_grouped_messages_go_out(tmp_path: Path) -> None:
    seed, body, config = write_inputs(tmp_path, N)
    config.write_text(CONFIG.format(tenant=TENANT).replace("type: webhook", "type: teams"))
    with azurite_process(tmp_path / "azurite") as az, receiver() as hook:
        env = cli_env(az.connection_string, "chaosgroup", hook.url)
        replay = ("replay", "audit-log", str(body), "--sim", str(seed), "--store", az.connection_string,
                  "--config", str(config))
        kills = 0
        for point in (1, 5):  # after the first message, then again mid-way through a re-delivery
            before = hook.count()
            kills += kill_when(wifguard(*replay, env=env), lambda before=before, point=point: hook.count() >= before + point)
        assert kills == 2, "the replay finished before it could be killed"
        assert hook.count() < N  # really killed while the messages went out

        code, data, err = run(*replay, env=env)  # the platform delivers the batch again
        assert code == 0, err
        assert data["summary"]["events"].get("processed", 0) == N  # none was done before its message

        findings = stored_findings(az.connection_string, "chaosgroup")
        by_app: dict[str, set[str]] = {}
        for f in findings:
            by_app.setdefault(f.identity_id, set()).add(f.rule_id)
        assert [i for i in range(N) if by_app.get(app_ids(i)[0], set()) != EXPECTED_RULES] == []
        assert [f.fingerprint for f in findings if f.notify_pending] == []  # each accounted as notified
        # one message per identity, whatever the kills: the same findings give the same message id
        assert len(hook.distinct()) == N, (len(hook.distinct()), hook.count())
        assert hook.duplicates() <= NOTIFY_IN_FLIGHT * kills, hook.duplicates()

        sent = hook.count()
        code, again, err = run(*replay, env=env)
        assert code == 0, err
        assert again["summary"]["events"] == {"duplicate": N}
        assert hook.count() == sent
