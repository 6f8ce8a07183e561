#!/bin/sh
# The tenant step: stream the Entra audit logs to wifguard's Event Hub with a direct PUT of the
# tenant's microsoft.aadiam/diagnosticSettings resource (what the Entra admin center does).
#
# Rights (documented): Security Administrator or Global Administrator in Entra ID, plus
# Microsoft.EventHub/namespaces/authorizationRules/listKeys/action on the authorization rule
# (e.g. Contributor on wifguard's resource group); a Microsoft Entra ID P1/P2 tenant.
# Unlike `az deployment tenant create`, no deployment rights at the root scope `/` are needed.
#
# Idempotent: PUT creates or replaces the setting named wifguard-<environment>.
# Run from the repository root after `azd up`:  sh infra/scripts/tenant-diagnostic-setting.sh
set -eu

value() {
  eval "v=\${$1:-}"
  if [ -z "$v" ]; then
    v=$(azd env get-value "$1" 2>/dev/null || true)
  fi
  if [ -z "$v" ]; then
    echo "wifguard: $1 is not set (run azd up first)" >&2
    exit 1
  fi
  printf '%s' "$v"
}

name=$(value WIFGUARD_DIAGNOSTIC_SETTING_NAME)
rule=$(value WIFGUARD_DIAGNOSTICS_AUTH_RULE_ID)
hub=$(value WIFGUARD_EVENTHUB_NAME)
body=$(printf '{"properties": {"eventHubAuthorizationRuleId": "%s", "eventHubName": "%s", "logs": [{"category": "AuditLogs", "enabled": true}]}}' "$rule" "$hub")

az rest --method PUT \
  --url "https://management.azure.com/providers/microsoft.aadiam/diagnosticSettings/$name?api-version=2017-04-01" \
  --headers "Content-Type=application/json" --body "$body" -o none
echo "wifguard: Entra audit logs stream to $hub (diagnostic setting $name)"
