"""What a run may change and what it did: the statement printed before a command acts, the
quarantine actions a dry run would take, and the delivered/pending/failed tally of notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from wifguard.domain.model import Finding, TrustContext
from wifguard.resolve import Resolved


def announce(resolved: Resolved, *, store: bool, dry_run: bool = False) -> str:
    """One line saying what this run may do, and which setting decided it."""
    if dry_run:
        return ("dry run: evaluates only; records nothing, notifies no one, quarantines nothing "
                f"(quarantine mode would be {resolved.quarantine_mode}, from {resolved.origin('quarantine.mode')})")
    parts = ["records findings in the store" if store else "records nothing"]
    channels = resolved.channel_names()
    if channels:
        parts.append(f"notifies via {', '.join(channels)} (from {resolved.origin('notifications')})")
    elif resolved.origin("notifications") == "--no-notify":
        parts.append("notifies no one (--no-notify; new findings stay pending for the next run)")
    else:
        parts.append("notifies no one (no channel configured)")
    mode = resolved.quarantine_mode
    where = resolved.origin("quarantine.mode")
    if mode == "enforce":
        parts.append(f"QUARANTINE ENFORCED: may remove credentials (mode enforce, from {where})")
    elif mode == "dry-run":
        parts.append(f"quarantine dry-run: records what it would remove, removes nothing (from {where})")
    else:
        parts.append(f"quarantine off: removes nothing (from {where})")
    return "; ".join(parts)


def would_quarantine(resolved: Resolved, evaluations: Iterable[tuple[TrustContext, Any]],
                     responder_ids: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The credentials the resolved quarantine settings would remove (for ``--dry-run``)."""
    from wifguard.actions.quarantine import Quarantiner

    # Only the configuration-based checks are used: no store and no writer are touched.
    q = Quarantiner(resolved.config.quarantine, cast(Any, None), cast(Any, None), frozenset(responder_ids))
    if q.mode == "off":
        return []
    out: list[dict[str, Any]] = []
    for ctx, ev in evaluations:
        seen: set[str] = set()
        findings: list[Finding] = list(ev.findings)
        for f in findings:
            if not q.wants(f) or f.credential is None:
                continue
            name = str(f.credential.get("name"))
            if name.lower() in seen:
                continue
            seen.add(name.lower())
            reason = q.protected(ctx.identity)
            out.append({"fingerprint": f.fingerprint, "rule_id": f.rule_id, "identity": dict(f.identity),
                        "credential": name, "status": "skipped" if reason else "would-quarantine",
                        "reason": reason or f"mode {q.mode}"})
    return out


def notification_tally(notifications: Iterable[Mapping[str, Any]], *, channels_configured: bool
                       ) -> dict[str, int]:
    """Per finding notice: delivered (every channel took it), failed (a channel refused it after
    its retries), pending (not attempted: no channel configured, --no-notify, or a channel's
    circuit breaker open; the next run delivers), unrouted (no route sends it anywhere)."""
    tally = {"delivered": 0, "pending": 0, "failed": 0, "unrouted": 0}
    for n in notifications:
        chans = list(n.get("channels") or [])
        if not chans:
            tally["pending" if not channels_configured else "unrouted"] += 1
        elif any(c.get("skipped") for c in chans):
            tally["pending"] += 1
        elif all(c.get("ok") for c in chans):
            tally["delivered"] += 1
        else:
            tally["failed"] += 1
    return tally
