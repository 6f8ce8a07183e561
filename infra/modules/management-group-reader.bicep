// Reader for the app identity on a management group, so the sweep can read role assignments made
// at management-group scope (no subscription event announces them). The sweep reads only the
// management groups listed in WIFGUARD_MANAGEMENT_GROUPS (the tenant root group's name is the
// tenant id): list one here once this grant exists, never before. Separate deployment:
//   az deployment mg create --management-group-id <mg> --location <region> \
//     --template-file infra/modules/management-group-reader.bicep --parameters principalId=<id>
targetScope = 'managementGroup'

@description('Principal (object) id of the app identity (azd env: WIFGUARD_IDENTITY_PRINCIPAL_ID).')
param principalId string

var readerRole = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(managementGroup().id, principalId, readerRole)
  properties: {
    roleDefinitionId: tenantResourceId('Microsoft.Authorization/roleDefinitions', readerRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'wifguard: read management-group role assignments'
  }
}
