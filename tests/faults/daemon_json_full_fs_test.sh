#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Faults: daemon.json on a full file system (a small tmpfs) and in a read-only place (a
# read-only file system; a read-only directory, bind-mounted, in a writable one). Each time
# `init` must exit 1 with one error line that names daemon.json and says what to do, and leave
# the old file byte for byte and no temporary file behind; with space freed it writes again.
#
# The mounts live in a private mount namespace (unshare -m --propagation private): the
# machine's mounts are never touched, and they vanish with the namespace.
#
# Usage: daemon_json_full_fs_test.sh /path/to/dind-netcfg   (root; needs unshare, jq)

source "$(dirname "${BASH_SOURCE[0]}")/faults_lib.sh"

readonly BINARY=${1:?usage: $0 /path/to/dind-netcfg}

e2e_init
e2e_require_cmd unshare jq
faults_make_pod

# Everything below runs inside one private mount namespace (and the pod's network namespace).
cat >"$E2E_TMP/scenario.sh" <<'SCENARIO'
set -euo pipefail
binary=$1 work=$2
fail() { printf '    FAIL: %s\n' "$*" >&2; exit 1; }
pass() { printf '    ok: %s\n' "$*"; }

# Runs init with MTU on DIR/daemon.json; sets rc and err.
try_init() { # DIR MTU
  rc=0
  err=$("$binary" init --daemon-json "$1/daemon.json" --no-rules \
    --dockerd-version 24.0.7 --mtu "$2" 2>&1 >/dev/null) || rc=$?
}

# The failed write left DIR/daemon.json as OLD_COPY and no temporary file.
expect_refused() { # WHAT DIR OLD_COPY HINT
  local what=$1 dir=$2 old=$3 hint=$4 left
  [[ $rc == 1 ]] || fail "$what: exit $rc, not 1; stderr: $err"
  [[ "$err" == *"$dir/daemon.json"* ]] ||
    fail "$what: the error does not name $dir/daemon.json: $err"
  [[ "$err" == *"$hint"* ]] || fail "$what: the error does not say '$hint': $err"
  [[ $(grep -c . <<<"$err") == 1 ]] || fail "$what: more than one line on stderr: $err"
  cmp -s "$old" "$dir/daemon.json" || fail "$what: daemon.json changed"
  left=$(find "$dir" -name '.daemon.json.tmp-*')
  [[ -z "$left" ]] || fail "$what: temporary files left: $left"
  pass "$what: exit 1, the old file intact, no temporary file; it says: $err"
}

# mount below $work: nothing of it leaks out of this namespace
mkdir -p "$work/full" "$work/ro" "$work/locked"

echo "==> a full file system (tmpfs of 64 KiB)"
mount -t tmpfs -o size=64k,mode=0755 dnc-faults-full "$work/full"
try_init "$work/full" 1400
[[ $rc == 0 ]] || fail "init on the empty tmpfs: exit $rc: $err"
cp "$work/full/daemon.json" "$work/full-old"
# Fill it to the last block (dd stops at ENOSPC).
dd if=/dev/zero of="$work/full/filler" bs=4k 2>/dev/null || true
try_init "$work/full" 1420
expect_refused "full file system" "$work/full" "$work/full-old" "free space"
rm "$work/full/filler"
try_init "$work/full" 1420
[[ $rc == 0 && $(jq .mtu "$work/full/daemon.json") == 1420 ]] ||
  fail "with space again init did not write: exit $rc: $err"
pass "with space freed the same init writes (mtu 1420)"

echo "==> a read-only mount"
mount -t tmpfs -o size=1m,mode=0755 dnc-faults-ro "$work/ro"
try_init "$work/ro" 1400
[[ $rc == 0 ]] || fail "init before the remount: exit $rc: $err"
cp "$work/ro/daemon.json" "$work/ro-old"
mount -o remount,ro "$work/ro"
try_init "$work/ro" 1420
expect_refused "read-only mount" "$work/ro" "$work/ro-old" "read-write"

echo "==> a read-only directory (a read-only bind mount in a writable file system)"
mount -t tmpfs -o size=1m,mode=0755 dnc-faults-rw "$work/locked"
mkdir "$work/locked/etc-docker"
try_init "$work/locked/etc-docker" 1400
[[ $rc == 0 ]] || fail "init before the bind mount: exit $rc: $err"
cp "$work/locked/etc-docker/daemon.json" "$work/locked-old"
mount --bind "$work/locked/etc-docker" "$work/locked/etc-docker"
mount -o remount,bind,ro "$work/locked/etc-docker"
touch "$work/locked/beside" || fail "the file system around the directory is not writable"
try_init "$work/locked/etc-docker" 1420
expect_refused "read-only directory" "$work/locked/etc-docker" "$work/locked-old" "read-write"
SCENARIO

e2e_step "full and read-only file systems, in a private mount namespace"
mkdir -p "$E2E_TMP/work"
e2e_in pod unshare -m --propagation private bash "$E2E_TMP/scenario.sh" "$BINARY" "$E2E_TMP/work" ||
  e2e_fail "the scenario failed (see above)"
grep -q dnc-faults /proc/self/mounts && e2e_fail "a test mount leaked into the machine's mounts"
e2e_pass "no test mount is visible outside the private namespace"

e2e_step "done"
