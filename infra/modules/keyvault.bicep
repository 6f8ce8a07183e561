// Key Vault for the notification secrets (chat webhook URLs, Event Grid topic key). RBAC
// authorization only; the app identity is Key Vault Secrets User, and the Function App reads the
// secrets through Key Vault references resolved with that identity (keyVaultReferenceIdentity).
// A secret is created only when its value is given: Key Vault references to an empty secret
// fail to resolve, so an absent channel simply has no app setting.
param name string
param location string
param tags object = {}
@description('Principal (object) id of the app identity.')
param principalId string
@allowed([
  'default'
  'recover'
])
@description('recover: bring back the soft-deleted vault of the same name (re-deploying an environment after `azd down`; purge protection keeps the name for the retention period).')
param createMode string = 'default'
@secure()
param teamsWebhookUrl string = ''
@secure()
param slackWebhookUrl string = ''
@secure()
param webhookUrl string = ''
@secure()
param eventGridTopicKey string = ''
@description('Comma-separated secret names that already exist in the vault (set out of band); their URIs are returned too.')
param existingSecrets string = ''
@description('Which secret values were given, by app setting name (computed by the caller, so no output depends on a secure parameter).')
param secretGiven object = {
  WIFGUARD_TEAMS_WEBHOOK_URL: false
  WIFGUARD_SLACK_WEBHOOK_URL: false
  WIFGUARD_WEBHOOK_URL: false
  WIFGUARD_EVENTGRID_TOPIC_KEY: false
}
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

// app setting name -> secret name; the values are given as parameters.
var secretNames = {
  WIFGUARD_TEAMS_WEBHOOK_URL: 'wifguard-teams-webhook-url'
  WIFGUARD_SLACK_WEBHOOK_URL: 'wifguard-slack-webhook-url'
  WIFGUARD_WEBHOOK_URL: 'wifguard-webhook-url'
  WIFGUARD_EVENTGRID_TOPIC_KEY: 'wifguard-eventgrid-topic-key'
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:A Flex Consumption app without VNet integration resolves Key Vault references over the vault's public endpoint from shared outbound addresses, which a vault firewall cannot allow; access is RBAC only (the app identity is the only Key Vault Secrets User).
  // checkov:skip=CKV_AZURE_189:Same as CKV_AZURE_109: disabling public access stops the Key Vault references of a Flex Consumption app without VNet integration from resolving (this deployment creates no VNet).
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    createMode: createMode
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    // Flex Consumption resolves Key Vault references over the public endpoint unless the app has
    // VNet integration and the vault a private endpoint (neither is created here).
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

module teams 'keyvault-secret.bicep' = if (!empty(teamsWebhookUrl)) {
  name: 'wifguard-secret-teams'
  params: {
    vaultName: vault.name
    name: secretNames.WIFGUARD_TEAMS_WEBHOOK_URL
    value: teamsWebhookUrl
    contentType: 'text/uri-list'
  }
}

module slack 'keyvault-secret.bicep' = if (!empty(slackWebhookUrl)) {
  name: 'wifguard-secret-slack'
  params: {
    vaultName: vault.name
    name: secretNames.WIFGUARD_SLACK_WEBHOOK_URL
    value: slackWebhookUrl
    contentType: 'text/uri-list'
  }
}

module webhook 'keyvault-secret.bicep' = if (!empty(webhookUrl)) {
  name: 'wifguard-secret-webhook'
  params: {
    vaultName: vault.name
    name: secretNames.WIFGUARD_WEBHOOK_URL
    value: webhookUrl
    contentType: 'text/uri-list'
  }
}

module topicKey 'keyvault-secret.bicep' = if (!empty(eventGridTopicKey)) {
  name: 'wifguard-secret-eventgrid-topic-key'
  params: {
    vaultName: vault.name
    name: secretNames.WIFGUARD_EVENTGRID_TOPIC_KEY
    value: eventGridTopicKey
    contentType: 'text/plain'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

var vaultUri = vault.properties.vaultUri
var existing = ',${replace(existingSecrets, ' ', '')},'
var teamsPresent = bool(secretGiven.WIFGUARD_TEAMS_WEBHOOK_URL) || contains(existing, ',${secretNames.WIFGUARD_TEAMS_WEBHOOK_URL},')
var slackPresent = bool(secretGiven.WIFGUARD_SLACK_WEBHOOK_URL) || contains(existing, ',${secretNames.WIFGUARD_SLACK_WEBHOOK_URL},')
var webhookPresent = bool(secretGiven.WIFGUARD_WEBHOOK_URL) || contains(existing, ',${secretNames.WIFGUARD_WEBHOOK_URL},')
var topicKeyPresent = bool(secretGiven.WIFGUARD_EVENTGRID_TOPIC_KEY) || contains(existing, ',${secretNames.WIFGUARD_EVENTGRID_TOPIC_KEY},')

output name string = vault.name
output id string = vault.id
output vaultUri string = vaultUri
@description('App setting name -> versionless secret URI (empty: no such secret). Key Vault references without a version follow the latest version.')
output secretUris object = {
  WIFGUARD_TEAMS_WEBHOOK_URL: teamsPresent ? '${vaultUri}secrets/${secretNames.WIFGUARD_TEAMS_WEBHOOK_URL}' : ''
  WIFGUARD_SLACK_WEBHOOK_URL: slackPresent ? '${vaultUri}secrets/${secretNames.WIFGUARD_SLACK_WEBHOOK_URL}' : ''
  WIFGUARD_WEBHOOK_URL: webhookPresent ? '${vaultUri}secrets/${secretNames.WIFGUARD_WEBHOOK_URL}' : ''
  WIFGUARD_EVENTGRID_TOPIC_KEY: topicKeyPresent ? '${vaultUri}secrets/${secretNames.WIFGUARD_EVENTGRID_TOPIC_KEY}' : ''
}
