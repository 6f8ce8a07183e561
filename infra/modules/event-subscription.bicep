// Event subscription of a subscription's system topic to the `resource_events` function:
// only successful writes/deletes of role assignments and user-assigned-identity federated
// credentials (the four operations handlers/event_grid.py understands; a test checks it).
// Delivery to an AzureFunction endpoint uses the function's system key, not a managed identity
// (Event Grid's managed-identity delivery covers Service Bus, Event Hubs and Storage only);
// dead-lettering uses the topic's system-assigned identity.
param systemTopicName string
@description('wifguard-<environmentName> (subscription-events.bicep): unique per environment, so two environments can subscribe to one topic.')
param name string
@description('Resource id of the function: <functionAppId>/functions/resource_events.')
param functionResourceId string
param deadLetterStorageAccountId string
param deadLetterContainerName string
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

var operations = [
  'Microsoft.Authorization/roleAssignments/write'
  'Microsoft.Authorization/roleAssignments/delete'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete'
]

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource subscriptionToFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: name
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: functionResourceId
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Resources.ResourceWriteSuccess'
        'Microsoft.Resources.ResourceDeleteSuccess'
      ]
      enableAdvancedFilteringOnArrays: false
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: operations
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output id string = subscriptionToFunction.id
