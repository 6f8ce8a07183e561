"""``wifguard migrate immutable``: move GitHub name-based subjects to their immutable form.

GitHub's immutable subject appends the owner's and the repository's numeric ids to their names
(``repo:octocat@123456/my-repo@456789:ref:refs/heads/main``); ids never change and are never
reused, so a renamed or deleted repository cannot be re-registered into the trust. Entra matches
subjects exactly, so the migration is: for each credential ``repo:OWNER/REPO:...``

    resolve the ids (GitHub, fresh, no cache) ─▶ create the twin credential with the immutable
    subject ─▶ read it back and compare ─▶ retire the old credential through the quarantine
    machinery (verified backup, restorable, action log, hourly limit, protected identities)

All or nothing per credential: if the old credential cannot be retired, the twin is removed
again. Refused when the ids cannot be resolved (owner/repository missing, unreachable, private
and not visible) or when the twin would exceed the 20-credential cap of the identity.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from wifguard.config import QuarantineConfig
from wifguard.domain.model import (
    Credential,
    Finding,
    Identity,
    IdentityKind,
    Severity,
    TrustContext,
    fingerprint,
)
from wifguard.sources.external.base import State, Target
from wifguard.sources.external.github import host_of_issuer

log = logging.getLogger(__name__)

MAX_CREDENTIALS = 20
_REPO_RE = re.compile(r"(?:^|(?<=:))repo:(?P<owner>[^/:@]+)/(?P<repo>[^:@/]+)(?=:|$)")
_NAME_OK = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Step:
    """What the migration does (or would do, or refused) for one credential."""

    identity: Identity
    credential: Credential
    status: str  # planned | refused | skipped | migrated | failed
    reason: str = ""
    new_name: str = ""
    new_subject: str = ""
    owner_id: str = ""
    repo_id: str = ""
    answer: str = ""  # what GitHub said about the repository (request, time, answer)
    backup_id: str | None = None
    credentials_after: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "identity": self.identity.to_ref(), "credential": self.credential.name,
            "issuer": self.credential.issuer, "old_subject": self.credential.subject,
            "new_name": self.new_name or None, "new_subject": self.new_subject or None,
            "owner_id": self.owner_id or None, "repo_id": self.repo_id or None,
            "status": self.status, "reason": self.reason, "github": self.answer or None,
            "backup_id": self.backup_id,
        }
        if self.credentials_after:
            out["credentials_after"] = list(self.credentials_after)
        return out


def immutable_subject(subject: str, owner_id: str, repo_id: str) -> str | None:
    """``repo:OWNER/REPO:rest`` -> ``repo:OWNER@OID/REPO@RID:rest`` (None: not a name-based repo claim)."""
    m = _REPO_RE.search(subject)
    if m is None:
        return None
    twin = f"repo:{m.group('owner')}@{owner_id}/{m.group('repo')}@{repo_id}"
    return subject[:m.start()] + twin + subject[m.end():]


def _twin_name(name: str, taken: set[str]) -> str:
    base = _NAME_OK.sub("-", f"{name}-immutable")[:120]
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f"-{n}"
        candidate = base[:120 - len(suffix)] + suffix
        n += 1
    return candidate


def candidates(ctx: TrustContext) -> list[Credential]:
    """The identity's credentials with a GitHub name-based ``repo:OWNER/REPO`` subject."""
    out = []
    for c in ctx.credentials:
        if c.claims_matching_expression is not None or not c.subject or host_of_issuer(c.issuer) is None:
            continue
        if _REPO_RE.search(c.subject):
            out.append(c)
    return out


async def plan(contexts: Sequence[TrustContext], checks: Any) -> list[Step]:
    """Resolve every candidate's ids (``checks``: an ExternalChecks with GitHub on, without cache)."""
    todo: list[tuple[TrustContext, Credential, Target]] = []
    for ctx in contexts:
        for c in candidates(ctx):
            m = _REPO_RE.search(c.subject or "")
            assert m is not None
            todo.append((ctx, c, Target("github", host_of_issuer(c.issuer) or "github.com", "repo",
                                        f"{m.group('owner')}/{m.group('repo')}")))
    answers = await checks.fetch(t for _, _, t in todo)
    steps: list[Step] = []
    for ctx in contexts:
        mine = [(c, t) for x, c, t in todo if x is ctx]
        if not mine:
            continue
        taken = {c.name.lower() for c in ctx.credentials}
        pairs = {(c.issuer, c.subject) for c in ctx.credentials}
        count = len(ctx.credentials)
        for c, t in mine:
            a = answers[t.key]
            said = f"{a.request} answered {a.answer!r} at {a.checked_at}"
            if a.state is not State.EXISTS or not a.data.get("id") or not a.data.get("owner_id"):
                why = "missing" if a.state is State.MISSING else "unknown"
                steps.append(Step(ctx.identity, c, "refused", f"ids cannot be resolved: {t.name} is {why} on GitHub",
                                  answer=said))
                continue
            owner_id, repo_id = str(a.data["owner_id"]), str(a.data["id"])
            subject = immutable_subject(c.subject or "", owner_id, repo_id)
            assert subject is not None
            if (c.issuer, subject) in pairs:
                steps.append(Step(ctx.identity, c, "skipped", "the identity already trusts the immutable subject",
                                  new_subject=subject, owner_id=owner_id, repo_id=repo_id, answer=said))
                continue
            if count + 1 > MAX_CREDENTIALS:
                steps.append(Step(ctx.identity, c, "refused",
                                  f"the twin would exceed the {MAX_CREDENTIALS}-credential cap ({count} already)",
                                  new_subject=subject, owner_id=owner_id, repo_id=repo_id, answer=said))
                continue
            name = _twin_name(c.name, taken)
            taken.add(name.lower())
            steps.append(Step(ctx.identity, c, "planned", "", name, subject, owner_id, repo_id, said))
    return steps


def _as_credential(ident: Identity, raw: dict[str, Any]) -> Credential:
    return Credential.from_arm(raw) if ident.kind is IdentityKind.MANAGED_IDENTITY else Credential.from_graph(raw)


async def apply(steps: Iterable[Step], *, writer: Any, store: Any, quarantine: QuarantineConfig,
                responder_ids: Iterable[str] = (), actor: str = "wifguard migrate") -> list[Step]:
    """Carry out the planned steps, one credential at a time, all or nothing each."""
    from wifguard.actions.quarantine import Quarantiner

    # Retiring the old credential is a quarantine removal, whatever the configured mode: the
    # backup, its verification, the hourly limit, protected identities and the action log apply.
    qcfg = quarantine.model_copy(update={"mode": "enforce"})
    quarantiner = Quarantiner(qcfg, store, writer, frozenset(i for i in responder_ids if i), actor)
    done: list[Step] = []
    for step in steps:
        if step.status != "planned":
            done.append(step)
            continue
        done.append(await _one(step, writer, store, quarantiner, actor))
    return done


async def _one(step: Step, writer: Any, store: Any, quarantiner: Any, actor: str) -> Step:
    ident, old = step.identity, step.credential
    why = quarantiner.protected(ident)
    if why:
        return replace(step, status="refused", reason=why)
    live = await writer.list(ident)
    if live is None:
        return replace(step, status="failed", reason="the identity no longer exists")
    current = [_as_credential(ident, r) for r in live]
    if not any(c.name.lower() == old.name.lower() and c.subject == old.subject for c in current):
        return replace(step, status="failed", reason="the credential changed or is gone since it was read")
    if len(current) + 1 > MAX_CREDENTIALS:
        return replace(step, status="refused",
                       reason=f"the twin would exceed the {MAX_CREDENTIALS}-credential cap ({len(current)} already)")
    twin = Credential(step.new_name, old.issuer, step.new_subject, old.audiences,
                      old.description or f"Immutable-subject twin of {old.name} (wifguard migrate immutable)",
                      shape=old.shape)
    details = {"identity": ident.to_ref(), "credential": old.name, "twin": twin.name,
               "old_subject": old.subject, "new_subject": twin.subject}
    try:
        await writer.create(ident, twin)
        back = await writer.read(ident, twin.name)
        got = _as_credential(ident, back) if back is not None else None
        if got is None or (got.issuer, got.subject, tuple(got.audiences)) != (twin.issuer, twin.subject,
                                                                              tuple(twin.audiences)):
            raise RuntimeError(f"the twin {twin.name!r} does not read back as written")
    except Exception as exc:
        await _remove_twin(writer, ident, twin.name)
        await store.log_action("migrate.failed", old.name, {**details, "error": str(exc)[:300]}, actor)
        return replace(step, status="failed", reason=f"creating the twin failed: {str(exc)[:300]}")
    await store.log_action("migrate.twin-created", twin.name, details, actor)
    ref = old.to_ref()
    finding = Finding("WIF205", Severity.LOW, "Name-based subject migrated to its immutable form",
                      f"Credential {old.name!r} replaced by {twin.name!r} with subject {twin.subject!r}.",
                      ident.to_ref(), "Restore with `wifguard quarantine restore BACKUP_ID` if the workflow "
                      "does not emit immutable subjects yet.", fingerprint("WIF205", ident.id, ref), ref,
                      action="quarantine", category="subject")
    ctx = TrustContext(ident, tuple(current))
    outcome = await quarantiner.one(ctx, finding)
    if outcome.status != "quarantined" or not outcome.backup_id:
        await _remove_twin(writer, ident, twin.name)
        await store.log_action("migrate.rolled-back", twin.name, {**details, "reason": outcome.reason}, actor)
        return replace(step, status="failed", reason=f"the old credential was not retired ({outcome.reason}); "
                                                     f"the twin was removed again")
    backup = await store.get_backup(outcome.backup_id)
    after = await writer.list(ident) or []
    await store.log_action("migrate.immutable", old.name, {**details, "backup": outcome.backup_id}, actor)
    state = backup.state.value if backup is not None else "missing"
    return replace(step, status="migrated", backup_id=outcome.backup_id,
                   reason=f"old credential retired; backup {outcome.backup_id} ({state}): "
                          f"`wifguard quarantine restore {outcome.backup_id}` brings it back",
                   credentials_after=tuple({"name": c.name, "issuer": c.issuer, "subject": c.subject}
                                           for c in (_as_credential(ident, r) for r in after)))


async def _remove_twin(writer: Any, ident: Identity, name: str) -> None:
    try:
        raw = await writer.read(ident, name)
        if raw is not None:
            await writer.delete(ident, raw)
    except Exception as exc:  # reported by the caller's failure; the twin may need manual removal
        log.warning("could not remove twin credential %s of %s: %s", name, ident.name, type(exc).__name__)
