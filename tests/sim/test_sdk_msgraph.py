"""The real msgraph-sdk (kiota + httpx) against the simulator: only the base URL and trust store change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder
from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User
from msgraph_core import GraphClientFactory
from sim_fixtures import APP_ID, GH, seed_with

from wifguard.sim import SimTenant


class StaticToken(AccessTokenProvider):
    """Returns the simulator's static token; every host is allowed (an empty allow-list)."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(self, uri: str, additional_authentication_context: dict[str, Any] = {}) -> str:  # noqa: B006
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


def graph_client(sim: SimTenant, version: str = "v1.0") -> GraphServiceClient:
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(base_url=f"{sim.graph_url}/{version}", verify=sim.ssl_context(), timeout=30))
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(sim.token)), client=http)
    return GraphServiceClient(request_adapter=adapter)


async def test_sdk_lists_apps_with_fics_across_pages(sim: SimTenant) -> None:
    graph = graph_client(sim)
    qp = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
        select=["id", "appId", "displayName"], expand=["federatedIdentityCredentials"], top=3)
    page = await graph.applications.get(request_configuration=RequestConfiguration(query_parameters=qp))
    apps = []
    pages = 0
    while page is not None:
        pages += 1
        apps += page.value or []
        page = await graph.applications.with_url(page.odata_next_link).get() if page.odata_next_link else None
    assert pages == 3 and len(apps) == 7
    deployer = next(a for a in apps if a.id == APP_ID)
    assert deployer.display_name == "deployer"
    fics = {f.name: f for f in deployer.federated_identity_credentials}
    assert fics["gh-main"].issuer == GH
    assert fics["gh-main"].audiences == ["api://AzureADTokenExchange"]


async def test_sdk_creates_and_deletes_a_fic(sim: SimTenant) -> None:
    graph = graph_client(sim)
    fic_api = graph.applications.by_application_id(APP_ID).federated_identity_credentials
    created = await fic_api.post(FederatedIdentityCredential(
        name="sdk-made", issuer=GH, subject="repo:contoso/sdk:environment:test",
        audiences=["api://AzureADTokenExchange"], description="from msgraph-sdk"))
    assert created is not None and created.id
    assert any(f["name"] == "sdk-made" for f in sim.get_app_fics(APP_ID))
    listed = await fic_api.get()
    assert "sdk-made" in [f.name for f in listed.value]
    await fic_api.by_federated_identity_credential_id(created.id).delete()
    assert all(f["name"] != "sdk-made" for f in sim.get_app_fics(APP_ID))
    with pytest.raises(ODataError) as exc:
        await fic_api.by_federated_identity_credential_id(created.id).get()
    assert exc.value.response_status_code == 404
    assert exc.value.error.code == "Request_ResourceNotFound"


async def test_sdk_surfaces_validation_errors(sim: SimTenant) -> None:
    fic_api = graph_client(sim).applications.by_application_id(APP_ID).federated_identity_credentials
    with pytest.raises(ODataError) as exc:
        await fic_api.post(FederatedIdentityCredential(name="x", issuer=GH, subject="s",
                                                       audiences=["api://AzureADTokenExchange"]))
    assert exc.value.response_status_code == 400
    assert exc.value.error.code == "Request_BadRequest"


async def test_sdk_reads_owners(sim: SimTenant) -> None:
    owners = await graph_client(sim).applications.by_application_id(APP_ID).owners.get()
    assert len(owners.value) == 1
    assert isinstance(owners.value[0], User)
    assert owners.value[0].mail == "user0@contoso.com"


async def test_sdk_retry_handler_rides_out_a_429() -> None:
    # 5 RU per 10 s = 0.5 RU/s; a $select'ed user GET costs 1 RU. Eight calls overdraw the bucket
    # unless they take longer than 6 s (a loaded machine cannot make them that slow): a call is
    # throttled with Retry-After: 2 and kiota's retry handler waits and succeeds.
    with SimTenant.start(seed_with(graph_resource_units_per_10s=5)) as sim:
        users = graph_client(sim).users
        from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
        qp = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=["id", "mail"])
        results = [await users.by_user_id("user1@contoso.com").get(
            request_configuration=RequestConfiguration(query_parameters=qp)) for _ in range(8)]
        assert all(u.mail == "user1@contoso.com" for u in results)
        assert sim.stats()["throttled"]["graph"] >= 1
