#!/bin/sh
# Grant the app identity exactly the Microsoft Graph application permissions of its mode
# (WIFGUARD_GRAPH_APP_ROLE_IDS, computed by infra/modules/graph-permissions.bicep from the
# permission manifest), and revoke any other Graph app role it holds (a lowered mode).
#
# Idempotent: it reads the identity's current app role assignments first and only adds what is
# missing, so re-running it (every `azd provision` does) changes nothing. It survives the known
# first-run failure of a brand-new managed identity ("Not a valid reference update" / not found
# while Entra replicates the service principal) by retrying for a few minutes.
#
# Runs as whoever runs azd (`az login`): Privileged Role Administrator (or Global Administrator)
# in Entra ID, i.e. the delegated rights to read service principals and write app role
# assignments. Without them it fails at once with that message, never by retrying.
set -eu

sp="${WIFGUARD_IDENTITY_PRINCIPAL_ID:?WIFGUARD_IDENTITY_PRINCIPAL_ID is not set: run azd provision first}"
wanted="${WIFGUARD_GRAPH_APP_ROLE_IDS:?WIFGUARD_GRAPH_APP_ROLE_IDS is not set: run azd provision first}"
attempts="${WIFGUARD_GRANT_ATTEMPTS:-24}"
delay="${WIFGUARD_GRANT_DELAY_SECONDS:-15}"
graph="https://graph.microsoft.com/v1.0"
msgraph_app_id="00000003-0000-0000-c000-000000000000"
err="$(mktemp)"
trap 'rm -f "$err"' EXIT

denied() {
  grep -q -e "Authorization_RequestDenied" -e "Insufficient privileges" -e "Forbidden" "$err"
}

fail_denied() {
  echo "wifguard: not allowed to grant Microsoft Graph permissions: the account running azd needs" >&2
  echo "  Privileged Role Administrator (or Global Administrator) in Entra ID." >&2
  cat "$err" >&2
  exit 1
}

# Run "$@" until it succeeds; retry only while the identity is not replicated yet.
with_retry() {
  n=0
  while :; do
    if "$@" 2>"$err"; then
      return 0
    fi
    if denied; then
      fail_denied
    fi
    n=$((n + 1))
    if [ "$n" -ge "$attempts" ]; then
      echo "wifguard: giving up after $n attempts:" >&2
      cat "$err" >&2
      exit 1
    fi
    echo "wifguard: identity not visible to Microsoft Graph yet (replication); retrying in ${delay}s ($n/$attempts)"
    sleep "$delay"
  done
}

graph_sp=$(az rest --method GET --url "$graph/servicePrincipals(appId='$msgraph_app_id')?\$select=id" \
  --query id -o tsv 2>"$err") || { denied && fail_denied; cat "$err" >&2; exit 1; }

held() {
  # App role ids this identity holds on Microsoft Graph, one per line (with assignment ids).
  az rest --method GET --url "$graph/servicePrincipals/$sp/appRoleAssignments?\$top=999" \
    --query "value[?resourceId=='$graph_sp'].[appRoleId, id]" -o tsv
}

current=""
read_current() {
  current=$(held)
}
with_retry read_current

for role in $(echo "$wanted" | tr ',' ' '); do
  if printf '%s\n' "$current" | grep -qi "^$role"; then
    echo "wifguard: Graph app role $role already granted"
    continue
  fi
  body="{\"principalId\": \"$sp\", \"resourceId\": \"$graph_sp\", \"appRoleId\": \"$role\"}"
  grant() {
    if az rest --method POST --url "$graph/servicePrincipals/$sp/appRoleAssignments" \
      --headers "Content-Type=application/json" --body "$body" -o none 2>"$err"; then
      return 0
    fi
    # Granted meanwhile (another run): the goal state.
    if grep -q "already exists" "$err"; then
      return 0
    fi
    cat "$err" >&2
    return 1
  }
  with_retry grant
  echo "wifguard: granted Graph app role $role"
done

# Revoke what the mode no longer needs (deployments are incremental and would keep it).
printf '%s\n' "$current" | while IFS="$(printf '\t')" read -r role assignment; do
  [ -n "$role" ] || continue
  case ",$wanted," in
    *",$role,"*) ;;
    *)
      az rest --method DELETE --url "$graph/servicePrincipals/$sp/appRoleAssignments/$assignment" -o none
      echo "wifguard: revoked Graph app role $role (not needed in this mode)"
      ;;
  esac
done
