#!/bin/bash
# Inside the bare container (tests/fresh/fresh.py): clone the commit under test and run make, each step timed.
# /seed/repo.bundle holds the ref $FRESH_REF (HEAD: a detached commit); /out is the host's view of this run.
set -uo pipefail
exec > >(tee -a /out/inside.log) 2>&1

timed() {
  local name=$1 start end ms rc
  shift
  start=${EPOCHREALTIME/./}
  "$@"
  rc=$?
  end=${EPOCHREALTIME/./}
  ms=$(( (end - start) / 1000 ))
  printf '[fresh-inside] %s: %d.%d s (exit %d) [%s]\n' "$name" $((ms / 1000)) $(((ms % 1000) / 100)) "$rc" "$(date +%T)"
  return "$rc"
}

keep_logs() {
  # what is left to read: when each cache entry was completed (the timeline of `up`'s fetch and build phase)
  # and the stack's logs (not its data: Kafka's segments are *.log too)
  find /root/.cache/lakectl -maxdepth 3 -name '.lakectl-*' -printf '%TT %p\n' 2>/dev/null | sort \
    > /out/cache-timeline.txt
  [ -d /root/lakectl/.lakectl ] || return 0
  (cd /root/lakectl && find .lakectl -path '*/kraft-logs' -prune -o \( -name '*.log' -o -name '*.out' \
     -o -name '*.err' \) -size -20M -exec cp --parents {} /out/ \; 2>/dev/null)
}

echo "[fresh-inside] $(. /etc/os-release; echo "$PRETTY_NAME"), $(python3 --version), user $(id -un)"
branch=()
[ "$FRESH_REF" = HEAD ] || branch=(-b "${FRESH_REF#refs/heads/}")
timed "git clone" git -c advice.detachedHead=false clone -q "${branch[@]}" /seed/repo.bundle /root/lakectl || exit 1
echo "[fresh-inside] commit $(git -C /root/lakectl log --oneline -1)"
cd /root/lakectl || exit 1
timed "make system-deps" make system-deps || { keep_logs; exit 1; }
timed "make install (the rest: venv, lakectl)" make install || { keep_logs; exit 1; }
timed "make $FRESH_TARGET" make "$FRESH_TARGET"
rc=$?
keep_logs
exit "$rc"
