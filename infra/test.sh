#!/usr/bin/env bash
# Runs every test of lifeboat on a fresh machine: installs what the local stack needs,
# brings the stack up, checks formatting and lints, builds, starts the Lambda emulator
# with the real function binaries, and runs the unit and end-to-end tests.
# Stops what it started; a stack that was already running is left running.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"
cd "$ROOT"

stack_was_up=0
component_pid kube-apiserver >/dev/null && stack_was_up=1
cleanup() {
  for instance in lambda eks-backup eks-restore; do bash "$HERE/lambda.sh" stop "$instance" >/dev/null || true; done
  if ((!stack_was_up)); then bash "$HERE/down.sh" >/dev/null || true; fi
}
trap cleanup EXIT

echo "== local stack"
bash "$HERE/up.sh"
# shellcheck disable=SC1091
source "$STACK_DIR/env"

echo "== formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
if ! command -v shellcheck >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null; }
fi
shellcheck -x infra/*.sh .ci/run

echo "== build"
cargo build --workspace --all-targets --quiet

echo "== Lambda emulators"
for instance in lambda eks-backup eks-restore; do bash "$HERE/lambda.sh" start "$instance"; done
export LIFEBOAT_LAMBDA_URL="http://127.0.0.1:$LAMBDA_PORT" LIFEBOAT_LAMBDA_LOG="$LOGS/lambda.log"
export LIFEBOAT_EKS_BACKUP_URL="http://127.0.0.1:$((LAMBDA_PORT + 1))" LIFEBOAT_EKS_RESTORE_URL="http://127.0.0.1:$((LAMBDA_PORT + 2))"

echo "== tests"
cargo test --workspace --no-fail-fast
