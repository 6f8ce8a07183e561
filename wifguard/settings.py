"""App settings (environment variables) of the Function App and the CLI, in one place.

Every setting the app reads is named here; ``infra/`` and ``local.settings.json.example`` use
exactly these names (a test checks it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from wifguard.errors import ConfigError

# Storage: a connection string (Azurite, local), or an account for identity-based access (Azure).
STORAGE = "WIFGUARD_STORAGE"
STORAGE_ACCOUNT = "WIFGUARD_STORAGE_ACCOUNT"  # account name or table endpoint URL; DefaultAzureCredential
TABLE_PREFIX = "WIFGUARD_TABLE_PREFIX"
CONFIG = "WIFGUARD_CONFIG"  # path of the YAML config (merged over rules/config.default.yaml)
TENANT_ID = "WIFGUARD_TENANT_ID"
SUBSCRIPTIONS = "WIFGUARD_SUBSCRIPTIONS"  # comma-separated; empty: every subscription the app can read
MANAGEMENT_GROUPS = "WIFGUARD_MANAGEMENT_GROUPS"  # comma-separated; read only these (the tenant id = root group)
QUARANTINE_MODE = "WIFGUARD_QUARANTINE_MODE"  # off | dry-run | enforce (overrides the config file)
RESPONDER_IDS = "WIFGUARD_RESPONDER_IDS"  # the responder's own app/identity ids: never quarantined
CLIENT_ID = "AZURE_CLIENT_ID"  # client id of the app's user-assigned managed identity
SWEEP_SCHEDULE = "WIFGUARD_SWEEP_SCHEDULE"  # NCRONTAB (UTC) of the timer that plans sweeps
SWEEP_QUEUE = "WIFGUARD_SWEEP_QUEUE"  # storage queue of sweep shards
SWEEP_SHARD_SIZE = "WIFGUARD_SWEEP_SHARD_SIZE"  # applications per shard
EVENTHUB_NAME = "WIFGUARD_EVENTHUB_NAME"
EVENTHUB_CONNECTION = "WIFGUARD_EVENTHUB"  # connection prefix: WIFGUARD_EVENTHUB__fullyQualifiedNamespace
QUEUE_CONNECTION = "WIFGUARD_QUEUE"  # connection prefix: WIFGUARD_QUEUE__queueServiceUri or a connection string
# HTTP API (findings, restore): Microsoft Entra ID tokens for the responder's API app registration.
API_AUDIENCE = "WIFGUARD_API_AUDIENCE"  # comma-separated: the API app's client id and/or Application ID URI
API_JWKS_URL = "WIFGUARD_API_JWKS_URL"  # signing keys; default: the tenant's (login.microsoftonline.com)
# Notification endpoints: the settings the shipped/infra config's channels name (Key Vault references).
TEAMS_WEBHOOK_URL = "WIFGUARD_TEAMS_WEBHOOK_URL"
SLACK_WEBHOOK_URL = "WIFGUARD_SLACK_WEBHOOK_URL"
WEBHOOK_URL = "WIFGUARD_WEBHOOK_URL"
EVENTGRID_TOPIC_ENDPOINT = "WIFGUARD_EVENTGRID_TOPIC_ENDPOINT"
EVENTGRID_TOPIC_KEY = "WIFGUARD_EVENTGRID_TOPIC_KEY"
NOTIFICATION_SETTINGS = (TEAMS_WEBHOOK_URL, SLACK_WEBHOOK_URL, WEBHOOK_URL, EVENTGRID_TOPIC_ENDPOINT,
                         EVENTGRID_TOPIC_KEY)
# Simulated tenant only (local demo and tests): never set in Azure.
GRAPH_URL = "WIFGUARD_GRAPH_URL"
ARM_URL = "WIFGUARD_ARM_URL"
CA_BUNDLE = "WIFGUARD_CA_BUNDLE"
STATIC_TOKEN = "WIFGUARD_STATIC_TOKEN"

DEFAULT_SCHEDULE = "0 0 */6 * * *"
DEFAULT_QUEUE = "wifguard-sweep"
DEFAULT_EVENTHUB = "entra-audit-logs"

ALL_SETTINGS = (
    STORAGE, STORAGE_ACCOUNT, TABLE_PREFIX, CONFIG, TENANT_ID, SUBSCRIPTIONS, MANAGEMENT_GROUPS, QUARANTINE_MODE,
    RESPONDER_IDS, CLIENT_ID, SWEEP_SCHEDULE, SWEEP_QUEUE, SWEEP_SHARD_SIZE, EVENTHUB_NAME, GRAPH_URL, ARM_URL,
    CA_BUNDLE, STATIC_TOKEN, API_AUDIENCE, API_JWKS_URL, *NOTIFICATION_SETTINGS,
)


_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,54}$")  # the store's own rule (Azure table names)


class SettingsError(ConfigError):
    """An app setting (environment variable) has an unusable value; the message names it."""


def _list(v: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (v or "").split(",") if x.strip())


@dataclass(frozen=True)
class Settings:
    storage: str | None = None
    storage_account: str | None = None
    table_prefix: str = "wifguard"
    config_path: str | None = None
    tenant_id: str | None = None
    subscriptions: tuple[str, ...] = ()
    management_groups: tuple[str, ...] = ()
    quarantine_mode: str | None = None
    responder_ids: tuple[str, ...] = ()
    client_id: str | None = None
    sweep_queue: str = DEFAULT_QUEUE
    sweep_shard_size: int = 2000
    graph_url: str | None = None
    arm_url: str | None = None
    ca_bundle: str | None = None
    static_token: str | None = None
    env: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        mode = e.get(QUARANTINE_MODE) or None
        if mode is not None and mode not in {"off", "dry-run", "enforce"}:
            raise SettingsError(f"{QUARANTINE_MODE}={mode!r}: expected off, dry-run or enforce")
        try:
            shard = int(e.get(SWEEP_SHARD_SIZE) or 2000)
        except ValueError:
            raise SettingsError(f"{SWEEP_SHARD_SIZE}={e.get(SWEEP_SHARD_SIZE)!r}: expected a whole number") from None
        if shard < 1:
            raise SettingsError(f"{SWEEP_SHARD_SIZE}={shard}: expected 1 or more")
        prefix = e.get(TABLE_PREFIX) or "wifguard"
        if not _PREFIX.match(prefix):
            raise SettingsError(f"{TABLE_PREFIX}={prefix!r}: expected a letter then up to 54 letters or digits")
        for name in (GRAPH_URL, ARM_URL):
            url = e.get(name)
            if url and not url.startswith(("https://", "http://")):
                raise SettingsError(f"{name}={url!r}: expected an https:// URL")
        return cls(
            storage=e.get(STORAGE) or None,
            storage_account=e.get(STORAGE_ACCOUNT) or None,
            table_prefix=prefix,
            config_path=e.get(CONFIG) or None,
            tenant_id=e.get(TENANT_ID) or None,
            subscriptions=_list(e.get(SUBSCRIPTIONS)),
            management_groups=_list(e.get(MANAGEMENT_GROUPS)),
            quarantine_mode=mode,
            responder_ids=_list(e.get(RESPONDER_IDS)) + _list(e.get(CLIENT_ID)),
            client_id=e.get(CLIENT_ID) or None,
            sweep_queue=e.get(SWEEP_QUEUE) or DEFAULT_QUEUE,
            sweep_shard_size=shard,
            graph_url=e.get(GRAPH_URL) or None,
            arm_url=e.get(ARM_URL) or None,
            ca_bundle=e.get(CA_BUNDLE) or None,
            static_token=e.get(STATIC_TOKEN) or None,
            env=e,
        )

    def connection(self) -> object:
        from wifguard.sources.inventory.connection import Connection

        kw: dict[str, object] = {}
        if self.graph_url:
            kw["graph_url"] = self.graph_url
        if self.arm_url:
            kw["arm_url"] = self.arm_url
        return Connection(
            ca_path=self.ca_bundle,
            static_token=self.static_token,
            tenant_id=self.tenant_id,
            subscriptions=self.subscriptions,
            management_groups=self.management_groups,
            managed_identity_client_id=self.client_id,
            **kw,  # type: ignore[arg-type]
        )
