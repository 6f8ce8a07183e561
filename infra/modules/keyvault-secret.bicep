// One Key Vault secret (called only when its value is given: see keyvault.bicep).
param vaultName string
param name string
@secure()
param value string = ''
param contentType string = 'text/plain'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41:Webhook URLs and topic keys have no natural lifetime: they are rotated by whoever owns the channel, and an expiry date would silently stop notifications. Rotate with `az keyvault secret set`; references follow the latest version.
  parent: vault
  name: name
  properties: {
    value: value
    contentType: contentType
  }
}

output name string = secret.name
