#!/bin/sh
# azd postdeploy hook: create the Event Grid subscriptions (which need the deployed function
# `resource_events`) by provisioning once more with WIFGUARD_EVENT_SUBSCRIPTIONS_ENABLED=true,
# then print the tenant-level step, which needs an Entra administrator.
set -eu

if [ "${WIFGUARD_EVENT_SUBSCRIPTIONS_ENABLED:-false}" != "true" ]; then
  echo "wifguard: code deployed; creating the Event Grid subscriptions to resource_events ..."
  azd env set WIFGUARD_EVENT_SUBSCRIPTIONS_ENABLED true
  azd provision --no-prompt
fi

cat <<MSG

wifguard: one tenant-level step is left (once per environment; Security Administrator or Global
Administrator in Entra ID, plus listKeys on the Event Hub authorization rule). Stream the Entra
audit logs to the Event Hub:

  sh infra/scripts/tenant-diagnostic-setting.sh

Then verify the deployment: see "First deployment checklist" in README.md.
MSG
