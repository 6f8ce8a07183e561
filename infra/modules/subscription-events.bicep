// Everything wifguard needs in ONE monitored subscription. Deploy once per subscription
// (main.bicep loops over monitoredSubscriptions; or `az deployment sub create` by hand, see
// infra/README.md "Add a monitored subscription"):
//   - Reader for the app identity (UAMIs, their FICs, role assignments and definitions);
//   - enforce only: a custom role with exactly the federated-credential read/write/delete actions
//     (delete to quarantine, write to restore), assigned to the app identity;
//   - an Event Grid system topic for the subscription (Microsoft.Resources.Subscriptions) in its
//     own resource group, and (once the code is deployed) the event subscription to the
//     `resource_events` function, with retries and dead-lettering to the app's storage account.
targetScope = 'subscription'

param location string
param tags object = {}
@minLength(1)
@description('Name of the azd environment: every name this module creates outside its own resource group carries it, so two environments on one subscription never overwrite each other.')
param environmentName string
@description('Resource group (created here) that holds the subscription\'s system topic (main.bicep: rg-<environmentName>-events).')
param resourceGroupName string
@description('Principal (object) id of the app identity.')
param principalId string
@allowed([
  'observe'
  'notify'
  'enforce'
])
param mode string
@description('Resource id of the Function App; the endpoint is its `resource_events` function.')
param functionAppId string
@description('Create the event subscription (the function must already be deployed).')
param createEventSubscription bool = true
param deadLetterSubscriptionId string
param deadLetterResourceGroupName string
param deadLetterStorageAccountName string
param deadLetterContainerName string = 'eventgrid-deadletter'
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

var readerRole = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var enforce = mode == 'enforce'
var token = take(uniqueString(subscription().id, environmentName), 8)

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, readerRole)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'wifguard: read managed identities, federated credentials and role assignments'
  }
}

// Narrower than any built-in role (Managed Identity Contributor can also create and delete
// identities): only the federated credentials of user-assigned identities.
resource ficResponderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (enforce) {
  name: guid(subscription().id, environmentName, 'wifguard-federated-credential-responder')
  properties: {
    // Role names are unique per tenant: one definition per environment and subscription.
    roleName: 'wifguard federated credential responder (${environmentName}, ${subscription().subscriptionId})'
    description: 'Read, remove (quarantine) and recreate (restore) federated identity credentials of user-assigned managed identities.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read'
          'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write'
          'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource ficResponder 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enforce) {
  name: guid(subscription().id, principalId, environmentName, 'wifguard-federated-credential-responder')
  properties: {
    roleDefinitionId: ficResponderRole.id
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'wifguard enforce mode: quarantine and restore federated credentials'
  }
}

module topic 'event-topic.bicep' = {
  name: 'wifguard-event-topic-${token}'
  scope: eventsGroup
  params: {
    name: 'wifguard-${environmentName}'
    tags: tags
  }
}

// The topic's system identity may write dead letters into one container of the app's account.
module deadLetterAccess 'deadletter-access.bicep' = {
  name: 'wifguard-deadletter-${token}'
  scope: resourceGroup(deadLetterSubscriptionId, deadLetterResourceGroupName)
  params: {
    storageAccountName: deadLetterStorageAccountName
    containerName: deadLetterContainerName
    principalId: topic.outputs.principalId
  }
}

module eventSubscription 'event-subscription.bicep' = if (createEventSubscription) {
  name: 'wifguard-event-subscription-${token}'
  scope: eventsGroup
  params: {
    name: 'wifguard-${environmentName}'
    systemTopicName: topic.outputs.name
    functionResourceId: '${functionAppId}/functions/resource_events'
    deadLetterStorageAccountId: deadLetterAccess.outputs.storageAccountId
    deadLetterContainerName: deadLetterContainerName
    maxDeliveryAttempts: maxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
  }
}

output systemTopicId string = topic.outputs.id
output systemTopicPrincipalId string = topic.outputs.principalId
output ficRoleDefinitionId string = enforce ? ficResponderRole.id : ''
