#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager from Debian's kubernetes source
# package and caches them outside the repository, so later runs skip the build.
#
# Why from source: Debian ships only the client (kubectl); the server binaries come
# from the same source package, built the way its packaging builds them.
set -euo pipefail

KUBE_VERSION_PREFIX="1.20"
CACHE_DIR="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
BIN_DIR="$CACHE_DIR/kube/bin"

if [[ -x "$BIN_DIR/kube-apiserver" && -x "$BIN_DIR/kube-controller-manager" ]]; then
  echo "kube binaries cached in $BIN_DIR"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}
apt_install golang-go rsync jq dpkg-dev golang-github-modern-go-reflect2-dev ca-certificates

WORK="$CACHE_DIR/kube/src"
rm -rf "$WORK"
mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/sources"

# A private deb-src list, derived from the machine's own apt sources, so the build
# never edits the system's apt configuration.
shopt -s nullglob
for f in /etc/apt/sources.list.d/*.sources; do
  sed -e 's/^Types:.*/Types: deb-src/' "$f" >"$WORK/apt/sources/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -f "$f" ]] || continue
  grep -E '^deb ' "$f" | sed -e 's/^deb /deb-src /' >>"$WORK/apt/sources/derived.list" || true
done
APT_OPTS=(-o "Dir::Etc::SourceList=$WORK/apt/sources/derived.list"
  -o "Dir::Etc::SourceParts=$WORK/apt/sources"
  -o "Dir::State::Lists=$WORK/apt/lists")
touch "$WORK/apt/sources/derived.list"
apt-get "${APT_OPTS[@]}" update -qq
cd "$WORK"
apt-get "${APT_OPTS[@]}" source -qq kubernetes >/dev/null
SRC=$(find "$WORK" -maxdepth 1 -type d -name "kubernetes-*" | head -n1)
[[ -n "$SRC" ]] || { echo "apt-get source kubernetes produced no source tree" >&2; exit 1; }
grep -q "$KUBE_VERSION_PREFIX" <<<"$SRC" || echo "note: source tree $SRC is not $KUBE_VERSION_PREFIX" >&2

# The vendored reflect2 v1.0.1 crashes this kube-apiserver (SIGSEGV under Go 1.19 on
# the first large LIST); Debian's packaged 1.0.2 fixes it.
R2="$SRC/vendor/github.com/modern-go/reflect2"
R2_FIXED=/usr/share/gocode/src/github.com/modern-go/reflect2
[[ -d "$R2_FIXED" ]] || { echo "missing $R2_FIXED" >&2; exit 1; }
rm -rf "$R2"
mkdir -p "$R2"
cp -a "$R2_FIXED/." "$R2/"

# GOPATH as the Debian packaging lays it out: the tree under _output/local/go/src/k8s.io.
cd "$SRC"
export GOPATH="$SRC/_output/local/go" GO111MODULE=off GOFLAGS=-mod=vendor GOCACHE="$CACHE_DIR/kube/gocache"
export KUBE_GIT_VERSION="v1.20.2" KUBE_GIT_TREE_STATE=clean
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$WORK/build.log" 2>&1 || {
  tail -50 "$WORK/build.log" >&2
  exit 1
}
mkdir -p "$BIN_DIR"
for b in kube-apiserver kube-controller-manager; do
  install -m 0755 "$(find "$SRC/_output" -type f -name "$b" -perm -u+x | head -n1)" "$BIN_DIR/$b"
done
"$BIN_DIR/kube-apiserver" --version
rm -rf "$WORK"
echo "kube binaries built into $BIN_DIR"
