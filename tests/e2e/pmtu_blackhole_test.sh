#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: a nested container behind a PMTU black hole, before and after `dind-netcfg init`.
#
#   [pod ns: dockerd, docker0]--eth0 (MTU 1400)--[router ns]--(MTU 1500)--[server ns: 1 MiB]
#
# The router forwards between a 1400 and a 1500 link but drops the ICMP "fragmentation needed"
# it would send, as broken cloud paths do. The server sends full 1500-byte segments with DF set
# because the nested container advertises an MSS from docker0's MTU (1500 by default).
#   Half A: dockerd with its default config: the download stalls (proves the test has teeth).
#   Half B: dockerd restarted with the daemon.json written by `BINARY init`: docker0 gets the
#           detected MTU and the same download completes byte for byte.
#
# Usage: pmtu_blackhole_test.sh /path/to/dind-netcfg   (root; needs docker.io, busybox-static,
# ethtool)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BINARY=${1:-}
readonly PAYLOAD_BYTES=1048576
readonly PORT=8080
readonly POD_MTU=1400
readonly SERVER_MTU=1500
readonly SERVER_IP=10.231.2.2
readonly DOWNLOAD_TIMEOUT_S=${E2E_DOWNLOAD_TIMEOUT_S:-20}

e2e_require_binary "$BINARY"

e2e_init
e2e_require_cmd ethtool jq ss

# Runs the download in a fresh nested container; prints the byte count received (empty if the
# transfer never finished). Always returns 0: the caller judges the count.
nested_download() {
  local name=dnc-e2e-download-$RANDOM out
  out=$(timeout -k 5 "$DOWNLOAD_TIMEOUT_S" "$DOCKER_CLI" -H "unix://$(e2e_docker_sock pod)" \
    run --rm --name "$name" "$E2E_IMAGE" \
    sh -c "nc $SERVER_IP $PORT </dev/null | wc -c" 2>"$E2E_TMP/download.err") || true
  # A timed-out `docker run` leaves its container behind (sh as PID 1 ignores SIGTERM).
  docker_in pod rm -f "$name" >/dev/null 2>&1 || true
  printf '%s' "$(echo "$out" | tr -d '[:space:]')"
}

router_icmp_drops() {
  e2e_in router iptables -L OUTPUT -v -n -x | awk '/DROP/ && /icmp/ { print $1; exit }'
}

e2e_step "1/7 topology: pod --($POD_MTU)-- router --($SERVER_MTU)-- server"
e2e_blackhole_topology "$POD_MTU" 10.231

e2e_step "2/7 server: $PAYLOAD_BYTES bytes on $SERVER_IP:$PORT"
head -c "$PAYLOAD_BYTES" /dev/urandom >"$E2E_TMP/payload"
e2e_bg_start server-nc server /bin/busybox nc -ll -p "$PORT" -e /bin/busybox cat "$E2E_TMP/payload"
for ((i = 0; i < 20; i++)); do
  e2e_in server ss -Hltn "sport = :$PORT" | grep -q LISTEN && break
  sleep 0.25
done
# Control: the pod namespace itself knows its 1400 uplink and advertises a fitting MSS, so the
# path works; a failure below is then down to the nested container's MTU alone.
control=$(e2e_in pod timeout -k 2 10 /bin/busybox nc "$SERVER_IP" "$PORT" </dev/null | wc -c) || true
assert_eq "$PAYLOAD_BYTES" "$control" "control download from the pod namespace itself"

e2e_step "3/7 Half A: dockerd with its default config in the pod namespace"
start_dockerd pod ""
build_busybox_image pod
read -r bridge_mtu_a container_mtu_a <<<"$(docker_bridge_mtus pod)"
e2e_info "default config: docker0 MTU $bridge_mtu_a, nested eth0 MTU $container_mtu_a"
assert_gt "$POD_MTU" "$container_mtu_a" "nested eth0 MTU exceeds the pod uplink (the misconfiguration under test)"

e2e_step "4/7 Half A: nested download must stall in the black hole (timeout ${DOWNLOAD_TIMEOUT_S}s)"
drops_before=$(router_icmp_drops)
got_a=$(nested_download)
e2e_info "nested container received: ${got_a:-nothing before the timeout}"
assert_ne "$PAYLOAD_BYTES" "$got_a" "default config fails to download the payload"
drops_after=$(router_icmp_drops)
assert_gt "$drops_before" "$drops_after" "router dropped ICMP fragmentation-needed during the download"

e2e_step "5/7 Half B: $BINARY init in the pod namespace"
stop_dockerd pod
daemon_json=$E2E_TMP/daemon.json
init_rc=0
e2e_in pod "$BINARY" init --daemon-json "$daemon_json" >"$E2E_TMP/init.log" 2>&1 || init_rc=$?
sed 's/^/    init| /' "$E2E_TMP/init.log"
assert_eq 0 "$init_rc" "dind-netcfg init exit status"
[[ -s "$daemon_json" ]] || e2e_fail "init did not write $daemon_json"
e2e_info "daemon.json: $(tr -d '\n' <"$daemon_json")"
detected_mtu=$(jq -er '.mtu' "$daemon_json") ||
  e2e_fail "daemon.json has no numeric \"mtu\": $(cat "$daemon_json")"
assert_le "$POD_MTU" "$detected_mtu" "detected MTU fits the pod uplink"

e2e_step "6/7 Half B: restart dockerd with the generated daemon.json"
reset_dockerd_network pod
start_dockerd pod "$daemon_json"
assert_eq "$detected_mtu" "$(docker_network_mtu pod)" "bridge network MTU option is the detected one"
read -r bridge_mtu_b container_mtu_b <<<"$(docker_bridge_mtus pod)"
assert_eq "$detected_mtu" "$bridge_mtu_b" "docker0 MTU (with a container attached) is the detected one"
assert_eq "$detected_mtu" "$container_mtu_b" "nested container eth0 MTU is the detected one"

e2e_step "7/7 Half B: the same nested download must complete"
got_b=$(nested_download)
[[ -n "$got_b" ]] || e2e_info "docker run stderr: $(cat "$E2E_TMP/download.err")"
assert_eq "$PAYLOAD_BYTES" "$got_b" "bytes received by the nested container"

printf '\nPASS e2e_pmtu_blackhole: default dockerd stalled (%s bytes in %ss), after init (mtu %s) got %s bytes\n' \
  "${got_a:-0}" "$DOWNLOAD_TIMEOUT_S" "$detected_mtu" "$got_b"
