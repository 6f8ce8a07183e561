// The responder's API app registration: what callers of the HTTP functions `findings` and
// `restore` get a Microsoft Entra ID token for (Microsoft Graph Bicep extension). The code
// validates the token itself (wifguard/api/auth.py: issuer = this tenant, audience = this app,
// signature from the tenant's keys) and requires an app role:
//   Findings.Read        GET  /api/findings
//   Quarantine.Restore   POST /api/quarantine/{id}/restore
// Assign the roles to people (groups) or applications on the app's service principal
// ("Enterprise applications" > wifguard API > Users and groups). `health` stays anonymous.
extension microsoftGraphV1

@description('Unique name of the app registration (per environment).')
param uniqueName string
param displayName string

var findingsReadRoleId = guid(uniqueName, 'Findings.Read')
var restoreRoleId = guid(uniqueName, 'Quarantine.Restore')

resource api 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  identifierUris: [
    'api://${uniqueName}'
  ]
  api: {
    requestedAccessTokenVersion: 2
  }
  appRoles: [
    {
      id: findingsReadRoleId
      value: 'Findings.Read'
      displayName: 'Read wifguard findings'
      description: 'List the findings wifguard recorded (GET /api/findings).'
      allowedMemberTypes: [
        'User'
        'Application'
      ]
      isEnabled: true
    }
    {
      id: restoreRoleId
      value: 'Quarantine.Restore'
      displayName: 'Restore quarantined credentials'
      description: 'Restore a quarantined federated credential and accept its risk (POST /api/quarantine/{id}/restore).'
      allowedMemberTypes: [
        'User'
        'Application'
      ]
      isEnabled: true
    }
  ]
}

resource apiPrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: api.appId
  // Only principals assigned an app role get a token for the API at all.
  appRoleAssignmentRequired: true
}

output appId string = api.appId
output identifierUri string = 'api://${uniqueName}'
// WIFGUARD_API_AUDIENCE: v2 tokens carry the client id, v1 tokens the Application ID URI.
output audience string = '${api.appId},api://${uniqueName}'
