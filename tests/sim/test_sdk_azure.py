"""The real azure-mgmt-msi and azure-mgmt-authorization (aio) clients against the simulator."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization.aio import AuthorizationManagementClient
from azure.mgmt.msi.aio import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential
from sim_fixtures import OWNER_ROLE, SUB, UAMI_ID, seed_with

from wifguard.sim import SimTenant


class StaticCredential:
    """A minimal AsyncTokenCredential: always the same bearer token."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def msi_client(sim: SimTenant, sub: str = SUB) -> ManagedServiceIdentityClient:
    return ManagedServiceIdentityClient(StaticCredential(sim.token), sub, base_url=sim.arm_url,
                                        connection_verify=sim.ca_path)


def auth_client(sim: SimTenant, sub: str = SUB) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(StaticCredential(sim.token), sub, base_url=sim.arm_url,
                                         connection_verify=sim.ca_path)


async def test_msi_lists_identities_across_pages_and_their_fics() -> None:
    with SimTenant.start(seed_with(arm_page_size=2)) as sim:
        async with msi_client(sim) as msi:
            identities = [u async for u in msi.user_assigned_identities.list_by_subscription()]
            by_rg = [u async for u in msi.user_assigned_identities.list_by_resource_group("rg-platform")]
            one = await msi.user_assigned_identities.get("rg-platform", "id-deploy")
            fics = [f async for f in msi.federated_identity_credentials.list("rg-platform", "id-deploy")]
        assert len(identities) == 5  # three pages of two, followed through nextLink
        assert [u.name for u in by_rg] == ["id-deploy"]
        assert one.tags == {"team": "platform"} and one.principal_id and one.client_id
        assert [(f.name, f.subject) for f in fics] == [("aks", "system:serviceaccount:ns:sa")]
        assert sim.stats()["routes"]["arm GET /subscriptions/{}/providers/microsoft.managedidentity/"
                                     "userassignedidentities"] == 3


async def test_msi_creates_and_deletes_a_fic(fresh_sim: SimTenant) -> None:
    async with msi_client(fresh_sim) as msi:
        created = await msi.federated_identity_credentials.create_or_update(
            "rg-platform", "id-deploy", "gh-sdk",
            FederatedIdentityCredential(issuer="https://token.actions.githubusercontent.com",
                                        subject="repo:contoso/sdk:ref:refs/heads/main",
                                        audiences=["api://AzureADTokenExchange"]))
        assert created.name == "gh-sdk" and created.issuer == "https://token.actions.githubusercontent.com"
        assert [f["name"] for f in fresh_sim.get_uami_fics(UAMI_ID)] == ["aks", "gh-sdk"]
        with pytest.raises(HttpResponseError) as exc:
            await msi.federated_identity_credentials.create_or_update(
                "rg-platform", "id-deploy", "gh-dup",
                FederatedIdentityCredential(issuer="https://token.actions.githubusercontent.com",
                                            subject="repo:contoso/sdk:ref:refs/heads/main",
                                            audiences=["api://AzureADTokenExchange"]))
        assert exc.value.status_code == 400
        await msi.federated_identity_credentials.delete("rg-platform", "id-deploy", "gh-sdk")
        with pytest.raises(ResourceNotFoundError):
            await msi.federated_identity_credentials.get("rg-platform", "id-deploy", "gh-sdk")
    assert [f["name"] for f in fresh_sim.get_uami_fics(UAMI_ID)] == ["aks"]


async def test_authorization_lists_role_assignments_and_reads_definitions(sim: SimTenant) -> None:
    async with auth_client(sim) as authz:
        everything = [r async for r in authz.role_assignments.list_for_subscription()]
        mine = [r async for r in authz.role_assignments.list_for_subscription(filter="principalId eq 'pppppppp-app'")]
        at_rg = [r async for r in authz.role_assignments.list_for_scope(
            f"/subscriptions/{SUB}/resourceGroups/rg-platform", filter="atScope()")]
        mg = [r async for r in authz.role_assignments.list_for_scope(
            "/providers/Microsoft.Management/managementGroups/mg-corp")]
        owner = await authz.role_definitions.get(f"/subscriptions/{SUB}", OWNER_ROLE)
        by_id = await authz.role_definitions.get_by_id(
            f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER_ROLE}")
        one = await authz.role_assignments.get(f"/subscriptions/{SUB}", "dddddddd-0000-0000-0000-000000000001")
    assert len(everything) == 4
    assert {r.scope for r in mine} == {f"/subscriptions/{SUB}", f"/subscriptions/{SUB}/resourceGroups/rg-platform",
                                       "/providers/Microsoft.Management/managementGroups/11111111-1111-1111-1111-111111111111"}
    assert {r.name for r in at_rg} == {"dddddddd-0000-0000-0000-000000000001", "dddddddd-0000-0000-0000-000000000002",
                                       "eeeeeeee-0000-0000-0000-000000000001"}
    assert "eeeeeeee-0000-0000-0000-000000000002" in {r.name for r in mg}
    assert owner.role_name == "Owner" and owner.permissions[0].actions == ["*"]
    assert by_id.role_name == "Owner"
    assert one.principal_id == "pppppppp-app" and one.role_definition_id.endswith(OWNER_ROLE)


async def test_authorization_deletes_a_role_assignment(fresh_sim: SimTenant) -> None:
    async with auth_client(fresh_sim) as authz:
        deleted = await authz.role_assignments.delete(f"/subscriptions/{SUB}", "dddddddd-0000-0000-0000-000000000001")
        assert deleted is not None and deleted.principal_id == "pppppppp-app"
        with pytest.raises(ResourceNotFoundError):
            await authz.role_assignments.get(f"/subscriptions/{SUB}", "dddddddd-0000-0000-0000-000000000001")
    names = {r["name"] for r in fresh_sim.get_role_assignments("pppppppp-app")}
    assert "dddddddd-0000-0000-0000-000000000001" not in names
