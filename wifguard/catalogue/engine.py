"""The rule engine: trust context in, findings out.

Rules of one target are fused into one CEL program returning a list of booleans. The
activation holds only the fields the rules read, and results are memoised on those values:
most credentials in a tenant share their facts (same issuer, same kind of subject), so the
CEL runtime runs once per distinct combination, not once per credential.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import operator
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import cel

from wifguard.catalogue import facts as F
from wifguard.catalogue.facts.registry import registry as fact_registry
from wifguard.catalogue.rules import STRING_LITERAL_RE, TARGETS, Rule, RuleError, load_rules
from wifguard.config import RULES_DIR, Config, ConfigError, Exemption, RuleOverride
from wifguard.domain.model import Change, Credential, Finding, Identity, IdentityKind, Severity, TrustContext
from wifguard.sources.external.facts import EXTERNAL_UNCHECKED

if TYPE_CHECKING:
    from wifguard.sources.external.checks import ExternalFacts

MEMO_LIMIT = 200_000


class Evaluation:
    """One identity's result. Findings are built on first access: the engine decides which rules
    fired first (``fired``), and messages, remediation texts and fingerprints cost only what is
    read (a sweep that counts, or a caller that needs only rule ids, never builds them)."""

    __slots__ = ("_findings", "_pending", "errors", "exempted", "rules_run")

    def __init__(self, findings: tuple[Finding, ...] = (), exempted: tuple[tuple[Finding, Exemption], ...] = (),
                 errors: tuple[str, ...] = (), rules_run: frozenset[str] = frozenset(), *,
                 pending: tuple[_Hit, ...] | None = None) -> None:
        self._findings: tuple[Finding, ...] | None = None if pending is not None else tuple(findings)
        self._pending = pending
        self.exempted = exempted
        self.errors = errors
        self.rules_run = rules_run

    @property
    def findings(self) -> tuple[Finding, ...]:
        if self._findings is None:
            self._findings = tuple(h.finding() for h in self._pending or ())
            self._pending = None
        return self._findings

    @property
    def fired(self) -> tuple[str, ...]:
        """The rule id of each finding, in order, without building the findings."""
        if self._findings is not None:
            return tuple(f.rule_id for f in self._findings)
        return tuple(h.rule.id for h in self._pending or ())

    def __len__(self) -> int:
        return len(self._findings) if self._findings is not None else len(self._pending or ())

    def __repr__(self) -> str:
        return f"Evaluation(findings={self.findings!r}, exempted={self.exempted!r}, errors={self.errors!r})"


class _Hit:
    """A rule that fired, with what its finding is built from (``Evaluation.findings``)."""

    __slots__ = ("credential", "engine", "evidence", "full", "identity", "role", "rule", "severity")

    def __init__(self, engine: Engine, rule: Rule, severity: Severity, full: Mapping[str, Any], identity: Identity,
                 credential: Credential | None, role: F.RoleView | None, evidence: Mapping[str, Any] | None) -> None:
        self.engine = engine
        self.rule = rule
        self.severity = severity
        self.full = full
        self.identity = identity
        self.credential = credential
        self.role = role
        self.evidence = evidence

    def dedup_key(self) -> tuple[str, ...]:
        """The parts the fingerprint hashes within one identity (equal keys, equal fingerprints)."""
        key = self.engine._effective[self.rule.id][3]
        if self.role is not None:
            return (key, "r", self.role.assignment.id.lower())
        c = self.credential
        if c is not None:
            return (key, "c", c.name, c.issuer, c.subject or "")
        return (key,)

    def suffix(self) -> str:
        ident = self.identity.id.lower()
        if self.role is not None:
            return f"{ident}\x1fr\x1f{self.role.assignment.id.lower()}"
        c = self.credential
        if c is not None:
            return f"{ident}\x1fc\x1f{c.name}\x1f{c.issuer}\x1f{c.subject or ''}"
        return ident

    def finding(self) -> Finding:
        return self.engine._build(self)


_CONFIG_REF_RE = re.compile(r"(?<![\w.])config\s*\.\s*([A-Za-z_]\w*)")


def cel_literal(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid CEL string escapes
    if isinstance(v, list | tuple):
        return "[" + ", ".join(cel_literal(x) for x in v) + "]"
    raise TypeError(f"cannot inline {type(v).__name__} into CEL")


def bake_config(expression: str, config_vars: Mapping[str, Any]) -> str:
    """Inline ``config.field`` as literals: config is constant for an engine, and every value
    passed into the CEL runtime per call costs time."""
    out: list[str] = []
    pos = 0
    for m in STRING_LITERAL_RE.finditer(expression):
        out.append(_CONFIG_REF_RE.sub(lambda c: cel_literal(config_vars[c.group(1)]), expression[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_CONFIG_REF_RE.sub(lambda c: cel_literal(config_vars[c.group(1)]), expression[pos:]))
    return "".join(out)


# Fields that are nearly unique per credential (a repository, a namespace, a name). A program keyed
# on them would run once per credential, so a rule that reads one gets a memo of its own, keyed on
# its own fields only; the other rules of the target stay fused, keyed on shapes and flags.
IDENTIFYING: Mapping[str, frozenset[str]] = {
    "subject": frozenset({"value", "owner", "owner_lc", "repo", "repo_lc", "repository", "namespace",
                          "service_account", "organization", "organization_lc", "project", "workspace",
                          "context_value", "owner_label", "format_problem", "run_phase_label"}),
    "credential": frozenset({"name", "issuer", "subject", "description", "expression", "trust_text"}),
    "issuer": frozenset({"value", "host", "problem", "problems"}),
    "identity": frozenset({"id", "name"}),
    "tenant": frozenset({"pair_identities"}),
    "change": frozenset({"actor_id", "actor_name", "actor_upn", "actor_app_id", "time", "old_issuer",
                         "new_issuer", "quarantine_backup"}),
    "role": frozenset({"id", "scope"}),
}


def top_level_conjuncts(expression: str) -> list[str]:
    """``a && (b || c) && d`` → ``[a, (b || c), d]``; the whole expression when a top-level ``||``
    or ``?:`` would bind looser than ``&&``."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(expression)
    while i < n:
        ch = expression[i]
        if ch in "'\"":
            m = STRING_LITERAL_RE.match(expression, i)
            i = m.end() if m else n
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and (expression.startswith("||", i) or ch == "?"):
            return [expression]
        elif depth == 0 and expression.startswith("&&", i):
            parts.append(expression[start:i])
            start = i + 2
            i += 2
            continue
        i += 1
    parts.append(expression[start:])
    return [p.strip() for p in parts]


def constant_false(condition: str) -> bool:
    """True when a top-level conjunct reads no variable and is false once the config is inlined
    (``size([]) > 0 && ...`` for an empty allow-list): the rule cannot fire under this config."""
    for part in top_level_conjuncts(condition):
        try:
            if cel.compile(part).execute({}) is False:
                return True
        except Exception:  # reads a variable (or is not a whole expression): not a constant
            continue
    return False


class _Cluster:
    """Rules of one group fused into one program, memoised on the values they read."""

    def __init__(self, rules: list[tuple[int, Rule, str]]) -> None:
        self.rules = [r for _, r, _ in rules]
        refs: dict[str, frozenset[str] | None] = {}
        for r in self.rules:
            for var, fields in r.refs.items():
                if var == "config" and fields is not None:
                    continue  # inlined
                prev = refs.get(var, frozenset())
                refs[var] = None if fields is None or prev is None else prev | fields
        # Fixed order so that activation keys line up.
        self.plan: tuple[tuple[str, tuple[str, ...] | None], ...] = tuple(
            (var, None if refs[var] is None else tuple(sorted(refs[var] or ()))) for var in sorted(refs)
        )
        conditions = [c for _, _, c in rules]
        self.program = cel.compile("[" + ", ".join(f"({c})" for c in conditions) + "]")
        self.single = [cel.compile(c) for c in conditions]
        # Per variable: an itemgetter for the fields read (None: the variable is read whole).
        self.getters = tuple(
            (var, None if fields is None else operator.itemgetter(*fields), fields) for var, fields in self.plan
        )
        # The memo result holds the rules that fired, in catalogue order.
        self.memo_hits: dict[tuple[Any, ...], tuple[Rule, ...]] = {}

    def key(self, full: Mapping[str, Any]) -> tuple[Any, ...]:
        """Memo key: the values the rules read (config is constant and left out)."""
        key: list[Any] = []
        for var, get, fields in self.getters:
            if get is None:
                if var == "prior":
                    key.append(full["prior_key"])  # built alongside `prior`, already hashable
                elif var != "config":
                    key.append(_freeze(full[var]))
            else:
                v = get(full[var])
                key.append(v if fields is not None and len(fields) > 1 else (v,))
        return tuple(key)

    def activation(self, full: Mapping[str, Any]) -> dict[str, Any]:
        act: dict[str, Any] = {}
        for var, fields in self.plan:
            value = full[var]
            if isinstance(value, _PriorView):
                value = value.materialise()
            elif fields is None and isinstance(value, dict):
                value = _cel_only(value)
            act[var] = value if fields is None else {f: value[f] for f in fields}
        return act


def _identifying(rule: Rule) -> bool:
    for var, fields in rule.refs.items():
        if var == "config":
            continue
        if fields is None:
            if var != "prior":
                return True
        elif fields & IDENTIFYING.get(var, frozenset()):
            return True
    return False


class _Group:
    """The enabled rules of one (target, phase): rules that cannot fire under the config are left
    out, rules reading identifying fields get clusters of their own, the rest is one program."""

    def __init__(self, rules: list[Rule], config_vars: Mapping[str, Any], *, split: bool = True) -> None:
        self.rules = rules
        conditions = [bake_config(r.spec.condition, config_vars) if r.refs.get("config", ()) is not None
                      else r.spec.condition for r in rules]
        fused: list[tuple[int, Rule, str]] = []
        own: list[list[tuple[int, Rule, str]]] = []
        self.pruned: tuple[str, ...] = ()
        for i, (r, c) in enumerate(zip(rules, conditions, strict=True)):
            if split and constant_false(c):
                self.pruned += (r.id,)
            elif split and _identifying(r):
                own.append([(i, r, c)])
            else:
                fused.append((i, r, c))
        self.clusters = tuple(_Cluster(m) for m in ([fused] if fused else []) + own)
        self.order = {id(r): i for i, r in enumerate(rules)}  # catalogue position, to merge clusters' hits
        self.live = bool(self.clusters)


def _cel_only(d: Mapping[str, Any]) -> dict[str, Any]:
    """A variable passed whole, less its display-only values (message texts)."""
    return {k: v for k, v in d.items() if not isinstance(v, F.Quoted)}


class _PriorView:
    """Findings already produced for a credential; turned into CEL values only on a memo miss."""

    __slots__ = ("hits",)

    def __init__(self, hits: list[_Hit]) -> None:
        self.hits = hits

    def materialise(self) -> tuple[dict[str, Any], ...]:
        return tuple({"rule_id": h.rule.id, "severity": h.severity.label, "severity_rank": int(h.severity),
                      "category": h.rule.spec.category} for h in self.hits)


def _freeze(v: Any) -> Any:
    if isinstance(v, Mapping):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    return v


class Engine:
    """Evaluates trust contexts against the loaded catalogue and configuration."""

    def __init__(self, config: Config, rules: Sequence[Rule] | None = None, *, fast: bool = True) -> None:
        """``fast=False`` is the earlier approach (one fused program per target, every finding built
        as it fires), kept so that ``make bench`` can measure both side by side."""
        self.config = config
        self.fast = fast
        if rules is None:
            rules = load_rules([RULES_DIR, *config.rule_paths])
        known = {r.id.upper() for r in rules}
        unknown = sorted(set(config.rules) - known)
        if unknown:
            raise ConfigError(f"{config.source}: rules: unknown rule id(s) {', '.join(unknown)}")
        for i, ex in enumerate(config.exemptions):
            # A typo (WIF1O2) would exempt nothing, silently: a pattern must name a known rule.
            if not any(fnmatch.fnmatchcase(k, ex.rule.upper()) for k in known):
                raise ConfigError(f"{config.source}: exemptions[{i}].rule: {ex.rule!r} matches no rule id")
        self.all_rules = list(rules)
        self.rules = [r for r in rules if r.spec.enabled and config.rules.get(r.id.upper(), RuleOverride()).enabled]
        self.cf = F.ConfigFacts(config)
        self._effective = {r.id: (r.id, self.severity_of(r), self.action_of(r), r.id.upper(), r.spec.title,
                                  r.spec.category) for r in self.rules}
        self.groups: dict[tuple[str, int], _Group] = {}
        for target in TARGETS:
            for phase in (1, 2):
                members = [r for r in self.rules if r.spec.applies_to == target and r.phase == phase]
                self.groups[(target, phase)] = _Group(members, self.cf.vars, split=fast)
        self._empty = _Group([], self.cf.vars)
        self._runs: dict[tuple[bool, bool], frozenset[str]] = {}
        for with_change in (False, True):
            for with_tenant in (False, True):
                targets = {"credential", "role_assignment", "identity"}
                if with_change:
                    targets.add("change")
                if with_tenant:
                    targets.add("tenant")
                self._runs[(with_change, with_tenant)] = frozenset(
                    r.id for r in self.rules if r.spec.applies_to in targets)
        self._validate()

    # -- configuration-derived -----------------------------------------------------------------
    def severity_of(self, rule: Rule) -> Severity:
        o = self.config.rules.get(rule.id.upper())
        return o.severity if o is not None and o.severity is not None else rule.spec.severity

    def action_of(self, rule: Rule) -> str:
        o = self.config.rules.get(rule.id.upper())
        return o.action if o is not None and o.action is not None else rule.spec.action

    def expired_exemptions(self, today: dt.date | None = None) -> list[Exemption]:
        today = today or dt.date.today()
        return [e for e in self.config.exemptions if e.expired(today)]

    # -- validation ----------------------------------------------------------------------------
    def _validate(self) -> None:
        """Run every rule once on sample facts so a bad field or type fails at load, by rule id."""
        ident = Identity("sample", "sample", IdentityKind.APPLICATION)
        cred = Credential("sample", "https://token.actions.githubusercontent.com", "repo:o/r:pull_request",
                          ("api://AzureADTokenExchange",))
        ctx = TrustContext(ident, (cred,), (), ())
        samples: dict[str, Any] = {
            # Every variable's sample facts, as its fact provider declares them.
            **fact_registry.samples(self.cf, ctx, cred),
            "prior_text": "WIF101 (high)",
            "rule": {"id": "X", "title": "x", "severity": "high"},
        }
        for rule in self.rules:
            for var, fields in rule.refs.items():
                known = samples[var]
                if fields is None or not isinstance(known, Mapping):
                    continue
                missing = sorted(set(fields) - set(known))
                if missing:
                    raise RuleError(
                        f"{rule.source}: rule {rule.id}: unknown field(s) {', '.join(var + '.' + m for m in missing)}; "
                        f"{var} has {', '.join(sorted(known))}"
                    )
            act = {v: (_cel_only(samples[v]) if isinstance(samples[v], dict) else samples[v]) for v in rule.refs}
            for label, prog in [("condition", rule.program)] + [(f"escalate[{i}].when", p) for i, (_, p) in
                                                                  enumerate(rule.escalations)]:
                try:
                    result = prog.execute(act)
                except Exception as exc:
                    raise RuleError(f"{rule.source}: rule {rule.id}: {label} fails on sample facts: {exc}") from None
                if not isinstance(result, bool):
                    raise RuleError(
                        f"{rule.source}: rule {rule.id}: {label} must be a boolean, got {type(result).__name__}"
                    )
            for label, text in (("message", rule.template), ("remediation", rule.remediation_template)):
                try:
                    text.format_map(samples)
                except (KeyError, IndexError, TypeError) as exc:
                    raise RuleError(f"{rule.source}: rule {rule.id}: {label} refers to unknown field {exc}") from None

    # -- evaluation ------------------------------------------------------------------------------
    def _cred_vars(self, ctx: TrustContext, iv: F.IdentityView, c: Credential,
                   tenant: F.TenantIndex | None, external: ExternalFacts | None = None) -> dict[str, Any]:
        iss = self.cf.issuer(c.issuer)
        provider = iss["provider"]
        out: dict[str, Any] = {
            "_iref": iv.ref,
            "credential": F.credential_vars(c),
            "issuer": iss,
            "subject": F.subject_vars(c.subject, provider),
            "flex": F.flex_vars(c.claims_matching_expression.value if c.claims_matching_expression else None,
                                provider),
            "identity": iv.vars,
            "config": self.cf.vars,
            "external": EXTERNAL_UNCHECKED,
        }
        if tenant is not None:
            out["tenant"] = tenant.vars(ctx, c)
        if external is not None:
            # Resolved before evaluation (wifguard.sources.external.checks): the engine does no I/O.
            got = external.get(c)
            if got is not None:
                out["external"], out["_ext_evidence"] = got
        return out

    def _run(self, group: _Group, full: Mapping[str, Any], where: str, errors: list[str]) -> tuple[Rule, ...]:
        fired: tuple[Rule, ...] = ()
        merged = False
        for cl in group.clusters:
            key = cl.key(full)
            hits = cl.memo_hits.get(key)
            if hits is None:
                hits = self._execute(cl, key, full, where, errors)
            if hits:
                merged = merged or bool(fired)
                fired += hits
        if merged:  # catalogue order, as one fused program gives
            order = group.order
            fired = tuple(sorted(fired, key=lambda r: order[id(r)]))
        return fired

    def _execute(self, cl: _Cluster, key: tuple[Any, ...], full: Mapping[str, Any], where: str,
                 errors: list[str]) -> tuple[Rule, ...]:
        act = cl.activation(full)
        failed = False
        try:
            result = [bool(x) for x in cl.program.execute(act)]
        except Exception:
            # Isolate the failing rule(s); the others still count. Not memoised.
            failed = True
            result = []
            for r, prog in zip(cl.rules, cl.single, strict=True):
                try:
                    result.append(bool(prog.execute({v: act[v] for v in r.refs if v in act})))
                except Exception as exc:
                    errors.append(f"rule {r.id} failed on {where}: {exc}")
                    result.append(False)
        hits = tuple(r for r, hit in zip(cl.rules, result, strict=True) if hit)
        if not failed:
            if len(cl.memo_hits) >= MEMO_LIMIT:
                cl.memo_hits.clear()
            cl.memo_hits[key] = hits
        return hits

    def _hit(self, rule: Rule, full: Mapping[str, Any], identity: Identity, *,
             credential: Credential | None = None, role: F.RoleView | None = None,
             evidence: Mapping[str, Any] | None = None) -> _Hit:
        """A fired rule: its severity now (phase-2 rules read it), its finding when asked."""
        sev = self._effective[rule.id][1]
        for esc_sev, prog in rule.escalations:
            act = {v: (full[v].materialise() if isinstance(full[v], _PriorView) else full[v])
                   for v in rule.refs if v in full}
            if esc_sev > sev and prog.execute(act):
                sev = esc_sev
        return _Hit(self, rule, sev, full, identity, credential, role, evidence)

    def _build(self, h: _Hit) -> Finding:
        rule, full, sev = h.rule, h.full, h.severity
        rid, _, action, key, title, category = self._effective[rule.id]
        render = {**full, "rule": {"id": rid, "title": title, "severity": sev.label}} \
            if rule.uses_rule_field else full
        message = rule.template.format_map(render)
        remediation = rule.remediation_template.format_map(render) if "{" in rule.remediation_template \
            else rule.remediation_template
        rref = h.role.assignment.to_ref(h.role.facts.name) if h.role is not None else None
        # Same value as model.fingerprint(), with the per-credential part joined once.
        fp = hashlib.sha256(f"{key}\x1f{h.suffix()}".encode()).hexdigest()[:32]
        evidence = h.evidence
        if "external" in rule.refs and full.get("_ext_evidence"):
            evidence = {**(evidence or {}), "external": list(full["_ext_evidence"])}
        return Finding(rid, sev, title, message, full["_iref"], remediation, fp,
                       h.credential.to_ref() if h.credential is not None else None, rref, action, category,
                       evidence or {})

    def evaluate(
        self,
        ctx: TrustContext,
        *,
        change: Change | None = None,
        tenant: F.TenantIndex | None = None,
        today: dt.date | None = None,
        targets: frozenset[str] | None = None,
        external: ExternalFacts | None = None,
    ) -> Evaluation:
        """Evaluate one identity. ``targets`` limits which rule targets run (e.g. only ``tenant``)."""
        errors: list[str] = []
        found: list[_Hit] = []
        ident = ctx.identity
        iv = F.identity_view(ctx, self.cf)
        where = f"{ident.kind.value} {ident.name!r} ({ident.id})"
        def group(target: str, phase: int = 1) -> _Group:
            if targets is not None and target not in targets:
                return self._empty
            return self.groups[(target, phase)]

        g1, g2, gt = group("credential"), group("credential", 2), group("tenant")
        # Change rules first, so that WIF602 (phase 2) sees e.g. a WIF104 on the same credential.
        change_hits: dict[str, list[_Hit]] = {}
        gc = group("change")
        if change is not None and gc.live:
            cred = change.new_credential or change.old_credential
            if cred is None and change.credential_name:
                cred = next((c for c in ctx.credentials if c.name.lower() == change.credential_name.lower()), None)
            if cred is not None:
                full = self._cred_vars(ctx, iv, cred, None)
                full["change"] = F.change_vars(change, ctx.owners, self.cf)
                live = next((c for c in ctx.credentials if c.name.lower() == cred.name.lower()), None)
                # Fingerprints follow the live credential, like every other finding about it;
                # the payload's copy is the evidence only when the credential is gone.
                hits = [self._hit(r, full, ident, credential=live or cred)
                        for r in self._run(gc, full, where, errors)]
                if live is not None:
                    change_hits[live.name.lower()] = hits
                else:
                    found += hits
        for c in ctx.credentials:
            full = self._cred_vars(ctx, iv, c, tenant, external)
            hits = [self._hit(r, full, ident, credential=c) for r in self._run(g1, full, where, errors)] \
                if g1.live else []
            hits += change_hits.get(c.name.lower(), [])
            if tenant is not None and gt.live:
                hits += [self._hit(r, full, ident, credential=c) for r in self._run(gt, full, where, errors)]
            if g2.live:
                full["prior_key"] = tuple((h.rule.id, int(h.severity), h.rule.spec.category) for h in hits)
                full["prior"] = _PriorView(hits)
                second = self._run(g2, full, where, errors)
                if second:
                    full["prior_text"] = ", ".join(
                        f"{h.rule.id} ({h.severity.label})" for h in hits if h.severity >= Severity.HIGH)
                    hits += [self._hit(r, full, ident, credential=c) for r in second]
            found += hits
        gr = group("role_assignment")
        if gr.live:
            for rv in iv.roles:
                full = {"role": F.role_vars(rv), "identity": iv.vars, "config": self.cf.vars, "_iref": iv.ref}
                found += [self._hit(r, full, ident, role=rv) for r in self._run(gr, full, where, errors)]
        gi = group("identity")
        if gi.live:
            full = {"identity": iv.vars, "config": self.cf.vars, "_iref": iv.ref}
            found += [self._hit(r, full, ident, evidence=iv.evidence if r.spec.category == "privilege" else None)
                      for r in self._run(gi, full, where, errors)]
        runs = self._runs[(change is not None, tenant is not None)] if targets is None else \
            frozenset(r.id for r in self.rules if r.spec.applies_to in targets)
        ev = self._apply_exemptions(found, errors, today, runs)
        if not self.fast:
            ev.findings  # noqa: B018 - the earlier approach built every finding here
        return ev

    def _apply_exemptions(self, found: list[_Hit], errors: list[str], today: dt.date | None,
                          runs: frozenset[str]) -> Evaluation:
        active = [e for e in self.config.exemptions if not e.expired(today or dt.date.today())] \
            if self.config.exemptions else []
        seen: set[tuple[str, ...]] = set()
        unique: list[_Hit] = []
        for h in found:
            k = h.dedup_key()
            if k not in seen:
                seen.add(k)
                unique.append(h)
        if not active:
            return Evaluation(errors=tuple(errors), rules_run=runs, pending=tuple(unique))
        kept: list[Finding] = []
        exempted: list[tuple[Finding, Exemption]] = []
        for h in unique:
            f = h.finding()
            ex = next((e for e in active if e.matches(f)), None)
            if ex is None:
                kept.append(f)
            else:
                exempted.append((f, ex))
        return Evaluation(tuple(kept), tuple(exempted), tuple(errors), runs)
