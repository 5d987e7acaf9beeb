#!/bin/sh
# The cron-style baseline for tests/bench/: what glasswatchd's job looks
# like as a shell script run every cycle. One run: a client-credentials
# token, one KQL query (the break-glass accounts' sign-ins, non-interactive
# sign-ins and audit events ingested in the last GW_WINDOW), jq to pick the
# rows, dedup against a state file of record ids, one mail per new record
# through curl's SMTP. It has no retry, outbox, incident or burst logic:
# the benchmark compares the CPU of the common part only.
#
# Environment: GW_LOGIN GW_TENANT_ID GW_CLIENT_ID GW_SECRET_FILE GW_LA
# GW_WORKSPACE GW_IDS (space-separated object ids) GW_STATE GW_SMTP
# GW_FROM GW_TO GW_CA [GW_WINDOW, default 10m]
set -eu

window=${GW_WINDOW:-10m}
touch "$GW_STATE"

# The secret goes to curl on stdin, never on a command line.
secret=$(cat "$GW_SECRET_FILE")
token=$(printf 'grant_type=client_credentials&client_id=%s&scope=%s&client_secret=%s' \
    "$GW_CLIENT_ID" "https%3A%2F%2Fapi.loganalytics.io%2F.default" \
    "$(printf '%s' "$secret" | jq -sRr @uri)" |
    curl -sS --fail --cacert "$GW_CA" --data @- \
        "$GW_LOGIN/$GW_TENANT_ID/oauth2/v2.0/token" | jq -r .access_token)

ids=""
for id in $GW_IDS; do
	ids="$ids${ids:+, }\"$id\""
done
kql="union SigninLogs, AADNonInteractiveUserSignInLogs, AuditLogs
| where ingestion_time() > ago($window)
| where UserId in ($ids) or tostring(InitiatedBy) has_any ($ids) or tostring(TargetResources) has_any ($ids)
| project Id, UserId, UserPrincipalName, TimeGenerated, Type"

# The bearer token goes in a header read from stdin (-H @-).
rows=$(jq -n --arg q "$kql" '{query: $q, timespan: "P1D"}' |
    curl -sS --fail --cacert "$GW_CA" -H @/dev/fd/3 \
        -H 'Content-Type: application/json' --data @- \
        "$GW_LA/v1/workspaces/$GW_WORKSPACE/query" 3<<HDR |
Authorization: Bearer $token
HDR
    jq -r '.tables[0] as $t | ($t.columns | map(.name)) as $c
        | $t.rows[] | [$c, .] | transpose | map({(.[0]): .[1]}) | add
        | [.Id, .UserPrincipalName // "-", .TimeGenerated, .Type] | @tsv')

printf '%s\n' "$rows" | while IFS="$(printf '\t')" read -r id upn when type; do
	[ -n "$id" ] || continue
	grep -qxF "$id" "$GW_STATE" && continue
	printf 'From: %s\r\nTo: %s\r\nSubject: [Sev0] break-glass %s: %s\r\n\r\n%s %s at %s\r\n' \
	    "$GW_FROM" "$GW_TO" "$type" "$upn" "$upn" "$id" "$when" |
	    curl -sS --fail "$GW_SMTP" --mail-from "$GW_FROM" \
	        --mail-rcpt "$GW_TO" --upload-file -
	echo "$id" >> "$GW_STATE"
done
