"""Reading the Bicep templates (parsed with pycep-parser) and ``function_app.py`` (with ``ast``).

pycep gives a JSON-like tree where a bare identifier (a parameter, variable or resource
reference) and a string literal look alike: both are Python ``str``. The helpers below resolve a
``str`` that names a variable of the same file to that variable's value, which is what the tests
need (app settings and filters are built from variables); anything else stays as it is.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MODULES = INFRA / "modules"
FUNCTION_APP = ROOT / "function_app.py"
SETTINGS = ROOT / "wifguard" / "settings.py"

# App settings that hold notification secrets (Key Vault references in Azure) or their non-secret
# companion. Their names are chosen in the user's config (`url_setting`, `topic_key_setting`),
# so wifguard/settings.py does not list them; these are the names the deployment offers.
NOTIFICATION_SECRET_SETTINGS = frozenset(
    {
        "WIFGUARD_TEAMS_WEBHOOK_URL",
        "WIFGUARD_SLACK_WEBHOOK_URL",
        "WIFGUARD_WEBHOOK_URL",
        "WIFGUARD_EVENTGRID_TOPIC_KEY",
    }
)
NOTIFICATION_PLAIN_SETTINGS = frozenset({"WIFGUARD_EVENTGRID_TOPIC_ENDPOINT"})

# What each trigger/binding kind needs under its identity-based connection prefix.
CONNECTION_SERVICE_KEYS = {
    "event_hub_message_trigger": "fullyQualifiedNamespace",
    "event_hub_output": "fullyQualifiedNamespace",
    "queue_trigger": "queueServiceUri",
    "queue_output": "queueServiceUri",
}


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def parse_bicep(path: Path) -> dict[str, Any]:
    from pycep import BicepParser

    return cast(dict[str, Any], BicepParser().parse(file_path=path))


def resource_body(resource: dict[str, Any]) -> dict[str, Any]:
    """The `{name, properties, ...}` of a resource, below any `if` / `for` wrapper."""
    cfg = resource["config"]
    while isinstance(cfg, dict) and ("condition" in cfg or "loop_type" in cfg) and "config" in cfg:
        cfg = cfg["config"]
    return cfg


def condition_of(resource: dict[str, Any]) -> Any:
    cfg = resource["config"]
    return cfg.get("condition") if isinstance(cfg, dict) else None


def resources_of_type(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {
        name: r
        for name, r in template.get("resources", {}).items()
        if str(r.get("type", "")).casefold() == rtype.casefold()
    }


def param_default(template: dict[str, Any], name: str) -> Any:
    return template["parameters"][name].get("default")


def has_default(param: dict[str, Any]) -> bool:
    return param.get("default") is not None


def module_path(module: dict[str, Any]) -> str:
    """Path of a local module (`module x 'path.bicep'`), as written."""
    return str(module["detail"]["path"])


def resolve(template: dict[str, Any], node: Any, _seen: frozenset[str] = frozenset()) -> Any:
    """Replace references to the file's variables by their (recursively resolved) values."""
    variables = template.get("variables", {})
    if isinstance(node, str) and node in variables and node not in _seen:
        return resolve(template, variables[node]["value"], _seen | {node})
    if isinstance(node, dict):
        return {k: resolve(template, v, _seen) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(template, v, _seen) for v in node]
    return node


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def name_value_pairs(node: Any) -> list[tuple[str, Any]]:
    """Every `{name: '...', value: ...}` object in an (already resolved) expression tree."""
    return [
        (n["name"], n["value"])
        for n in walk(node)
        if isinstance(n, dict) and set(n) == {"name", "value"} and isinstance(n["name"], str)
    ]


def function_app_settings() -> dict[str, list[Any]]:
    """App settings the templates can set on the Function App: name -> possible values."""
    template = parse_bicep(MODULES / "function-app.bicep")
    (site,) = resources_of_type(template, "Microsoft.Web/sites").values()
    app_settings = resolve(template, resource_body(site)["properties"]["siteConfig"]["appSettings"])
    out: dict[str, list[Any]] = {}
    for name, value in name_value_pairs(app_settings):
        out.setdefault(name, []).append(value)
    # Settings could also come from a separate `config/appsettings` resource.
    for cfg in resources_of_type(template, "Microsoft.Web/sites/config").values():
        body = resource_body(cfg)
        if body.get("name") == "appsettings":
            for name, value in resolve(template, body["properties"]).items():
                out.setdefault(name, []).append(value)
    return out


def bicep_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in bicep_files())


def functions_referenced_by_templates() -> set[str]:
    """Function names in `<site id>/functions/<name>` endpoint ids anywhere in the templates."""
    return set(re.findall(r"/functions/([A-Za-z_][A-Za-z0-9_]*)", bicep_text()))


@dataclass
class Binding:
    kind: str  # decorator name, e.g. event_hub_message_trigger
    kwargs: dict[str, Any]


@dataclass
class Function:
    name: str
    python_name: str
    bindings: list[Binding] = field(default_factory=list)


def _decorator_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def read_function_app(path: Path = FUNCTION_APP) -> dict[str, Function]:
    """Functions declared in function_app.py, by function name (`function_name(...)` or the def name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: dict[str, Function] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.decorator_list:
            continue
        fn = Function(name=node.name, python_name=node.name)
        is_function = False
        for dec in node.decorator_list:
            kind = _decorator_name(dec)
            if kind is None:
                continue
            kwargs: dict[str, Any] = {}
            args: list[Any] = []
            if isinstance(dec, ast.Call):
                for kw in dec.keywords:
                    if kw.arg is not None:
                        try:
                            kwargs[kw.arg] = ast.literal_eval(kw.value)
                        except ValueError:
                            kwargs[kw.arg] = ast.unparse(kw.value)
                for a in dec.args:
                    try:
                        args.append(ast.literal_eval(a))
                    except ValueError:
                        args.append(ast.unparse(a))
            if kind == "function_name":
                fn.name = str(args[0] if args else kwargs.get("name"))
                is_function = True
            elif kind.endswith(("_trigger", "_output", "_input")) or kind == "route":
                fn.bindings.append(Binding(kind, kwargs))
                is_function = True
        if is_function:
            out[fn.name] = fn
    return out


def percent_settings(functions: dict[str, Function]) -> set[str]:
    """`%NAME%` app-setting references in binding arguments."""
    found: set[str] = set()
    for fn in functions.values():
        for b in fn.bindings:
            for v in b.kwargs.values():
                if isinstance(v, str):
                    found.update(re.findall(r"%([A-Za-z0-9_]+)%", v))
    return found


def connections(functions: dict[str, Function]) -> dict[str, set[str]]:
    """connection prefix -> binding kinds using it."""
    out: dict[str, set[str]] = {}
    for fn in functions.values():
        for b in fn.bindings:
            conn = b.kwargs.get("connection")
            if isinstance(conn, str) and conn:
                out.setdefault(conn, set()).add(b.kind)
    return out


def settings_module() -> dict[str, Any]:
    """Module-level string constants and ALL_SETTINGS of wifguard/settings.py (read with ast)."""
    tree = ast.parse(SETTINGS.read_text(encoding="utf-8"))
    consts: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                consts[name] = node.value.value
            elif isinstance(node.value, ast.Tuple) and name == "ALL_SETTINGS":
                consts[name] = tuple(consts[e.id] for e in node.value.elts if isinstance(e, ast.Name))
    return consts
