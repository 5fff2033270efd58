#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: `dind-netcfg entrypoint` as PID 1 of the dind container (a PID namespace of its
# own, `unshare --pid --fork --mount-proc`), in a sandbox pod behind a PMTU black hole:
#
#   [pod ns: entrypoint, dockerd, docker0]--eth0 (1400)--[router: drops frag-needed]--(1500)--[server]
#
#   1. The CI job (a shell script run as COMMAND) imports an image, downloads 1 MiB from the
#      server in a nested container and exits 7: the download completes (daemon.json's MTU
#      reached dockerd before it started, the masquerade holds) and the entrypoint exits 7.
#      dockerd's iptables are the chosen backend's; an orphan of the job is reaped.
#   2. SIGTERM to the entrypoint while the job sleeps: the job gets SIGTERM, dockerd and its
#      containerd end, nothing is left in the PID namespace, and it exits within the timeout.
#   3. dockerd killed -9 while the job runs: the entrypoint says so and exits non-zero; the
#      next start in the same directories removes the stale pidfiles it left.
#   4. A dockerd that never answers, and nested egress that never passes, end it with 1 and a
#      line naming what; the job never runs.
#   5. A --dockerd-arg that sets the socket is a usage error (exit 2), before anything starts.
#
# Usage: entrypoint_e2e_test.sh /path/to/dind-netcfg   (root; docker.io, busybox-static, ethtool)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BINARY=${1:-}
readonly PAYLOAD_BYTES=1048576
readonly PORT=8080
readonly SERVER_IP=10.232.2.2
readonly STOP_TIMEOUT_S=10

if [[ -z "$BINARY" || ! -x "$BINARY" ]]; then
  echo "usage: $0 /path/to/dind-netcfg (built: cmake --build <build-dir> --target dind-netcfg)" >&2
  exit 2
fi

e2e_init
e2e_require_cmd ethtool jq ss unshare

e2e_step "1/6 topology: pod --(1400)-- router (black hole) --(1500)-- server"
e2e_blackhole_topology 1400 10.232
# The server's replies reach the pod's address only: without masquerade nested egress dies.
head -c "$PAYLOAD_BYTES" /dev/urandom >"$E2E_TMP/payload"
e2e_bg_start server-nc server /bin/busybox nc -ll -p "$PORT" -e /bin/busybox cat "$E2E_TMP/payload"
wait_until 5 "server listening" "e2e_in server ss -Hltn 'sport = :$PORT' | grep -q LISTEN"

dind_dir=$E2E_TMP/dind
mkdir -p "$dind_dir"
tar_path=$(build_busybox_tar)
e2e_on_cleanup "e2e_kill_referencing '$dind_dir/'; e2e_unmount_under '$dind_dir'"

EXTRA_FLAGS=()    # more entrypoint flags for the next start_entrypoint
READY_TIMEOUT=60s # its --ready-timeout
FRESH_RUN_DIR=1   # 0: keep the last run's exec-root and pidfile, as a container restarted in place
# Runs the entrypoint as PID 1 of a new PID namespace inside the pod, in the background; its
# output goes to $E2E_TMP/entrypoint-RUN.log. Prints nothing; sets ENTRYPOINT_PID (unshare's).
start_entrypoint() { # RUN COMMAND...
  local run=$1
  shift
  rm -rf "$dind_dir/data/network"
  # Each run is a new container: a fresh exec-root and pidfile, as a new /var/run has. (A dockerd
  # killed -9 leaves both, and in a new PID namespace their stale pids can be live processes.)
  e2e_unmount_under "$dind_dir/exec"
  ((FRESH_RUN_DIR)) && rm -rf --one-file-system "$dind_dir/exec" "$dind_dir/dockerd.pid"
  setsid nsenter --net="$(e2e_ns_path pod)" -- unshare --pid --fork --mount-proc \
    "$BINARY" entrypoint --daemon-json "$dind_dir/daemon.json" \
    --docker-socket "$dind_dir/docker.sock" --state-dir "$dind_dir/state" \
    --dockerd-arg=--data-root="$dind_dir/data" --dockerd-arg=--exec-root="$dind_dir/exec" \
    --dockerd-arg=--pidfile="$dind_dir/dockerd.pid" \
    --listen 127.0.0.1:19254 --probe-target "$SERVER_IP:$PORT" --probe-interval 2s \
    --stop-timeout "${STOP_TIMEOUT_S}s" --ready-timeout "$READY_TIMEOUT" "${EXTRA_FLAGS[@]}" \
    -- "$@" </dev/null >"$E2E_TMP/entrypoint-$run.log" 2>&1 &
  ENTRYPOINT_PID=$!
}

# The entrypoint's own pid (PID 1 inside), as the host sees it: unshare's only child.
entrypoint_host_pid() { awk '{ print $1 }' "/proc/$ENTRYPOINT_PID/task/$ENTRYPOINT_PID/children" 2>/dev/null; }

# Waits for the entrypoint to end; sets ENTRYPOINT_RC, or fails at the deadline.
wait_entrypoint() { # SECONDS
  local seconds=$1
  if ! timeout -k 2 "$seconds" bash -c "while kill -0 $ENTRYPOINT_PID 2>/dev/null; do sleep 0.1; done"; then
    e2e_fail "the entrypoint did not end within ${seconds}s"
  fi
  ENTRYPOINT_RC=0
  wait "$ENTRYPOINT_PID" || ENTRYPOINT_RC=$?
}

left_behind() { # processes of this run still alive anywhere on the machine
  local entry count=0
  for entry in /proc/[0-9]*; do
    [[ "$(tr '\0' ' ' <"$entry/cmdline" 2>/dev/null)" == *"$dind_dir/"* ]] && count=$((count + 1))
  done
  printf '%s' "$count"
}

e2e_step "2/6 the CI job: import, nested download through the black hole, exit 7"
cat >"$dind_dir/job.sh" <<EOF
#!/bin/sh
set -e
$DOCKER_CLI import --change 'ENV PATH=/bin' '$tar_path' job:latest >/dev/null
$DOCKER_CLI run --rm job:latest sh -c 'nc $SERVER_IP $PORT </dev/null | wc -c' >'$dind_dir/downloaded'
$DOCKER_CLI run --rm job:latest cat /proc/self/cgroup >'$dind_dir/nested-cgroup'
# An orphan: its parent exits at once, so PID 1 inherits it and must reap it.
sh -c 'sleep 0.3 &'
sleep 1
grep -l '^[0-9]* ([a-z]*) Z' /proc/[0-9]*/stat >'$dind_dir/zombies' 2>/dev/null || true
exit 7
EOF
chmod +x "$dind_dir/job.sh"
start_entrypoint job "$dind_dir/job.sh"
wait_entrypoint 120
sed 's/^/    entrypoint| /' "$E2E_TMP/entrypoint-job.log" | grep -v "level=\|module=" | tail -n 40
assert_eq 7 "$ENTRYPOINT_RC" "the entrypoint exits with the job's status"
assert_eq "$PAYLOAD_BYTES" "$(tr -d '[:space:]' <"$dind_dir/downloaded")" "bytes the nested container downloaded"
assert_eq 1400 "$(jq -r .mtu "$dind_dir/daemon.json")" "daemon.json's MTU, written before dockerd started"
parent=$(jq -r '."cgroup-parent" // empty' "$dind_dir/daemon.json")
if [[ -n "$parent" ]]; then
  nested=$(awk -F: '$2 == "memory" { print $3 }' "$dind_dir/nested-cgroup")
  [[ "$nested" == "$parent/"* ]] || e2e_fail "the nested container's cgroup $nested is not below cgroup-parent $parent"
  e2e_pass "the nested container's cgroup is below cgroup-parent $parent"
  left=$(find /sys/fs/cgroup/*/"${parent#/}" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
  assert_eq 0 "$left" "cgroups left below cgroup-parent after the entrypoint ended"
else
  e2e_info "no cgroup-parent on this machine: $(grep -o 'cgroup-parent for dockerd.*' "$E2E_TMP/entrypoint-job.log")"
fi
assert_eq "" "$(cat "$dind_dir/zombies")" "zombies left in the PID namespace (the orphan was reaped)"
grep -q 'nested egress verified' "$E2E_TMP/entrypoint-job.log" || e2e_fail "the job started before egress was verified"
# Its preflight ran once dockerd answered: what asks dockerd was judged, not left unknown.
grep -q 'preflight checks command=entrypoint' "$E2E_TMP/entrypoint-job.log" ||
  e2e_fail "the entrypoint logged no preflight: $(grep -i preflight "$E2E_TMP/entrypoint-job.log" | tail -n 3)"
if grep -q 'preflight: api-floor could not be checked' "$E2E_TMP/entrypoint-job.log"; then
  e2e_fail "the entrypoint's preflight did not reach the dockerd it runs: $(grep 'preflight: api-floor' "$E2E_TMP/entrypoint-job.log")"
fi
e2e_pass "the entrypoint logged its preflight, judged against the dockerd it runs"
backend=$(grep -o "dockerd's iptables: [a-z]*" "$E2E_TMP/entrypoint-job.log" | awk '{ print $3 }')
[[ -n "$backend" ]] || e2e_fail "the log does not say which iptables dockerd got"
assert_eq "$backend" "$(readlink "$dind_dir/state/iptables/iptables" | grep -o 'legacy\|nft')" "dockerd's iptables link is the chosen backend"
assert_eq 0 "$(left_behind)" "processes left after the entrypoint ended"

e2e_step "3/6 SIGTERM to PID 1 while the job runs"
cat >"$dind_dir/sleeper.sh" <<EOF
#!/bin/sh
trap 'echo got-term >"$dind_dir/term"; exit 143' TERM
while :; do sleep 0.1; done
EOF
chmod +x "$dind_dir/sleeper.sh"
rm -f "$dind_dir/term"
start_entrypoint term "$dind_dir/sleeper.sh"
wait_until 90 "the job is running" "grep -q 'command started' '$E2E_TMP/entrypoint-term.log'"
pid1=$(entrypoint_host_pid)
[[ -n "$pid1" ]] || e2e_fail "cannot find the entrypoint's pid"
start=$SECONDS
kill -TERM "$pid1"
wait_entrypoint $((STOP_TIMEOUT_S * 3))
elapsed=$((SECONDS - start))
assert_eq 143 "$ENTRYPOINT_RC" "exit status after SIGTERM (the job's own: 128+15)"
assert_eq got-term "$(cat "$dind_dir/term" 2>/dev/null)" "the job received SIGTERM"
assert_le $((STOP_TIMEOUT_S * 2)) "$elapsed" "seconds from SIGTERM to exit"
assert_eq 0 "$(left_behind)" "processes (dockerd, containerd) left after SIGTERM"
grep -q "dockerd exited" "$E2E_TMP/entrypoint-term.log" || e2e_fail "the log does not say dockerd stopped"

e2e_step "4/6 dockerd killed -9 while the job runs"
start_entrypoint kill "$dind_dir/sleeper.sh"
wait_until 90 "the job is running" "grep -q 'command started' '$E2E_TMP/entrypoint-kill.log'"
# dockerd.pid holds its pid inside the PID namespace: find the host's from PID 1's children.
dockerd_pid=""
pid1=$(entrypoint_host_pid)
read -r -a children <"/proc/$pid1/task/$pid1/children" || true # no newline at its end
for child in "${children[@]}"; do
  process_is "$child" dockerd && dockerd_pid=$child
done
[[ -n "$dockerd_pid" ]] || e2e_fail "cannot find dockerd among the entrypoint's children"
kill -KILL "$dockerd_pid"
wait_entrypoint $((STOP_TIMEOUT_S * 3))
assert_ne 0 "$ENTRYPOINT_RC" "exit status after dockerd died"
grep -q "dockerd killed by signal 9 (SIGKILL) on its own" "$E2E_TMP/entrypoint-kill.log" ||
  e2e_fail "the log does not say dockerd died: $(tail -n 5 "$E2E_TMP/entrypoint-kill.log")"
assert_eq 0 "$(left_behind)" "processes left after dockerd died"
[[ -s "$dind_dir/dockerd.pid" && -s "$dind_dir/exec/containerd/containerd.pid" ]] ||
  e2e_fail "dockerd killed -9 left no pidfiles behind to test their removal with"
e2e_pass "dockerd killed -9 left its pidfile and containerd's"

e2e_step "5/6 what never becomes ready ends it with 1, naming what, and the job never runs"
# A "dockerd" that never answers /_ping.
printf '#!/bin/sh\nexec sleep 1000\n' >"$dind_dir/mute-dockerd"
chmod +x "$dind_dir/mute-dockerd"
# Its version pinned: the stand-in would hang on `--version` too, and the entrypoint reads the
# version of the dockerd it runs (it would wait that out for 10 s first).
EXTRA_FLAGS=(--dockerd "$dind_dir/mute-dockerd" --dockerd-version 20.10.24)
READY_TIMEOUT=2s
FRESH_RUN_DIR=0 # restarted in place: the stale pidfiles are removed before dockerd starts
start_entrypoint mute touch "$dind_dir/job-ran"
wait_entrypoint 30
FRESH_RUN_DIR=1
for pidfile in "$dind_dir/dockerd.pid" "$dind_dir/exec/containerd/containerd.pid"; do
  grep -q "stale pidfile removed.*path=$pidfile" "$E2E_TMP/entrypoint-mute.log" ||
    e2e_fail "the log does not say $pidfile was removed: $(grep -i pidfile "$E2E_TMP/entrypoint-mute.log")"
done
e2e_pass "the stale pidfiles of dockerd and containerd were removed, each with a log line"
assert_eq 1 "$ENTRYPOINT_RC" "exit status when dockerd never answers"
grep -q "dockerd did not answer GET /_ping on $dind_dir/docker.sock within 2s" "$E2E_TMP/entrypoint-mute.log" ||
  e2e_fail "the log does not say dockerd never answered: $(tail -n 3 "$E2E_TMP/entrypoint-mute.log")"
# Nested egress that cannot pass: a second probe target whose port is closed. The timeout
# also bounds dockerd's start, which a loaded CI machine stretches to seconds.
EXTRA_FLAGS=(--probe-target "$SERVER_IP:9")
READY_TIMEOUT=15s
start_entrypoint closed touch "$dind_dir/job-ran"
wait_entrypoint 90
assert_eq 1 "$ENTRYPOINT_RC" "exit status when nested egress is never verified"
grep -q "nested egress was not verified within 15s: .*$SERVER_IP:9" "$E2E_TMP/entrypoint-closed.log" ||
  e2e_fail "the log does not name the failing probe: $(grep -i egress "$E2E_TMP/entrypoint-closed.log" | tail -n 3)"
[[ ! -e "$dind_dir/job-ran" ]] || e2e_fail "the job ran although nothing was ready"
e2e_pass "the job never ran"
assert_eq 0 "$(left_behind)" "processes left after the timeouts"
EXTRA_FLAGS=()
READY_TIMEOUT=60s

e2e_step "6/6 a --dockerd-arg setting the socket is a usage error"
rc=0
e2e_in pod "$BINARY" entrypoint --daemon-json "$dind_dir/other.json" --no-probes \
  --dockerd-arg=-Htcp://0.0.0.0:2375 -- true >"$E2E_TMP/usage.log" 2>&1 || rc=$?
assert_eq 2 "$rc" "exit status"
grep -q -- "--docker-socket PATH" "$E2E_TMP/usage.log" || e2e_fail "no fix named: $(cat "$E2E_TMP/usage.log")"
[[ ! -e "$dind_dir/other.json" ]] || e2e_fail "daemon.json was written before the usage error"

printf '\nPASS e2e_entrypoint: job exit 7 with %s bytes through the black hole; SIGTERM and dockerd death handled\n' "$PAYLOAD_BYTES"
