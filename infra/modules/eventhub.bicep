// Event Hub that receives the Entra audit logs from the tenant diagnostic setting.
// The app reads with its managed identity (Azure Event Hubs Data Receiver on the hub only).
// The Entra diagnostic setting cannot use Entra ID: it streams through a namespace-level shared
// access (SAS) authorization rule, and Azure Monitor documents Manage, Send and Listen as the
// rights that rule needs for streaming to Event Hubs. That rule is the only key meant to exist:
// the postprovision hook (infra/scripts/postprovision.sh) deletes the namespace's default
// RootManageSharedAccessKey, and no event-hub-level rule is created. Set allowSasForDiagnostics
// false to disable local auth entirely when audit logs are not streamed.
param namespaceName string
param eventHubName string = 'entra-audit-logs'
param consumerGroupName string = 'wifguard'
param location string
param tags object = {}
@description('Principal (object) id of the app identity.')
param principalId string
@description('Keep SAS (local auth) enabled so the Entra diagnostic setting can stream with its authorization rule.')
param allowSasForDiagnostics bool = true
@minValue(1)
@maxValue(32)
param partitionCount int = 4
@minValue(1)
@maxValue(7)
param messageRetentionInDays int = 3

var eventHubsDataReceiver = 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: 1
  }
  properties: {
    disableLocalAuth: !allowSasForDiagnostics
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    isAutoInflateEnabled: false
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: eventHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
  properties: {
    userMetadata: 'wifguard audit_logs function'
  }
}

// Used only by the tenant step (microsoft.aadiam/diagnosticSettings): the rights Azure Monitor
// documents for streaming to Event Hubs.
resource diagnosticsRule 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {
  parent: namespace
  name: 'entra-diagnostics'
  properties: {
    rights: [
      'Manage'
      'Send'
      'Listen'
    ]
  }
}

resource receiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, principalId, eventHubsDataReceiver)
  scope: hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventHubsDataReceiver)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output namespaceName string = namespace.name
output namespaceId string = namespace.id
output eventHubName string = hub.name
output consumerGroupName string = consumerGroup.name
// serviceBusEndpoint is https://<name>.servicebus.windows.net:443/ (cloud-specific suffix).
output fullyQualifiedNamespace string = replace(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':443/', '')
output diagnosticsRuleId string = diagnosticsRule.id
