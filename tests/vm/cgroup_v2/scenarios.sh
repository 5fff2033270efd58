#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A cgroup v2 node with every controller delegated (issue 27, part 2), inside the VM.
#
# The pod: cgroup /kubepods/burstable/pod<uid> with the controllers enabled down the path and a
# memory limit; each of its containers a child cgroup joined by a PID 1 in new PID, mount and
# cgroup namespaces (container.sh, as runc makes it); the pod's network namespace behind a
# router that drops ICMP frag-needed, the server beyond it serving 1 MiB.
#   a. `dind-netcfg entrypoint -- JOB` as that PID 1: nested --memory 64m, nested downloads on
#      the default bridge and a user-defined network, the job's status 7, SIGTERM ends job,
#      dockerd and containerd in order, no nested container's cgroup left.
#   b. the control: plain dockerd as PID 1 in the same place, and what fails there.
#   c. deploy/kubernetes/'s layout: `init` in an init container, dockerd (docker:dind's own
#      cgroup step) in its container, `run` in a sidecar container: the cgroup-parent each
#      writes, nested limits below the dind container's cgroup, nested download.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=../guest/lib.sh
source /vm/lib.sh

readonly CG=/sys/fs/cgroup
readonly POD=/kubepods/burstable/pod6f1c2a3e-27a2-4c1b-9d5e-0b7e1d2c3f40
readonly POD_MEMORY_MAX=1073741824
readonly NESTED_MEMORY_MAX=67108864
readonly JOB_STATUS=7
readonly STOP_TIMEOUT_S=10
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -A CTR_PID=() # container name -> unshare's pid (the container's PID 1 is its child)

# --- the pod -------------------------------------------------------------------------------

make_pod() {
  local path
  mkdir -p "$CG$POD"
  # kubelet and runc enable the controllers at every level down to the pod's cgroup, so each
  # container's cgroup has them all (cgroup.controllers) and none enabled below it.
  for path in "$CG/kubepods" "$CG/kubepods/burstable" "$CG$POD"; do
    sed -e 's/ / +/g' -e 's/^/+/' <"$path/cgroup.controllers" >"$path/cgroup.subtree_control" ||
      vm_fail setup "could not enable the controllers in $path/cgroup.subtree_control"
  done
  echo "$POD_MEMORY_MAX" >"$CG$POD/memory.max"
  vm_info "pod cgroup $POD: controllers for its containers '$(cat "$CG$POD/cgroup.subtree_control")', memory.max $(cat "$CG$POD/memory.max")"
}

# Starts a container of the pod: cgroup $POD/NAME, PID 1 = CMD (see container.sh).
container_start() { # NAME CMD...
  local name=$1
  shift
  mkdir -p "$CG$POD/$name"
  setsid nsenter --net=/run/netns/pod -- unshare --pid --mount --fork \
    "$here/container.sh" "$POD/$name" "$@" </dev/null >"$(vm_log "$name")" 2>&1 &
  CTR_PID[$name]=$!
}
# The container's PID 1 as the VM sees it.
container_pid1() { # NAME
  local pid=${CTR_PID[$1]}
  awk '{ print $1 }' "/proc/$pid/task/$pid/children" 2>/dev/null
}
# Waits for the container to end (SECONDS); sets CTR_RC to its exit status, or "timeout".
# (Not in a subshell: only this shell can wait for its child.)
container_wait() { # NAME SECONDS
  local pid=${CTR_PID[$1]}
  CTR_RC=0
  if ! vm_wait "$2" "! kill -0 $pid 2>/dev/null"; then
    CTR_RC=timeout
    return
  fi
  wait "$pid" || CTR_RC=$?
}
container_kill() { # NAME: ends what is left of it (a failed scenario)
  local pid=${CTR_PID[$1]:-}
  [[ -n $pid ]] || return 0
  kill -KILL -- "-$pid" 2>/dev/null
  kill -KILL "$(container_pid1 "$1")" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
# Processes still in a cgroup (its whole subtree).
cgroup_procs() { # PATH below $CG
  find "$CG$1" -name cgroup.procs -exec cat {} + 2>/dev/null | wc -l
}
# Cgroups of nested containers (64 hex digits in the name) left anywhere below the pod.
nested_cgroups_left() {
  find "$CG$POD" -mindepth 1 -type d -regextype egrep -regex '.*/(docker-)?[0-9a-f]{64}(\.scope)?' 2>/dev/null | wc -l
}
processes_named() { # NAME...: how many processes in the VM have one of these command names (comm: 15 chars)
  local name count=0
  for name in "$@"; do
    count=$((count + $(pgrep -x "$name" | wc -l)))
  done
  echo "$count"
}
# A new pod gets a new network namespace: what an earlier scenario's dockerd left in the pod's
# (docker0 and br-* of a dockerd that was killed, its NAT rules and ours) is removed, and the
# proof cache in /run, so the next scenario proves its own backend, rules and bridges.
reset_pod_netns() {
  local link tool
  # A new pod's namespace has lo and eth0 only.
  for link in $(ip -n pod -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
    [[ $link == lo || $link == eth0 ]] || ip -n pod link del "$link" 2>/dev/null
  done
  for tool in iptables-legacy ip6tables-legacy iptables-nft ip6tables-nft; do
    vm_in pod "$tool" -t nat -F 2>/dev/null && vm_in pod "$tool" -t nat -X 2>/dev/null
    vm_in pod "$tool" -t filter -F 2>/dev/null && vm_in pod "$tool" -t filter -X 2>/dev/null
    vm_in pod "$tool" -t mangle -F 2>/dev/null && vm_in pod "$tool" -t mangle -X 2>/dev/null
  done
  vm_in pod nft flush ruleset
  # Its /run is new too: no traffic proof kept by an earlier pod (proof_cache.h).
  rm -rf /run/dind-netcfg
  vm_info "pod network namespace reset: links $(ip -n pod -o link show | awk -F': ' '{ sub(/@.*/, "", $2); printf "%s ", $2 }')and no rule, as a new pod's"
}
log_line() { # LOG PATTERN: the line number of PATTERN's first match (0: none)
  local n
  n=$(grep -n -m1 -- "$2" "$1" | cut -d: -f1)
  echo "${n:-0}"
}

# --- setup ---------------------------------------------------------------------------------

vm_topology 1400
vm_serve_file || exit 1
tar_path=$(vm_busybox_tar)
make_pod

# --- a. entrypoint as the container's PID 1 -----------------------------------------------

a=/run/pod-a
mkdir -p "$a/out"
entrypoint_start() { # NAME JOB
  rm -rf "$a/exec" "$a/dockerd.pid"
  container_start "$1" dind-netcfg entrypoint --daemon-json "$a/daemon.json" \
    --docker-socket "$a/docker.sock" --state-dir "$a/state" \
    --dockerd-arg=--data-root=/var/lib/pod-a --dockerd-arg=--exec-root="$a/exec" \
    --dockerd-arg=--pidfile="$a/dockerd.pid" --listen 127.0.0.1:19254 \
    --probe-target "$VM_SERVER_IP:$VM_PORT" --probe-interval 2s \
    --stop-timeout "${STOP_TIMEOUT_S}s" --ready-timeout 240s -- "$2"
}

# The job: a held container with --memory 64m (inspected from the VM while it runs, and left
# running at the exit, so dockerd's shutdown must remove it), downloads on the default bridge
# and on a user-defined network, then exit 7.
cat >"$a/job.sh" <<EOF
#!/bin/sh
out=$a/out
docker import --change 'ENV PATH=/bin' $tar_path job:latest >/dev/null || exit 3
docker run -d --name held --memory 64m job:latest sleep 600 >\$out/held-cid 2>\$out/held-err || exit 4
docker exec held cat /sys/fs/cgroup/memory.max >\$out/memory-max-inside
docker run --rm job:latest sh -c 'nc $VM_SERVER_IP $VM_PORT </dev/null | wc -c' >\$out/bridge-bytes
docker network create jobnet >/dev/null
docker network inspect jobnet --format '{{index .Options "com.docker.network.driver.mtu"}}' >\$out/jobnet-mtu
docker run --rm --network jobnet job:latest sh -c 'nc $VM_SERVER_IP $VM_PORT </dev/null | wc -c' >\$out/usernet-bytes
docker run --rm --network jobnet job:latest cat /sys/class/net/eth0/mtu >\$out/usernet-eth0-mtu
touch \$out/job-waiting
i=0
while [ ! -f \$out/checked ] && [ \$i -lt 300 ]; do sleep 0.2; i=\$((i + 1)); done
exit $JOB_STATUS
EOF
chmod +x "$a/job.sh"

echo "==> a. entrypoint -- job, as PID 1 of a container in $POD/dind"
start_ms=$(vm_now_ms)
entrypoint_start dind "$a/job.sh"
if vm_wait 400 "[[ -f $a/out/job-waiting ]] || ! kill -0 ${CTR_PID[dind]} 2>/dev/null"; then
  cid=$(cat "$a/out/held-cid" 2>/dev/null)
  held=""
  [[ -n $cid ]] && held=$(find "$CG$POD" -type d -name "*$cid*" | head -n1)
  vm_check_eq a-nested-memory-inside "$NESTED_MEMORY_MAX" "$(cat "$a/out/memory-max-inside" 2>/dev/null)" \
    "memory.max the nested --memory 64m container sees" || cat "$a/out/held-err" 2>/dev/null
  if [[ -n $held ]]; then
    vm_check_eq a-nested-memory-node "$NESTED_MEMORY_MAX" "$(cat "$held/memory.max")" \
      "memory.max of ${held#"$CG"} (below the pod's cgroup)"
  else
    vm_fail a-nested-memory-node "no cgroup of the held container ${cid:-none} below $POD: $(find "$CG$POD" -type d | sed "s|$CG||" | tr '\n' ' ')"
  fi
  vm_check_eq a-download-bridge "$VM_PAYLOAD_BYTES" "$(tr -d '[:space:]' <"$a/out/bridge-bytes" 2>/dev/null)" \
    "bytes a nested container downloaded on the default bridge through the black hole"
  vm_check_eq a-download-usernet "$VM_PAYLOAD_BYTES" "$(tr -d '[:space:]' <"$a/out/usernet-bytes" 2>/dev/null)" \
    "bytes downloaded on a user-defined network (eth0 MTU $(cat "$a/out/usernet-eth0-mtu" 2>/dev/null), network mtu option '$(cat "$a/out/jobnet-mtu" 2>/dev/null)')"
else
  vm_fail a-job "the job did not reach its checks within 400 s"
fi
touch "$a/out/checked"
container_wait dind 120
elapsed=$((($(vm_now_ms) - start_ms) / 1000))
vm_check_eq a-exit-status "$JOB_STATUS" "$CTR_RC" "the container's exit status (the job's), ${elapsed}s from start"
log=$(vm_log dind)
vm_ok a-daemon-json "cgroup-parent '$(jq -r '."cgroup-parent" // "none"' "$a/daemon.json")', mtu $(jq -r '.mtu // "none"' "$a/daemon.json") in the daemon.json the entrypoint wrote"
vm_check_eq a-cgroups-left 0 "$(nested_cgroups_left)" "nested containers' cgroups left below $POD after the exit"
vm_check_eq a-processes-left 0 "$(cgroup_procs "$POD/dind")" "processes left in $POD/dind"
grep -E "cgroup|proof|backend" "$log" | grep -v "level=" | head -n 20 | sed 's/^/    a| /'
container_kill dind

echo "==> a. SIGTERM to PID 1 while the job runs"
cat >"$a/sleeper.sh" <<EOF
#!/bin/sh
docker run -d --memory 64m job:latest sleep 600 >$a/out/term-cid || exit 4
touch $a/out/term-ready
while :; do sleep 0.2; done
EOF
chmod +x "$a/sleeper.sh"
entrypoint_start dind-term "$a/sleeper.sh"
if vm_wait 400 "[[ -f $a/out/term-ready ]] || ! kill -0 ${CTR_PID[dind-term]} 2>/dev/null" && [[ -f $a/out/term-ready ]]; then
  pid1=$(container_pid1 dind-term)
  before=$(cgroup_procs "$POD/dind-term")
  start_ms=$(vm_now_ms)
  kill -TERM "$pid1"
  container_wait dind-term $((STOP_TIMEOUT_S * 6))
  elapsed_ms=$(($(vm_now_ms) - start_ms))
  log=$(vm_log dind-term)
  vm_check_eq a-term-status 143 "$CTR_RC" "exit status after SIGTERM (the job's: 128+15; README's table)"
  vm_check_le a-term-seconds $((STOP_TIMEOUT_S * 3)) $((elapsed_ms / 1000)) \
    "seconds from SIGTERM to exit (${elapsed_ms} ms; $before processes in the container before)"
  job_line=$(log_line "$log" "the command ")
  stopping_line=$(log_line "$log" "stopping dockerd")
  dockerd_line=$(log_line "$log" "dockerd exited\|dockerd killed\|dockerd ended")
  done_line=$(log_line "$log" "entrypoint done")
  if ((job_line > 0 && job_line < stopping_line && stopping_line < dockerd_line && dockerd_line < done_line)); then
    vm_ok a-term-order "log lines: job ended (#$job_line), stopping dockerd (#$stopping_line), dockerd ended (#$dockerd_line), entrypoint done (#$done_line)"
  else
    vm_fail a-term-order "job #$job_line, stopping dockerd #$stopping_line, dockerd ended #$dockerd_line, done #$done_line (0: missing)"
  fi
  vm_check_eq a-term-processes 0 "$(processes_named dockerd containerd containerd-shim sleep)" \
    "dockerd, containerd, shims and the nested sleep left in the VM"
  vm_check_eq a-term-cgroups-left 0 "$(nested_cgroups_left)" "nested containers' cgroups left below $POD"
else
  vm_fail a-term "the job never started: $(tail -n 5 "$(vm_log dind-term)")"
fi
container_kill dind-term

# --- b. the control: plain dockerd as the container's PID 1 --------------------------------

echo "==> b. plain dockerd as PID 1 of a container in $POD/plain"
reset_pod_netns
b=/run/pod-b
mkdir -p "$b"
echo '{}' >"$b/daemon.json"
container_start plain dockerd --data-root /var/lib/pod-b --exec-root "$b/exec" \
  -H "unix://$b/docker.sock" --pidfile "$b/dockerd.pid" --config-file "$b/daemon.json"
bdocker() { docker -H "unix://$b/docker.sock" "$@"; }
if vm_wait 240 "bdocker version >/dev/null 2>&1 || ! kill -0 ${CTR_PID[plain]} 2>/dev/null" && bdocker version >/dev/null 2>&1; then
  bdocker import --change 'ENV PATH=/bin' "$tar_path" job:latest >/dev/null
  out=$(bdocker run --rm --memory 64m job:latest cat /sys/fs/cgroup/memory.max 2>&1)
  rc=$?
  printf '    b| %s\n' "${out//$'\n'/$'\n'    b| }"
  # What cgroup v2 does to it: dockerd and containerd sit in the container's cgroup (the
  # namespace's root), so the domain controllers (memory, io) cannot be enabled for /docker
  # below it (no internal processes): runc 1.1 finds /docker "in an invalid state" (observed
  # here), a runtime that enables them itself gets EBUSY from subtree_control; or, where a
  # runtime skips the limit, it is not applied.
  if ((rc != 0)) && grep -qE "cannot enter cgroupv2 .* with domain controllers -- it is in an invalid state|subtree_control.*(device or resource busy)" <<<"$out"; then
    vm_ok b-nested-memory-fails "docker run --memory 64m exits $rc: $(grep -oE 'cannot enter cgroupv2 [^:]*invalid state|write [^ ]*subtree_control: [a-z ]*' <<<"$out" | head -n1)"
  elif ((rc == 0)) && [[ $out != "$NESTED_MEMORY_MAX" ]]; then
    vm_ok b-nested-memory-escapes "docker run --memory 64m ran but its memory.max is '${out//$'\n'/ }', not $NESTED_MEMORY_MAX"
  else
    vm_fail b-control "plain dockerd: docker run --memory 64m exit $rc, '${out//$'\n'/ }': neither the no-internal-processes refusal nor an escaped limit; the control does not reproduce the node"
  fi
  out=$(bdocker run --rm job:latest true 2>&1)
  vm_check_eq b-plain-run 0 "$?" "docker run without limits under plain dockerd${out:+ ($(tail -n1 <<<"$out" | cut -c1-200))}"
  vm_ok b-pod-cgroup "processes in $POD/plain's own cgroup (dockerd, containerd: the internal processes): $(wc -l <"$CG$POD/plain/cgroup.procs"); its subtree_control '$(cat "$CG$POD/plain/cgroup.subtree_control")'"
else
  vm_fail b-dockerd "plain dockerd did not answer within 240 s: $(tail -n 5 "$(vm_log plain)")"
fi
pid1=$(container_pid1 plain)
[[ -n $pid1 ]] && kill -TERM "$pid1"
container_wait plain 60
container_kill plain

# --- c. deploy/kubernetes: init container, dockerd's container, the sidecar ---------------

echo "==> c. deploy/kubernetes layout: init, dind (docker:dind's cgroup step), sidecar run"
reset_pod_netns
c=/run/pod-c # the pod's emptyDirs: docker-config and run
mkdir -p "$c/etc-docker" "$c/run"
container_start netcfg-init dind-netcfg init --daemon-json "$c/etc-docker/daemon.json"
container_wait netcfg-init 180
vm_check_eq c-init-status 0 "$CTR_RC" "dind-netcfg init's exit status in the init container"
parent=$(jq -r '."cgroup-parent" // "none"' "$c/etc-docker/daemon.json" 2>/dev/null)
vm_check_eq c-init-cgroup-parent none "$parent" "cgroup-parent init writes (it does not run dockerd: $(grep -o 'no cgroup-parent[^"]*' "$(vm_log netcfg-init)" | head -n1 | cut -c1-120))"
container_start dind-c "$here/docker-dind-cgroup.sh" dockerd --data-root /var/lib/pod-c \
  --exec-root "$c/run/docker-exec" -H "unix://$c/run/docker.sock" --pidfile "$c/run/docker.pid" \
  --config-file "$c/etc-docker/daemon.json"
cdocker() { docker -H "unix://$c/run/docker.sock" "$@"; }
container_start netcfg-run dind-netcfg run --daemon-json "$c/etc-docker/daemon.json" \
  --docker-socket "$c/run/docker.sock" --listen 127.0.0.1:19255 \
  --probe-target "$VM_SERVER_IP:$VM_PORT" --probe-interval 2s
if vm_wait 240 "cdocker version >/dev/null 2>&1 || ! kill -0 ${CTR_PID[dind-c]} 2>/dev/null" && cdocker version >/dev/null 2>&1; then
  if vm_wait 240 "vm_in pod dind-netcfg probe --url http://127.0.0.1:19255/readyz >/dev/null 2>&1 || ! kill -0 ${CTR_PID[netcfg-run]} 2>/dev/null" &&
    vm_in pod dind-netcfg probe --url http://127.0.0.1:19255/readyz >/dev/null 2>&1; then
    vm_ok c-sidecar-ready "the sidecar's /readyz answers 200"
  else
    vm_fail c-sidecar-ready "the sidecar never became ready: $(vm_in pod dind-netcfg probe --url http://127.0.0.1:19255/readyz 2>&1 | tail -n1)"
  fi
  parent=$(jq -r '."cgroup-parent" // "none"' "$c/etc-docker/daemon.json")
  vm_check_eq c-run-cgroup-parent none "$parent" "cgroup-parent in daemon.json with the sidecar running"
  cdocker import --change 'ENV PATH=/bin' "$tar_path" job:latest >/dev/null
  cid=$(cdocker run -d --memory 64m job:latest sleep 600 2>&1)
  inside=$(cdocker exec "$cid" cat /sys/fs/cgroup/memory.max 2>&1)
  vm_check_eq c-nested-memory-inside "$NESTED_MEMORY_MAX" "$inside" "memory.max the nested --memory 64m container sees"
  held=$(find "$CG$POD/dind-c" -type d -name "*${cid:0:64}*" 2>/dev/null | head -n1)
  if [[ -n $held ]]; then
    vm_check_eq c-nested-memory-node "$NESTED_MEMORY_MAX" "$(cat "$held/memory.max")" \
      "memory.max of ${held#"$CG"} (dockerd's default /docker, inside the dind container's cgroup)"
  else
    vm_fail c-nested-memory-node "no cgroup of $cid below $POD/dind-c: $(find "$CG$POD" -type d | sed "s|$CG||" | tr '\n' ' ')"
  fi
  bytes=$(cdocker run --rm job:latest sh -c "nc $VM_SERVER_IP $VM_PORT </dev/null | wc -c" 2>&1 | tr -d '[:space:]')
  vm_check_eq c-download-bridge "$VM_PAYLOAD_BYTES" "$bytes" "bytes a nested container downloaded (daemon.json mtu $(jq -r '.mtu // "none"' "$c/etc-docker/daemon.json"))"
  cdocker rm -f "$cid" >/dev/null 2>&1
else
  vm_fail c-dockerd "dockerd in the dind container did not answer within 240 s: $(tail -n 5 "$(vm_log dind-c)")"
fi
for name in netcfg-run dind-c; do
  pid1=$(container_pid1 "$name")
  [[ -n $pid1 ]] && kill -TERM "$pid1"
  container_wait "$name" 60
  vm_info "$name ended with $CTR_RC after SIGTERM"
  container_kill "$name"
done
vm_check_eq c-cgroups-left 0 "$(nested_cgroups_left)" "nested containers' cgroups left below $POD"
vm_bg_stop server-nc
exit 0
