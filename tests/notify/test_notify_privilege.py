"""The strongest privilege an owner reads first: Azure roles and Entra (Graph permissions, roles)."""

from __future__ import annotations

from wifguard.domain.model import Identity, IdentityKind, RoleAssignment, TrustContext
from wifguard.domain.privilege import MICROSOFT_GRAPH_APP_ID, AppPermission, DirectoryRole
from wifguard.domain.privilege import Privilege as Held
from wifguard.notify.privilege import TIER_GRANT, privileges_of, scope_words, strongest

APP = Identity("app-1", "deploy-app", IdentityKind.APPLICATION)
SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"
CONTRIBUTOR = RoleAssignment(f"{SUB}/providers/Microsoft.Authorization/roleAssignments/r1",
                             "b24988ac-6180-42a0-ab88-20f7382dd24c", "p", SUB)
READER_RG = RoleAssignment(f"{SUB}/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/r2",
                           "acdd72a7-3385-48ef-bd42-f606fba81ae7", "p", f"{SUB}/resourceGroups/rg")


def test_azure_roles_rank_by_what_they_allow_then_by_scope() -> None:
    privs = privileges_of(TrustContext(APP, role_assignments=(READER_RG, CONTRIBUTOR)))
    assert [p.name for p in privs] == ["Contributor", "Reader"]
    assert privs[0].words() == "Contributor @ subscription 11111111-2222-3333-4444-555555555555"
    assert scope_words(f"{SUB}/resourceGroups/rg") == "resource group rg"


def test_graph_permission_and_entra_role_outrank_an_azure_role() -> None:
    held = Held(
        app_permissions=(AppPermission("a1", "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8", "RoleManagement.ReadWrite.Directory",
                                       "Read and write role management data", "sp-graph", MICROSOFT_GRAPH_APP_ID,
                                       "Microsoft Graph"),),
        directory_roles=(DirectoryRole("d1", "62e90394-69f5-4237-9190-012177145e10", "Global Administrator", "/",
                                       eligible=True),),
    )
    privs = privileges_of(TrustContext(APP, role_assignments=(CONTRIBUTOR,), privilege=held))
    best = strongest(privs)
    assert best is not None and best.tier == TIER_GRANT
    assert best.words() == "RoleManagement.ReadWrite.Directory @ the whole tenant"
    assert {p.source for p in privs} == {"azure-rbac", "graph-permission", "entra-role"}
    assert any(p.name == "Global Administrator (eligible)" for p in privs)
