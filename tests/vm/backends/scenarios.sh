#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Kernels missing a netfilter backend (issue 27, part 4), inside the VM. The kernel refuses to
# load what this boot's module_blacklist= names (tests/vm/backends/CMakeLists.txt); which boot
# this is, is read from /proc/cmdline:
#   legacy withheld (ip_tables, ip6_tables, iptable_*, ip6table_*):
#     1. neither: nf_tables withheld too, by `install nf_tables /bin/false` in modprobe.d before
#        anything loaded it: `init` and `entrypoint` exit 1 naming what is missing and the fix,
#        with no daemon.json written and no dockerd started;
#     2. only nft: that modprobe.d line removed: `init --backend auto` chooses nft by the traffic
#        proof, `entrypoint` gives dockerd iptables-nft, a nested container downloads 1 MiB
#        from the server through the pod's masquerade;
#   nf_tables withheld, and iptable_raw/ip6table_raw too:
#     3. only legacy: the same with legacy (dockerd 20.10 and dind-netcfg's rules need no raw
#        table: nat, mangle and filter only);
#     4. raw withheld under dockerd >= 28 (issue 29; the release run_group.sh --release put in
#        /vm/release/bin), legacy iptables first on its PATH as docker:dind's legacy choice,
#        two dockerds side by side: without the opt-out `doctor` says iptables-raw fail with
#        the fix, and a nested `docker run` on the default bridge does fail on the raw table
#        with the words doctor quotes; with DOCKER_INSECURE_NO_IPTABLES_RAW=1 doctor warns and
#        the container starts.
# x_tables itself stays loadable: iptables-nft needs nft_compat and the xt_* matches.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../guest/lib.sh
source /vm/lib.sh

readonly CG=/sys/fs/cgroup
readonly SHIM=/run/backends-bin # `iptables` for the router's rule in vm_topology
cmdline=$(cat /proc/cmdline)

# The checks report and go on: one failed check must not hide the others' results.
check_eq() { vm_check_eq "$@" || true; }
ms_since() { echo $(($(vm_now_ms) - $1)); }
first_line() { grep -m1 -- "$1" "$2" || echo "(no line with '$1' in $2)"; }

# Makes `iptables` (on PATH for vm_topology's router rule) the front end TOOL: the router's rule
# goes to the backend this kernel has, or nowhere (`true`) when it has none.
router_iptables() { # TOOL
  mkdir -p "$SHIM"
  printf '#!/bin/sh\nexec %s "$@"\n' "$1" >"$SHIM/iptables"
  chmod +x "$SHIM/iptables"
}

# ok when the kernel will not load MODULE: not loaded, and modprobe fails.
withheld() { # NAME MODULE
  local err
  if [[ -d /sys/module/$2 ]]; then
    vm_fail "$1" "$2 is loaded (/sys/module/$2): the scenario would not be what it claims"
    return 1
  fi
  if err=$(modprobe "$2" 2>&1); then
    vm_fail "$1" "modprobe $2 succeeded: the kernel was expected to refuse it"
    return 1
  fi
  vm_ok "$1" "$2 not loaded, modprobe refuses it: ${err//$'\n'/ }"
}

# The backend decision in an init --json report, wherever the report nests it.
decision_of() { # JSON_FILE
  jq -c '[.. | objects | select(has("chosen") and has("step") and has("evidence"))][0]' "$1"
}

# `init --backend auto --json` in the pod: chooses BACKEND by the traffic proof; the other
# backend's proof ends OTHER_PROOF ("not run": nft is proven first, and a pass ends the choice;
# "failed": legacy is proven only after nft failed).
init_chooses() { # SCENARIO BACKEND OTHER OTHER_PROOF
  local name=$1 want=$2 other=$3 other_proof=$4 dir=/run/bk-$1 rc=0 start decision
  mkdir -p "$dir"
  start=$(vm_now_ms)
  vm_in pod dind-netcfg init --daemon-json "$dir/init-daemon.json" --backend auto \
    --proof-cache "$dir/init-proof.json" --json >"$dir/init.json" 2>"$(vm_log "$name-init")" || rc=$?
  local took
  took=$(ms_since "$start")
  if ! vm_check_eq "$name-init-exit" 0 "$rc" "init --backend auto exit status (${took} ms)"; then
    sed 's/^/    init| /' "$(vm_log "$name-init")"
  fi
  decision=$(decision_of "$dir/init.json" 2>/dev/null || echo null)
  [[ -n $decision ]] || decision=null
  check_eq "$name-init-chosen" "$want" "$(jq -r '.chosen' <<<"$decision")" "backend chosen"
  check_eq "$name-init-step" proof "$(jq -r '.step' <<<"$decision")" "decided by"
  check_eq "$name-init-proven" passed "$(jq -r ".evidence.$want.proof.status" <<<"$decision")" \
    "$want's proof ($(jq -r ".evidence.$want.proof.detail" <<<"$decision"))"
  check_eq "$name-init-other-proof" "$other_proof" "$(jq -r ".evidence.$other.proof.status" <<<"$decision")" \
    "$other's proof ($(jq -r ".evidence.$other.proof.detail" <<<"$decision"))"
  check_eq "$name-init-warnings" 0 "$(jq -r '.warnings | length' <<<"$decision")" \
    "warnings of the decision ($(jq -c '.warnings' <<<"$decision"))"
  vm_info "reason: $(jq -r '.reason' <<<"$decision")"
}

# `entrypoint -- JOB` in the pod, in a cgroup of its own (it nests dockerd below it): the job
# records what dockerd's iptables are and what each backend holds while dockerd runs, and
# downloads 1 MiB in a nested container.
entrypoint_runs() { # SCENARIO BACKEND
  local name=$1 want=$2 dir=/run/bk-$1 rc=0 start log
  mkdir -p "$dir/out" "$CG/bk-$name"
  log=$(vm_log "$name-entrypoint")
  cat >"$dir/job.sh" <<EOF
#!/bin/sh
out=$dir/out
pid=\$(cat $dir/dockerd.pid)
tr '\0' '\n' </proc/\$pid/environ | sed -n 's/^PATH=//p' >\$out/dockerd-path
first=\$(cut -d: -f1 \$out/dockerd-path)
readlink -f "\$first/iptables" >\$out/dockerd-iptables
nft list ruleset >\$out/nft-ruleset 2>&1; echo \$? >\$out/nft-rc
iptables-legacy-save -t nat >\$out/legacy-nat 2>&1; echo \$? >\$out/legacy-rc
docker import --change 'ENV PATH=/bin' $(vm_busybox_tar) bk:latest >/dev/null || exit 3
docker run --rm bk:latest sh -c 'nc $VM_SERVER_IP $VM_PORT </dev/null | wc -c' >\$out/bytes 2>\$out/run-err
exit 0
EOF
  chmod +x "$dir/job.sh"
  start=$(vm_now_ms)
  # shellcheck disable=SC2016 # $$ is the inner shell's
  setsid bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG/bk-$name" \
    nsenter --net=/run/netns/pod -- dind-netcfg entrypoint --backend auto \
    --daemon-json "$dir/daemon.json" --proof-cache "$dir/proof.json" \
    --docker-socket "$dir/docker.sock" --state-dir "$dir/state" \
    --dockerd-arg=--data-root="/var/lib/bk-$name" --dockerd-arg=--exec-root="$dir/exec" \
    --dockerd-arg=--pidfile="$dir/dockerd.pid" --listen 127.0.0.1:19254 \
    --probe-target "$VM_SERVER_IP:$VM_PORT" --probe-interval 2s --ready-timeout 240s \
    -- "$dir/job.sh" </dev/null >"$log" 2>&1 &
  local pid=$!
  if ! vm_wait 400 "! kill -0 $pid 2>/dev/null"; then
    vm_fail "$name-entrypoint" "did not end within 400 s: $(tail -n 3 "$log")"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" || rc=$?
  local took
  took=$(ms_since "$start")
  if ! vm_check_eq "$name-entrypoint-exit" 0 "$rc" "entrypoint's exit status, the job's (${took} ms)"; then
    sed 's/^/    entrypoint| /' "$log" | grep -v 'level=' | tail -n 40
  fi
  vm_info "$(first_line "masquerade backend chosen" "$log")"
  vm_info "$(first_line "dockerd's iptables" "$log")"
  vm_info "$(first_line "kernel modules" "$log")"
  check_eq "$name-dockerd-iptables" "/usr/sbin/xtables-$want-multi" \
    "$(cat "$dir/out/dockerd-iptables" 2>/dev/null)" \
    "iptables first on dockerd's PATH ($(cut -d: -f1 "$dir/out/dockerd-path" 2>/dev/null))"
  local docker_rules ours
  if [[ $want == nft ]]; then
    docker_rules=$(grep -ci 'masquerade' "$dir/out/nft-ruleset" || true)
    ours=$(grep -c '^table ip dind-netcfg' "$dir/out/nft-ruleset" || true)
    check_eq "$name-other-backend-empty" 1 "$([[ $(cat "$dir/out/legacy-rc") != 0 ]] && echo 1 || echo 0)" \
      "iptables-legacy-save fails (legacy withheld): $(head -n1 "$dir/out/legacy-nat")"
  else
    docker_rules=$(grep -c -- '-j MASQUERADE' "$dir/out/legacy-nat" || true)
    ours=$(grep -c -- '^-A POSTROUTING -j DIND-NETCFG-POSTROUTING' "$dir/out/legacy-nat" || true)
    check_eq "$name-other-backend-empty" 1 "$([[ $(cat "$dir/out/nft-rc") != 0 ]] && echo 1 || echo 0)" \
      "nft list ruleset fails (nf_tables withheld): $(head -n1 "$dir/out/nft-ruleset")"
  fi
  if ((docker_rules >= 2 && ours == 1)); then
    vm_ok "$name-rules-in-$want" "$docker_rules masquerade rules in $want (dockerd's and dind-netcfg's), dind-netcfg's container present"
  else
    vm_fail "$name-rules-in-$want" "masquerade rules in $want: $docker_rules, dind-netcfg's container: $ours"
    sed 's/^/    rules| /' "$dir/out/nft-ruleset" "$dir/out/legacy-nat" | head -n 60
  fi
  if ! vm_check_eq "$name-nested-download" "$VM_PAYLOAD_BYTES" \
    "$(tr -d '[:space:]' <"$dir/out/bytes" 2>/dev/null)" \
    "bytes a nested container downloaded from $VM_SERVER_IP through the pod's masquerade"; then
    sed 's/^/    run| /' "$dir/out/run-err" 2>/dev/null || true
    sed 's/^/    entrypoint| /' "$log" | tail -n 40
  fi
}

# A command that must fail before it writes daemon.json or starts dockerd: exit 1 and a message
# naming both backends and the fix.
refuses() { # NAME LOG RC DAEMON_JSON
  local name=$1 log=$2 rc=$3
  check_eq "$name-exit" 1 "$rc" "exit status (README: 1, the environment said no)"
  local line
  line=$(grep -m1 ' error ' "$log" || true)
  if grep -q "has neither masquerade backend" <<<"$line" && grep -q "modprobe nf_tables" <<<"$line" &&
    grep -q "modprobe ip_tables" <<<"$line"; then
    vm_ok "$name-message" "names both backends and the fix: $line"
  else
    vm_fail "$name-message" "error line: ${line:-none}"
    sed 's/^/    log| /' "$log" | tail -n 30
  fi
  check_eq "$name-no-daemon-json" absent "$([[ -e $4 ]] && echo present || echo absent)" \
    "daemon.json"
}

scenario_neither() {
  local name=neither dir=/run/bk-neither rc start log
  echo "==> 1. neither backend: legacy blacklisted, nf_tables withheld in modprobe.d"
  echo "install nf_tables /bin/false" >/etc/modprobe.d/bk-withhold-nf_tables.conf
  withheld neither-nf_tables-withheld nf_tables || return 0
  mkdir -p "$dir"
  rc=0
  start=$(vm_now_ms)
  vm_in pod dind-netcfg init --daemon-json "$dir/daemon.json" --proof-cache "$dir/proof.json" \
    >"$dir/init.out" 2>"$(vm_log neither-init)" || rc=$?
  vm_info "init: $(ms_since "$start") ms"
  refuses neither-init "$(vm_log neither-init)" "$rc" "$dir/daemon.json"
  rc=0
  start=$(vm_now_ms)
  log=$(vm_log neither-entrypoint)
  mkdir -p "$CG/bk-neither"
  # shellcheck disable=SC2016 # $$ is the inner shell's
  bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG/bk-neither" \
    nsenter --net=/run/netns/pod -- dind-netcfg entrypoint \
    --daemon-json "$dir/ep-daemon.json" --proof-cache "$dir/ep-proof.json" \
    --docker-socket "$dir/docker.sock" --state-dir "$dir/state" \
    --dockerd-arg=--data-root=/var/lib/bk-neither --dockerd-arg=--exec-root="$dir/exec" \
    --dockerd-arg=--pidfile="$dir/dockerd.pid" --ready-timeout 60s -- true \
    </dev/null >"$log" 2>&1 || rc=$?
  vm_info "entrypoint: $(ms_since "$start") ms"
  refuses neither-entrypoint "$log" "$rc" "$dir/ep-daemon.json"
  check_eq neither-entrypoint-no-dockerd 0 "$(grep -c 'dockerd started' "$log" || true)" \
    "'dockerd started' lines"
  rm /etc/modprobe.d/bk-withhold-nf_tables.conf
}

scenario_only() { # BACKEND OTHER OTHER_PROOF
  local want=$1 other=$2
  echo "==> only $want: init, then entrypoint -- a nested download"
  init_chooses "only-$want" "$want" "$other" "$3"
  entrypoint_runs "only-$want" "$want"
}

readonly RELEASE=/vm/release

# Starts the release's dockerd NAME in NETNS with `iptables` meaning legacy (PATH=$RAW_PATH) and
# ENV... added to its environment; does not wait (raw_dockerd_wait). daemon.json has only
# "ip6tables": false: the raw rule that fails is IPv4's (--iptables stays at its default, true),
# and ip6tables makes 58 of the 140 iptables calls of a start, each an exec under TCG. Its
# directories and log are vm_dockerd_start's, so vm_docker and vm_dockerd_stop serve it. Each
# has an xtables lock of its own: the tables are per netns, the default lock (/run/xtables.lock)
# would make two dockerds starting side by side take turns at their ~100 iptables calls.
raw_dockerd_launch() { # NAME NETNS [ENV...]
  local name=$1 ns=$2 dir
  shift 2
  dir=$(vm_docker_dir "$name")
  mkdir -p "$dir" "/var/lib/vm-docker-$name"
  echo '{"ip6tables": false}' >"$dir/daemon.json"
  setsid env PATH="$RAW_PATH" XTABLES_LOCKFILE="$dir/xtables.lock" "$@" nsenter --net="/run/netns/$ns" -- dockerd \
    --data-root "/var/lib/vm-docker-$name" --exec-root "$dir/exec" -H "unix://$dir/docker.sock" \
    --pidfile "$dir/dockerd.pid" --config-file "$dir/daemon.json" \
    </dev/null >>"$(vm_log "dockerd-$name")" 2>&1 &
  VM_DOCKERD_PID[$name]=$!
}
# Waits for dockerd's "API listen on" (it makes the socket early and serves it only then), by
# reading its log: a client every 0.2 s would take CPU from dockerd (TCG: two slow vCPUs).
raw_dockerd_wait() { # NAME
  local pid=${VM_DOCKERD_PID[$1]} log
  log=$(vm_log "dockerd-$1")
  if ! vm_wait 180 "grep -q 'API listen on' '$log' || ! kill -0 $pid 2>/dev/null" ||
    ! kill -0 "$pid" 2>/dev/null; then
    vm_fail "dockerd-$1" "not serving its API within 180 s, or it ended: $(tail -n 3 "$log")"
    return 1
  fi
}

# doctor --json in NETNS against dockerd NAME: its whole report goes to logs/NAME-doctor.json,
# its iptables-raw check, with doctor's exit status added as "exit", to /run/raw-NAME.check.
doctor_raw() { # NAME NETNS
  local out rc=0
  out=$VM_RESULTS/logs/$1-doctor.json
  vm_in "$2" env PATH="$RAW_PATH" dind-netcfg doctor --json --docker-socket "$(vm_docker_sock "$1")" \
    --daemon-json "$(vm_docker_dir "$1")/daemon.json" >"$out" 2>"$(vm_log "$1-doctor")" || rc=$?
  jq -c --arg rc "$rc" '(.checks[] | select(.id == "iptables-raw")) + {exit: $rc}' "$out" \
    >"/run/raw-$1.check" 2>/dev/null || echo '{}' >"/run/raw-$1.check"
}

# The busybox image into dockerd NAME (its tar exists since scenario 3), then a nested `docker
# run` on the default bridge: its output and then its exit status go to /run/raw-NAME.run and
# .rc (the status of the import when that failed).
raw_nested() { # NAME
  local rc=0
  if ! PATH=$RAW_PATH vm_busybox_image "$1" >"/run/raw-$1.run" 2>&1; then
    echo "import failed" >"/run/raw-$1.rc"
    return
  fi
  PATH=$RAW_PATH vm_docker "$1" run --rm "$VM_IMAGE" sh -c 'echo started' >"/run/raw-$1.run" 2>&1 || rc=$?
  echo "$rc" >"/run/raw-$1.rc"
}

# The fields of a doctor_raw check the scenario judges, one per line: status, exit, fix, backend
# (without its source), summary.
raw_fields() { # NAME
  jq -r '.status, .exit, .fix, (.observed.backend // "none" | sub(" \\(GET /info.*"; "")),
    .summary' "/run/raw-$1.check" 2>/dev/null
}

# dockerd >= 28 of the release with the legacy raw table withheld: what doctor predicts and what
# a nested container on the default bridge then does, without the opt-out (dockerd raw28, netns
# rawns) and with DOCKER_INSECURE_NO_IPTABLES_RAW=1 (raw28i, rawins). Both dockerds run side by
# side: each takes ~30 s to start under TCG.
scenario_raw() {
  local legacy=/run/raw-legacy-bin start phase rc err pair ns
  echo "==> 4. iptable_raw withheld: dockerd of $(paste -sd ' ' "$RELEASE/versions" 2>/dev/null)"
  if [[ ! -x $RELEASE/bin/dockerd ]]; then
    vm_fail raw-release "no $RELEASE/bin/dockerd: boot this group with run_group.sh --release DIR (ctest: dind_add_vm_group RELEASE)"
    return 0
  fi
  withheld raw-withheld iptable_raw || return 0
  withheld raw6-withheld ip6table_raw || true
  check_eq raw-not-registered absent \
    "$(vm_in pod grep -qx raw /proc/net/ip_tables_names && echo present || echo absent)" \
    "raw in the pod's /proc/net/ip_tables_names after scenario 3 ($(vm_in pod paste -sd ' ' /proc/net/ip_tables_names))"
  for ns in rawns rawins; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
  # iptables-legacy first on dockerd's PATH (the VM's alternatives say nft), as docker:dind's
  # legacy choice does; then the release.
  mkdir -p "$legacy"
  for pair in iptables:iptables-legacy iptables-save:iptables-legacy-save \
    iptables-restore:iptables-legacy-restore ip6tables:ip6tables-legacy \
    ip6tables-save:ip6tables-legacy-save ip6tables-restore:ip6tables-legacy-restore; do
    ln -sf "/usr/sbin/${pair#*:}" "$legacy/${pair%%:*}"
  done
  RAW_PATH=$legacy:$RELEASE/bin:$PATH

  start=$(vm_now_ms)
  raw_dockerd_launch raw28 rawns
  raw_dockerd_launch raw28i rawins DOCKER_INSECURE_NO_IPTABLES_RAW=1
  raw_dockerd_wait raw28 || return 0
  raw_dockerd_wait raw28i || return 0
  vm_info "both dockerds serve their API after $(ms_since "$start") ms"
  # Side by side: doctor against each, and the image into each followed by a nested run.
  phase=$(vm_now_ms)
  local pids=() status doc_exit fix backend summary
  doctor_raw raw28 rawns &
  pids+=($!)
  doctor_raw raw28i rawins &
  pids+=($!)
  raw_nested raw28 &
  pids+=($!)
  raw_nested raw28i &
  pids+=($!)
  wait "${pids[@]}" || true # not a bare wait: the dockerds are children too; results are in files
  vm_info "doctor, image import and nested run against both in $(ms_since "$phase") ms"

  echo "==> 4a. without the opt-out: doctor's prediction, then what dockerd did"
  vm_info "doctor: $(cat /run/raw-raw28.check)"
  { read -r status && read -r doc_exit && read -r fix && read -r backend && read -r summary; } \
    < <(raw_fields raw28) || true
  check_eq raw-doctor-fail fail "$status" "doctor's iptables-raw ($summary)"
  check_eq raw-doctor-exit 1 "$doc_exit" "doctor's exit status (a check failed)"
  check_eq raw-doctor-backend "firewall backend iptables" "$backend" \
    "the backend doctor read from dockerd's /info FirewallBackend.Driver"
  # The three ways out: the module, the nftables backend, the insecure opt-out.
  if [[ $fix == *"modprobe iptable_raw"* && $fix == *"firewall-backend"* &&
    $fix == *"DOCKER_INSECURE_NO_IPTABLES_RAW=1"* ]]; then
    vm_ok raw-doctor-fix "$fix"
  else
    vm_fail raw-doctor-fix "the fix does not name modprobe iptable_raw, firewall-backend and DOCKER_INSECURE_NO_IPTABLES_RAW=1: $fix"
  fi
  check_eq raw-doctor-cause yes "$([[ $summary == *"module_blacklist="*iptable_raw* ]] && echo yes || echo no)" \
    "doctor names what withholds the module (module_blacklist= on /proc/cmdline) in its summary"
  rc=$(cat /run/raw-raw28.rc)
  err=$(tr '\n' ' ' </run/raw-raw28.run)
  if [[ $rc =~ ^[1-9][0-9]*$ ]]; then
    vm_ok raw-run-fails "nested docker run on the default bridge exits $rc"
  else
    vm_fail raw-run-fails "nested docker run on the default bridge: '$rc' (doctor said it would fail): $err"
  fi
  # The phrase doctor's summary quotes must be dockerd's own.
  if [[ $err == *"Unable to enable DIRECT ACCESS FILTERING - DROP rule"* &&
    $err == *"can't initialize iptables table \`raw'"* ]]; then
    vm_ok raw-run-error "dockerd says what doctor predicted: $err"
  else
    vm_fail raw-run-error "dockerd's error does not match doctor's prediction: $err"
  fi

  echo "==> 4b. with DOCKER_INSECURE_NO_IPTABLES_RAW=1 in dockerd's environment"
  vm_info "doctor: $(cat /run/raw-raw28i.check)"
  { read -r status && read -r doc_exit && read -r fix && read -r backend && read -r summary; } \
    < <(raw_fields raw28i) || true
  check_eq raw-insecure-doctor-warn warn "$status" "doctor's iptables-raw ($summary)"
  check_eq raw-insecure-run "0 started" "$(cat /run/raw-raw28i.rc) $(tr -d '\n' </run/raw-raw28i.run)" \
    "nested docker run's exit status and output with the opt-out"
  check_eq raw-insecure-still-absent absent \
    "$(vm_in rawins grep -qx raw /proc/net/ip_tables_names && echo present || echo absent)" \
    "raw in rawins's /proc/net/ip_tables_names ($(vm_in rawins paste -sd ' ' /proc/net/ip_tables_names))"
  kill -TERM "${VM_DOCKERD_PID[raw28]}" "${VM_DOCKERD_PID[raw28i]}" 2>/dev/null || true # both at once
  vm_dockerd_stop raw28
  vm_dockerd_stop raw28i
}

boot_start=$(vm_uptime)
case " $cmdline " in
*" module_blacklist="*ip_tables*)
  withheld legacy-withheld ip_tables || true
  withheld legacy6-withheld ip6_tables || true
  router_iptables true # the router's frag-needed drop waits until nf_tables may load
  PATH=$SHIM:$PATH vm_topology 1400
  vm_serve_file || exit 1
  start=$(vm_now_ms)
  scenario_neither
  vm_info "neither: $(ms_since "$start") ms"
  # In nft's own words: iptables-nft's `-p icmp --icmp-type` is the xt icmp match, which lives
  # in ip_tables.ko ("Extension icmp revision 0 not supported") and is withheld here.
  vm_in router nft 'add table ip router; add chain ip router out { type filter hook output priority 0; };
    add rule ip router out icmp type destination-unreachable icmp code frag-needed drop' ||
    vm_fail router-rule "nft could not add the router's frag-needed drop"
  start=$(vm_now_ms)
  scenario_only nft legacy "not run"
  vm_info "only nft: $(ms_since "$start") ms"
  ;;
*" module_blacklist="*nf_tables*)
  withheld nft-withheld nf_tables || true
  router_iptables iptables-legacy
  PATH=$SHIM:$PATH vm_topology 1400
  vm_serve_file || exit 1
  start=$(vm_now_ms)
  scenario_only legacy nft failed
  vm_info "only legacy: $(ms_since "$start") ms"
  if [[ " $cmdline " == *" module_blacklist="*iptable_raw* ]]; then
    start=$(vm_now_ms)
    scenario_raw
    vm_info "raw withheld under dockerd >= 28: $(ms_since "$start") ms"
  fi
  ;;
*)
  vm_fail backends-boot "no module_blacklist= naming ip_tables or nf_tables in /proc/cmdline: $cmdline"
  ;;
esac
vm_ok backends-time "scenarios ran from ${boot_start}s to $(vm_uptime)s of the VM's uptime"
