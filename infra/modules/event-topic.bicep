// The Event Grid system topic of the subscription this resource group is in. Azure allows one
// system topic per source: if the subscription already has one, reuse it instead (see README).
@description('wifguard-<environmentName> (subscription-events.bicep).')
param name string
param tags object = {}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: 'global'
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

output id string = topic.id
output name string = topic.name
output principalId string = topic.identity.principalId
