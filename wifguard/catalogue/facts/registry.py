"""The registry of fact providers: what rule conditions may read, declared in one place.

A *fact provider* is one module that registers, with :func:`fact_provider`, the fields it puts
into one rule variable (``issuer``, ``identity``, ``change`` …): each field's name, type and
description, the rule targets that see the variable, sample facts for load-time validation, and
the builder that computes them. Everything else follows from the registry (Cloud Custodian's
``schema.py`` pattern): the variables a rule of each target may use (``wifguard.catalogue.rules`` rejects
any other, naming the valid ones), the sample facts ``Engine`` validates every rule against, and
the variables table in the README (``python -m wifguard.catalogue.facts.providers``).

Several providers may fill one variable: ``privilege`` adds its fields to ``identity``,
``evidence`` adds the add/remove lifetime to ``change``. The built-in groups are computed on the
engine's fast path (``inline=True``: memoised per distinct issuer, subject, expression); a new
provider for ``credential``, ``identity`` or ``change`` is merged by the builders in
``wifguard.catalogue.facts`` without touching them: a new fact is one new module plus its tests.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from wifguard.errors import ConfigError

if TYPE_CHECKING:
    from wifguard.catalogue.facts import ConfigFacts

TARGETS: Final = ("credential", "tenant", "role_assignment", "identity", "change")
#: What rules see per target besides the registered variables: nothing today (kept explicit).
FIELD_TYPES: Final = frozenset({"string", "bool", "int", "list<string>", "list<map>", "text"})
#: Variables an extension provider (``inline=False``) may add fields to, and its builder's inputs.
EXTENSIBLE: Final = {
    "credential": "build(credential: Credential) -> dict",
    "identity": "build(ctx: TrustContext, cf: ConfigFacts) -> dict",
    "change": "build(change: Change, owners: tuple[Owner, ...] | None, cf: ConfigFacts) -> dict",
}

Vars = dict[str, Any]


class UnknownFact(ConfigError, LookupError):
    """A variable or provider name that is not registered; the message lists the valid ones."""


@dataclass(frozen=True)
class FactField:
    name: str
    type: str  # one of FIELD_TYPES; ``text`` is message text only (not passed to conditions)
    description: str

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name}: type {self.type!r} is not one of {', '.join(sorted(FIELD_TYPES))}")


@dataclass(frozen=True)
class Samples:
    """The inputs every provider's ``sample`` is built from (one GitHub credential, no roles)."""

    cf: ConfigFacts
    ctx: Any  # TrustContext
    credential: Any  # Credential


@dataclass(frozen=True)
class FactProvider:
    """One module's contribution to one rule variable."""

    name: str  # the fact group, e.g. 'issuers', 'privilege'
    variable: str  # the rule variable it fills, e.g. 'issuer', 'identity'
    targets: tuple[str, ...]  # the rule targets (applies_to) that see the variable
    fields: tuple[FactField, ...]
    build: Callable[..., Any]  # computes the fields (signature per variable: see EXTENSIBLE)
    sample: Callable[[Samples], Any] | None  # the variable's sample value (its primary provider only)
    description: str
    module: str
    inline: bool = True  # built on the engine's fast path; False: merged generically (EXTENSIBLE)
    shape: str = "map"  # 'map' (fields) or 'list' (a list of maps: ``prior``)
    field_names: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_names", frozenset(f.name for f in self.fields))


class FactRegistry:
    """Providers by name; variables, their fields and targets, derived from them."""

    def __init__(self, package: str | None = None) -> None:
        self._package = package
        self._loaded = package is None
        self._providers: dict[str, FactProvider] = {}
        self._extensions: dict[str, tuple[Callable[..., Any], ...]] | None = None

    # -- registration ---------------------------------------------------------------------------
    def add(self, p: FactProvider) -> FactProvider:
        bad = sorted(set(p.targets) - set(TARGETS))
        if bad:
            raise ValueError(f"fact provider {p.name}: unknown target(s) {', '.join(bad)}; valid: {', '.join(TARGETS)}")
        prev = self._providers.get(p.name)
        if prev is not None and prev.module != p.module:
            raise ValueError(f"fact provider {p.name!r} is already registered by {prev.module}")
        for other in self._providers.values():
            if other.variable == p.variable and other.name != p.name:
                clash = other.field_names & p.field_names
                if clash:
                    raise ValueError(f"fact provider {p.name}: field(s) {', '.join(sorted(clash))} of "
                                     f"{p.variable} are already declared by {other.name}")
                if set(other.targets) != set(p.targets):
                    raise ValueError(f"fact provider {p.name}: {p.variable} is seen by "
                                     f"{', '.join(other.targets)} (as declared by {other.name})")
        if not p.inline and p.variable not in EXTENSIBLE:
            raise ValueError(f"fact provider {p.name}: only {', '.join(EXTENSIBLE)} take new fields "
                             f"outside the engine's fast path, not {p.variable}")
        self._providers[p.name] = p
        self._extensions = None
        return p

    def remove(self, name: str) -> None:
        """Unregister (tests register a provider of their own and take it away again)."""
        self._providers.pop(name, None)
        self._extensions = None

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        assert self._package is not None
        pkg = importlib.import_module(self._package)
        for mod in pkgutil.iter_modules(pkg.__path__):
            if not mod.name.startswith("_") and mod.name != "registry":
                importlib.import_module(f"{self._package}.{mod.name}")

    # -- lookup ---------------------------------------------------------------------------------
    def providers(self) -> list[FactProvider]:
        self._load()
        return sorted(self._providers.values(), key=lambda p: (p.variable, not p.inline, p.name))

    def provider(self, name: str) -> FactProvider:
        self._load()
        p = self._providers.get(name)
        if p is None:
            raise UnknownFact(f"no fact provider {name!r}; registered: {', '.join(sorted(self._providers))}")
        return p

    def variables(self) -> list[str]:
        return sorted({p.variable for p in self.providers()})

    def of(self, variable: str) -> list[FactProvider]:
        """The providers of one variable (the primary one first)."""
        got = [p for p in self.providers() if p.variable == variable]
        if not got:
            raise UnknownFact(f"no rule variable {variable!r}; variables: {', '.join(self.variables())}")
        return sorted(got, key=lambda p: (p.sample is None, p.name))

    def fields(self, variable: str) -> dict[str, FactField]:
        return {f.name: f for p in self.of(variable) for f in p.fields}

    def targets(self, variable: str) -> tuple[str, ...]:
        return self.of(variable)[0].targets

    def variables_for(self, target: str) -> frozenset[str]:
        """What a condition of a rule that ``applies_to`` this target may use."""
        if target not in TARGETS:
            raise UnknownFact(f"no rule target {target!r}; targets: {', '.join(TARGETS)}")
        return frozenset(p.variable for p in self.providers() if target in p.targets)

    def extensions(self, variable: str) -> tuple[Callable[..., Any], ...]:
        """Builders of the providers merged generically into ``variable`` (not on the fast path).

        Called per credential: cached until the next registration."""
        ext = self._extensions
        if ext is None:
            ext = {}
            for p in self.providers():
                if not p.inline:
                    ext[p.variable] = (*ext.get(p.variable, ()), p.build)
            self._extensions = ext
        return ext.get(variable, ())

    def samples(self, cf: ConfigFacts, ctx: Any, credential: Any) -> Vars:
        """Every variable's sample value (what ``Engine`` validates each rule against)."""
        s = Samples(cf, ctx, credential)
        out: Vars = {}
        for var in self.variables():
            primary, *rest = self.of(var)
            if primary.sample is None:
                raise ValueError(f"rule variable {var}: no provider declares its sample facts")
            value = primary.sample(s)
            if isinstance(value, dict):
                value = dict(value)
                for p in rest:
                    if p.sample is not None:
                        value.update(p.sample(s))
            out[var] = value
        return out


#: The one registry, filled by the modules of ``wifguard.catalogue.facts.providers``.
registry = FactRegistry("wifguard.catalogue.facts.providers")


def fact_provider(name: str, *, variable: str, targets: Iterable[str], fields: Iterable[FactField],
                  description: str, sample: Callable[[Samples], Any] | None = None, inline: bool = True,
                  shape: str = "map", into: FactRegistry | None = None) -> Callable[[Callable[..., Any]], Any]:
    """Decorator on a builder: register it as the provider ``name`` of ``variable``.

    The provider is named after the module that calls this (the builder may live elsewhere: the
    built-in groups' builders stay in ``wifguard.catalogue.facts``, on the engine's fast path)."""
    module = sys._getframe(1).f_globals.get("__name__", "?")

    def add(build: Callable[..., Any]) -> Callable[..., Any]:
        (into or registry).add(FactProvider(name, variable, tuple(targets), tuple(fields), build, sample,
                                            description, module, inline, shape))
        return build

    return add


def fields_table(fields: Mapping[str, FactField] | Iterable[FactField]) -> str:
    items = fields.values() if isinstance(fields, Mapping) else fields
    return "\n".join(f"- `{f.name}` ({f.type}): {f.description}" for f in items)


def markdown_table(reg: FactRegistry | None = None) -> str:
    """The README's variables table: variable, the targets that see it, its condition fields."""
    reg = reg or registry
    order = ["credential", "issuer", "subject", "flex", "identity", "role", "change", "tenant", "prior", "external",
             "config"]
    names = sorted(reg.variables(), key=lambda v: (order.index(v) if v in order else len(order), v))
    rows = ["| variable | for | provided by | fields |", "|---|---|---|---|"]
    for var in names:
        provs = reg.of(var)
        targets = provs[0].targets
        seen = "all" if set(targets) == set(TARGETS) else ", ".join(targets)
        if provs[0].shape == "list":
            fields = "list of `{" + ", ".join(f.name for f in provs[0].fields) + "}`"
        else:
            fields = "`" + " ".join(f.name for p in provs for f in p.fields if f.type != "text") + "`"
        by = ", ".join(f"`{p.module.rsplit('.', 1)[-1]}`" for p in provs)
        rows.append(f"| `{var}` | {seen} | {by} | {fields} |")
    return "\n".join(rows)
