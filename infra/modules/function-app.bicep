// Flex Consumption Function App (Python 3.11) running as the user-assigned identity.
// Every connection is identity-based; the only secrets are Key Vault references.
param name string
param planName string
param location string
param tags object = {}
param identityId string
param identityClientId string
param identityPrincipalId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048
@allowed([
  'observe'
  'notify'
  'enforce'
])
param mode string
@allowed([
  'off'
  'dry-run'
  'enforce'
])
param quarantineMode string = 'off'
param tenantId string
param monitoredSubscriptionIds array
@description('Comma-separated management group ids (WIFGUARD_MANAGEMENT_GROUPS).')
param managementGroups string = ''
param eventHubNamespaceName string
param eventHubName string
param sweepQueueName string
param sweepSchedule string
param sweepShardSize int
param configPath string = ''
param tablePrefix string = 'wifguard'
@description('Comma-separated extra responder ids (added to the identity\'s own ids).')
param extraResponderIds string = ''
@description('App setting name -> Key Vault secret URI, empty when the secret does not exist (keyvault.bicep output secretUris).')
param notificationSecretUris object = {
  WIFGUARD_TEAMS_WEBHOOK_URL: ''
  WIFGUARD_SLACK_WEBHOOK_URL: ''
  WIFGUARD_WEBHOOK_URL: ''
  WIFGUARD_EVENTGRID_TOPIC_KEY: ''
}
param eventGridTopicEndpoint string = ''
@description('WIFGUARD_API_AUDIENCE: the API app registration\'s client id and Application ID URI (tokens for findings/restore).')
param apiAudience string = ''

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource eventHubNamespace 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubNamespaceName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:Flex Consumption zone redundancy exists only in some regions; every source tolerates an outage (Event Hub retention + checkpoints, Event Grid retries for 24 h, queue retries, timer past_due), so the app is not made zone-redundant by default.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// `enforce` quarantine only with mode=enforce (the only mode with write permissions);
// otherwise it is downgraded to dry-run, which needs no write permission.
var effectiveQuarantineMode = (quarantineMode == 'enforce' && mode != 'enforce') ? 'dry-run' : quarantineMode
var notifying = mode != 'observe'

var baseSettings = [
  // Functions host: identity-based storage, telemetry with Entra ID (App Insights local auth is off).
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storage.name
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }

  // audit_logs: Event Hub trigger (connection="WIFGUARD_EVENTHUB", event_hub_name="%WIFGUARD_EVENTHUB_NAME%").
  {
    name: 'WIFGUARD_EVENTHUB_NAME'
    value: eventHubName
  }
  {
    name: 'WIFGUARD_EVENTHUB__fullyQualifiedNamespace'
    value: replace(replace(eventHubNamespace.properties.serviceBusEndpoint, 'https://', ''), ':443/', '')
  }
  {
    name: 'WIFGUARD_EVENTHUB__credential'
    value: 'managedidentity'
  }
  {
    name: 'WIFGUARD_EVENTHUB__clientId'
    value: identityClientId
  }

  // sweep_planner (timer + queue output) and sweep_shard (queue trigger, connection="WIFGUARD_QUEUE").
  {
    name: 'WIFGUARD_SWEEP_SCHEDULE'
    value: sweepSchedule
  }
  {
    name: 'WIFGUARD_SWEEP_QUEUE'
    value: sweepQueueName
  }
  {
    name: 'WIFGUARD_SWEEP_SHARD_SIZE'
    value: string(sweepShardSize)
  }
  {
    name: 'WIFGUARD_QUEUE__queueServiceUri'
    value: storage.properties.primaryEndpoints.queue
  }
  {
    name: 'WIFGUARD_QUEUE__credential'
    value: 'managedidentity'
  }
  {
    name: 'WIFGUARD_QUEUE__clientId'
    value: identityClientId
  }

  // wifguard core (wifguard/settings.py).
  {
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  {
    name: 'WIFGUARD_STORAGE_ACCOUNT'
    value: storage.properties.primaryEndpoints.table
  }
  {
    name: 'WIFGUARD_TABLE_PREFIX'
    value: tablePrefix
  }
  {
    name: 'WIFGUARD_CONFIG'
    value: configPath
  }
  {
    name: 'WIFGUARD_TENANT_ID'
    value: tenantId
  }
  {
    name: 'WIFGUARD_API_AUDIENCE'
    value: apiAudience
  }
  {
    name: 'WIFGUARD_SUBSCRIPTIONS'
    value: join(monitoredSubscriptionIds, ',')
  }
  {
    name: 'WIFGUARD_MANAGEMENT_GROUPS'
    value: managementGroups
  }
  {
    name: 'WIFGUARD_QUARANTINE_MODE'
    value: effectiveQuarantineMode
  }
  {
    name: 'WIFGUARD_RESPONDER_IDS'
    value: empty(extraResponderIds) ? '${identityClientId},${identityPrincipalId}' : '${identityClientId},${identityPrincipalId},${extraResponderIds}'
  }
]

// Notification channels (notify / enforce only): Key Vault references, never literal secrets.
// A setting exists only when its secret does (a reference to a missing secret never resolves).
var uris = notificationSecretUris
var teamsSetting = (notifying && !empty(uris.WIFGUARD_TEAMS_WEBHOOK_URL)) ? [
  {
    name: 'WIFGUARD_TEAMS_WEBHOOK_URL'
    value: '@Microsoft.KeyVault(SecretUri=${uris.WIFGUARD_TEAMS_WEBHOOK_URL})'
  }
] : []
var slackSetting = (notifying && !empty(uris.WIFGUARD_SLACK_WEBHOOK_URL)) ? [
  {
    name: 'WIFGUARD_SLACK_WEBHOOK_URL'
    value: '@Microsoft.KeyVault(SecretUri=${uris.WIFGUARD_SLACK_WEBHOOK_URL})'
  }
] : []
var webhookSetting = (notifying && !empty(uris.WIFGUARD_WEBHOOK_URL)) ? [
  {
    name: 'WIFGUARD_WEBHOOK_URL'
    value: '@Microsoft.KeyVault(SecretUri=${uris.WIFGUARD_WEBHOOK_URL})'
  }
] : []
var topicKeySetting = (notifying && !empty(uris.WIFGUARD_EVENTGRID_TOPIC_KEY)) ? [
  {
    name: 'WIFGUARD_EVENTGRID_TOPIC_KEY'
    value: '@Microsoft.KeyVault(SecretUri=${uris.WIFGUARD_EVENTGRID_TOPIC_KEY})'
  }
] : []
var topicEndpointSetting = (notifying && !empty(eventGridTopicEndpoint)) ? [
  {
    name: 'WIFGUARD_EVENTGRID_TOPIC_ENDPOINT'
    value: eventGridTopicEndpoint
  }
] : []

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222:Event Grid delivers to the AzureFunction endpoint and operators call the HTTP API over the public endpoint; a private-only app needs VNet integration and private endpoints, which this deployment does not create. HTTP functions require function/admin keys except /api/health.
  // checkov:skip=CKV_AZURE_17:Event Grid delivery and the key-protected HTTP API do not present client certificates; requiring them would break event delivery.
  // checkov:skip=CKV_AZURE_212:Scale to zero is intended (Flex Consumption); the event sources buffer while instances start (Event Hub, Event Grid retries, storage queue), so no always-ready instances are kept.
  // checkov:skip=CKV_AZURE_213:The platform health check only evicts unhealthy instances of a fixed-size pool; with on-demand Flex instances it does not apply. /api/health exists for external probes.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(baseSettings, teamsSetting, slackSetting, webhookSetting, topicKeySetting, topicEndpointSetting)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No FTP / WebDeploy basic-auth publishing: deployments use Entra ID (azd / One Deploy).
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output uri string = 'https://${site.properties.defaultHostName}'
output eventGridFunctionId string = '${site.id}/functions/resource_events'
