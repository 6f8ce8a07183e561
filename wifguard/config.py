"""wifguard configuration: one YAML file, schema-validated, merged over the shipped defaults.

Merging: a key present in the user's file replaces the default, except the allow-lists
``allowed_issuers``, ``allowed_audiences`` and ``privileged_roles``, which *add to* the shipped
defaults unless the file sets ``inherit_defaults: false`` (then they start empty).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wifguard import errors
from wifguard.domain.model import Finding, Severity
from wifguard.package_data import rules_dir

RULES_DIR = rules_dir()
DEFAULT_CONFIG_PATH = RULES_DIR / "config.default.yaml"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EXTENDING_LISTS = ("allowed_issuers", "allowed_audiences", "privileged_roles")


class ConfigFileError(errors.ConfigError):
    """The configuration file is unusable; the message names the file and the problem."""


#: the old name: ``except ConfigError`` keeps meaning "the config file is unusable"
ConfigError = ConfigFileError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GitHubConfig(_Strict):
    allowed_owners: tuple[str, ...] = ()


class AzureDevOpsConfig(_Strict):
    allowed_organizations: tuple[str, ...] = ()


class GitLabConfig(_Strict):
    allowed_groups: tuple[str, ...] = ()  # top-level groups (or group/subgroup paths)


class TerraformCloudConfig(_Strict):
    allowed_organizations: tuple[str, ...] = ()


class KubernetesConfig(_Strict):
    disallowed_namespaces: tuple[str, ...] = ("default", "kube-system", "kube-public")
    disallowed_service_accounts: tuple[str, ...] = ("default",)


class RuleOverride(_Strict):
    enabled: bool = True
    severity: Severity | None = None
    action: Literal["notify", "quarantine"] | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _sev(cls, v: Any) -> Any:
        return None if v is None else Severity.parse(v)


class Exemption(_Strict):
    rule: str = "*"
    identity: str = "*"  # identity id or name; glob
    credential: str | None = None  # credential name; glob
    reason: str = Field(min_length=3)
    expires: dt.date | None = None
    approved_by: str | None = None

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def matches(self, finding: Finding) -> bool:
        if not fnmatch.fnmatchcase(finding.rule_id.upper(), self.rule.upper()):
            return False
        ident = finding.identity
        if not (
            fnmatch.fnmatchcase(str(ident.get("id", "")).lower(), self.identity.lower())
            or fnmatch.fnmatchcase(str(ident.get("name", "")).lower(), self.identity.lower())
        ):
            return False
        if self.credential is not None:
            cred = finding.credential
            return cred is not None and fnmatch.fnmatchcase(str(cred.get("name") or ""), self.credential)
        return True


class QuarantineConfig(_Strict):
    mode: Literal["off", "dry-run", "enforce"] = "off"
    rules: tuple[str, ...] = ()  # rule ids that trigger quarantine (besides rules whose action is quarantine)
    min_severity: Severity | None = None  # any finding at or above this severity triggers it
    max_per_hour: int = Field(default=5, ge=0)
    exempt_identities: tuple[str, ...] = ()  # ids, appIds or names
    responder_identities: tuple[str, ...] = ()  # the responder's own app/UAMI ids (never touched)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, v: Any) -> Any:
        # YAML 1.1 reads a bare `off` as False.
        return "off" if v is False else v

    @field_validator("min_severity", mode="before")
    @classmethod
    def _sev(cls, v: Any) -> Any:
        return None if v is None else Severity.parse(v)


class PrivilegeConfig(_Strict):
    """Overrides of the shipped privilege tiers (wifguard/sources/privilege/data/tiering.yaml): key → tier
    0, 1 or 2. Keys: Graph permission values; directory role template ids or display names;
    Azure role definition GUIDs or names."""

    graph_permissions: dict[str, Literal[0, 1, 2]] = Field(default_factory=dict)
    directory_roles: dict[str, Literal[0, 1, 2]] = Field(default_factory=dict)
    azure_roles: dict[str, Literal[0, 1, 2]] = Field(default_factory=dict)


class Config(_Strict):
    home_tenant_id: str | None = None
    inherit_defaults: bool = True
    allowed_issuers: tuple[str, ...] = ()
    allowed_audiences: tuple[str, ...] = ()
    privileged_roles: tuple[str, ...] = ()
    root_management_group_ids: tuple[str, ...] = ()
    approved_actors: tuple[str, ...] = ()  # user object ids, UPNs, service principal ids or appIds
    # WIF703: a credential added and removed within this many minutes (a backdoor used and hidden).
    add_remove_window_minutes: int = Field(default=60, ge=0)
    github: GitHubConfig = GitHubConfig()
    azure_devops: AzureDevOpsConfig = AzureDevOpsConfig()
    gitlab: GitLabConfig = GitLabConfig()
    terraform_cloud: TerraformCloudConfig = TerraformCloudConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    rule_paths: tuple[str, ...] = ()
    exemptions: tuple[Exemption, ...] = ()
    quarantine: QuarantineConfig = QuarantineConfig()
    privilege: PrivilegeConfig = PrivilegeConfig()
    notifications: dict[str, Any] = Field(default_factory=dict)
    external: dict[str, Any] = Field(default_factory=dict)  # providers; validated by wifguard.sources.external.config
    source: str = "<defaults>"

    @field_validator("home_tenant_id")
    @classmethod
    def _guid(cls, v: str | None) -> str | None:
        if v is not None and not _GUID.match(v):
            raise ValueError(f"{v!r} is not a tenant id (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47)")
        return v

    @field_validator("rules", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k).upper(): ({} if o is None else o) for k, o in v.items()}
        return v

    def resolved_issuers(self) -> tuple[str, ...]:
        tid = self.home_tenant_id
        out = []
        for p in self.allowed_issuers:
            if "{home_tenant_id}" in p:
                if tid:
                    # Cluster issuers carry the tenant in lower case (the path compares exactly).
                    p = p.replace("{home_tenant_id}", tid.lower() if _is_cluster_pattern(p) else tid)
                elif _is_cluster_pattern(p):
                    # AKS/Arc: with no home tenant the cluster's tenant cannot be checked (WIF107
                    # needs home_tenant_id); the entry then stands for any tenant's clusters.
                    p = p.replace("{home_tenant_id}", "*")
                else:
                    continue  # no home tenant configured: the placeholder entry cannot match
            out.append(p)
        return tuple(out)

    def root_scopes(self) -> frozenset[str]:
        ids = set(self.root_management_group_ids)
        if self.home_tenant_id:
            ids.add(self.home_tenant_id)
        return frozenset(ids)

    def with_home_tenant(self, tenant_id: str | None) -> Config:
        if not tenant_id or self.home_tenant_id:
            return self
        return self.model_copy(update={"home_tenant_id": tenant_id})


def _is_cluster_pattern(pattern: str) -> bool:
    host = pattern.split("://", 1)[-1].split("/", 1)[0].lower()
    return host.endswith((".oic.prod-aks.azure.com", ".oic.prod-arc.azure.com"))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}", where=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: config is not UTF-8 text ({exc.reason} at byte {exc.start})", where=str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", where=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping, not {type(data).__name__}", where=str(path))
    return data


def _format_errors(path: Path | str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {loc}: {err['msg']}")
    return f"{path}: invalid config:\n" + "\n".join(lines)


def merge(defaults: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    inherit = user.get("inherit_defaults", True)
    for key, value in user.items():
        if key in EXTENDING_LISTS and inherit is not False and isinstance(value, list):
            base = list(defaults.get(key) or [])
            out[key] = base + [v for v in value if v not in base]
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key not in {"rules"}:
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    if inherit is False:
        for key in EXTENDING_LISTS:
            if key not in user:
                out[key] = []
    return out


def load_config(path: str | Path | None = None, *, overrides: Mapping[str, Any] | None = None) -> Config:
    """Load the shipped defaults, merge the user's file (if any) and validate."""
    defaults = _read_yaml(DEFAULT_CONFIG_PATH)
    data = defaults
    source = str(DEFAULT_CONFIG_PATH)
    if path is not None:
        p = Path(path)
        data = merge(defaults, _read_yaml(p))
        source = str(p)
    if overrides:
        data = merge(data, overrides)
    data = {**data, "source": source}
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc), where=source) from None
    if path is not None and cfg.rule_paths:
        # Relative rule paths are relative to the config file, not to wherever the command runs.
        base = Path(path).parent
        cfg = cfg.model_copy(update={"rule_paths": tuple(str(base / p) for p in cfg.rule_paths)})
    from wifguard.domain.issuers import compile_pattern
    from wifguard.notify.config import NotifyConfig, NotifyConfigError

    try:
        NotifyConfig.from_mapping(cfg.notifications)
    except NotifyConfigError as exc:
        raise ConfigError(f"{source}: {exc}", where=source) from exc

    from wifguard.sources.external.config import ExternalConfig, ExternalConfigError

    try:
        ExternalConfig.from_mapping(cfg.external)
    except ExternalConfigError as exc:
        raise ConfigError(f"{source}: {exc}", where=source) from exc

    for pattern in cfg.allowed_issuers:
        try:
            compile_pattern(pattern.replace("{home_tenant_id}", "x"))
        except ValueError as exc:
            raise ConfigError(f"{source}: allowed_issuers: {exc}", where=source) from exc
    return cfg
