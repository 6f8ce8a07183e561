// wifguard: the whole Azure deployment (azd layout). `azd up` provisions this file, then deploys
// the Function App code; the postdeploy hook (infra/scripts/postdeploy.sh) provisions once more with
// the Event Grid subscriptions enabled, because an AzureFunction endpoint can only be subscribed
// after the function `resource_events` exists.
//
// The tenant-wide Entra diagnostic setting (audit logs -> Event Hub) is a separate, tenant-scope
// deployment that needs an Entra administrator: see infra/tenant/diagnostic-setting.bicep.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used for the resource group name and the resource name suffix.')
param environmentName string

@minLength(1)
@description('Azure region of the resources (must offer Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group of the app; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@allowed([
  'observe'
  'notify'
  'enforce'
])
@description('observe: record findings only. notify: also tell owners in chat. enforce: also allowed to remove (quarantine) risky federated credentials. Decides the Graph and Azure RBAC permissions granted.')
param mode string = 'observe'

@allowed([
  'off'
  'dry-run'
  'enforce'
])
@description('WIFGUARD_QUARANTINE_MODE. `enforce` takes effect only with mode=enforce (otherwise it becomes dry-run, which needs no write permission).')
param quarantineMode string = 'off'

@description('Comma-separated ids of the subscriptions to watch (Event Grid system topic + Reader, and the federated-credential role in enforce mode). Empty: the subscription of the deployment.')
param monitoredSubscriptions string = ''

@description('Comma-separated management group ids whose role assignments the sweep reads (WIFGUARD_MANAGEMENT_GROUPS). Reader there is granted by infra/modules/management-group-reader.bicep (separate step).')
param managementGroups string = ''

@description('Create the Event Grid subscriptions to the resource_events function. Must be false until the code is deployed once (the postdeploy hook sets it).')
param eventSubscriptionsEnabled bool = false

@description('Resource group created in every monitored subscription for its Event Grid system topic; empty: rg-<environmentName>-events (one per environment, so two environments never share it).')
param eventsResourceGroupName string = ''

@minValue(40)
@maxValue(1000)
@description('Flex Consumption: maximum number of instances.')
param maximumInstanceCount int = 100

@allowed([
  ''
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Replication of the storage account (findings, quarantine backups, host storage). Empty: Standard_ZRS where the region has availability zones, Standard_LRS elsewhere (ZRS cannot be created there).')
param storageSkuName string = ''

@allowed([
  2048
  4096
])
@description('Flex Consumption: instance memory (MB).')
param instanceMemoryMB int = 2048

@description('NCRONTAB (UTC) of the sweep planner (WIFGUARD_SWEEP_SCHEDULE).')
param sweepSchedule string = '0 0 */6 * * *'

@minValue(1)
@description('Applications per sweep shard (WIFGUARD_SWEEP_SHARD_SIZE).')
param sweepShardSize int = 2000

@description('Path (inside the deployed package) of the YAML config merged over the shipped defaults (WIFGUARD_CONFIG); empty: shipped defaults.')
param configPath string = ''

@description('Comma-separated extra app / identity ids never quarantined besides the app\'s own identity (WIFGUARD_RESPONDER_IDS).')
param extraResponderIds string = ''

@allowed([
  'default'
  'recover'
])
@description('`recover` re-creates the Key Vault from its soft-deleted state (after `azd down` of the same environment: purge protection keeps the name taken for the retention period). Set by the preprovision hook (infra/scripts/preprovision.sh); never needed by hand.')
param keyVaultCreateMode string = 'default'

@description('Keep SAS (local auth) enabled on the Event Hubs namespace for the Entra diagnostic setting, which streams only through a namespace authorization rule. The postprovision hook deletes the default RootManageSharedAccessKey, so the only key is the diagnostic setting\'s own rule; the app itself always uses Entra ID. Set false to disable SAS entirely (no audit-log streaming; sweeps still run).')
param eventHubAllowSasForDiagnostics bool = true

@secure()
@description('Teams incoming-webhook / workflow URL; stored in Key Vault (empty: not created).')
param teamsWebhookUrl string = ''

@secure()
@description('Slack incoming-webhook URL; stored in Key Vault (empty: not created).')
param slackWebhookUrl string = ''

@secure()
@description('Generic CloudEvents webhook URL; stored in Key Vault (empty: not created).')
param webhookUrl string = ''

@secure()
@description('Access key of an Event Grid topic that receives findings; stored in Key Vault (empty: not created; the app then uses its Entra ID token).')
param eventGridTopicKey string = ''

@description('Endpoint of the Event Grid topic that receives findings (not a secret; empty: none).')
param eventGridTopicEndpoint string = ''

@description('Resource id of that Event Grid topic (/subscriptions/.../providers/Microsoft.EventGrid/topics/<name>): the identity gets EventGrid Data Sender on it, so the app publishes with its Entra ID token and no topic key is needed. Empty: no role assignment (use eventGridTopicKey).')
param eventGridTopicResourceId string = ''

@description('Comma-separated names of notification secrets that already exist in the vault (set out of band with `az keyvault secret set`); their app settings are emitted too. Known names: wifguard-teams-webhook-url, wifguard-slack-webhook-url, wifguard-webhook-url, wifguard-eventgrid-topic-key.')
param existingNotificationSecrets string = ''

var tags = {
  'azd-env-name': environmentName
  application: 'wifguard'
}
// (No lambdas here: checkov's Bicep parser predates them, and this file must stay scannable.)
var monitoredSubscriptionIds = empty(trim(monitoredSubscriptions)) ? [subscription().subscriptionId] : split(replace(trim(monitoredSubscriptions), ' ', ''), ',')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var rgName = empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
// Everything outside the app's resource group is named after the environment too, so that two
// environments on one subscription (or tenant) never overwrite each other.
var eventsRgName = empty(eventsResourceGroupName) ? 'rg-${environmentName}-events' : eventsResourceGroupName
var diagnosticSettingName = 'wifguard-${environmentName}'
// /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.EventGrid/topics/<name> split on '/':
// index 2 is the subscription, 4 the resource group. A placeholder when unset, because ARM
// evaluates a module's scope even when its condition is false.
var topicIdParts = split(empty(eventGridTopicResourceId) ? '/subscriptions/${subscription().subscriptionId}/resourceGroups/${rgName}/providers/Microsoft.EventGrid/topics/none' : eventGridTopicResourceId, '/')
// Storage redundancy that the region can create: ZRS needs availability zones. Regions that offer
// Flex Consumption but no zones get LRS (an explicit storageSkuName always wins).
var regionsWithoutZones = [
  'australiacentral2'
  'australiasoutheast'
  'brazilsoutheast'
  'canadaeast'
  'francesouth'
  'germanynorth'
  'japanwest'
  'jioindiacentral'
  'jioindiawest'
  'koreasouth'
  'northcentralus'
  'norwaywest'
  'southafricawest'
  'southindia'
  'switzerlandwest'
  'uaecentral'
  'ukwest'
  'westcentralus'
  'westindia'
  'westus'
]
var effectiveStorageSku = !empty(storageSkuName) ? storageSkuName : (contains(regionsWithoutZones, toLower(replace(location, ' ', ''))) ? 'Standard_LRS' : 'Standard_ZRS')
var functionAppName = 'func-wifguard-${resourceToken}'
var eventHubName = 'entra-audit-logs'
var sweepQueueName = 'wifguard-sweep'
var deploymentContainerName = 'app-package-${take(resourceToken, 12)}'
var deadLetterContainerName = 'eventgrid-deadletter'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: rgName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'wifguard-identity-${resourceToken}'
  scope: rg
  params: {
    name: 'id-wifguard-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'wifguard-monitoring-${resourceToken}'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-wifguard-${resourceToken}'
    applicationInsightsName: 'appi-wifguard-${resourceToken}'
    principalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'wifguard-storage-${resourceToken}'
  scope: rg
  params: {
    name: 'stwifguard${take(resourceToken, 12)}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    sweepQueueName: sweepQueueName
    tablePrefix: 'wifguard'
    skuName: effectiveStorageSku
  }
}

module eventHub 'modules/eventhub.bicep' = {
  name: 'wifguard-eventhub-${resourceToken}'
  scope: rg
  params: {
    namespaceName: 'evhns-wifguard-${resourceToken}'
    eventHubName: eventHubName
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    allowSasForDiagnostics: eventHubAllowSasForDiagnostics
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'wifguard-keyvault-${resourceToken}'
  scope: rg
  params: {
    name: 'kv-wifg-${take(resourceToken, 13)}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    createMode: keyVaultCreateMode
    teamsWebhookUrl: teamsWebhookUrl
    slackWebhookUrl: slackWebhookUrl
    webhookUrl: webhookUrl
    eventGridTopicKey: eventGridTopicKey
    existingSecrets: existingNotificationSecrets
    secretGiven: {
      WIFGUARD_TEAMS_WEBHOOK_URL: !empty(teamsWebhookUrl)
      WIFGUARD_SLACK_WEBHOOK_URL: !empty(slackWebhookUrl)
      WIFGUARD_WEBHOOK_URL: !empty(webhookUrl)
      WIFGUARD_EVENTGRID_TOPIC_KEY: !empty(eventGridTopicKey)
    }
  }
}

// The API app registration callers get tokens for (app roles Findings.Read, Quarantine.Restore);
// the Function App validates them (WIFGUARD_API_AUDIENCE). Microsoft Graph Bicep extension.
module apiApp 'modules/api-app.bicep' = {
  name: 'wifguard-api-app-${resourceToken}'
  scope: rg
  params: {
    uniqueName: 'wifguard-api-${resourceToken}'
    displayName: 'wifguard API (${environmentName})'
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'wifguard-function-app-${resourceToken}'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-wifguard-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    mode: mode
    quarantineMode: quarantineMode
    tenantId: tenant().tenantId
    monitoredSubscriptionIds: monitoredSubscriptionIds
    managementGroups: replace(trim(managementGroups), ' ', '')
    eventHubNamespaceName: eventHub.outputs.namespaceName
    eventHubName: eventHub.outputs.eventHubName
    sweepQueueName: sweepQueueName
    sweepSchedule: sweepSchedule
    sweepShardSize: sweepShardSize
    configPath: configPath
    extraResponderIds: replace(trim(extraResponderIds), ' ', '')
    notificationSecretUris: keyVault.outputs.secretUris
    eventGridTopicEndpoint: eventGridTopicEndpoint
    apiAudience: apiApp.outputs.audience
  }
}

// The Graph application permissions of the mode. They are granted by the postprovision hook
// (infra/scripts/grant-graph-permissions.sh), not by the Graph Bicep extension: its
// appRoleAssignedTo fails on a brand-new managed identity that Entra has not replicated yet
// (msgraph-bicep-types #193) and conflicts when re-deployed (#161); the hook retries the first and
// checks before granting, so every re-run is a no-op.
module graphPermissions 'modules/graph-permissions.bicep' = {
  name: 'wifguard-graph-permissions-${resourceToken}'
  scope: rg
  params: {
    mode: mode
  }
}

// Publishing findings to an Event Grid topic with the identity's token needs EventGrid Data Sender.
module eventGridSender 'modules/eventgrid-sender.bicep' = if (mode != 'observe' && !empty(eventGridTopicResourceId)) {
  name: 'wifguard-eventgrid-sender-${take(resourceToken, 8)}'
  scope: resourceGroup(topicIdParts[2], topicIdParts[4])
  params: {
    topicName: last(topicIdParts)
    principalId: identity.outputs.principalId
  }
}

module subscriptionEvents 'modules/subscription-events.bicep' = [
  for (subscriptionId, i) in monitoredSubscriptionIds: {
    // Subscription-scope deployment names are shared by every environment: include the token.
    name: 'wifguard-${take(resourceToken, 8)}-sub-${i}-${take(uniqueString(subscriptionId), 6)}'
    scope: subscription(subscriptionId)
    params: {
      location: location
      tags: tags
      environmentName: environmentName
      resourceGroupName: eventsRgName
      principalId: identity.outputs.principalId
      mode: mode
      functionAppId: functionApp.outputs.id
      createEventSubscription: eventSubscriptionsEnabled
      deadLetterSubscriptionId: subscription().subscriptionId
      deadLetterResourceGroupName: rg.name
      deadLetterStorageAccountName: storage.outputs.name
      deadLetterContainerName: deadLetterContainerName
    }
  }
]

// Outputs become azd environment values (`azd env get-values`) and hook variables.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URI string = functionApp.outputs.uri
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output WIFGUARD_MODE string = mode
output WIFGUARD_API_APP_ID string = apiApp.outputs.appId
output WIFGUARD_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output WIFGUARD_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output WIFGUARD_EVENTHUB_NAMESPACE string = eventHub.outputs.namespaceName
output WIFGUARD_EVENTHUB_RESOURCE_GROUP string = rg.name
output WIFGUARD_DIAGNOSTICS_AUTH_RULE_ID string = eventHub.outputs.diagnosticsRuleId
output WIFGUARD_DIAGNOSTIC_SETTING_NAME string = diagnosticSettingName
output WIFGUARD_EVENTHUB_NAME string = eventHub.outputs.eventHubName
output WIFGUARD_GRAPH_PERMISSIONS string = join(graphPermissions.outputs.permissions, ',')
output WIFGUARD_GRAPH_APP_ROLE_IDS string = join(graphPermissions.outputs.appRoleIds, ',')
output WIFGUARD_STORAGE_SKU_EFFECTIVE string = effectiveStorageSku
output WIFGUARD_EVENT_SUBSCRIPTIONS_CREATED bool = eventSubscriptionsEnabled
