"""A small tenant whose credentials name things on GitHub, GitLab and Terraform Cloud, with the
simulated providers' seed: one case per outside rule, and clean look-alikes."""

from __future__ import annotations

import copy
from typing import Any

TENANT = "11111111-1111-1111-1111-111111111111"
SUB = "22222222-2222-2222-2222-222222222222"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
GH = "https://token.actions.githubusercontent.com"
GITLAB = "https://gitlab.com"
TFC = "https://app.terraform.io"
AUD = ["api://AzureADTokenExchange"]
OWNER_USER = "cccccccc-0000-0000-0000-000000000001"

CONTOSO_ID = 1001
PAYMENTS_OLD_ID = 2002  # the repository the immutable subject was made for (since deleted)
PAYMENTS_NEW_ID = 9999  # someone re-created contoso/payments
BILLING_ID = 3003

# (app name, privileged, credential name, issuer, subject, expected outside rule or None)
CASES: list[tuple[str, bool, str, str, str, str | None]] = [
    ("app-ghost-owner", True, "gh-ghost", GH, "repo:ghost-org/deploy:environment:prod", "WIF212"),
    ("app-deleted-repo", False, "gh-deleted", GH, "repo:contoso/deleted-svc:ref:refs/heads/main", "WIF212"),
    ("app-reregistered", True, "gh-payments", GH, f"repo:contoso@{CONTOSO_ID}/payments@{PAYMENTS_OLD_ID}:environment:prod",
     "WIF213"),
    ("app-missing-env", True, "gh-api-production", GH, "repo:contoso/api:environment:production", "WIF214"),
    ("app-unprotected-env", True, "gh-web-prod", GH, "repo:contoso/web:environment:prod", "WIF214"),
    ("app-gitlab-gone-group", False, "gl-gone", GITLAB, "project_path:gone-group/app:ref_type:branch:ref:main", "WIF215"),
    ("app-gitlab-gone-project", False, "gl-missing", GITLAB,
     "project_path:contoso/missing-proj:ref_type:branch:ref:main", "WIF215"),
    ("app-tfc-gone-org", True, "tfc-gone", TFC, "organization:ghost-tfc:project:p:workspace:w:run_phase:apply", "WIF216"),
    ("app-tfc-gone-ws", False, "tfc-ws", TFC, "organization:contoso:project:p:workspace:gone-ws:run_phase:apply",
     "WIF216"),
    # clean look-alikes
    ("app-immutable-ok", True, "gh-billing", GH, f"repo:contoso@{CONTOSO_ID}/billing@{BILLING_ID}:environment:prod", None),
    ("app-protected-env", True, "gh-api-staging", GH, "repo:contoso/api:environment:staging", None),
    ("app-branch-policy-env", True, "gh-web-release", GH, "repo:contoso/web:environment:release", None),
    ("app-unprivileged-missing-env", False, "gh-api-qa", GH, "repo:contoso/api:environment:qa", None),
    ("app-private-repo", True, "gh-secret", GH, "repo:contoso/secret-svc:ref:refs/heads/main", None),
    ("app-user-owner", False, "gh-user", GH, "repo:octocat/hello-world:ref:refs/heads/main", None),
    ("app-gitlab-ok", False, "gl-ok", GITLAB, "project_path:contoso/app:ref_type:branch:ref:main", None),
    ("app-tfc-ok", True, "tfc-ok", TFC, "organization:contoso:project:p:workspace:prod-infra:run_phase:apply", None),
]


def _guid(prefix: str, i: int) -> str:
    return f"{prefix}-0000-0000-0000-{i:012d}"


def app_object_id(i: int) -> str:
    return _guid("aaaaaaaa", i)


def sp_id(i: int) -> str:
    return _guid("dddddddd", i)


def github_seed() -> dict[str, Any]:
    contoso = {"login": "contoso", "id": CONTOSO_ID, "type": "Organization"}
    reviewers = [{"type": "required_reviewers", "id": 1, "prevent_self_review": True,
                  "reviewers": [{"type": "Team", "reviewer": {"id": 7, "slug": "release-approvers"}}]}]

    def repo(name: str, rid: int, envs: list[dict[str, Any]] | None = None, private: bool = False,
             owner: dict[str, Any] = contoso) -> dict[str, Any]:
        return {"id": rid, "name": name, "full_name": f"{owner['login']}/{name}", "owner": owner, "private": private,
                "environments": envs or []}

    return {
        "accounts": [contoso, {"login": "octocat", "id": 583231, "type": "User"}],
        "repositories": [
            repo("payments", PAYMENTS_NEW_ID, [{"name": "prod", "protection_rules": reviewers}]),
            repo("billing", BILLING_ID, [{"name": "prod", "protection_rules": reviewers}]),
            repo("api", 4004, [{"name": "staging", "protection_rules": reviewers}]),
            repo("web", 5005, [{"name": "prod", "protection_rules": []},
                               {"name": "release", "protection_rules": [{"id": 2, "type": "branch_policy"}],
                                "deployment_branch_policy": {"protected_branches": False,
                                                             "custom_branch_policies": True}}]),
            repo("secret-svc", 6006, private=True),
            repo("hello-world", 1296269, owner={"login": "octocat", "id": 583231, "type": "User"}),
        ],
        "oidc_subject_templates": {"contoso/api": {"use_default": True}},
    }


def gitlab_seed() -> dict[str, Any]:
    return {
        "groups": [{"id": 11, "name": "contoso", "path": "contoso", "full_path": "contoso", "visibility": "public"}],
        "projects": [{"id": 101, "name": "app", "path": "app", "path_with_namespace": "contoso/app",
                      "namespace": {"id": 11, "name": "contoso", "path": "contoso", "kind": "group",
                                    "full_path": "contoso"}, "visibility": "public"}],
    }


def tfc_seed() -> dict[str, Any]:
    return {
        "organizations": [{"id": "contoso", "type": "organizations", "attributes": {"name": "contoso"}}],
        "workspaces": [{"id": "ws-prodinfra01", "type": "workspaces", "attributes": {"name": "prod-infra"},
                        "relationships": {"organization": {"data": {"id": "contoso", "type": "organizations"}}}}],
    }


def seed(*, github: bool = True, gitlab: bool = True, tfc: bool = True) -> dict[str, Any]:
    apps, sps, ras = [], [], []
    for i, (name, privileged, cname, issuer, subject, _) in enumerate(CASES, start=1):
        app_id = _guid("bbbbbbbb", i)
        apps.append({"id": app_object_id(i), "appId": app_id, "displayName": name,
                     "federatedIdentityCredentials": [{"id": _guid("eeeeeeee", i), "name": cname, "issuer": issuer,
                                                       "subject": subject, "audiences": AUD,
                                                       "description": f"{name} deploys"}],
                     "owners": [OWNER_USER]})
        sps.append({"id": sp_id(i), "appId": app_id, "displayName": name, "servicePrincipalType": "Application"})
        role = CONTRIBUTOR if privileged else READER
        ras.append({"id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/{_guid('ffffffff', i)}",
                    "name": _guid("ffffffff", i), "type": "Microsoft.Authorization/roleAssignments",
                    "properties": {"roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/"
                                                       f"roleDefinitions/{role}",
                                   "principalId": sp_id(i), "principalType": "ServicePrincipal",
                                   "scope": f"/subscriptions/{SUB}/resourceGroups/rg-{name}"}})
    out: dict[str, Any] = {
        "tenantId": TENANT,
        "users": [{"id": OWNER_USER, "displayName": "Owner", "userPrincipalName": "owner@contoso.com",
                   "mail": "owner@contoso.com"}],
        "applications": apps, "servicePrincipals": sps,
        "subscriptions": [{"subscriptionId": SUB, "displayName": "prod", "userAssignedIdentities": [],
                           "roleAssignments": ras}],
    }
    if github:
        out["github"] = github_seed()
    if gitlab:
        out["gitlab"] = gitlab_seed()
    if tfc:
        out["terraform_cloud"] = tfc_seed()
    return copy.deepcopy(out)


CONFIG_ALL = """\
external:
  github: {enabled: true}
  gitlab: {enabled: true}
  terraform_cloud: {enabled: true}
"""
