#!/usr/bin/env bash
# Starts or stops a Lambda runtime emulator (cargo-lambda) serving the real function
# binaries of this workspace (backup, restore, catalog, retention, drill), with the local
# stack's environment.
#   infra/lambda.sh start [INSTANCE]   builds the functions, starts the emulator, waits
#   infra/lambda.sh stop [INSTANCE]
# Instances:
#   lambda       (default, port 19000) reaches the cluster through the admin kubeconfig
#   eks-backup   (port 19001) through EKS, with nothing but session credentials of the
#                lifeboat-backup role, as the deployed backup function has
#   eks-restore  (port 19002) the same with the lifeboat-restore role
#   trace        (port 19003) as lambda, logging at RUST_LOG=trace, for the test that no
#                log level prints what the functions send and receive
# Invoke API: http://127.0.0.1:PORT/2015-03-31/functions/<backup|restore|catalog|retention|drill>/invocations
# Everything the functions print goes to $STACK_DIR/logs/INSTANCE.log.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

instance_port() {
  case $1 in
    lambda) echo "$LAMBDA_PORT" ;;
    eks-backup) echo $((LAMBDA_PORT + 1)) ;;
    eks-restore) echo $((LAMBDA_PORT + 2)) ;;
    trace) echo $((LAMBDA_PORT + 3)) ;;
    *)
      echo "unknown instance $1 (lambda, eks-backup, eks-restore, trace)" >&2
      return 1
      ;;
  esac
}

# Session credentials of a role, from the AWS emulator's STS, like those Lambda hands
# a function of that role.
role_credentials() {
  python3 - "$1" <<'PY'
import sys, boto3
c = boto3.client("sts").assume_role(RoleArn=sys.argv[1], RoleSessionName="lifeboat-function")["Credentials"]
# Quoted: secrets hold '/', '+' and '=', which the emulator's env file parser rejects bare.
print(f"AWS_ACCESS_KEY_ID='{c['AccessKeyId']}'")
print(f"AWS_SECRET_ACCESS_KEY='{c['SecretAccessKey']}'")
print(f"AWS_SESSION_TOKEN='{c['SessionToken']}'")
PY
}

start() {
  local name=$1 port
  port=$(instance_port "$name")
  [[ -f $STACK_DIR/env ]] || { echo "[lambda] the stack is not up: run infra/up.sh first" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$STACK_DIR/env"
  if component_pid "$name" >/dev/null; then
    echo "[lambda] $name already running on port $port"
    return
  fi
  mkdir -p "$LOGS" "$RUN"
  # Built before the emulator starts, so its first invocation does not wait on a compile.
  (cd "$ROOT" && cargo build --quiet --bin backup --bin restore --bin catalog --bin retention --bin drill)
  # The emulator takes KEY=VALUE lines; the functions get the stack's settings.
  local env_file="$RUN/$name.env"
  (
    umask 077
    # Credentials come per instance, below.
    sed -n 's/^export \(LIFEBOAT_[A-Z_]*\|AWS_[A-Z_]*\)=/\1=/p' "$STACK_DIR/env" | grep -Ev '^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)='
    if [[ $name == trace ]]; then echo "RUST_LOG=trace"; else echo "RUST_LOG=info"; fi
    case $name in
      lambda | trace)
        echo "LIFEBOAT_CLUSTER_ACCESS=kubeconfig"
        echo "KUBECONFIG=$KUBECONFIG"
        echo "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
        echo "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
        ;;
      # No kubeconfig at all: the role's credentials are the only way in.
      eks-backup) echo "LIFEBOAT_CLUSTER_ACCESS=eks" && role_credentials "$LIFEBOAT_BACKUP_ROLE_ARN" ;;
      eks-restore) echo "LIFEBOAT_CLUSTER_ACCESS=eks" && role_credentials "$LIFEBOAT_RESTORE_ROLE_ARN" ;;
    esac
  ) >"$env_file"
  local cargo_lambda
  cargo_lambda=$(cargo_lambda_path)
  [[ -x $cargo_lambda ]] || { echo "[lambda] cargo-lambda is not installed: run infra/up.sh" >&2; exit 1; }
  local cmd=("$cargo_lambda" lambda watch --ignore-changes --quiet --invoke-address 127.0.0.1 --invoke-port "$port"
    --env-file "$env_file" --concurrency 4)
  : >"$LOGS/$name.log"
  # The functions inherit the emulator's environment, so it must not carry the stack's
  # admin credentials: an EKS instance has to get in with its role alone.
  (cd "$ROOT" && exec env -u KUBECONFIG -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    setsid "${cmd[@]}" </dev/null >>"$LOGS/$name.log" 2>&1) &
  local pid=$!
  echo "$pid" >"$RUN/$name.pid"
  # Recorded once the process has exec'd, as component_pid compares against it.
  local deadline=$((SECONDS + 120))
  until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    if ! proc_alive "$pid" || ((SECONDS > deadline)); then
      echo "[lambda] the $name emulator did not come up; last lines of $LOGS/$name.log:" >&2
      tail -n 40 "$LOGS/$name.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  tr '\0' '\n' <"/proc/$pid/cmdline" >"$RUN/$name.cmd"
  echo "[lambda] $name emulator up on http://127.0.0.1:$port (log: $LOGS/$name.log)"
}

case ${1:-} in
  start) start "${2:-lambda}" ;;
  stop) stop_component "${2:-lambda}" ;;
  *)
    echo "usage: $0 start|stop [lambda|eks-backup|eks-restore|trace]" >&2
    exit 2
    ;;
esac
