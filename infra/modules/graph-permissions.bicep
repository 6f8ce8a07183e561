// Microsoft Graph application permissions (app roles) of the app identity, by mode. This module
// only *computes* them (no resources): the postprovision hook infra/scripts/grant-graph-permissions.sh
// grants exactly these app role ids to the identity's service principal. The Graph Bicep
// extension is not used for the grant: Microsoft.Graph/appRoleAssignedTo fails on a managed
// identity created in the same deployment until Entra has replicated it ("Not a valid reference
// update", msgraph-bicep-types #193), and fails again when re-deployed (#161). The hook retries the
// first and checks the existing assignments before granting, so re-runs change nothing.
//
// The list per mode is the permission manifest's (wifguard/data/permissions.yaml); a test checks
// that the two agree exactly. Least privilege:
//   observe  Application.Read.All                      apps, their FICs and owners, service principals,
//                                                      app role assignments and owned objects
//            RoleManagement.Read.Directory             Entra directory roles and PIM eligibility (WIF607)
//   notify   the above, User.ReadBasic.All             + owners' names / mail for the notices
//   enforce  Application.ReadWrite.All, RoleManagement.Read.Directory, User.ReadBasic.All
//            deleting (quarantine) and recreating (restore) a FIC on an arbitrary app needs
//            Application.ReadWrite.All: Application.ReadWrite.OwnedBy only reaches apps the
//            identity owns, which is exactly not the apps wifguard has to act on.
// Audit logs arrive through Event Hub, so AuditLog.Read.All is not needed.
@allowed([
  'observe'
  'notify'
  'enforce'
])
param mode string

// Microsoft Graph application-permission (app role) ids: the same in every tenant.
var appRoleIds = {
  'Application.Read.All': '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30'
  'Application.ReadWrite.All': '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9'
  'User.ReadBasic.All': '97235f07-e226-4f63-ace3-39588e11d3a1'
  'RoleManagement.Read.Directory': '483bed4a-2ad3-4361-a73b-c83ccdbdc53c'
}
var permissionsByMode = {
  observe: [
    'Application.Read.All'
    'RoleManagement.Read.Directory'
  ]
  notify: [
    'Application.Read.All'
    'RoleManagement.Read.Directory'
    'User.ReadBasic.All'
  ]
  enforce: [
    'Application.ReadWrite.All'
    'RoleManagement.Read.Directory'
    'User.ReadBasic.All'
  ]
}
var permissions = permissionsByMode[mode]

output permissions array = permissions
output appRoleIds array = [for permission in permissions: appRoleIds[permission]]
