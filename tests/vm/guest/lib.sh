# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Guest-side helpers for VM scenarios (tests/vm/run_group.sh copies this to /vm/lib.sh).
#   source /vm/lib.sh
#   vm_topology 1400              pod --(1400)-- router (drops frag-needed) --(1500)-- server
#   vm_serve_file                 1 MiB at $VM_SERVER_IP:$VM_PORT (nc), $VM_PAYLOAD_BYTES long
#   vm_dockerd_start NAME NETNS [CONFIG]   a dockerd of its own (data-root /var/lib/vm-docker-NAME)
#   vm_docker NAME ARGS...        its client;  vm_busybox_image NAME  imports $VM_IMAGE into it
#   vm_dockerd_stop NAME          SIGTERM, waits for dockerd and its containerd
#   vm_ok NAME DETAIL / vm_fail NAME DETAIL   result lines in $VM_RESULTS/results.txt
#   vm_log NAME                   path of a scenario's log ($VM_RESULTS/logs/NAME.log)
# Everything lives in the VM, which is thrown away: no cleanup is needed between groups, but a
# scenario that starts something should stop it before the next one (vm_dockerd_stop, vm_bg_stop).

VM_RESULTS=${VM_RESULTS:-/vm/results}
VM_IMAGE=vm-busybox:latest
VM_SERVER_IP=10.231.2.2
VM_POD_IP=10.231.1.2
VM_PORT=8080
VM_PAYLOAD_BYTES=1048576
declare -A VM_DOCKERD_PID=()
declare -A VM_BG_PID=()
mkdir -p "$VM_RESULTS/logs"

vm_ok() { # NAME DETAIL
  printf 'ok - %s: %s\n' "$1" "${2:-}" | tee -a "$VM_RESULTS/results.txt"
}
vm_fail() { # NAME DETAIL
  printf 'not ok - %s: %s\n' "$1" "${2:-}" | tee -a "$VM_RESULTS/results.txt"
}
vm_log() { printf '%s/logs/%s.log' "$VM_RESULTS" "$1"; } # NAME
vm_info() { printf '    %s\n' "$*"; }
vm_uptime() { cut -d' ' -f1 /proc/uptime; }
vm_now_ms() { printf '%s' $((${EPOCHREALTIME/./} / 1000)); }

# Checks: each prints one ok/not ok line and returns 0/1, so a scenario can go on or stop.
vm_check_eq() { # NAME EXPECTED ACTUAL [WHAT]
  if [[ "$2" == "$3" ]]; then
    vm_ok "$1" "${4:+$4 }= $3"
  else
    vm_fail "$1" "${4:+$4: }expected '$2', got '$3'"
    return 1
  fi
}
vm_check_le() { # NAME LIMIT ACTUAL [WHAT]
  if [[ "$3" =~ ^[0-9]+$ ]] && (($3 <= $2)); then
    vm_ok "$1" "${4:+$4 }$3 <= $2"
  else
    vm_fail "$1" "${4:+$4: }expected an integer <= $2, got '$3'"
    return 1
  fi
}

# Polls CONDITION (a bash expression) every 0.2 s for up to SECONDS; 1 at the deadline.
vm_wait() { # SECONDS CONDITION
  local deadline=$(($(vm_now_ms) + $1 * 1000))
  until eval "$2"; do
    (($(vm_now_ms) < deadline)) || return 1
    sleep 0.2
  done
}

# --- namespaces ----------------------------------------------------------------------------

vm_in() { # NETNS CMD...
  local ns=$1
  shift
  nsenter --net="/run/netns/$ns" -- "$@"
}

vm_veth() { # NS_A IF_A NS_B IF_B MTU
  ip link add "vmtmp$$a" mtu "$5" type veth peer name "vmtmp$$b" mtu "$5"
  ip link set "vmtmp$$a" netns "$1"
  ip link set "vmtmp$$b" netns "$3"
  ip -n "$1" link set "vmtmp$$a" name "$2" up
  ip -n "$3" link set "vmtmp$$b" name "$4" up
}

# The sandbox pod behind a PMTU black hole:
#   [pod]--eth0 (POD_MTU)--[router]--(1500)--[server]
# The router forwards and drops the ICMP "fragmentation needed" it would send, as broken cloud
# paths do; offloads are off, so only a right MTU gets a full-size transfer through. Addresses:
# pod 10.231.1.2, router 10.231.1.1 / 10.231.2.1, server 10.231.2.2.
vm_topology() { # [POD_MTU]
  local mtu=${1:-1400} ns link
  for ns in pod router server; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done
  vm_veth pod eth0 router to-pod "$mtu"
  vm_veth router to-server server eth0 1500
  ip -n pod addr add "$VM_POD_IP/24" dev eth0
  ip -n router addr add 10.231.1.1/24 dev to-pod
  ip -n router addr add 10.231.2.1/24 dev to-server
  ip -n server addr add "$VM_SERVER_IP/24" dev eth0
  ip -n pod route add default via 10.231.1.1
  ip -n server route add default via 10.231.2.1
  vm_in router sysctl -q -w net.ipv4.ip_forward=1
  vm_in server sysctl -q -w net.ipv4.ip_no_pmtu_disc=0 net.ipv4.tcp_mtu_probing=0
  for link in pod:eth0 router:to-pod router:to-server server:eth0; do
    vm_in "${link%%:*}" ethtool -K "${link#*:}" tso off gso off gro off >/dev/null 2>&1 || true
  done
  vm_in router iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
  vm_info "pod --($mtu)-- router (drops the frag-needed it sends) --(1500)-- server"
}

# 1 MiB of random bytes served by busybox nc to every connection on $VM_SERVER_IP:$VM_PORT.
vm_serve_file() {
  head -c "$VM_PAYLOAD_BYTES" /dev/urandom >/tmp/vm-payload
  vm_bg_start server-nc server busybox nc -ll -p "$VM_PORT" -e busybox cat /tmp/vm-payload
  vm_wait 10 "vm_in server ss -Hltn 'sport = :$VM_PORT' | grep -q LISTEN" ||
    { vm_fail setup "the server's nc never listened on $VM_PORT"; return 1; }
}

vm_bg_start() { # LABEL NETNS CMD...
  local label=$1 ns=$2
  shift 2
  setsid nsenter --net="/run/netns/$ns" -- "$@" </dev/null >"$(vm_log "$label")" 2>&1 &
  VM_BG_PID[$label]=$!
}
vm_bg_stop() { # LABEL
  local pid=${VM_BG_PID[$1]:-}
  [[ -n $pid ]] || return 0
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "VM_BG_PID[$1]"
}

# --- dockerd -------------------------------------------------------------------------------

vm_docker_dir() { printf '/run/vm-docker-%s' "$1"; }
vm_docker_sock() { printf '%s/docker.sock' "$(vm_docker_dir "$1")"; }
vm_docker() { # NAME ARGS...
  local name=$1
  shift
  docker -H "unix://$(vm_docker_sock "$name")" "$@"
}

# dockerd in NETNS with CONFIG (default {}), data-root /var/lib/vm-docker-NAME (on the VM's
# disk, where overlayfs works), exec-root and socket under /run/vm-docker-NAME, its log in
# vm_log dockerd-NAME. Waits until it answers (TIMEOUT, default 120 s: TCG is slow).
vm_dockerd_start() { # NAME NETNS [CONFIG] [TIMEOUT_S]
  local name=$1 ns=$2 config=${3:-} timeout_s=${4:-120} dir
  dir=$(vm_docker_dir "$name")
  mkdir -p "$dir" "/var/lib/vm-docker-$name"
  if [[ -z $config ]]; then
    config=$dir/daemon.json
    echo '{}' >"$config"
  fi
  setsid nsenter --net="/run/netns/$ns" -- dockerd --data-root "/var/lib/vm-docker-$name" \
    --exec-root "$dir/exec" -H "unix://$dir/docker.sock" --pidfile "$dir/dockerd.pid" \
    --config-file "$config" </dev/null >>"$(vm_log "dockerd-$name")" 2>&1 &
  VM_DOCKERD_PID[$name]=$!
  if ! vm_wait "$timeout_s" "vm_docker '$name' version >/dev/null 2>&1 || ! kill -0 ${VM_DOCKERD_PID[$name]} 2>/dev/null"; then
    vm_fail "dockerd-$name" "did not answer within ${timeout_s}s; see logs/dockerd-$name.log"
    return 1
  fi
  kill -0 "${VM_DOCKERD_PID[$name]}" 2>/dev/null ||
    { vm_fail "dockerd-$name" "exited during startup: $(tail -n 3 "$(vm_log "dockerd-$name")")"; return 1; }
}

vm_dockerd_stop() { # NAME
  local name=$1 pid containerd_pid=""
  pid=${VM_DOCKERD_PID[$name]:-}
  [[ -n $pid ]] || return 0
  containerd_pid=$(cat "$(vm_docker_dir "$name")/exec/containerd/containerd.pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  vm_wait 30 "! kill -0 $pid 2>/dev/null" || kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [[ -n $containerd_pid ]]; then
    vm_wait 20 "! kill -0 $containerd_pid 2>/dev/null" || kill -KILL "$containerd_pid" 2>/dev/null || true
  fi
  unset "VM_DOCKERD_PID[$name]"
}

# A root file system of static busybox and its applet links, as a tar (no registry here).
vm_busybox_tar() { # prints its path
  local root=/tmp/vm-busybox applet
  if [[ ! -f $root.tar ]]; then
    mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(busybox --list); do
      [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
    done
    echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    tar -C "$root" -cf "$root.tar" .
  fi
  printf '%s' "$root.tar"
}
vm_busybox_image() { # NAME: imports $VM_IMAGE into that dockerd
  vm_docker "$1" import --change 'ENV PATH=/bin' "$(vm_busybox_tar)" "$VM_IMAGE" >/dev/null
}
