#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: a path-MTU black hole BEYOND the pod, healed by `run`'s MSS clamp, unattended.
#
#   [pod ns: dockerd, docker0, run]--eth0 (1500)--[r1]--(HOP_MTU)--[r2]--(1500)--[server: 1 MiB]
#
# Every MTU the pod can see is right (eth0 1500, docker MTU 1500), but a hop two routers away is
# smaller and both routers drop the ICMP "fragmentation needed" they would send, as a tunnel, a
# VPN or a cloud front door can. Nested TCP then stalls: the server's 1500-byte segments never
# pass the hop.
#   1. without dind-netcfg's clamp a nested 1 MiB download stalls (the test has teeth);
#   2. `run` with default flags (--clamp-mss auto) measures the hop with its path-MTU probe and
#      clamps nested TCP: the same download completes byte for byte within a few probe intervals;
#      /status, the metric and `rules check` show the clamp;
#   3. the hop's MTU is raised again: the clamp goes away by itself.
#
# Usage: pmtu_beyond_pod_test.sh /path/to/dind-netcfg   (root; docker.io, busybox-static, jq,
# curl, ethtool)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BINARY=${1:?usage: $0 /path/to/dind-netcfg}
readonly PAYLOAD_BYTES=1048576
readonly PORT=8080
readonly HOP_MTU=1360
readonly SERVER_IP=10.234.3.2
readonly LISTEN=127.0.0.1:9255
readonly STALL_TIMEOUT_S=${E2E_STALL_TIMEOUT_S:-8}
readonly DOWNLOAD_TIMEOUT_S=${E2E_DOWNLOAD_TIMEOUT_S:-20}

e2e_init
e2e_require_cmd jq curl ss ethtool

http_body() { e2e_in pod curl -s --max-time 3 "http://$LISTEN$1" || true; }
wait_for() { # SECONDS WHAT CONDITION (bash, evaluated afresh each time)
  local deadline
  deadline=$(e2e_deadline "$1")
  until eval "$3" >/dev/null 2>&1; do
    e2e_before "$deadline" ||
      e2e_fail "$2: not within $1s; /status clamp: $(http_body /status | jq -c .clamp)"
    sleep 0.2
  done
  e2e_pass "$2"
}

# Bytes a fresh nested container downloads from the server within SECONDS (empty: none).
nested_download() { # SECONDS
  local name=dnc-e2e-download-$RANDOM out
  out=$(timeout -k 5 "$1" "$DOCKER_CLI" -H "unix://$(e2e_docker_sock pod)" \
    run --rm --name "$name" "$E2E_IMAGE" \
    sh -c "nc $SERVER_IP $PORT </dev/null | wc -c" 2>"$E2E_TMP/download.err") || true
  docker_in pod rm -f "$name" >/dev/null 2>&1 || true
  printf '%s' "$(echo "$out" | tr -d '[:space:]')"
}

set_hop_mtu() { # MTU: both ends of the r1-r2 link
  ip -n "$(e2e_ns_name r1)" link set to-r2 mtu "$1"
  ip -n "$(e2e_ns_name r2)" link set to-r1 mtu "$1"
}

e2e_step "1/5 topology: pod --(1500)-- r1 --($HOP_MTU)-- r2 --(1500)-- server, no frag-needed"
for ns in pod r1 r2 server; do e2e_ns_add "$ns"; done
e2e_veth pod eth0 r1 to-pod 1500
e2e_veth r1 to-r2 r2 to-r1 1500
e2e_veth r2 to-server server eth0 1500
set_hop_mtu "$HOP_MTU"
e2e_addr pod eth0 10.234.1.2/24
e2e_addr r1 to-pod 10.234.1.1/24
e2e_addr r1 to-r2 10.234.2.1/24
e2e_addr r2 to-r1 10.234.2.2/24
e2e_addr r2 to-server 10.234.3.1/24
e2e_addr server eth0 "$SERVER_IP/24"
e2e_route pod default via 10.234.1.1
e2e_route r1 10.234.3.0/24 via 10.234.2.2
e2e_route r2 10.234.1.0/24 via 10.234.2.1
e2e_route server default via 10.234.3.1
for ns in r1 r2; do
  e2e_sysctl "$ns" net.ipv4.ip_forward=1
  e2e_in "$ns" iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP ||
    e2e_fail "could not install the ICMP drop rule in $ns"
done
e2e_sysctl server net.ipv4.tcp_mtu_probing=0
for link in pod:eth0 r1:to-pod r1:to-r2 r2:to-r1 r2:to-server server:eth0; do
  e2e_offloads_off "${link%%:*}" "${link#*:}"
done
head -c "$PAYLOAD_BYTES" /dev/urandom >"$E2E_TMP/payload"
e2e_bg_start server-nc server /bin/busybox nc -ll -p "$PORT" -e /bin/busybox cat "$E2E_TMP/payload"
wait_until 5 "the server listens" "e2e_in server ss -Hltn 'sport = :$PORT' | grep -q LISTEN"

e2e_step "2/5 dockerd on init's daemon.json: every MTU the pod sees is right"
daemon_json=$E2E_TMP/daemon.json
assert_succeeds "dind-netcfg init" \
  e2e_in pod "$BINARY" init --daemon-json "$daemon_json" --dockerd-version 20.10.24
assert_eq 1500 "$(jq .mtu "$daemon_json")" "daemon.json mtu (the pod's own link is whole)"
start_dockerd pod "$daemon_json"
build_busybox_image pod

e2e_step "3/5 without a clamp: the nested 1 MiB download stalls beyond the pod"
got=$(nested_download "$STALL_TIMEOUT_S")
assert_ne "$PAYLOAD_BYTES" "${got:-0}" "nested download without the clamp (${got:-0} bytes in ${STALL_TIMEOUT_S}s)"

e2e_step "4/5 run (default --clamp-mss auto) measures the hop and clamps nested TCP"
ln -s "$(e2e_docker_sock pod)" "$E2E_TMP/docker.sock"
e2e_bg_start run pod "$BINARY" run --daemon-json "$daemon_json" --dockerd-version 20.10.24 \
  --listen $LISTEN --docker-socket "$E2E_TMP/docker.sock" \
  --probe-target "$SERVER_IP:$PORT" --probe-mtu-target "$SERVER_IP" --probe-interval 1s
wait_for 20 "the clamp is in force" \
  '[[ $(http_body /status | jq -r ".clamp.clamps | length") -gt 0 ]]'
status=$(http_body /status)
assert_eq "$HOP_MTU" "$(jq -r .clamp.path_mtu.ipv4 <<<"$status")" "/status: the measured path MTU"
assert_eq "$((HOP_MTU - 40))" "$(jq -r '.clamp.clamps[0].mss' <<<"$status")" "/status: the clamped MSS"
assert_eq "$HOP_MTU" "$(jq -r .clamp.avoiding_docker_mtu <<<"$status")" "/status: the docker MTU that avoids the clamp"
grep -q "^dind_netcfg_mss_clamp_bytes{network=\"[^\"]*\"} $((HOP_MTU - 40))" < <(http_body /metrics) ||
  e2e_fail "/metrics has no dind_netcfg_mss_clamp_bytes $((HOP_MTU - 40))"
e2e_pass "/metrics: dind_netcfg_mss_clamp_bytes"
got=$(nested_download "$DOWNLOAD_TIMEOUT_S")
assert_eq "$PAYLOAD_BYTES" "$got" "nested download with the clamp"
wait_for 10 "/readyz is 200: the clamp heals the black hole" \
  '[[ $(e2e_in pod curl -s -o /dev/null -w "%{http_code}" --max-time 3 http://$LISTEN/readyz) == 200 ]]'

e2e_step "5/5 the hop is whole again: the clamp goes away by itself"
set_hop_mtu 1500
wait_for 15 "the clamp is gone" \
  '[[ $(http_body /status | jq -r ".clamp.clamps | length") == 0 ]]'
e2e_bg_stop run
e2e_in pod "$BINARY" rules remove >/dev/null 2>&1 || e2e_fail "rules remove failed"
leftover=$({ e2e_in pod iptables-legacy-save -t mangle; e2e_in pod nft list ruleset; } 2>/dev/null |
  grep -ci tcpmss\\\|maxseg || true)
assert_eq 0 "$leftover" "no clamp rule left after rules remove"

printf '\nPASS e2e_pmtu_beyond_pod: a black hole beyond the pod healed by the MSS clamp and unclamped when whole\n'
