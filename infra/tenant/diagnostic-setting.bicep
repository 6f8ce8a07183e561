// Tenant-wide Microsoft Entra diagnostic setting: stream the AuditLogs category to wifguard's
// Event Hub, where the `audit_logs` function reads it. This is the only real-time signal for
// federated credentials on app registrations (Graph objects).
//
// The supported way to create it is infra/scripts/tenant-diagnostic-setting.sh: a direct
// `az rest --method PUT` of microsoft.aadiam/diagnosticSettings, which needs only the documented
// rights (Security Administrator or Global Administrator in Entra ID, plus
// Microsoft.EventHub/namespaces/authorizationRules/listKeys/action on the authorization rule,
// e.g. Contributor on wifguard's resource group) and a Microsoft Entra ID P1/P2 tenant.
//
// This template is the same resource as a deployment. A tenant-scope deployment
// (`az deployment tenant create`) additionally needs Microsoft.Resources/deployments/* at the
// root scope `/`, which no Entra role gives (only Owner at `/`, i.e. a Global Administrator who
// elevated access): use it only where such rights exist.
//
// Why an authorization rule (SAS) and not Entra ID: Entra/Azure Monitor diagnostic settings
// stream to Event Hubs only through a namespace authorization rule, and Azure Monitor documents
// Manage, Send and Listen for it (infra/modules/eventhub.bicep). The app reads with its managed
// identity (Azure Event Hubs Data Receiver).
targetScope = 'tenant'

@description('Name of the diagnostic setting: wifguard-<environmentName> (azd env: WIFGUARD_DIAGNOSTIC_SETTING_NAME), so two environments keep their own.')
param name string

@description('Resource id of the namespace authorization rule (azd env: WIFGUARD_DIAGNOSTICS_AUTH_RULE_ID).')
param authorizationRuleId string

@description('Event hub the records go to (azd env: WIFGUARD_EVENTHUB_NAME).')
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
