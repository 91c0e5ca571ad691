#!/usr/bin/env bash
# Brings up lifeboat's local development stack on 127.0.0.1: etcd, kube-apiserver and
# kube-controller-manager (a real, if node-less, Kubernetes control plane) and the AWS
# emulator (moto for S3, KMS, STS, IAM, EKS and CloudTrail, and the webhook that checks
# EKS-style bearer tokens for the apiserver). Safe to run again: what already runs with the same
# flags is left alone, and only the readiness checks, the moto seeding and the RBAC
# apply are repeated.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

VENV="$CACHE_DIR/venv"
BUCKET="lifeboat-backups-123456789012-us-east-1"
KMS_ALIAS="alias/lifeboat-backups"
MOTO_URL="http://127.0.0.1:$MOTO_PORT"
APISERVER_URL="https://127.0.0.1:$APISERVER_PORT"
ADMIN_KUBECONFIG="$STACK_DIR/kubeconfig"
WEBHOOK_KUBECONFIG="$STACK_DIR/webhook-kubeconfig"
WEBHOOK_URL="https://127.0.0.1:$WEBHOOK_PORT"
# The roles of infra/access-entries.json, which the emulator creates in moto.
BACKUP_ROLE_ARN="arn:aws:iam::123456789012:role/lifeboat-backup"
RESTORE_ROLE_ARN="arn:aws:iam::123456789012:role/lifeboat-restore"
# The audit trail the emulator creates, logging, over the bucket and every function.
TRAIL_NAME="lifeboat-audit"
TRAIL_ARN="arn:aws:cloudtrail:us-east-1:123456789012:trail/$TRAIL_NAME"

log() { printf '[up] %s\n' "$*"; }

fail() {
  local name=$1
  shift
  printf '[up] ERROR: %s\n' "$*" >&2
  if [[ -f $LOGS/$name.log ]]; then
    printf '[up] last lines of %s:\n' "$LOGS/$name.log" >&2
    tail -n 40 "$LOGS/$name.log" >&2
  fi
  exit 1
}

mkdir -p "$STACK_DIR" "$LOGS" "$RUN"
# Two concurrent runs would race on apt, the certificates and the pid files.
exec 9>"$STACK_DIR/.lock"
flock -n 9 || { echo "[up] another up.sh or down.sh holds $STACK_DIR/.lock" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------------

apt_install() {
  (($#)) || return 0
  log "installing with apt: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_system_tools() {
  local missing=()
  # Debian's etcd-server postinst enables a system etcd on the default port 2379 where
  # systemd runs; ours uses other ports and its own data dir, so the two never meet.
  [[ -x /usr/bin/etcd ]] || missing+=(etcd-server)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  command -v jq >/dev/null || missing+=(jq)
  # Checked by command, not by package: another package may already provide kubectl,
  # and kubernetes-client would conflict with it over /usr/bin/kubectl.
  command -v kubectl >/dev/null || missing+=(kubernetes-client)
  command -v python3 >/dev/null || missing+=(python3)
  dpkg -s ca-certificates >/dev/null 2>&1 || missing+=(ca-certificates)
  apt_install "${missing[@]}"
}

# Debian's own python3 refuses system-wide pip installs (PEP 668), so there the tools
# go into a virtualenv in the cache; a python3 that allows it (pyenv, say) is used as is.
choose_python() {
  local stdlib
  stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
  if [[ -f $stdlib/EXTERNALLY-MANAGED ]]; then
    if [[ ! -x $VENV/bin/python ]]; then
      python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
      python3 -m venv "$VENV"
    fi
    PY="$VENV/bin/python"
    USE_VENV=1
  else
    PY=$(python3 -c 'import sys; print(sys.executable)')
    USE_VENV=0
    "$PY" -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  fi
}

python_requirements_met() {
  "$PY" - "$HERE/requirements.txt" <<'EOF' >/dev/null 2>&1
import re, sys
from importlib.metadata import PackageNotFoundError, version
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line)
    if not m:
        sys.exit(1)
    try:
        if version(m.group(1)) != m.group(3):
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
# Extras are not covered by the version check; importing the server pulls them in.
import moto.server  # noqa: F401
EOF
}

install_python_tools() {
  choose_python
  if ! python_requirements_met; then
    log "installing python tools from requirements.txt"
    "$PY" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  fi
}

# --- certificates --------------------------------------------------------------------

# ECDSA P-256 keys in PKCS#8 and explicit v3 extensions: the form rustls/webpki and rcgen
# accept without fuss (webpki rejects v1 certificates, leaves without a SAN, and CA
# certificates presented as leaves).
write_openssl_config() {
  cat >"$PKI/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

new_key() {
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null)
}

# name, subject, extension section
issue_cert() {
  local name=$1 subject=$2 section=$3
  [[ -f $PKI/$name.crt && -f $PKI/$name.key ]] && return 0
  new_key "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -config "$PKI/openssl.cnf" -out "$PKI/$name.csr"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAserial "$PKI/ca.srl" -CAcreateserial -days 3650 -sha256 \
    -extfile "$PKI/openssl.cnf" -extensions "$section" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr"
}

make_pki() {
  mkdir -p "$PKI"
  if [[ ! -f $PKI/ca.crt || ! -f $PKI/ca.key ]]; then
    # Certificates from an older CA would no longer verify, so they all go together.
    rm -rf "$PKI"
    mkdir -p "$PKI"
    log "creating the certificate authority in $PKI"
  fi
  write_openssl_config
  if [[ ! -f $PKI/ca.crt ]]; then
    new_key "$PKI/ca.key"
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=lifeboat-local-ca" -days 3650 -sha256 \
      -config "$PKI/openssl.cnf" -extensions ca -out "$PKI/ca.crt"
  fi
  issue_cert apiserver "/CN=kube-apiserver" server
  issue_cert admin "/O=system:masters/CN=lifeboat-admin" client
  # The bootstrap RBAC policy grants the controller manager's role to exactly this user.
  issue_cert controller-manager "/CN=system:kube-controller-manager" client
  issue_cert controller-manager-serving "/CN=kube-controller-manager" server
  issue_cert webhook "/CN=lifeboat-token-webhook" server
  # Service account tokens are signed with RSA, the algorithm every 1.20 client expects.
  if [[ ! -f $PKI/sa.key ]]; then
    (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null)
    openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
  fi
}

# path, user name, certificate name
write_kubeconfig() {
  local path=$1 user=$2 cert=$3
  (
    umask 077
    cat >"$path.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $CLUSTER_NAME
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$cert.crt")
    client-key-data: $(base64 -w0 "$PKI/$cert.key")
contexts:
- name: $CLUSTER_NAME
  context:
    cluster: $CLUSTER_NAME
    user: $user
current-context: $CLUSTER_NAME
EOF
  )
  mv -f "$path.tmp" "$path"
}

# The apiserver sends every bearer token it cannot verify itself to this webhook, as
# EKS does with aws-iam-authenticator. The webhook asks for no client certificate,
# like aws-iam-authenticator's; it only answers whether a token is good.
write_webhook_kubeconfig() {
  cat >"$WEBHOOK_KUBECONFIG.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lifeboat-token-webhook
  cluster:
    server: $WEBHOOK_URL/authenticate
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: kube-apiserver
  user: {}
contexts:
- name: lifeboat-token-webhook
  context:
    cluster: lifeboat-token-webhook
    user: kube-apiserver
current-context: lifeboat-token-webhook
EOF
  mv -f "$WEBHOOK_KUBECONFIG.tmp" "$WEBHOOK_KUBECONFIG"
}

# --- processes -----------------------------------------------------------------------

port_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# name, ports it listens on, command...
# Starts a component unless it already runs with exactly these arguments; a changed
# command line (a new flag, say) restarts it.
ensure_running() {
  local name=$1 ports=$2 pid want port patience=0
  shift 2
  want=$(printf '%s\n' "$@")
  if pid=$(component_pid "$name"); then
    if [[ "$(<"$RUN/$name.cmd")" == "$want" ]]; then
      log "$name: already running (pid $pid)"
      return 0
    fi
    log "$name: command line changed, restarting"
    # The apiserver waits up to a minute for open watches to end before it exits; the
    # controller manager holds many, and is started again further on anyway.
    if [[ $name == kube-apiserver ]]; then stop_component kube-controller-manager; fi
    stop_component "$name"
    # Its listening sockets can outlive it by a moment (the emulator's webhook did).
    patience=10
  fi
  # Someone else's server on our port would answer the readiness checks in our stead.
  for port in $ports; do
    local deadline=$((SECONDS + patience))
    while port_taken "$port"; do
      ((SECONDS < deadline)) || fail "$name" "127.0.0.1:$port is already in use by a process this stack did not start"
      sleep 0.2
    done
  done
  printf '%s\n' "$want" >"$RUN/$name.cmd"
  printf '\n=== %s: starting %s\n' "$(date -Is)" "$name" >>"$LOGS/$name.log"
  # setsid puts the process in its own session, so it outlives this script and the
  # terminal; fd 9 is closed so the daemon does not keep holding our lock.
  setsid nohup "$@" </dev/null >>"$LOGS/$name.log" 2>&1 9>&- &
  local started=$!
  echo "$started" >"$RUN/$name.pid"
  # Until the exec, the child's command line is still this script's, and component_pid
  # would take a component that is only starting for one that has exited (a test run
  # failed that way, with nothing in the component's log); so wait until it matches.
  local deadline=$((SECONDS + 30))
  until component_pid "$name" >/dev/null; do
    # Gone already: wait_until reports it, with the log's last lines.
    proc_alive "$started" || break
    ((SECONDS < deadline)) || fail "$name" "its process did not start $1 within 30s"
    sleep 0.01
  done
  log "$name: started (pid $started)"
}

# name, timeout in seconds, what is awaited, condition command...
wait_until() {
  local name=$1 timeout=$2 what=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    component_pid "$name" >/dev/null || fail "$name" "$name exited while waiting for $what"
    ((SECONDS < deadline)) || fail "$name" "timed out after ${timeout}s waiting for $what"
    sleep 0.2
  done
  log "$name: $what"
}

kube() { kubectl --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=5s "$@"; }

etcd_healthy() {
  [[ "$(curl -sf --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health" | jq -r .health)" == true ]]
}

apiserver_ready() {
  [[ "$(curl -sf --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "$APISERVER_URL/readyz")" == ok ]]
}

# The token controller filling in the default service account's secret shows the
# controller manager is up and its controllers run.
default_sa_token_exists() {
  local secret
  kube get namespace default || return 1
  secret=$(kube get serviceaccount default -n default -o jsonpath='{.secrets[0].name}') || return 1
  [[ -n $secret ]] && kube get secret -n default "$secret"
}

controller_manager_healthy() {
  [[ "$(curl -sf --max-time 2 --cacert "$PKI/ca.crt" "https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz")" == ok ]]
}

# The emulator opens the webhook only after seeding IAM and EKS, so both answering
# means it is ready.
emulator_ready() {
  curl -sf --max-time 2 -o /dev/null "$MOTO_URL/moto-api/" &&
    [[ "$(curl -sf --max-time 2 --cacert "$PKI/ca.crt" "$WEBHOOK_URL/healthz")" == ok ]]
}

write_env() {
  local key_arn=$1
  {
    echo "# Written by infra/up.sh: source it to point tools and tests at the local stack."
    printf 'export LIFEBOAT_STACK_DIR=%q\n' "$STACK_DIR"
    printf 'export KUBECONFIG=%q\n' "$ADMIN_KUBECONFIG"
    printf 'export LIFEBOAT_CLUSTER=%q\n' "$CLUSTER_NAME"
    printf 'export AWS_ENDPOINT_URL=%q\n' "$MOTO_URL"
    echo "export AWS_ACCESS_KEY_ID=testing"
    echo "export AWS_SECRET_ACCESS_KEY=testing"
    echo "export AWS_REGION=us-east-1"
    echo "export AWS_DEFAULT_REGION=us-east-1"
    printf 'export LIFEBOAT_BUCKET=%q\n' "$BUCKET"
    printf 'export LIFEBOAT_KMS_KEY_ID=%q\n' "$key_arn"
    echo "export LIFEBOAT_FINGERPRINT_KEY_ID=alias/lifeboat-fingerprints"
    printf 'export LIFEBOAT_KUBE_SERVER=%q\n' "$APISERVER_URL"
    printf 'export LIFEBOAT_KUBE_CA=%q\n' "$PKI/ca.crt"
    printf 'export LIFEBOAT_KUBE_CA_KEY=%q\n' "$PKI/ca.key"
    printf 'export LIFEBOAT_WEBHOOK_LOG=%q\n' "$LOGS/moto.log"
    printf 'export LIFEBOAT_BACKUP_ROLE_ARN=%q\n' "$BACKUP_ROLE_ARN"
    printf 'export LIFEBOAT_RESTORE_ROLE_ARN=%q\n' "$RESTORE_ROLE_ARN"
    printf 'export LIFEBOAT_TRAIL_ARN=%q\n' "$TRAIL_ARN"
    echo "export LIFEBOAT_AUDIT_REQUIRED=true"
    # The local stack serves any infrastructure and cluster name; a deployment lists its
    # own (see the Terraform module). Buckets and regions default to the function's own.
    echo "export LIFEBOAT_ALLOWED_INFRASTRUCTURES='*'"
    echo "export LIFEBOAT_ALLOWED_CLUSTERS='*'"
    if ((USE_VENV)); then
      # cargo-lambda and moto live in the virtualenv on machines whose python3 is Debian's.
      # shellcheck disable=SC2016 # $PATH is meant to expand when the file is sourced.
      printf 'export PATH=%q:"$PATH"\n' "$VENV/bin"
    fi
  } >"$STACK_DIR/env.tmp"
  mv -f "$STACK_DIR/env.tmp" "$STACK_DIR/env"
}

# --- steps ---------------------------------------------------------------------------

install_tools() {
  install_system_tools
  install_python_tools
  "$HERE/build-kube.sh"
  for b in kube-apiserver kube-controller-manager; do
    [[ -x $KUBE_BIN/$b ]] || fail build "build-kube.sh left no $KUBE_BIN/$b"
  done
}

make_certificates_and_kubeconfigs() {
  make_pki
  write_kubeconfig "$ADMIN_KUBECONFIG" lifeboat-admin admin
  write_kubeconfig "$STACK_DIR/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
  write_webhook_kubeconfig
}

# The command lines of the four components. Each is compared with what runs, so a
# changed flag restarts its component (ensure_running).
define_commands() {
  ETCD_CMD=(/usr/bin/etcd
    --name lifeboat
    --data-dir "$STACK_DIR/etcd"
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT"
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT"
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT"
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT"
    --initial-cluster "lifeboat=http://127.0.0.1:$ETCD_PEER_PORT"
    --logger zap)
  # etcd 3.4 refuses to start on arm64 unless told the platform is acceptable.
  if [[ $(uname -m) == aarch64 ]]; then export ETCD_UNSUPPORTED_ARCH=arm64; fi

  # Still called moto (pid file, log, down.sh): moto is what it mostly is. The token age
  # and a digest of the emulator and its access entries are on the command line, so that
  # changing any of them makes up.sh restart it.
  EMULATOR_DIGEST=$(cat "$HERE/aws_emulator.py" "$HERE/sts_signature.py" "$HERE/access-entries.json" | sha256sum)
  MOTO_CMD=("$PY" "$HERE/aws_emulator.py"
    --source-digest "${EMULATOR_DIGEST%% *}"
    --host 127.0.0.1
    --port "$MOTO_PORT"
    --cluster "$CLUSTER_NAME"
    --kube-server "$APISERVER_URL"
    --ca "$PKI/ca.crt"
    --webhook-port "$WEBHOOK_PORT"
    --tls-cert "$PKI/webhook.crt"
    --tls-key "$PKI/webhook.key"
    --access-entries "$HERE/access-entries.json"
    --sts-regions us-east-1
    --backup-bucket "$BUCKET"
    --kms-alias "$KMS_ALIAS"
    --key-arn-file "$RUN/kms-key-arn"
    --trail "$TRAIL_NAME"
    --max-token-age "${LIFEBOAT_WEBHOOK_MAX_TOKEN_AGE_SECONDS:-900}")

  # shellcheck disable=SC2054 # the commas belong to flag values
  APISERVER_CMD=("$KUBE_BIN/kube-apiserver"
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT"
    --bind-address=127.0.0.1
    --advertise-address=127.0.0.1
    --secure-port="$APISERVER_PORT"
    --tls-cert-file="$PKI/apiserver.crt"
    --tls-private-key-file="$PKI/apiserver.key"
    --client-ca-file="$PKI/ca.crt"
    --authorization-mode=Node,RBAC
    --service-account-issuer=https://kubernetes.default.svc
    --service-account-signing-key-file="$PKI/sa.key"
    --service-account-key-file="$PKI/sa.pub"
    --service-cluster-ip-range=10.96.0.0/16
    # The endpoints API refuses loopback addresses, so the reconciler for the
    # "kubernetes" service's endpoints would only log errors here.
    --endpoint-reconciler-type=none
    # EKS-style bearer tokens, checked by the emulator; see README.md.
    --authentication-token-webhook-config-file="$WEBHOOK_KUBECONFIG"
    --authentication-token-webhook-version=v1
    # Each token goes to the webhook, so a token refused there (expired, say) is refused
    # here at once. The apiserver still keeps a success for 10s in a cache of its own
    # that no flag reaches.
    --authentication-token-webhook-cache-ttl=0s)

  CM_KUBECONFIG="$STACK_DIR/controller-manager.kubeconfig"
  CONTROLLER_MANAGER_CMD=("$KUBE_BIN/kube-controller-manager"
    --kubeconfig="$CM_KUBECONFIG"
    --authentication-kubeconfig="$CM_KUBECONFIG"
    --authorization-kubeconfig="$CM_KUBECONFIG"
    # Without a front proxy there is no request-header CA to look up in the cluster, and
    # the lookup would log an error every few minutes; the client CA is given directly.
    --authentication-skip-lookup=true
    --client-ca-file="$PKI/ca.crt"
    --bind-address=127.0.0.1
    --secure-port="$CONTROLLER_MANAGER_PORT"
    --port=0
    --leader-elect=false
    --controllers='*'
    --use-service-account-credentials=true
    --root-ca-file="$PKI/ca.crt"
    --service-account-private-key-file="$PKI/sa.key"
    # Lets the CSR API sign certificates as a real cluster's would.
    --cluster-signing-cert-file="$PKI/ca.crt"
    --cluster-signing-key-file="$PKI/ca.key"
    --cluster-name="$CLUSTER_NAME"
    --tls-cert-file="$PKI/controller-manager-serving.crt"
    --tls-private-key-file="$PKI/controller-manager-serving.key")
}

# moto and etcd depend on nothing, so both start before anything is awaited.
start_etcd_and_emulator() {
  ensure_running etcd "$ETCD_CLIENT_PORT $ETCD_PEER_PORT" "${ETCD_CMD[@]}"
  ensure_running moto "$MOTO_PORT $WEBHOOK_PORT" "${MOTO_CMD[@]}"
  wait_until etcd 30 "healthy" etcd_healthy
  # A token the apiserver cannot pass to the webhook is refused, so the webhook comes
  # first and the apiserver never serves with half its authentication missing.
  wait_until moto 60 "answering, token webhook ready" emulator_ready
}

start_kubernetes() {
  ensure_running kube-apiserver "$APISERVER_PORT" "${APISERVER_CMD[@]}"
  wait_until kube-apiserver 120 "ready" apiserver_ready

  ensure_running kube-controller-manager "$CONTROLLER_MANAGER_PORT" "${CONTROLLER_MANAGER_CMD[@]}"
}

# The emulator seeds itself (bucket, key, roles, trail) before it answers as ready;
# this reads back what it made.
read_emulator_seed() {
  KEY_ARN=$(<"$RUN/kms-key-arn") || fail moto "the emulator wrote no KMS key ARN to $RUN/kms-key-arn"
  log "moto: bucket $BUCKET (versioned, Object Lock) and key $KEY_ARN ($KMS_ALIAS)"
}

apply_rbac() {
  # The webhook names users and groups; what they may do is plain RBAC, as in EKS. Roles
  # of lifeboat's that rbac.yaml no longer holds (they carry no infrastructure label) go,
  # so a stack kept across versions grants no more than the file says.
  kube apply -f "$HERE/rbac.yaml" >/dev/null || fail kube-apiserver "could not apply rbac.yaml"
  kube delete clusterrolebinding,clusterrole -l 'app.kubernetes.io/part-of=lifeboat,!lifeboat.io/infrastructure' \
    --ignore-not-found >/dev/null || fail kube-apiserver "could not remove lifeboat's earlier RBAC"
  # The drill's role names no infrastructure (a drill cluster serves several): applied
  # after the clean-up above, which would take it.
  kube apply -f "$HERE/drill-rbac.yaml" >/dev/null || fail kube-apiserver "could not apply drill-rbac.yaml"
  log "kube-apiserver: RBAC for the lifeboat:backup, lifeboat:restore and lifeboat:drill groups applied"
}

wait_for_controller_manager() {
  wait_until kube-controller-manager 60 "healthy" controller_manager_healthy
  wait_until kube-controller-manager 120 "service account token created" default_sa_token_exists
}

# --- main ----------------------------------------------------------------------------

install_tools
START=$SECONDS
make_certificates_and_kubeconfigs
define_commands
start_etcd_and_emulator
start_kubernetes
read_emulator_seed
apply_rbac
wait_for_controller_manager
write_env "$KEY_ARN"
log "stack ready in $((SECONDS - START))s (after tools and build)"
echo
echo "To use it:  source $STACK_DIR/env"
