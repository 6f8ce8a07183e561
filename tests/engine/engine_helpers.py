"""Builders for the engine tests: credentials, role assignments, trust contexts, engines.

Kept in a plainly named module (like ``tests/notify/notify_helpers.py``) so test modules can
import them; ``conftest.py`` re-exports them and adds fixtures. Everything here builds real
model objects through their public constructors (``Credential.from_graph`` / ``from_arm``,
``RoleAssignment.from_arm``) so the tests exercise the same parsing the product uses.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from wifguard.catalogue.engine import Engine, Evaluation
from wifguard.catalogue.facts import TenantIndex
from wifguard.config import load_config
from wifguard.domain.model import (
    Actor,
    Change,
    ChangeKind,
    Credential,
    Finding,
    Identity,
    IdentityKind,
    Owner,
    RoleAssignment,
    RoleDefinition,
    TrustContext,
)

# -- constants ---------------------------------------------------------------------------------
HOME = "11111111-2222-4333-8444-555555555555"
FOREIGN = "99999999-8888-4777-8666-555555555555"
SUBSCRIPTION = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
ADO_ORG_GUID = "0d3c9a1e-4b6f-4c0b-9d5e-3f2a1b7c8e90"
AKS_CLUSTER_UUID = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"

GH = "https://token.actions.githubusercontent.com"
GITLAB = "https://gitlab.com"
TFC = "https://app.terraform.io"
TFC_EU = "https://app.eu.terraform.io"
ADO = f"https://vstoken.dev.azure.com/{ADO_ORG_GUID}"
AKS = f"https://eastus.oic.prod-aks.azure.com/{HOME}/{AKS_CLUSTER_UUID}/"
AKS_OLD = f"https://eastus.oic.prod-aks.azure.com/{AKS_CLUSTER_UUID}/"
GOOGLE = "https://accounts.google.com"
ENTRA_HOME = f"https://login.microsoftonline.com/{HOME}/v2.0"
ENTRA_FOREIGN = f"https://login.microsoftonline.com/{FOREIGN}/v2.0"
STS_HOME = f"https://sts.windows.net/{HOME}/"
STS_FOREIGN = f"https://sts.windows.net/{FOREIGN}/"
EVIL = "https://stratusfic.blob.core.windows.net/oidc"

AUD = "api://AzureADTokenExchange"
AUD_USGOV = "api://AzureADTokenExchangeUSGov"
AUD_CHINA = "api://AzureADTokenExchangeChina"

# A subject that fires nothing on the GitHub issuer (immutable, environment-bound).
GOOD_GH_SUBJECT = "repo:contoso@1001/app@2002:environment:prod"

# Role definition GUIDs (catalogue defaults).
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
UAA = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
MI_CONTRIBUTOR = "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"
KV_ADMIN = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
KV_DATA_ACCESS_ADMIN = "8b54135c-b56d-4d72-a534-26097cfdc8d8"
KV_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_ACCOUNT_CONTRIBUTOR = "17d1049b-9a84-46fb-8f53-869881c3d3ab"
VM_CONTRIBUTOR = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
AKS_CLUSTER_ADMIN = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
AUTOMATION_CONTRIBUTOR = "f353d9bd-d4a6-484e-a77a-8050b599b867"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

DEFAULT_PRIVILEGED = (
    OWNER, CONTRIBUTOR, UAA, RBAC_ADMIN, MI_CONTRIBUTOR, KV_ADMIN, KV_DATA_ACCESS_ADMIN,
    KV_SECRETS_OFFICER, STORAGE_BLOB_DATA_OWNER, STORAGE_ACCOUNT_CONTRIBUTOR, VM_CONTRIBUTOR,
    AKS_CLUSTER_ADMIN, AUTOMATION_CONTRIBUTOR,
)

# Scopes, one per level.
SUB_SCOPE = f"/subscriptions/{SUBSCRIPTION}"
RG_SCOPE = f"{SUB_SCOPE}/resourceGroups/rg-app"
RESOURCE_SCOPE = f"{RG_SCOPE}/providers/Microsoft.Storage/storageAccounts/stapp"
MG_SCOPE = "/providers/Microsoft.Management/managementGroups/mg-platform"
ROOT_SCOPE = "/"
ROOT_MG_SCOPE = f"/providers/Microsoft.Management/managementGroups/{HOME}"

APP_ID = "0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e"
APP_NAME = "app-deploy"
UAMI_ID = f"{RG_SCOPE}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-deploy"
UAMI_PRINCIPAL = "5e5e5e5e-6f6f-4a7a-8b8b-9c9c9c9c9c9c"

OWNER_USER = Owner("7a7a7a7a-0000-4000-8000-000000000001", "Alice Owner", "alice@contoso.com",
                   "alice@contoso.com")

_DEFAULT = object()


# -- credentials -------------------------------------------------------------------------------
def graph_fic(
    name: str = "fic-1",
    issuer: str = GH,
    subject: str | object | None = _DEFAULT,
    audiences: Sequence[str] = (AUD,),
    description: str | None = "prod deploy from contoso/app, team platform",
    expression: str | None = None,
    id: str | None = None,
) -> Credential:
    """A Graph federated identity credential (app registration)."""
    if subject is _DEFAULT:
        subject = None if expression is not None else GOOD_GH_SUBJECT
    obj: dict[str, Any] = {"name": name, "issuer": issuer, "audiences": list(audiences)}
    if subject is not None:
        obj["subject"] = subject
    if description is not None:
        obj["description"] = description
    if expression is not None:
        obj["claimsMatchingExpression"] = {"value": expression, "languageVersion": 1}
    if id is not None:
        obj["id"] = id
    return Credential.from_graph(obj)


def arm_fic(
    name: str = "fic-1",
    issuer: str = AKS,
    subject: str | None = "system:serviceaccount:payments:payments-api",
    audiences: Sequence[str] = (AUD,),
    expression: str | None = None,
    uami_id: str = UAMI_ID,
) -> Credential:
    """An ARM federated identity credential resource (user-assigned managed identity)."""
    props: dict[str, Any] = {"issuer": issuer, "audiences": list(audiences)}
    if subject is not None:
        props["subject"] = subject
    if expression is not None:
        props["claimsMatchingExpression"] = {"value": expression, "languageVersion": 1}
    return Credential.from_arm({
        "id": f"{uami_id}/federatedIdentityCredentials/{name}",
        "name": name,
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        "properties": props,
    })


def many_fics(n: int, issuer: str = GH) -> tuple[Credential, ...]:
    return tuple(graph_fic(name=f"fic-{i:02d}", subject=f"repo:contoso@1001/app@2002:environment:env{i}",
                           issuer=issuer) for i in range(n))


# -- role assignments --------------------------------------------------------------------------
def role(guid: str, scope: str, condition: str | None = None, principal: str = APP_ID,
         name: str | None = None) -> RoleAssignment:
    """An ARM role assignment resource for ``guid`` at ``scope``."""
    ra_name = name or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{guid}|{scope}|{condition}|{principal}"))
    base = "" if scope.rstrip("/") == "" else scope.rstrip("/")
    props: dict[str, Any] = {
        "roleDefinitionId": f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        "principalId": principal,
        "principalType": "ServicePrincipal",
        "scope": scope,
    }
    if condition is not None:
        props["condition"] = condition
        props["conditionVersion"] = "2.0"
    return RoleAssignment.from_arm({
        "id": f"{base}/providers/Microsoft.Authorization/roleAssignments/{ra_name}",
        "name": ra_name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": props,
    })


def custom_role(guid: str, actions: Iterable[str], not_actions: Iterable[str] = (),
                name: str = "Custom Deployer") -> RoleDefinition:
    return RoleDefinition(guid.lower(), name, tuple(actions), tuple(not_actions))


# -- contexts ----------------------------------------------------------------------------------
def ctx(
    creds: Credential | Iterable[Credential] = (),
    roles: Iterable[RoleAssignment] = (),
    owners: Iterable[Owner] | object | None = _DEFAULT,
    kind: IdentityKind | str = IdentityKind.APPLICATION,
    ident_id: str | None = None,
    name: str | None = None,
    principal_id: str | None = None,
    role_definitions: Mapping[str, RoleDefinition] | None = None,
) -> TrustContext:
    """A trust context. Defaults: an app registration with one owner (so WIF504 stays quiet)."""
    kind = IdentityKind(kind)
    if isinstance(creds, Credential):
        creds = (creds,)
    if owners is _DEFAULT:
        owners = (OWNER_USER,) if kind is IdentityKind.APPLICATION else None
    if ident_id is None:
        ident_id = APP_ID if kind is IdentityKind.APPLICATION else UAMI_ID
    if name is None:
        name = APP_NAME if kind is IdentityKind.APPLICATION else "id-deploy"
    ident = Identity(ident_id, name, kind, principal_id=principal_id)
    return TrustContext(
        ident,
        tuple(creds),
        tuple(roles),
        None if owners is None else tuple(owners),  # type: ignore[arg-type]
        dict(role_definitions or {}),
    )


def uami_ctx(principal_id: str = UAMI_PRINCIPAL, ident_id: str = UAMI_ID, creds: Iterable[Credential] = ()
             ) -> TrustContext:
    return ctx(creds, kind=IdentityKind.MANAGED_IDENTITY, ident_id=ident_id,
               name=ident_id.rsplit("/", 1)[-1], principal_id=principal_id)


def change(
    kind: ChangeKind = ChangeKind.CREDENTIAL_CHANGED,
    old: Credential | None = None,
    new: Credential | None = None,
    actor: Actor | None = None,
    identity_id: str = APP_ID,
) -> Change:
    cred = new or old
    return Change(
        source="audit-log",
        event_id="evt-1",
        kind=kind,
        identity_kind=IdentityKind.APPLICATION,
        identity_id=identity_id,
        credential_name=cred.name if cred else None,
        old_credential=old,
        new_credential=new,
        actor=actor,
        tenant_id=HOME,
    )


def user_actor(id: str = "3c3c3c3c-0000-4000-8000-00000000000b", upn: str = "mallory@contoso.com") -> Actor:
    return Actor("user", id, "Mallory", upn)


def app_actor(app_id: str = "4d4d4d4d-0000-4000-8000-00000000000c",
              sp_id: str = "4e4e4e4e-0000-4000-8000-00000000000d") -> Actor:
    return Actor("app", sp_id, "ci-provisioner", None, app_id)


def tenant(*contexts: TrustContext) -> TenantIndex:
    return TenantIndex.build(list(contexts))


# -- engines -----------------------------------------------------------------------------------
@functools.cache
def _engine(key: str) -> Engine:
    return Engine(load_config(overrides=json.loads(key)))


def engine(**overrides: Any) -> Engine:
    """An engine over the shipped defaults plus ``overrides`` (merged like a user config file).

    ``home_tenant_id`` defaults to HOME; pass ``home_tenant_id=None`` to leave it unset.
    Cached per distinct overrides.
    """
    ov = {"home_tenant_id": HOME, **overrides}
    return _engine(json.dumps(ov, sort_keys=True, default=str))


def evaluate(context: TrustContext, eng: Engine | None = None, **kwargs: Any) -> Evaluation:
    return (eng or engine()).evaluate(context, **kwargs)


# -- one credential, evaluated (the rule tests' shorthand) -------------------------------------
def flex_fic(expression: str, issuer: str = GH, name: str = "flex") -> Credential:
    """A flexible credential (claimsMatchingExpression, no subject)."""
    return graph_fic(name=name, issuer=issuer, subject=None, expression=expression)


def ids_for(issuer: str, subject: str = GOOD_GH_SUBJECT, roles: Iterable[RoleAssignment] = (),
            **overrides: Any) -> set[str]:
    """Rule ids fired by one Graph credential (issuer, subject) on an app holding ``roles``."""
    return rule_ids(evaluate(ctx(graph_fic(issuer=issuer, subject=subject), roles), engine(**overrides)))


def flex_ids(expression: str, issuer: str = GH, **overrides: Any) -> set[str]:
    """Rule ids fired by one flexible credential on an app without roles."""
    return rule_ids(evaluate(ctx(flex_fic(expression, issuer, name="fic-1")), engine(**overrides)))


# -- reading evaluations ----------------------------------------------------------------------
def rule_ids(evaluation: Evaluation) -> set[str]:
    return {f.rule_id for f in evaluation.findings}


def findings_of(evaluation: Evaluation, rule_id: str) -> list[Finding]:
    return [f for f in evaluation.findings if f.rule_id == rule_id]


def one(evaluation: Evaluation, rule_id: str) -> Finding:
    found = findings_of(evaluation, rule_id)
    assert len(found) == 1, (rule_id, [f.to_dict() for f in evaluation.findings])
    return found[0]


def severity(evaluation: Evaluation, rule_id: str) -> str:
    return one(evaluation, rule_id).severity.label


_QUOTED = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\"""")


def assert_one_sentence(message: str) -> None:
    """One sentence: no line break, and no sentence break outside quoted values."""
    assert message and "\n" not in message, message
    bare = _QUOTED.sub("''", message)
    assert not re.search(r"[.!?]\s+[A-Z]", bare), f"more than one sentence: {message!r}"


def assert_finding(
    f: Finding,
    identity: Identity,
    *,
    credential: Credential | None = None,
    role_assignment: RoleAssignment | None = None,
    offending: str | None = None,
) -> None:
    """The catalogue's finding contract ("Findings" section)."""
    d = f.to_dict()
    for key in ("rule_id", "severity", "title", "message", "identity", "remediation", "fingerprint"):
        assert d.get(key), (key, d)
    assert d["identity"] == {"id": identity.id, "name": identity.name, "kind": identity.kind.value}
    assert d["identity"]["kind"] in {"application", "managedIdentity"}
    assert_one_sentence(d["message"])
    if offending is not None:
        assert offending in d["message"], (offending, d["message"])
    if credential is not None:
        assert d["credential"] is not None, d
        assert {k: d["credential"][k] for k in ("name", "issuer", "subject")} == {
            "name": credential.name, "issuer": credential.issuer, "subject": credential.subject}
    if role_assignment is not None:
        ra = d["role_assignment"]
        assert ra is not None, d
        assert ra["id"] == role_assignment.id
        assert ra["scope"] == role_assignment.scope
        assert ra["role"], ra
    assert isinstance(d["fingerprint"], str) and len(d["fingerprint"]) >= 16


# -- the command line ---------------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]


def wifguard_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m wifguard.cli ARGS`` as a subprocess (this checkout, no WIFGUARD_* settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIFGUARD_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-m", "wifguard.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
