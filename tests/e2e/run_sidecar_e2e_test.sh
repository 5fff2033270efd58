#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: the `run` sidecar beside a real dockerd (Debian's 20.10, "iptables": false so only
# dind-netcfg masquerades), as in a CI pod.
#
#   [pod ns: dockerd, run]--eth0 1450--[router]--[server ns: nc on :8080]
#
#   1. run starts before dockerd: not ready, says the bridge is missing;
#   2. dockerd starts: /readyz 200 (the probe on docker0 reached the server through our rule);
#   3. a user-defined network created without an MTU (KIND's `kind` network before the fix):
#      /status reports its MTU 1500 above the safe MTU; a network with a subnet outside the pools
#      joins the masquerade sources; nested containers on both reach the server;
#   4. dockerd restarts (docker0 deleted and made again): readiness recovers without a restart
#      of dind-netcfg;
#   5. SIGTERM: exit 0 within a second.
#
# Usage: run_sidecar_e2e_test.sh /path/to/dind-netcfg   (root; docker.io, busybox-static, jq, curl)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BINARY=${1:?usage: $0 /path/to/dind-netcfg}
readonly PORT=8080
readonly SERVER_IP=10.233.2.2
readonly TOKEN=reached-the-server
readonly LISTEN=127.0.0.1:9254

e2e_init
e2e_require_cmd jq curl ss promtool

http_body() { e2e_in pod curl -s --max-time 3 "http://$LISTEN$1" || true; }
http_code() {
  e2e_in pod curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$LISTEN$1" || true
}
wait_for() { # SECONDS WHAT CONDITION (bash, evaluated afresh each time)
  local deadline
  deadline=$(e2e_deadline "$1")
  until eval "$3" >/dev/null 2>&1; do
    e2e_before "$deadline" ||
      e2e_fail "$2: not within $1s; /readyz says: $(http_body /readyz)"
    sleep 0.2
  done
  e2e_pass "$2"
}
nested_fetch() { e2e_nested_fetch pod "$1" "$SERVER_IP" "$PORT"; } # NETWORK

e2e_step "topology: pod --eth0 (1450)-- router -- server; the router cannot route 172.x back"
e2e_ns_add pod
e2e_ns_add router
e2e_ns_add server
e2e_veth pod eth0 router to-pod 1450
e2e_veth router to-server server eth0 1450
e2e_addr pod eth0 10.233.1.2/24
e2e_addr router to-pod 10.233.1.1/24
e2e_addr router to-server 10.233.2.1/24
e2e_addr server eth0 "$SERVER_IP/24"
e2e_route pod default via 10.233.1.1
e2e_route server default via 10.233.2.1
e2e_sysctl router net.ipv4.ip_forward=1
e2e_bg_start server-nc server /bin/busybox nc -ll -p "$PORT" -e /bin/busybox echo "$TOKEN"

e2e_step "run starts before dockerd"
daemon_json=$E2E_TMP/daemon.json
echo '{"iptables": false}' >"$daemon_json"
# Through a link: stop_dockerd kills whatever names dockerd's directory on its command line.
ln -s "$(e2e_docker_sock pod)" "$E2E_TMP/docker.sock"
e2e_bg_start run pod "$BINARY" run --daemon-json "$daemon_json" --dockerd-version 20.10.24 \
  --listen $LISTEN --docker-socket "$E2E_TMP/docker.sock" \
  --probe-target "$SERVER_IP:$PORT" --probe-interval 2s
wait_for 15 "run answers /healthz" '[[ $(http_code /healthz) == 200 ]]'
assert_eq 503 "$(http_code /readyz)" "/readyz before dockerd"
e2e_info "/readyz: $(http_body /readyz)"
assert_eq 1450 "$(jq .mtu "$daemon_json")" "daemon.json mtu"

e2e_step "dockerd starts on the daemon.json run wrote"
start_dockerd pod "$daemon_json"
build_busybox_image pod
wait_for 30 "/readyz turns 200" '[[ $(http_code /readyz) == 200 ]]'
assert_eq 1450 "$(e2e_link_mtu pod dnc-probe0)" "the probe's port has the containers' MTU"
assert_eq "$TOKEN" "$(nested_fetch bridge)" "a nested container on the default bridge"

e2e_step "a network without an MTU option, as KIND makes it"
docker_in pod network create kind >/dev/null
subnet=$(docker_in pod network inspect kind -f '{{(index .IPAM.Config 0).Subnet}}')
e2e_info "kind network: $subnet"
wait_for 10 "/status reports kind's MTU above the safe MTU" \
  '[[ $(http_body /status | jq -r ".docker.mtu_too_high[] | select(.network == \"kind\") | .mtu") == 1500 ]]'
assert_eq "1500 false true" "$(http_body /status |
  jq -r '.docker.kind_network | "\(.mtu) \(.mtu_from_option) \(.above_safe_mtu)"')" \
  "/status's kind_network: MTU, from an option, above the safe MTU"
detected=$(e2e_in pod "$BINARY" detect --dockerd-version 20.10.24 --backend nft \
  --docker-socket "$E2E_TMP/docker.sock" --json) || e2e_fail "detect --json failed: $detected"
assert_eq "1500 true" "$(jq -r '.docker.kind_network | "\(.mtu) \(.above_safe_mtu)"' <<<"$detected")" \
  "detect --json's kind_network"
grep -q "^  kind (br-.*) MTU 1500 (no MTU option.*above the docker MTU 1450" < <(
  e2e_in pod "$BINARY" detect --dockerd-version 20.10.24 --backend nft \
    --docker-socket "$E2E_TMP/docker.sock") ||
  e2e_fail "detect's text does not show kind's MTU above the docker MTU"
e2e_pass "detect says kind's MTU 1500 is above the docker MTU 1450"
# Its subnet comes from the pools init chose, which are masqueraded already.
assert_eq "$TOKEN" "$(nested_fetch kind)" "a nested container on the kind network"
docker_in pod network create --subnet 10.250.0.0/24 -o com.docker.network.driver.mtu=1450 ci \
  >/dev/null
wait_for 10 "a network outside the pools (10.250.0.0/24) joins the masquerade sources" \
  '[[ $(http_body /status | jq -r ".rules.sources | index(\"10.250.0.0/24\")") != null ]]'
assert_eq "$TOKEN" "$(nested_fetch ci)" "a nested container on the ci network"

e2e_step "/metrics, with probes and networks in it, passes promtool check metrics"
# deploy/monitoring's rules and dashboard are checked against the names (tests/ship); this is
# the format and the label values they match, from a sidecar that has probed and seen networks.
http_body /metrics >"$E2E_TMP/metrics.txt"
promtool check metrics <"$E2E_TMP/metrics.txt" >"$E2E_TMP/promtool.out" 2>&1 ||
  e2e_fail "promtool check metrics: $(cat "$E2E_TMP/promtool.out")"
e2e_pass "promtool check metrics ($(grep -c '^dind_netcfg_' "$E2E_TMP/metrics.txt") samples)"
assert_eq 1 "$(sed -n "s/^dind_netcfg_probe_success{target=\"tcp $SERVER_IP:$PORT\"} //p" \
  "$E2E_TMP/metrics.txt")" "dind_netcfg_probe_success{target=\"tcp $SERVER_IP:$PORT\"}"
assert_eq 1500 "$(sed -n 's/^dind_netcfg_docker_network_mtu_bytes{network="kind",bridge="br-[0-9a-f]*"} //p' \
  "$E2E_TMP/metrics.txt")" "dind_netcfg_docker_network_mtu_bytes of the kind network"
# The preflight: run started before dockerd, so its first round could not judge api-floor; the
# round run when dockerd's API was subscribed did, from dockerd 20.10's live answer.
assert_eq ok "$(http_body /status | jq -r '.preflight.checks[] | select(.id == "api-floor") | .status')" \
  "/status .preflight: api-floor, judged once dockerd answered"
assert_eq "0 1 0 0" "$(for status in fail ok unknown warn; do
  sed -n "s/^dind_netcfg_preflight{check=\"api-floor\",status=\"$status\"} //p" "$E2E_TMP/metrics.txt"
done | xargs)" "dind_netcfg_preflight{check=\"api-floor\"} for fail ok unknown warn"
grep -q 'preflight: api-floor ok .*was=unknown' "$E2E_TMP/run.log" ||
  e2e_fail "run's log does not say api-floor went from unknown to ok: $(grep preflight "$E2E_TMP/run.log")"
assert_eq "" "$(grep -o 'preflight: [a-z-]* [a-z ]*check=' "$E2E_TMP/run.log" | sort | uniq -d)" \
  "preflight log lines said twice"

e2e_step "dockerd restarts: docker0 goes and comes back; readiness recovers by itself"
stop_dockerd pod
reset_dockerd_network pod
ip -n "$(e2e_ns_name pod)" link del docker0 2>/dev/null || true
wait_for 15 "/readyz turns 503 without docker0" '[[ $(http_code /readyz) == 503 ]]'
start_dockerd pod "$daemon_json"
wait_for 30 "/readyz is 200 again" '[[ $(http_code /readyz) == 200 ]]'
assert_eq docker0 "$(ip -n "$(e2e_ns_name pod)" -o link show dev dnc-probe0 |
  sed -n 's/.* master \([^ ]*\) .*/\1/p')" "the probe's port re-attached to the new docker0"
kill -0 "${E2E_BG_PGID[run]}" || e2e_fail "run did not survive the dockerd restart"
wait_for 15 "the Docker API is followed again" \
  '[[ $(http_body /status | jq -r .docker.api_up) == true ]]'
assert_eq "$TOKEN" "$(nested_fetch bridge)" "a nested container after the restart"

e2e_step "SIGTERM: exit 0 within a second"
pid=${E2E_BG_PGID[run]}
started=$(date +%s%N)
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq 0 "$rc" "exit status"
assert_le 1000 $((($(date +%s%N) - started) / 1000000)) "stop time (ms)"
unset "E2E_BG_PGID[run]"

printf '\nPASS e2e_run_sidecar\n'
