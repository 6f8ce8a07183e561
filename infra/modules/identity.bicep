// The app's user-assigned managed identity: every data-plane, ARM and Graph permission is granted
// to it, and the Function App, Key Vault references and deployment storage authenticate with it.
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
