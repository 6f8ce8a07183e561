// Microsoft Graph application permissions (app roles) of the app identity's service principal,
// granted with the Microsoft Graph Bicep extension (bicepconfig.json: microsoftGraphV1).
// The deploying principal needs to be allowed to grant app roles: Privileged Role Administrator
// (or Global Administrator), i.e. AppRoleAssignment.ReadWrite.All + Application.Read.All.
//
//   observe  Application.Read.All                      read apps, their FICs and owners (ids)
//   notify   Application.Read.All, User.ReadBasic.All  + owners' names / mail for the notices
//   enforce  Application.ReadWrite.All, User.ReadBasic.All
//            deleting (quarantine) and recreating (restore) a FIC on an arbitrary app needs
//            Application.ReadWrite.All: Application.ReadWrite.OwnedBy only reaches apps the
//            identity owns, which is exactly not the apps wifguard has to act on.
//
// Audit logs arrive through Event Hub, so AuditLog.Read.All is not needed.
// Downgrading the mode does not revoke a grant (deployments are incremental): remove the
// assignment by hand (see infra/README.md).
extension microsoftGraphV1

@allowed([
  'observe'
  'notify'
  'enforce'
])
param mode string
@description('Object id of the app identity\'s service principal (the UAMI principalId).')
param principalId string

var graphAppId = '00000003-0000-0000-c000-000000000000'
// Microsoft Graph application-permission (app role) ids: the same in every tenant.
var appRoleIds = {
  'Application.Read.All': '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30'
  'Application.ReadWrite.All': '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9'
  'User.ReadBasic.All': '97235f07-e226-4f63-ace3-39588e11d3a1'
}
var permissionsByMode = {
  observe: [
    'Application.Read.All'
  ]
  notify: [
    'Application.Read.All'
    'User.ReadBasic.All'
  ]
  enforce: [
    'Application.ReadWrite.All'
    'User.ReadBasic.All'
  ]
}
var permissions = permissionsByMode[mode]

resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: graphAppId
}

resource grants 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for permission in permissions: {
    principalId: principalId
    resourceId: graph.id
    appRoleId: appRoleIds[permission]
  }
]

output permissions array = permissions
