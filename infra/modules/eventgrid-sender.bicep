// EventGrid Data Sender for the app identity on the Event Grid topic that receives findings
// (notify / enforce with WIFGUARD_EVENTGRID_TOPIC_ENDPOINT): the app publishes with its Entra ID
// token, so no topic key is needed. Deployed into the topic's resource group.
param topicName string
@description('Principal (object) id of the app identity.')
param principalId string

var eventGridDataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: topicName
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'wifguard: publish findings as CloudEvents'
  }
}
