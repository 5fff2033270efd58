# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared helpers for end-to-end tests that drive a real dockerd inside network namespaces.
#
# Usage from a test script:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   e2e_init                      # root check, temp dir, cleanup trap
#   e2e_ns_add pod                # namespaces are referred to by short names everywhere
#   e2e_veth pod eth0 router to-pod 1400
#   start_dockerd pod "$config"   # config may be "" for dockerd's defaults
#   docker_in pod run --rm dnc-busybox:e2e true
#
# Everything created here (namespaces, dockerd + its containerd and shims, background
# processes, mounts, the temp dir) is undone by e2e_cleanup, which runs on EXIT also when the
# test fails or is interrupted. Nothing is ever created in the machine's own namespace: links
# are created inside a test namespace and moved only between test namespaces.

DOCKER_CLI=/usr/bin/docker # Debian's 20.10 client; /usr/local/bin/docker is a newer one.
# E2E_DOCKER_RELEASE=DIR runs another Docker release, unpacked into DIR by
# tests/releases/fetch_release.sh: its dockerd, containerd, shim, docker-proxy and client come
# first on PATH (runc and docker-init stay the machine's). e2e_init checks and prints them.
if [[ -n "${E2E_DOCKER_RELEASE:-}" ]]; then
  PATH="$E2E_DOCKER_RELEASE/usr/bin:$E2E_DOCKER_RELEASE/usr/sbin:$PATH"
  DOCKER_CLI=$E2E_DOCKER_RELEASE/usr/bin/docker
  export PATH
fi
E2E_IMAGE=dnc-busybox:e2e
E2E_TMP=""
E2E_PREFIX="dnce2e$$"
declare -a E2E_CLEANUPS=()    # commands run in reverse order on exit
declare -a E2E_NAMESPACES=()  # short names, in creation order
declare -A E2E_DOCKERD_PID=() # short ns name -> dockerd pid
declare -A E2E_BG_PGID=()     # label -> process group of a background helper
declare -A E2E_DOCKERD_CLEANUP_REGISTERED=()
# Put before dockerd's nsenter by start_dockerd, e.g. an `unshare -m ...` that gives dockerd a
# mount namespace of its own (dns_e2e_test.sh); it must exec its arguments. Empty: none.
declare -a E2E_DOCKERD_WRAP=()

# --- output and assertions -----------------------------------------------------------------

e2e_step() { printf '\n==> %s [%d s]\n' "$*" "$SECONDS"; } # seconds since the test started
e2e_info() { printf '    %s\n' "$*"; }
e2e_pass() { printf '    ok: %s\n' "$*"; }

# Ends the test: the EXIT trap cleans up and prints diagnostics.
e2e_fail() {
  printf '    FAIL: %s\n' "$*" >&2
  exit 1
}

assert_eq() { # EXPECTED ACTUAL WHAT
  if [[ "$1" == "$2" ]]; then
    e2e_pass "$3 (= $2)"
  else
    e2e_fail "$3: expected '$1', got '$2'"
  fi
}

assert_ne() { # UNEXPECTED ACTUAL WHAT
  if [[ "$1" != "$2" ]]; then
    e2e_pass "$3 (got '$2', not '$1')"
  else
    e2e_fail "$3: got '$2', which it must not be"
  fi
}

assert_le() { # LIMIT ACTUAL WHAT: ACTUAL <= LIMIT, both integers
  if [[ "$2" =~ ^[0-9]+$ ]] && (("$2" <= "$1")); then
    e2e_pass "$3 ($2 <= $1)"
  else
    e2e_fail "$3: expected an integer <= $1, got '$2'"
  fi
}

assert_gt() { # LIMIT ACTUAL WHAT: ACTUAL > LIMIT, both integers
  if [[ "$2" =~ ^[0-9]+$ ]] && (("$2" > "$1")); then
    e2e_pass "$3 ($2 > $1)"
  else
    e2e_fail "$3: expected an integer > $1, got '$2'"
  fi
}

# Runs CMD; fails the test with its output if it exits non-zero.
assert_succeeds() { # WHAT CMD...
  local what=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if ((rc == 0)); then
    e2e_pass "$what"
  else
    e2e_fail "$what: '$*' exited $rc; output:"$'\n'"$out"
  fi
}

# Runs CMD; fails the test if it exits zero.
assert_fails() { # WHAT CMD...
  local what=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if ((rc != 0)); then
    e2e_pass "$what (exit $rc)"
  else
    e2e_fail "$what: '$*' succeeded but must fail; output:"$'\n'"$out"
  fi
}

e2e_require_cmd() { # CMD... (fails listing the missing ones)
  local missing=() c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  ((${#missing[@]} == 0)) || e2e_fail "missing commands: ${missing[*]} (install them and rerun)"
}

# --- lifecycle -----------------------------------------------------------------------------

# A run killed with SIGKILL (a CI job cancelled, a harness that kills its process group) never
# reaches its EXIT trap: its namespaces, dockerd and temp dir stay. Whatever a run whose shell
# is gone left behind is undone here, before the next run starts; live runs are not touched.
e2e_sweep_killed_runs() {
  local name pid dir
  for name in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
    [[ $name =~ ^dnce2e([0-9]+)- ]] || continue
    pid=${BASH_REMATCH[1]}
    [[ -d /proc/$pid ]] && continue
    ip netns del "$name" 2>/dev/null && e2e_info "removed namespace $name of a killed run"
  done
  for dir in /tmp/dnc-e2e.*; do
    [[ -f "$dir/owner.pid" ]] || continue
    pid=$(<"$dir/owner.pid")
    [[ -d /proc/$pid ]] && continue
    e2e_kill_referencing "$dir/" # its dockerd, containerd and shims
    sleep 0.5
    e2e_unmount_under "$dir"
    rm -rf --one-file-system "$dir"
    e2e_info "removed $dir and its processes, left by a killed run"
  done
  return 0
}

# Must be called first: checks privileges and tools, makes the temp dir, installs the traps.
e2e_init() {
  set -euo pipefail
  if ((EUID != 0)); then
    echo "FAIL: this test needs root (it creates network namespaces and runs dockerd)" >&2
    exit 1
  fi
  e2e_require_cmd ip nsenter setsid dockerd "$DOCKER_CLI" iptables timeout tar
  e2e_print_docker_release
  if [[ ! -x /bin/busybox ]] || ! file_is_static /bin/busybox; then
    e2e_fail "/bin/busybox must be the static busybox (apt-get install busybox-static)"
  fi
  e2e_sweep_killed_runs
  E2E_TMP=$(mktemp -d /tmp/dnc-e2e.XXXXXX)
  echo "$$" >"$E2E_TMP/owner.pid"
  trap e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  e2e_info "temp dir $E2E_TMP, namespace prefix $E2E_PREFIX"
}

# Says which dockerd and containerd this test runs (the first on PATH), so a run's log shows the
# release it proved; with E2E_DOCKER_RELEASE, fails unless they are that release's.
e2e_print_docker_release() {
  local bin
  if [[ -n "${E2E_DOCKER_RELEASE:-}" ]]; then
    for bin in usr/sbin/dockerd usr/bin/containerd usr/bin/containerd-shim-runc-v2 usr/bin/docker; do
      [[ -x "$E2E_DOCKER_RELEASE/$bin" ]] || e2e_fail "E2E_DOCKER_RELEASE=$E2E_DOCKER_RELEASE has no" \
        "$bin: unpack a release there first (tests/releases/fetch_release.sh SUITE DIR)"
    done
    [[ "$(command -v dockerd)" == "$E2E_DOCKER_RELEASE/usr/sbin/dockerd" ]] ||
      e2e_fail "dockerd on PATH is $(command -v dockerd), not the release's in $E2E_DOCKER_RELEASE"
    e2e_info "Docker release from $E2E_DOCKER_RELEASE ($(paste -sd ' ' "$E2E_DOCKER_RELEASE/.versions" 2>/dev/null || echo "versions not recorded"))"
  fi
  e2e_info "dockerd: $(command -v dockerd): $(dockerd --version 2>&1)"
  e2e_info "containerd: $(command -v containerd): $(containerd --version 2>&1)"
  e2e_info "docker client: $DOCKER_CLI: $("$DOCKER_CLI" --version 2>&1)"
}

# Exits 2 with the usage when no dind-netcfg binary was given, 1 when it is not executable.
e2e_require_binary() { # PATH
  if [[ -z "$1" ]]; then
    echo "usage: $0 /path/to/dind-netcfg" >&2
    exit 2
  fi
  if [[ ! -x "$1" ]]; then
    echo "FAIL: dind-netcfg binary '$1' is missing or not executable;" \
      "build it first: cmake --build <build-dir> --target dind-netcfg" >&2
    exit 1
  fi
}

file_is_static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }

# Registers CMD (a string evaluated at exit) to undo something just created.
e2e_on_cleanup() { E2E_CLEANUPS+=("$1"); }

e2e_cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM HUP
  trap '' PIPE # a closed stdout (e.g. `| head`) must not abort the cleanup
  if ((rc != 0)); then
    e2e_dump_diagnostics
  fi
  printf '\n==> cleanup\n'
  local i
  for ((i = ${#E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${E2E_CLEANUPS[i]}"
  done
  if [[ -n "$E2E_TMP" && -d "$E2E_TMP" ]]; then
    e2e_kill_referencing "$E2E_TMP/" # safety net for anything the steps above missed
    e2e_unmount_under "$E2E_TMP"
    rm -rf --one-file-system "$E2E_TMP"
  fi
  e2e_info "cleanup done"
  exit "$rc"
}

e2e_dump_diagnostics() {
  local ns log
  for ns in "${!E2E_DOCKERD_PID[@]}"; do
    log=$(e2e_dockerd_dir "$ns")/dockerd.log
    [[ -f "$log" ]] || continue
    printf '\n--- last 40 lines of dockerd log in namespace %s ---\n' "$ns" >&2
    grep -v "module=grpc" "$log" | tail -n 40 >&2
  done
  for log in "$E2E_TMP"/*.log; do
    [[ -f "$log" ]] || continue
    printf '\n--- last 30 lines of %s ---\n' "${log##*/}" >&2
    tail -n 30 "$log" >&2
  done
  for ns in "${E2E_NAMESPACES[@]}"; do
    printf '\n--- namespace %s: links and routes ---\n' "$ns" >&2
    ip -n "$(e2e_ns_name "$ns")" -o link show >&2 2>&1
    ip -n "$(e2e_ns_name "$ns")" route show >&2 2>&1
  done
}

# Unmounts (lazily, deepest first) anything mounted below DIR, e.g. overlay layers and netns
# bind mounts a killed dockerd left behind; rm -rf must never walk into a live mount.
e2e_unmount_under() {
  local dir=$1 mnt
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r mnt; do
      umount -l "$mnt" 2>/dev/null
    done
}

# Kills every process whose command line names PATH (our unique temp dir), by pid. Used for
# containerd shims, which outlive a dockerd that was killed instead of stopped.
e2e_kill_referencing() { # PATH
  local entry pid cmdline
  for entry in /proc/[0-9]*; do
    pid=${entry#/proc/}
    [[ $pid == "$$" ]] && continue
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
    if [[ "$cmdline" == *"$1"* ]]; then
      kill -KILL "$pid" 2>/dev/null
    fi
  done
}

# --- namespaces and links ------------------------------------------------------------------

e2e_ns_name() { printf '%s-%s' "$E2E_PREFIX" "$1"; }
e2e_ns_path() { printf '/var/run/netns/%s' "$(e2e_ns_name "$1")"; }

# Runs CMD inside namespace NS. nsenter (not `ip netns exec`) keeps the real /sys and cgroup
# mounts visible, which dockerd needs. Note /sys/class/net still shows the machine's
# namespace: query links with `ip` (netlink), never /sys.
e2e_in() { # NS CMD...
  local ns=$1
  shift
  nsenter --net="$(e2e_ns_path "$ns")" -- "$@"
}

e2e_ns_add() { # NS
  local name
  name=$(e2e_ns_name "$1")
  ip netns add "$name" || e2e_fail "could not create namespace $name"
  E2E_NAMESPACES+=("$1")
  e2e_on_cleanup "ip netns del '$name' 2>/dev/null"
  ip -n "$name" link set lo up
}

# Creates a veth pair between two test namespaces, both ends with MTU, both up.
e2e_veth() { # NS_A IF_A NS_B IF_B MTU
  local a b
  a=$(e2e_ns_name "$1")
  b=$(e2e_ns_name "$3")
  ip -n "$a" link add "$2" mtu "$5" type veth peer name "$4" mtu "$5" netns "$b" ||
    e2e_fail "could not create veth $1/$2 <-> $3/$4"
  ip -n "$a" link set "$2" up
  ip -n "$b" link set "$4" up
}

e2e_addr() { ip -n "$(e2e_ns_name "$1")" addr add "$3" dev "$2"; }                  # NS IF CIDR
e2e_addr6() { ip -n "$(e2e_ns_name "$1")" addr add "$3" dev "$2" nodad; }      # NS IF CIDR (no DAD wait)
e2e_route() { local ns=$1; shift; ip -n "$(e2e_ns_name "$ns")" route add "$@"; }     # NS ROUTE...
e2e_sysctl() { e2e_in "$1" sysctl -q -w "$2" >/dev/null || e2e_fail "sysctl $2 in $1"; } # NS K=V

# MTU of a link as the namespace's netlink reports it (empty if the link does not exist).
e2e_link_mtu() { # NS IF
  ip -n "$(e2e_ns_name "$1")" -o link show dev "$2" 2>/dev/null |
    sed -n 's/.* mtu \([0-9]*\) .*/\1/p'
}

# Turns off segmentation/receive offloads, which would let oversized super-segments cross a
# link and hide MTU problems. Requires ethtool (apt-get install ethtool).
e2e_offloads_off() { # NS IF
  e2e_in "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 ||
    e2e_fail "ethtool -K $2 in namespace $1 failed"
}

# Microseconds on the wall clock. Deadlines use it, not bash's SECONDS: SECONDS counts whole
# seconds, so "SECONDS + 1" can expire a moment after it is taken.
e2e_now_us() { printf '%s' "${EPOCHREALTIME/./}"; }
e2e_deadline() { printf '%s' $(($(e2e_now_us) + $1 * 1000000)); } # SECONDS
e2e_before() { (($(e2e_now_us) < $1)); }                          # DEADLINE

# Waits up to SECONDS for CONDITION (bash, evaluated afresh each time) to hold.
wait_until() { # SECONDS WHAT CONDITION
  local seconds=$1 what=$2 condition=$3 deadline
  deadline=$(e2e_deadline "$seconds")
  until eval "$condition" >/dev/null 2>&1; do
    e2e_before "$deadline" || e2e_fail "$what: not within ${seconds}s"
    sleep 0.05
  done
  e2e_pass "$what"
}

# A dual-stack sandbox pod:
#   [pod]--eth0 (POD_MTU)--[router]--(1500)--[server]
# Addresses: pod NET.1.2 and V6:1::2, router NET.1.1, V6:1::1, NET.2.1 and V6:2::1, server NET.2.2
# and V6:2::2; the router forwards both families. The server answers TOKEN on PORT over both
# (busybox nc listens on a dual-stack socket). The pod's forwarding stays as a new namespace
# has it (off): dockerd turns on what its daemon.json needs.
e2e_dual_stack_topology() { # POD_MTU NET (two octets, e.g. 10.231) V6 (e.g. 2001:db8:31) TOKEN PORT
  local pod_mtu=$1 net=$2 v6=$3 token=$4 port=$5
  e2e_ns_add pod
  e2e_ns_add router
  e2e_ns_add server
  e2e_veth pod eth0 router to-pod "$pod_mtu"
  e2e_veth router to-server server eth0 1500
  e2e_addr pod eth0 "$net.1.2/24"
  e2e_addr router to-pod "$net.1.1/24"
  e2e_addr router to-server "$net.2.1/24"
  e2e_addr server eth0 "$net.2.2/24"
  e2e_addr6 pod eth0 "$v6:1::2/64"
  e2e_addr6 router to-pod "$v6:1::1/64"
  e2e_addr6 router to-server "$v6:2::1/64"
  e2e_addr6 server eth0 "$v6:2::2/64"
  e2e_route pod default via "$net.1.1"
  e2e_route pod default via "$v6:1::1"
  e2e_route server default via "$net.2.1"
  e2e_route server default via "$v6:2::1"
  e2e_sysctl router net.ipv4.ip_forward=1
  e2e_sysctl router net.ipv6.conf.all.forwarding=1
  e2e_bg_start server-nc server /bin/busybox nc -ll -p "$port" -e /bin/busybox echo "$token"
  wait_until 5 "the server listens" "e2e_in server ss -Hltn 'sport = :$port' | grep -q LISTEN"
}

# The sandbox pod behind a PMTU black hole:
#   [pod]--eth0 (POD_MTU)--[router]--(1500)--[server]
# The router forwards but drops the ICMP "fragmentation needed" it would send, as broken cloud
# paths do; the server keeps classic PMTU discovery (DF set, no MTU probing), and offloads are
# off on every veth, so only a right MTU gets a full-size transfer through. Addresses: pod
# NET.1.2, router NET.1.1 and NET.2.1, server NET.2.2.
e2e_blackhole_topology() { # POD_MTU NET (two octets, e.g. 10.231)
  local pod_mtu=$1 net=$2 link
  e2e_ns_add pod
  e2e_ns_add router
  e2e_ns_add server
  e2e_veth pod eth0 router to-pod "$pod_mtu"
  e2e_veth router to-server server eth0 1500
  e2e_addr pod eth0 "$net.1.2/24"
  e2e_addr router to-pod "$net.1.1/24"
  e2e_addr router to-server "$net.2.1/24"
  e2e_addr server eth0 "$net.2.2/24"
  e2e_route pod default via "$net.1.1"
  e2e_route server default via "$net.2.1"
  e2e_sysctl router net.ipv4.ip_forward=1
  e2e_sysctl server net.ipv4.ip_no_pmtu_disc=0
  e2e_sysctl server net.ipv4.tcp_mtu_probing=0
  for link in pod:eth0 router:to-pod router:to-server server:eth0; do
    e2e_offloads_off "${link%%:*}" "${link#*:}"
  done
  e2e_in router iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP ||
    e2e_fail "could not install the ICMP drop rule in the router namespace"
  e2e_info "pod --($pod_mtu)-- router --(1500)-- server; the router drops the frag-needed it sends"
}

# --- background helpers --------------------------------------------------------------------

# Starts CMD in NS in its own process group, so it and everything it forks can be ended
# together (e2e_bg_stop or cleanup).
e2e_bg_start() { # LABEL NS CMD...
  local label=$1 ns=$2 pid
  shift 2
  setsid nsenter --net="$(e2e_ns_path "$ns")" -- "$@" </dev/null >"$E2E_TMP/$label.log" 2>&1 &
  pid=$!
  E2E_BG_PGID[$label]=$pid
  e2e_on_cleanup "e2e_bg_stop '$label'"
}

e2e_bg_stop() { # LABEL
  local pgid=${E2E_BG_PGID[$1]:-}
  [[ -n "$pgid" ]] || return 0
  kill -KILL -- "-$pgid" 2>/dev/null || true # may have ended by itself
  wait "$pgid" 2>/dev/null || true # killed: its status is 137
  unset "E2E_BG_PGID[$1]"
  return 0
}

# --- dockerd -------------------------------------------------------------------------------

e2e_dockerd_dir() { printf '%s/dockerd-%s' "$E2E_TMP" "$1"; }
e2e_docker_sock() { printf '%s/docker.sock' "$(e2e_dockerd_dir "$1")"; }

# The docker client for the dockerd of namespace NS (it talks over a unix socket, so it runs
# from anywhere).
docker_in() { # NS DOCKER-ARGS...
  local ns=$1
  shift
  "$DOCKER_CLI" -H "unix://$(e2e_docker_sock "$ns")" "$@"
}

# What a fresh nested container of NS's dockerd reads from ADDRESS:PORT on NETWORK (`bridge` is
# the default one), whitespace removed; empty when it cannot connect (its error is in
# $E2E_TMP/fetch.err). TIMEOUT_S (default 20) bounds the whole `docker run`.
e2e_nested_fetch() { # NS NETWORK ADDRESS PORT [TIMEOUT_S]
  local name=dnc-e2e-fetch-$RANDOM out
  out=$(timeout -k 5 "${5:-20}" "$DOCKER_CLI" -H "unix://$(e2e_docker_sock "$1")" \
    run --rm --network "$2" --name "$name" "$E2E_IMAGE" \
    sh -c "nc -w 3 $3 $4 </dev/null" 2>"$E2E_TMP/fetch.err") || true
  docker_in "$1" rm -f "$name" >/dev/null 2>&1 || true
  printf '%s' "$(echo "$out" | tr -d '[:space:]')"
}

# Starts dockerd inside NS with CONFIG_FILE (empty: an empty config, so the machine's
# /etc/docker/daemon.json never leaks in) and waits until it answers. dockerd starts its own
# containerd under the exec-root, so nothing is shared with any other dockerd on the machine.
start_dockerd() { # NS [CONFIG_FILE] [TIMEOUT_S]
  local ns=$1 config=${2:-} timeout_s=${3:-60} dir pid waited=0
  dir=$(e2e_dockerd_dir "$ns")
  mkdir -p "$dir/data" "$dir/exec"
  if [[ -z "$config" ]]; then
    config=$dir/empty-daemon.json
    echo '{}' >"$config"
  fi
  [[ -r "$config" ]] || e2e_fail "dockerd config $config is not readable"
  if [[ -z "${E2E_DOCKERD_CLEANUP_REGISTERED[$ns]:-}" ]]; then
    e2e_on_cleanup "stop_dockerd '$ns' quiet; e2e_kill_referencing '$dir/'"
    E2E_DOCKERD_CLEANUP_REGISTERED[$ns]=1
  fi
  setsid "${E2E_DOCKERD_WRAP[@]}" nsenter --net="$(e2e_ns_path "$ns")" -- dockerd \
    --data-root "$dir/data" --exec-root "$dir/exec" -H "unix://$dir/docker.sock" \
    --pidfile "$dir/dockerd.pid" --config-file "$config" \
    </dev/null >>"$dir/dockerd.log" 2>&1 &
  pid=$!
  E2E_DOCKERD_PID[$ns]=$pid
  until docker_in "$ns" info >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      e2e_fail "dockerd in namespace $ns exited during startup; log tail:"$'\n'"$(tail -n 30 "$dir/dockerd.log")"
    fi
    if ((waited >= timeout_s * 2)); then
      e2e_fail "dockerd in namespace $ns did not answer 'docker info' within ${timeout_s}s; log tail:"$'\n'"$(tail -n 30 "$dir/dockerd.log")"
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  e2e_info "dockerd up in namespace $ns (pid $pid, config $config)"
}

# Stops the dockerd of NS and waits for its containerd (and shims) to exit, so the same
# directories can be reused. Escalates to SIGKILL after a grace period.
stop_dockerd() { # NS [quiet]
  local ns=$1 quiet=${2:-} dir pid containerd_pid="" i
  pid=${E2E_DOCKERD_PID[$ns]:-}
  [[ -n "$pid" ]] || return 0
  dir=$(e2e_dockerd_dir "$ns")
  [[ -f "$dir/exec/containerd/containerd.pid" ]] &&
    containerd_pid=$(<"$dir/exec/containerd/containerd.pid")
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    [[ -n "$quiet" ]] || e2e_info "dockerd in $ns ignored SIGTERM for 30s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  if [[ -n "$containerd_pid" ]]; then
    for ((i = 0; i < 40; i++)); do
      process_is "$containerd_pid" containerd || break
      sleep 0.5
    done
    if process_is "$containerd_pid" containerd; then
      [[ -n "$quiet" ]] || e2e_info "containerd ($containerd_pid) of $ns outlived dockerd; killing it"
      kill -KILL "$containerd_pid" 2>/dev/null
      sleep 0.5
    fi
  fi
  e2e_kill_referencing "$dir/"
  unset "E2E_DOCKERD_PID[$ns]"
  [[ -n "$quiet" ]] || e2e_info "dockerd in namespace $ns stopped (containerd exited)"
  return 0
}

# True if PID is alive and its command name starts with NAME (guards against pid reuse).
process_is() { # PID NAME
  local comm
  comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
  [[ "$comm" == "$2"* ]]
}

# Forgets dockerd's network state so the next start creates docker0 afresh from the config, as
# in a new pod: dockerd stores docker0's address and options under <data-root>/network and
# would otherwise reuse the existing bridge.
reset_dockerd_network() { # NS
  local ns=$1
  [[ -z "${E2E_DOCKERD_PID[$ns]:-}" ]] || e2e_fail "reset_dockerd_network: dockerd in $ns still running"
  rm -rf "$(e2e_dockerd_dir "$ns")/data/network"
  ip -n "$(e2e_ns_name "$ns")" link del docker0 2>/dev/null
  return 0
}

# A tiny root file system (static busybox plus applet links) as a tar: there is no registry,
# so images are `docker import`ed from it.
build_busybox_tar() { # prints the tar's path
  local root=$E2E_TMP/busybox-rootfs applet
  if [[ ! -f "$root.tar" ]]; then
    mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
    cp /bin/busybox "$root/bin/busybox"
    for applet in sh ash cat dd nc ip sleep wc head tail echo ls ps grep sed timeout true false \
      ifconfig ping sysctl cut tr; do
      ln -sf busybox "$root/bin/$applet"
    done
    echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    tar -C "$root" -cf "$root.tar" .
  fi
  printf '%s' "$root.tar"
}

# Imports that root file system as $E2E_IMAGE into the dockerd of NS.
build_busybox_image() { # NS
  local ns=$1
  docker_in "$ns" import --change 'ENV PATH=/bin' "$(build_busybox_tar)" "$E2E_IMAGE" >/dev/null ||
    e2e_fail "docker import of $E2E_IMAGE failed in namespace $ns"
  e2e_info "image $E2E_IMAGE imported into dockerd of namespace $ns"
}

# Prints "DOCKER0_MTU CONTAINER_ETH0_MTU" measured while one nested container is attached:
# dockerd 20.10 leaves a port-less docker0 at 1500 whatever its "mtu" setting; the bridge takes
# the configured MTU from the container's veth once one joins.
docker_bridge_mtus() { # NS
  local ns=$1 name=dnc-e2e-mtu-$RANDOM container_mtu bridge_mtu
  docker_in "$ns" run -d --name "$name" "$E2E_IMAGE" sleep 120 >/dev/null ||
    e2e_fail "could not start a probe container in namespace $ns"
  container_mtu=$(docker_in "$ns" exec "$name" cat /sys/class/net/eth0/mtu)
  bridge_mtu=$(e2e_link_mtu "$ns" docker0)
  docker_in "$ns" rm -f "$name" >/dev/null
  echo "${bridge_mtu:-none} ${container_mtu:-none}"
}

# The MTU option dockerd gave its default "bridge" network.
docker_network_mtu() { # NS
  docker_in "$1" network inspect bridge \
    --format '{{index .Options "com.docker.network.driver.mtu"}}'
}
