#!/bin/sh
# azd preprovision hook: after `azd down` of this environment, its Key Vault is soft-deleted and
# purge protection keeps the name taken for the retention period, so creating it again fails.
# Detect that and provision with keyVaultCreateMode=recover, which brings the vault (and its
# secrets) back. AZURE_KEY_VAULT_NAME is the previous provision's output, kept in .azure/<env>/.env.
set -eu

mode=default
name="${AZURE_KEY_VAULT_NAME:-}"
if [ -n "$name" ] && ! az keyvault show --name "$name" -o none 2>/dev/null; then
  deleted=$(az keyvault list-deleted --resource-type vault --query "[?name=='$name'] | length(@)" -o tsv)
  if [ "$deleted" != "0" ]; then
    mode=recover
    echo "wifguard: Key Vault $name is soft-deleted; this provision recovers it"
  fi
fi
azd env set WIFGUARD_KEYVAULT_CREATE_MODE "$mode"
