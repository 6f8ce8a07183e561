"""Rule catalogue: YAML rule files, validated with pydantic and compiled to CEL programs once.

A rule file is a YAML mapping with a ``rules:`` list (or a bare list). Each rule names the
object it ``applies_to`` and a CEL ``condition`` over the variables the fact providers declare
(``wifguard.catalogue.facts.providers``, and the README). Rules are compiled one by one, so a broken rule is
reported with its file and id, then *fused* per target into a single CEL program so that one
credential costs one call into the CEL runtime instead of one per rule.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cel
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wifguard.domain.model import Severity
from wifguard.errors import ConfigError

TARGETS = ("credential", "tenant", "role_assignment", "identity", "change")
ATTACK_ID_RE = re.compile(r"^T\d{4}(?:\.\d{3})?$")
_URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.I)
CATEGORIES = ("issuer", "subject", "flexible", "audience", "hygiene", "privilege", "actor", "external", "custom")



def variables_for(target: str) -> frozenset[str]:
    """Variables a condition of a rule for ``target`` may use: what the fact providers declare
    (``wifguard.catalogue.facts.providers``; every field is documented there)."""
    from wifguard.catalogue.facts.registry import registry

    return registry.variables_for(target)


def condition_fields(variable: str) -> frozenset[str] | None:
    """The fields a condition may read of a map variable (message-only ``text`` fields excluded);
    None for a list variable (``prior``)."""
    from wifguard.catalogue.facts.registry import registry

    provs = registry.of(variable)
    if provs[0].shape != "map":
        return None
    return frozenset(name for name, f in registry.fields(variable).items() if f.type != "text")


class RuleError(ConfigError):
    """A rule file or rule is unusable; the message names the file, the rule id and the problem."""


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    severity: Severity
    when: str

    @field_validator("severity", mode="before")
    @classmethod
    def _sev(cls, v: Any) -> Any:
        return Severity.parse(v)


class RuleSpec(BaseModel):
    """One rule as written in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{1,63}$")
    title: str = Field(min_length=3)
    severity: Severity
    category: Literal["issuer", "subject", "flexible", "audience", "hygiene", "privilege", "actor", "external",
                      "custom"] = (
        "custom"
    )
    applies_to: Literal["credential", "tenant", "role_assignment", "identity", "change"]
    condition: str = Field(min_length=1)
    message: str = Field(min_length=3)
    remediation: str = Field(min_length=3)
    action: Literal["notify", "quarantine"] = "notify"
    escalate: tuple[Escalation, ...] = ()
    enabled: bool = True
    description: str = ""
    # Detection-as-code metadata (Sigma/Elastic style). Optional for user rules; the catalogue
    # lint (wifguard.catalogue.lint) requires them on every shipped rule.
    fires_when: str = ""  # Markdown clause completing "fires when ..." (README table, SARIF)
    severity_note: str = ""  # the severity column when escalations change it, e.g. "high, critical at root"
    references: tuple[str, ...] = ()
    attack: tuple[str, ...] = ()  # MITRE ATT&CK technique ids, e.g. T1098.001
    false_positives: tuple[str, ...] = ()
    triage: str = ""  # what to check first when it fires

    @field_validator("severity", mode="before")
    @classmethod
    def _sev(cls, v: Any) -> Any:
        return Severity.parse(v)

    @field_validator("references")
    @classmethod
    def _urls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for url in v:
            if not _URL_RE.match(url):
                raise ValueError(f"{url!r} is not an absolute http(s) URL")
        return v

    @field_validator("attack")
    @classmethod
    def _attack(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for tid in v:
            if not ATTACK_ID_RE.match(tid):
                raise ValueError(f"{tid!r} is not a MITRE ATT&CK technique id (T1234 or T1234.001)")
        return v

    @field_validator("false_positives")
    @classmethod
    def _fps(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s.strip() for s in v):
            raise ValueError("an entry is empty")
        return v


def rule_json_schema() -> dict[str, Any]:
    """The JSON Schema of one rule as written in YAML (for editors and user catalogues)."""
    return RuleSpec.model_json_schema()


_MACRO_VAR_RE = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
STRING_LITERAL_RE = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\"""")


def field_refs(expression: str, variables: Iterable[str]) -> dict[str, frozenset[str] | None]:
    """Which fields of each variable an expression reads (None: the whole variable).

    Used to build the smallest activation and the memo key; a variable used other than as
    ``var.field`` (passed whole, indexed, iterated) counts as read whole.
    """
    text = STRING_LITERAL_RE.sub("''", expression)
    out: dict[str, frozenset[str] | None] = {}
    for var in variables:
        uses = list(re.finditer(rf"(?<![\w.]){re.escape(var)}\b", text))
        if not uses:
            continue
        fields: set[str] = set()
        whole = False
        for m in uses:
            f = re.match(r"\s*\.\s*([A-Za-z_]\w*)(\s*\()?", text[m.end():])
            if f and not f.group(2):
                fields.add(f.group(1))
            else:
                whole = True
        out[var] = None if whole else frozenset(fields)
    return out


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    source: str
    program: Any  # cel.Program
    template: str  # str.format_map template: {credential[name]!r}
    remediation_template: str
    escalations: tuple[tuple[Severity, Any], ...]
    refs: dict[str, frozenset[str] | None] = field(hash=False)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def uses_rule_field(self) -> bool:
        return "{rule[" in self.template or "{rule[" in self.remediation_template

    @property
    def phase(self) -> int:
        return 2 if "prior" in self.refs else 1


def check_template(text: str) -> None:
    """Reject format templates that use attribute access or format specs beyond !r/!s."""
    for _, fname, spec, conv in string.Formatter().parse(text):
        if fname is None:
            continue
        if "." in fname or "(" in fname:
            raise ValueError(f"field {fname!r}: use item access like {{credential[name]}}, not attributes")
        if spec:
            raise ValueError(f"field {fname!r}: format specs are not supported")
        if conv not in (None, "r", "s"):
            raise ValueError(f"field {fname!r}: only !r and !s conversions are supported")


def _compile_rule(spec: RuleSpec, source: str) -> Rule:
    where = f"{source}: rule {spec.id}"
    allowed = variables_for(spec.applies_to)
    exprs = [("condition", spec.condition)] + [(f"escalate[{i}].when", e.when) for i, e in enumerate(spec.escalate)]
    programs = []
    refs: dict[str, frozenset[str] | None] = {}
    for label, expr in exprs:
        try:
            prog = cel.compile(expr)
        except Exception as exc:
            raise RuleError(f"{where}: {label} is not valid CEL: {exc}") from None
        # Comprehension variables (``list.exists(p, ...)``) are bound locally, not inputs.
        local = set(_MACRO_VAR_RE.findall(expr))
        used = set(prog.variables()) - local
        unknown = used - allowed
        if unknown:
            raise RuleError(
                f"{where}: {label} uses unknown variable(s) {', '.join(sorted(unknown))}; "
                f"a {spec.applies_to} rule may use {', '.join(sorted(allowed))}"
            )
        for var, fields in field_refs(expr, used).items():
            known = condition_fields(var)
            missing = sorted(fields - known) if fields is not None and known is not None else []
            if missing:
                raise RuleError(
                    f"{where}: {label} uses unknown field(s) {', '.join(var + '.' + m for m in missing)}; "
                    f"{var} has {', '.join(sorted(known or ()))}"
                )
            prev = refs.get(var, frozenset())
            refs[var] = None if fields is None or prev is None else prev | fields
        programs.append(prog)
    for label, text in (("message", spec.message), ("remediation", spec.remediation)):
        try:
            check_template(text)
        except ValueError as exc:
            raise RuleError(f"{where}: {label} template is invalid: {exc}") from None
    return Rule(
        spec=spec,
        source=source,
        program=programs[0],
        template=" ".join(spec.message.split()),
        remediation_template=" ".join(spec.remediation.split()),
        escalations=tuple((e.severity, p) for e, p in zip(spec.escalate, programs[1:], strict=True)),
        refs=refs,
    )


def _format_validation(where: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(rule)"
        parts.append(f"{loc}: {err['msg']}")
    return f"{where}: " + "; ".join(parts)


def load_rule_file(path: Path) -> list[Rule]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"{path}: cannot read rule file: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from None
    items = data.get("rules") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise RuleError(f"{path}: a rule file holds a list of rules (or a mapping with a 'rules' list)")
    rules = []
    for i, item in enumerate(items):
        rid = item.get("id", f"#{i + 1}") if isinstance(item, dict) else f"#{i + 1}"
        if not isinstance(item, dict):
            raise RuleError(f"{path}: rule {rid}: a rule must be a mapping")
        try:
            spec = RuleSpec.model_validate(item)
        except ValidationError as exc:
            raise RuleError(_format_validation(f"{path}: rule {rid}", exc)) from None
        rules.append(_compile_rule(spec, str(path)))
    return rules


def rule_files(directories: Sequence[Path | str]) -> list[Path]:
    files: list[Path] = []
    for d in directories:
        p = Path(d)
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files += sorted(f for f in p.glob("*.y*ml") if not f.name.startswith("config"))
        else:
            raise RuleError(f"{p}: rule path does not exist")
    return files


def load_rules(directories: Sequence[Path | str]) -> list[Rule]:
    """Load every rule file; ids must be unique across files."""
    seen: dict[str, str] = {}
    out: list[Rule] = []
    for f in rule_files(directories):
        for rule in load_rule_file(f):
            key = rule.id.upper()
            if key in seen:
                raise RuleError(f"{f}: rule {rule.id}: duplicate id (already defined in {seen[key]})")
            seen[key] = str(f)
            out.append(rule)
    return out
