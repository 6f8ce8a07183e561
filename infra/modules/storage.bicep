// The app's storage account: Functions host (AzureWebJobsStorage), the Flex Consumption deployment
// container, the sweep queue, wifguard's tables and parked-payload blobs, and the Event Grid
// dead-letter container. Entra ID only: shared keys are disabled, so every client (host, app,
// Event Grid) authenticates with a managed identity.
param name string
param location string
param tags object = {}
@description('Principal (object) id of the app identity.')
param principalId string
param deploymentContainerName string
param deadLetterContainerName string
param sweepQueueName string
@description('WIFGUARD_TABLE_PREFIX: the app creates its tables `<prefix>*` itself; its parked-payload container `<prefix>-rejected` is created here.')
param tablePrefix string = 'wifguard'
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string

var roles = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:Flex Consumption without VNet integration reaches its storage over the public endpoint, and Event Grid dead-letters into it; every request needs an Entra ID token (allowSharedKeyAccess false, no SAS possible).
  // checkov:skip=CKV_AZURE_59:Same as CKV_AZURE_35: a private-only account needs VNet integration and private endpoints, which this deployment does not create.
  // checkov:skip=CKV_AZURE_43:The name is computed in main.bicep ('stwifguard' + 12 characters of uniqueString: 22 lowercase alphanumerics); checkov resolves it across modules nondeterministically (sometimes the raw interpolation, which fails its regex).
  // checkov:skip=CKV_AZURE_206:Zone-redundant (Standard_ZRS) where the region has availability zones and LRS elsewhere (main.bicep picks what the region can create); set storageSkuName to Standard_GZRS or Standard_GRS to geo-replicate the findings and quarantine backups.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    isLocalUserEnabled: false
    isSftpEnabled: false
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource rejectedContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: '${toLower(tablePrefix)}-rejected'
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource sweepQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: sweepQueueName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

// Host storage, deployment package, Event Hub checkpoints, timer locks, parked payloads.
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, roles.blobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Sweep shards (queue trigger + output binding) and their poison queue.
resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, roles.queueDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Findings, events, parked payloads, quarantine backups, action log (tables created by the app).
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, roles.tableDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output deadLetterContainerName string = deadLetterContainer.name
output deploymentContainerName string = deploymentContainer.name
output sweepQueueName string = sweepQueue.name
