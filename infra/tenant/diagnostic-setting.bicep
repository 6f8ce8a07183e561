// Tenant-wide Microsoft Entra diagnostic setting: stream the AuditLogs category to wifguard's
// Event Hub, where the `audit_logs` function reads it. This is the only real-time signal for
// federated credentials on app registrations (Graph objects); it cannot be part of `azd up`
// because it is a tenant-scope resource that needs an Entra administrator:
//
//   Security Administrator or Global Administrator in Entra ID (to create the setting), plus
//   Microsoft.EventHub/namespaces/authorizationRules/listKeys/action on the authorization rule
//   (e.g. Contributor on wifguard's resource group); a Microsoft Entra ID P1/P2 tenant.
//
//   az deployment tenant create --location <region> \
//     --template-file infra/tenant/diagnostic-setting.bicep \
//     --parameters authorizationRuleId="$(azd env get-value WIFGUARD_DIAGNOSTICS_AUTH_RULE_ID)" \
//                  eventHubName=entra-audit-logs
//
// Why an authorization rule (SAS) and not Entra ID: Entra/Azure Monitor diagnostic settings
// stream to Event Hubs only through an authorization rule. The rule created by
// infra/modules/eventhub.bicep is namespace-level with the `Send` right only: with an explicit
// event hub name Send is enough (Manage is needed only when no hub is named, so Azure Monitor can
// create one per category), and without Listen the key cannot read the stream. The app reads
// with its managed identity (Azure Event Hubs Data Receiver).
targetScope = 'tenant'

@description('Name of the diagnostic setting.')
param name string = 'wifguard-audit-logs'

@description('Resource id of the Send-only namespace authorization rule (azd env: WIFGUARD_DIAGNOSTICS_AUTH_RULE_ID).')
param authorizationRuleId string

@description('Event hub the records go to (WIFGUARD_EVENTHUB_NAME).')
param eventHubName string = 'entra-audit-logs'

resource auditLogsToEventHub 'microsoft.aadiam/diagnosticSettings@2017-04-01' = {
  name: name
  properties: {
    eventHubAuthorizationRuleId: authorizationRuleId
    eventHubName: eventHubName
    logs: [
      {
        category: 'AuditLogs'
        enabled: true
      }
    ]
  }
}

output id string = auditLogsToEventHub.id
