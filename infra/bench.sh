#!/usr/bin/env bash
# Benchmarks backup and restore against their floors (a bare paged LIST; bare POSTs of
# the same objects) and against what a team writes without lifeboat (kubectl piped into
# the aws CLI; kubectl apply --server-side), in one run on the local stack. See the
# README's Performance section.
#   bash infra/bench.sh [--profile tiny|default|large] [--reps N] [--script-reps N] [--apply-reps N]
#                       [--access eks|kubeconfig] [--delete-tenants] [--json FILE]
# Builds the function zips as they are deployed (release, x86_64) and measures those very
# binaries. Not part of infra/test.sh, which runs a tiny version of it as a test.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"
cd "$ROOT"

bash "$HERE/up.sh"
# shellcheck disable=SC1091
source "$STACK_DIR/env"
ensure_aws_cli

echo "== build (release)"
"$(cargo_lambda_path)" lambda build --release --output-format zip --quiet --bin backup --bin restore
cargo build --release --quiet -p lifeboat-bench --bin bench
# cargo-lambda builds for its target triple; the zips hold exactly these binaries.
bin_dir=target/x86_64-unknown-linux-gnu/release
[[ -x $bin_dir/backup ]] || bin_dir=target/release

echo "== benchmark"
exec target/release/bench --bin-dir "$bin_dir" --zip-dir target/lambda "$@"
