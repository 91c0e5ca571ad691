#!/usr/bin/env bash
# Stops the local stack that up.sh started. With --purge it also deletes the state dir
# (etcd data, certificates, kubeconfigs, logs), so the next up.sh starts from nothing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

purge=0
for arg in "$@"; do
  case $arg in
    --purge) purge=1 ;;
    -h | --help)
      echo "usage: $0 [--purge]"
      exit 0
      ;;
    *)
      echo "unknown argument: $arg (usage: $0 [--purge])" >&2
      exit 2
      ;;
  esac
done

if [[ ! -d $STACK_DIR ]]; then
  echo "[down] nothing to stop: $STACK_DIR does not exist"
  exit 0
fi

# Waits for an up.sh still at work rather than pulling processes from under it.
exec 9>"$STACK_DIR/.lock"
flock -w 120 9 || { echo "[down] $STACK_DIR/.lock stayed held for 120s" >&2; exit 1; }

status=0
for c in "${COMPONENTS[@]}"; do
  stop_component "$c" || status=1
done

if ((purge)); then
  if ((status)); then
    echo "[down] not purging: something is still running" >&2
    exit 1
  fi
  # Refuse the obviously wrong targets a mistyped LIFEBOAT_STACK_DIR could give.
  case $(realpath -m "$STACK_DIR") in
    / | "$(realpath -m "$HOME")" | /root | /home | /tmp)
      echo "[down] refusing to delete $STACK_DIR" >&2
      exit 1
      ;;
  esac
  rm -rf "$STACK_DIR"
  echo "[down] deleted $STACK_DIR"
fi
exit "$status"
