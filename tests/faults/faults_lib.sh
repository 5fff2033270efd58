# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared by the fault-injection tests: a sandbox pod (network namespace, eth0 MTU 1450 to an
# "outside" namespace, default route), `run` started in it, and the endpoint and process probes
# the tests assert on. Builds on tests/e2e/lib.sh (namespaces, background helpers, cleanup).

source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

readonly FAULTS_LISTEN_IP=127.0.0.1
readonly FAULTS_LISTEN_PORT=9254
readonly FAULTS_LISTEN=$FAULTS_LISTEN_IP:$FAULTS_LISTEN_PORT

# The pod: eth0 (MTU 1450) to an outside namespace, default route through it.
faults_make_pod() {
  e2e_ns_add pod
  e2e_ns_add outside
  e2e_veth pod eth0 outside up0 1450
  e2e_addr pod eth0 10.232.1.2/24
  e2e_addr outside up0 10.232.1.1/24
  e2e_route pod default via 10.232.1.1
}

# True when BINARY is an AddressSanitizer build: its allocator keeps freed memory in quarantine
# (256 MiB by default), so RSS says nothing about leaks unless the quarantine is kept small.
# GCC links libasan dynamically, clang links its runtime in: both binaries name __asan_init.
faults_is_asan() { grep -qaF __asan_init "$1"; }

http_code() { # PATH [CURL-ARGS...]
  local path=$1
  shift
  e2e_in pod curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" \
    "http://$FAULTS_LISTEN$path" || true
}
http_body() { e2e_in pod curl -s --max-time 3 "http://$FAULTS_LISTEN$1" || true; }
metric() { http_body /metrics | awk -v series="$1 " 'index($0, series) == 1 { print $NF }'; }

# Starts `run` in the pod (label LABEL) and waits for /healthz. Its PID is FAULTS_RUN_PID.
# An ASan build gets a small quarantine, so its RSS shows what the daemon keeps.
start_run() { # LABEL BINARY ARGS...
  local label=$1 binary=$2
  shift 2
  local asan_options=${ASAN_OPTIONS:-}
  if faults_is_asan "$binary"; then
    asan_options+="${asan_options:+:}quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
  fi
  ASAN_OPTIONS=$asan_options e2e_bg_start "$label" pod "$binary" run \
    --daemon-json "$E2E_TMP/daemon.json" --dockerd-version 24.0.7 --listen "$FAULTS_LISTEN" "$@"
  FAULTS_RUN_PID=${E2E_BG_PGID[$label]}
  wait_until 20 "run ($label) answers /healthz" '[[ $(http_code /healthz) == 200 ]]'
}

# SIGTERM; the process must end with status 0 within a second (the README's promise).
stop_run() { # LABEL
  local pid=${E2E_BG_PGID[$1]} started rc=0
  started=$(date +%s%N)
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  assert_eq 0 "$rc" "run ($1) exits 0 on SIGTERM"
  assert_le 1000 $((($(date +%s%N) - started) / 1000000)) "run ($1) stops within a second (ms)"
  unset "E2E_BG_PGID[$1]"
}

proc_fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
proc_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
