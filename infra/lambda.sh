#!/usr/bin/env bash
# Starts or stops the Lambda runtime emulator (cargo-lambda) serving the real backup
# and restore binaries of this workspace, with the local stack's environment.
#   infra/lambda.sh start   builds the functions, starts the emulator, waits for it
#   infra/lambda.sh stop
# Invoke API: http://127.0.0.1:$LAMBDA_PORT/2015-03-31/functions/<backup|restore>/invocations
# Everything the functions print goes to $STACK_DIR/logs/lambda.log.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

start() {
  [[ -f $STACK_DIR/env ]] || { echo "[lambda] the stack is not up: run infra/up.sh first" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$STACK_DIR/env"
  if component_pid lambda >/dev/null; then
    echo "[lambda] already running on port $LAMBDA_PORT"
    return
  fi
  mkdir -p "$LOGS" "$RUN"
  # Built before the emulator starts, so its first invocation does not wait on a compile.
  (cd "$ROOT" && cargo build --quiet --bin backup --bin restore)
  # The emulator takes KEY=VALUE lines; the functions get exactly the stack's settings.
  sed -n 's/^export \(LIFEBOAT_[A-Z_]*\|AWS_[A-Z_]*\|KUBECONFIG\)=/\1=/p' "$STACK_DIR/env" >"$RUN/lambda.env"
  echo "RUST_LOG=info" >>"$RUN/lambda.env"
  local cmd=(cargo-lambda lambda watch --ignore-changes --quiet --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT"
    --env-file "$RUN/lambda.env" --concurrency 4)
  : >"$LOGS/lambda.log"
  (cd "$ROOT" && exec setsid "${cmd[@]}" </dev/null >>"$LOGS/lambda.log" 2>&1) &
  local pid=$!
  echo "$pid" >"$RUN/lambda.pid"
  # Recorded once the process has exec'd, as component_pid compares against it.
  local deadline=$((SECONDS + 120))
  until curl -s -o /dev/null "http://127.0.0.1:$LAMBDA_PORT/"; do
    if ! proc_alive "$pid" || ((SECONDS > deadline)); then
      echo "[lambda] the emulator did not come up; last lines of $LOGS/lambda.log:" >&2
      tail -n 40 "$LOGS/lambda.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  tr '\0' '\n' <"/proc/$pid/cmdline" >"$RUN/lambda.cmd"
  echo "[lambda] emulator up on http://127.0.0.1:$LAMBDA_PORT (log: $LOGS/lambda.log)"
}

case ${1:-} in
  start) start ;;
  stop) stop_component lambda ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
