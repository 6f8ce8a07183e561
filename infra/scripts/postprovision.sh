#!/bin/sh
# azd postprovision hook (after every `azd provision` / `azd up`):
#  1. grant the app identity the Microsoft Graph permissions of its mode (idempotent, retries the
#     replication delay of a new identity): infra/scripts/grant-graph-permissions.sh;
#  2. keep local auth on the Event Hubs namespace limited to what the Entra diagnostic setting
#     needs: delete the default RootManageSharedAccessKey, so the only key is the diagnostic
#     setting's own rule (entra-diagnostics).
set -eu
here=$(dirname "$0")

sh "$here/grant-graph-permissions.sh"

ns="${WIFGUARD_EVENTHUB_NAMESPACE:?WIFGUARD_EVENTHUB_NAMESPACE is not set}"
rg="${WIFGUARD_EVENTHUB_RESOURCE_GROUP:?WIFGUARD_EVENTHUB_RESOURCE_GROUP is not set}"
present=$(az eventhubs namespace authorization-rule list --resource-group "$rg" --namespace-name "$ns" \
  --query "[?name=='RootManageSharedAccessKey'] | length(@)" -o tsv)
if [ "$present" != "0" ]; then
  az eventhubs namespace authorization-rule delete --resource-group "$rg" --namespace-name "$ns" \
    --name RootManageSharedAccessKey
  echo "wifguard: deleted RootManageSharedAccessKey of $ns (the diagnostic setting has its own rule)"
fi
