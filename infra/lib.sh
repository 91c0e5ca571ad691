# shellcheck shell=bash disable=SC2034 # the settings are used by the scripts that source this
# Shared by up.sh and down.sh, so both agree on where the stack keeps its state and
# on how a process started by up.sh is recognised again later.

STACK_DIR="${LIFEBOAT_STACK_DIR:-$HOME/.cache/lifeboat/stack}"
CACHE_DIR="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
KUBE_BIN="$CACHE_DIR/kube/bin"
PKI="$STACK_DIR/pki"
LOGS="$STACK_DIR/logs"
RUN="$STACK_DIR/run"

ETCD_CLIENT_PORT=23790
ETCD_PEER_PORT=23800
APISERVER_PORT=16443
CONTROLLER_MANAGER_PORT=10357
MOTO_PORT=15000
# The token webhook, served by the same process as moto (aws_emulator.py).
WEBHOOK_PORT=15001
LAMBDA_PORT=19000
CLUSTER_NAME=lifeboat-local

# Dependants first, so nothing spends its last seconds retrying a vanished backend.
COMPONENTS=(lambda eks-backup eks-restore trace kube-controller-manager kube-apiserver etcd moto)

# A zombie still has a /proc entry but is gone for our purposes; whether it gets reaped
# depends on what runs as pid 1, which differs between machines and containers.
proc_alive() {
  local stat state
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  state=${stat##*) }
  state=${state%% *}
  [[ -n $state && $state != Z ]]
}

# Prints the pid of a component only if that very process still runs: its command line
# must equal the one recorded at start, so a recycled pid is never taken for ours.
component_pid() {
  local name=$1 pid
  [[ -f $RUN/$name.pid && -f $RUN/$name.cmd ]] || return 1
  pid=$(<"$RUN/$name.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  proc_alive "$pid" || return 1
  [[ "$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null)" == "$(<"$RUN/$name.cmd")" ]] || return 1
  echo "$pid"
}

wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while proc_alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

stop_component() {
  local name=$1 pid grace=30
  # The apiserver keeps no state of its own but lingers up to a minute on open watches
  # of clients still connected, so it gets less patience than etcd.
  if [[ $name == kube-apiserver ]]; then grace=10; fi
  if pid=$(component_pid "$name"); then
    # The whole process group where it leads one: the emulator runs each function as a
    # child that must not outlive it.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$grace"; then
      echo "$name (pid $pid) still running ${grace}s after TERM; sending KILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || { echo "$name (pid $pid) is still running" >&2; return 1; }
    fi
    echo "$name: stopped (pid $pid)"
  fi
  rm -f "$RUN/$name.pid" "$RUN/$name.cmd"
}

# The aws CLI, for the benchmark's "what a team writes today" script. Where none is on
# PATH it goes into a virtualenv of its own, so its pinned botocore never meets moto's.
ensure_aws_cli() {
  if command -v aws >/dev/null; then return; fi
  local venv="$CACHE_DIR/awscli-venv"
  if [[ ! -x $venv/bin/aws ]]; then
    echo "[aws] installing the aws CLI into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check awscli
  fi
  # Last on PATH: only `aws` is wanted from it, not its python3.
  export PATH="$PATH:$venv/bin"
}

# Where pip put cargo-lambda: a pyenv shim for a newly installed script appears only
# after a rehash, so PATH alone may not find it.
cargo_lambda_path() {
  command -v cargo-lambda ||
    python3 -c 'import os, sysconfig; print(os.path.join(sysconfig.get_path("scripts"), "cargo-lambda"))'
}
