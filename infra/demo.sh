#!/usr/bin/env bash
# The main job on the local stack, start to end: start the stack, seed a demo tenant,
# run a scheduled backup through the Lambda emulator, show the bucket and the report,
# delete the tenant, restore it, show it back, and ask the catalog about the backup with
# the lifeboat tool. Backup and restore reach the cluster as in production: through EKS,
# each with nothing but its own role's credentials.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"
TENANT=duploservices-billing

say() { printf '\n== %s\n' "$*"; }
# invoke FUNCTION PORT: the event on standard input, the report on standard output.
invoke() {
  curl -sS --fail-with-body -X POST "http://127.0.0.1:$2/2015-03-31/functions/$1/invocations" \
    -H 'content-type: application/json' -d @-
}
# Who the cluster's authenticator let in most recently.
last_user() {
  grep '"tokenreview"' "$LIFEBOAT_WEBHOOK_LOG" | jq -r 'select(.authenticated) | "\(.username) (\(.arn))"' | tail -n 1
}

say "starting the local stack"
bash "$HERE/up.sh"
# shellcheck disable=SC1091
source "$STACK_DIR/env"
BACKUP_PORT=$((LAMBDA_PORT + 1)) RESTORE_PORT=$((LAMBDA_PORT + 2))
bash "$HERE/lambda.sh" start eks-backup
bash "$HERE/lambda.sh" start eks-restore
# The catalog, served by the stack's default instance.
bash "$HERE/lambda.sh" start lambda
trap 'bash "$HERE/lambda.sh" stop eks-backup >/dev/null || true; bash "$HERE/lambda.sh" stop eks-restore >/dev/null || true' EXIT
(cd "$HERE/.." && cargo build --quiet --bin lifeboat)
lifeboat() { "$HERE/../target/debug/lifeboat" --endpoint-url "http://127.0.0.1:$LAMBDA_PORT" --function catalog "$@"; }

say "seeding the tenant $TENANT"
if kubectl get namespace "$TENANT" >/dev/null 2>&1; then
  kubectl delete namespace "$TENANT" --wait=true --timeout=120s
fi
kubectl create namespace "$TENANT"
kubectl label namespace "$TENANT" team=billing
kubectl -n "$TENANT" create secret generic db-credentials --from-literal=username=billing --from-literal=password=s3cr3t-demo-password
kubectl -n "$TENANT" create secret tls billing-tls --cert="$LIFEBOAT_KUBE_CA" --key="$LIFEBOAT_KUBE_CA_KEY"
kubectl -n "$TENANT" create configmap app-config --from-literal=mode=live --from-literal=region=eu
kubectl -n "$TENANT" get secrets,configmaps

say "scheduled backup through the Lambda emulator, as the lifeboat-backup role"
scheduled_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)
report=$(jq --arg t "$scheduled_time" '.scheduled_time = $t' "$HERE/demo/backup-event.json" | invoke backup "$BACKUP_PORT")
jq . <<<"$report"
echo "the cluster let in: $(last_user)"
backup=$(jq -r .backup <<<"$report")
[[ $(jq -r .status <<<"$report") == Completed ]] || { echo "the backup did not complete" >&2; exit 1; }

say "the backup in S3: $backup"
python3 - "$LIFEBOAT_BUCKET" "${backup#s3://"$LIFEBOAT_BUCKET"/}" <<'PY'
import sys, boto3
bucket, prefix = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3")
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
    for o in page.get("Contents", []):
        head = s3.head_object(Bucket=bucket, Key=o["Key"])
        print(f'{o["Size"]:>7}  {head.get("ServerSideEncryption", "-"):8}  s3://{bucket}/{o["Key"]}')
PY

say "deleting the tenant"
kubectl delete namespace "$TENANT" --wait=true --timeout=120s
kubectl get namespace "$TENANT" 2>&1 || true

say "restoring the latest backup, as the lifeboat-restore role"
report=$(invoke restore "$RESTORE_PORT" <"$HERE/demo/restore-event.json")
jq . <<<"$report"
echo "the cluster let in: $(last_user)"
[[ $(jq -r .status <<<"$report") == Completed ]] || { echo "the restore did not complete" >&2; exit 1; }

say "the tenant is back"
kubectl get namespace "$TENANT" --show-labels
kubectl -n "$TENANT" get secrets,configmaps
printf 'db-credentials password, decoded: %s\n' "$(kubectl -n "$TENANT" get secret db-credentials -o jsonpath='{.data.password}' | base64 -d)"

say "what the catalog says: lifeboat describe, and a diff of the backup against the cluster"
infrastructure=$(jq -r .infrastructure "$HERE/demo/backup-event.json")
lifeboat describe -i "$infrastructure"
lifeboat diff -i "$infrastructure" --live

echo
echo "The stack stays up for a look around: source $STACK_DIR/env. Stop it with infra/down.sh."
