// Event Hub that receives the Entra audit logs from the tenant diagnostic setting.
// The app reads with its managed identity (Azure Event Hubs Data Receiver on the hub only).
// The Entra diagnostic setting cannot use Entra ID: it sends with a shared access (SAS)
// authorization rule. That rule is namespace-level (what Entra diagnostic settings select) and
// has `Send` only: with an explicit event hub name, Send is all the streaming needs (Manage is
// only needed when no hub is named and Azure Monitor creates one hub per category), and Listen is
// never needed because the app reads with Entra ID. Nothing can read the stream with that key.
param namespaceName string
param eventHubName string = 'entra-audit-logs'
param consumerGroupName string = 'wifguard'
param location string
param tags object = {}
@description('Principal (object) id of the app identity.')
param principalId string
@description('Keep SAS (local auth) enabled so the Entra diagnostic setting can send with the Send-only rule.')
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

// Used only by infra/tenant/diagnostic-setting.bicep (microsoft.aadiam/diagnosticSettings).
resource diagnosticsSendRule 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {
  parent: namespace
  name: 'entra-diagnostics-send'
  properties: {
    rights: [
      'Send'
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
output diagnosticsRuleId string = diagnosticsSendRule.id
