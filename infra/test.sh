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
  for instance in lambda eks-backup eks-restore trace; do bash "$HERE/lambda.sh" stop "$instance" >/dev/null || true; done
  if ((!stack_was_up)); then bash "$HERE/down.sh" >/dev/null || true; fi
}
trap cleanup EXIT

echo "== local stack"
bash "$HERE/up.sh"
# shellcheck disable=SC1091
source "$STACK_DIR/env"

echo "== namespaces of earlier runs"
# The tests name their namespaces uniquely and leave them behind, so that a failed test's
# objects can be looked at; they are deleted here, at the start of the next run, or a
# stack kept for days gathers thousands (and with them a larger API server and slower
# LISTs for the benchmark).
# `new_tenant` in tests/src/lib.rs labels every namespace a test makes; the benchmark's
# smoke test (tests/it/benchmark.rs) seeds tenants of the `tiny` profile, which it
# deletes itself unless it was stopped halfway.
test_selectors=(lifeboat.test/tenant lifeboat.bench/profile=tiny)
left_behind() {
  for selector in "${test_selectors[@]}"; do kubectl get namespaces -l "$selector" -o name; done
}
# Listed in an assignment, so that a failing kubectl stops the run (set -e).
listed=$(left_behind)
if [[ -n $listed ]]; then
  mapfile -t earlier <<<"$listed"
  # A namespace already being deleted (the smoke test deletes its tenants without
  # waiting) may be gone by now; gone is what is wanted.
  kubectl delete "${earlier[@]}" --ignore-not-found --wait=false >/dev/null
  deadline=$((SECONDS + 900))
  while [[ -n "$(left_behind)" ]]; do
    if ((SECONDS > deadline)); then
      echo "namespaces of earlier runs are still being deleted after 900s:" \
        "see 'kubectl get namespaces -l SELECTOR' for each of: ${test_selectors[*]}" >&2
      exit 1
    fi
    sleep 2
  done
  echo "deleted ${#earlier[@]}"
fi

echo "== formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
if ! command -v shellcheck >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null; }
fi
shellcheck -x infra/*.sh .ci/run

echo "== dependencies"
# cargo-deny, built once into the cache (about two minutes on two cores).
DENY_VERSION=0.20.2
DENY="$CACHE_DIR/cargo-deny/bin/cargo-deny"
if [[ "$("$DENY" --version 2>/dev/null)" != "cargo-deny $DENY_VERSION" ]]; then
  cargo install "cargo-deny@$DENY_VERSION" --locked --quiet --root "$CACHE_DIR/cargo-deny"
fi
# cargo-deny reads the metadata of every platform's crates (Windows and Android ones
# too), which a build for this machine never downloads; fetched first, so the check can
# stay offline.
cargo fetch --locked --quiet
"$DENY" --offline check bans licenses sources
# The advisory check needs the RustSec database, which is fetched from its git
# repository; where that cannot be reached, say so rather than pass silently.
if timeout 120 "$DENY" fetch db >/dev/null 2>&1; then
  "$DENY" --offline check advisories
else
  echo "WARNING: advisories NOT checked: the RustSec advisory database could not be fetched from this machine;" \
    "run 'cargo deny check advisories' where it can be" >&2
fi

echo "== build"
# A full disk shows up as a linker killed by SIGBUS, far from its cause; said here first.
# A cold run writes about 5 GB under the target folder (the debug build, a second build
# of the functions' dependencies for the emulator, and the release zips).
target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p "$target_dir"
free_mb=$(df -Pm "$target_dir" | awk 'NR == 2 { print $4 }')
if ((free_mb < 6144)); then
  echo "warning: $free_mb MB free under $target_dir; a cold run writes about 5 GB there," \
    "and a full disk kills the linker (SIGBUS). Free space or point CARGO_TARGET_DIR elsewhere." >&2
fi
cargo build --workspace --all-targets --quiet

echo "== Lambda emulators"
for instance in lambda eks-backup eks-restore trace; do bash "$HERE/lambda.sh" start "$instance"; done
export LIFEBOAT_LAMBDA_URL="http://127.0.0.1:$LAMBDA_PORT" LIFEBOAT_LAMBDA_LOG="$LOGS/lambda.log"
export LIFEBOAT_EKS_BACKUP_URL="http://127.0.0.1:$((LAMBDA_PORT + 1))" LIFEBOAT_EKS_RESTORE_URL="http://127.0.0.1:$((LAMBDA_PORT + 2))"
export LIFEBOAT_TRACE_URL="http://127.0.0.1:$((LAMBDA_PORT + 3))" LIFEBOAT_TRACE_LOG="$LOGS/trace.log"

echo "== tests"
# The benchmark's smoke test runs the aws CLI, as the script it compares against does.
ensure_aws_cli
cargo test --workspace --no-fail-fast

# The zips the Terraform module deploys, as an operator builds them (for this machine's
# architecture: the arm64 Rust target cannot be installed here).
echo "== release zips"
"$(cargo_lambda_path)" lambda build --release --output-format zip --quiet --bin backup --bin restore --bin catalog --bin retention --bin drill
ls -l target/lambda/backup/bootstrap.zip target/lambda/restore/bootstrap.zip target/lambda/catalog/bootstrap.zip target/lambda/retention/bootstrap.zip target/lambda/drill/bootstrap.zip

echo "== Terraform module"
command -v terraform >/dev/null || {
  echo "terraform is not on PATH; this machine kind comes with Terraform 1.11 and the AWS provider mirror in /opt/tf-plugins" >&2
  exit 1
}
CHECKOV_VENV="$CACHE_DIR/checkov"
if ! "$CHECKOV_VENV/bin/checkov" --version >/dev/null 2>&1; then
  # A virtualenv of its own: checkov pins versions that moto's dependencies do not share.
  python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/checkov-requirements.txt"
fi
LIFEBOAT_CHECKOV="$CHECKOV_VENV/bin/checkov" python3 -m unittest discover -s tests/terraform -v
