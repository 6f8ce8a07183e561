"""README "Deploy": the first-deployment checklist and the monthly cost, kept in step with infra/."""

from __future__ import annotations

import re

from infra_helpers import ROOT


def _deploy_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Deploy")
    return text[start:text.index("\n## ", start + 5)]


def test_first_deployment_checklist() -> None:
    deploy = _deploy_section()
    checklist = deploy[deploy.index("### First deployment checklist"):]
    for role in ("Privileged Role Administrator", "Security Administrator", "Owner", "Key Vault Secrets Officer"):
        assert role in checklist, role
    assert "24 hours" in checklist and "10 minutes" in checklist, "propagation times"
    for step in ("/api/health", "az identity federated-credential create", "az ad app federated-credential create",
                 "/admin/functions/sweep_planner"):
        assert step in checklist, step


def test_monthly_cost_for_both_tenant_sizes_states_its_prices() -> None:
    deploy = _deploy_section()
    cost = deploy[deploy.index("### What it costs"):]
    assert "1,000-app tenant" in cost and "10,000-app tenant" in cost
    totals = re.findall(r"\*\*≈ \$(\d+)\*\*", cost)
    assert len(totals) == 2 and int(totals[0]) < int(totals[1])
    for price in ("$0.03 per TU-hour", "$0.000026 per GB-s", "$2.30 per GB"):
        assert price in cost, price
    assert "Assumptions:" in cost
