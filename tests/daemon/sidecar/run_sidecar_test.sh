#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `dind-netcfg run` against the real kernel, in namespaces this test makes (no dockerd: the
# docker bridge is made by hand, as dockerd would make it).
#
#   [pod ns: run, docker0 172.17.0.1/16]--eth0 10.232.1.2--[outside ns: 10.232.1.1, nc :8443]
#
# The outside namespace has no route to 172.17.0.0/16: the egress probe (standing on docker0)
# reaches the server only when dind-netcfg's masquerade rule takes its packets out as 10.232.1.2.
#   1. bad flags exit 2 and name the flag; nothing is started;
#   2. without docker0, /readyz is 503 and says the bridge is missing; /healthz is 200;
#   3. docker0 appears: /readyz turns 200 (probe passed through our masquerade); /metrics and
#      /status report it; other paths 404, other methods 405;
#   4. nft: the table deleted by someone else is back within a second, repairs_total counts it;
#   5. the uplink MTU drops: daemon.json is rewritten and dockerd_restart_required is 1;
#      with no Docker API, a bridge made at MTU 1500 is found through netlink and its TCP
#      clamped (/status says where the networks came from), and unclamped when it goes;
#   6. the probe target goes away: /readyz 503 naming the target;
#   7. SIGTERM: exit 0 within a second; the rules stay; with --cleanup-on-exit they go;
#      systemd's notify socket gets STATUS= with the reason, READY=1, WATCHDOG=1, STOPPING=1;
#   8. legacy: a flushed chain is back within the poll interval;
#   9. a pod resolv.conf of loopback only (bound over /etc/resolv.conf in run's own mount and PID
#      namespaces): the preflight's dns-fallback is judged by DNS queries from docker0 to
#      8.8.8.8 and 8.8.4.4, addresses the outside namespace owns (nothing leaves the machine),
#      and they never count for readiness.
#
# Usage: run_sidecar_test.sh /path/to/dind-netcfg   (root; needs curl, jq, nc, nft, iptables)

source "$(dirname "${BASH_SOURCE[0]}")/../../e2e/lib.sh"

readonly BINARY=${1:?usage: $0 /path/to/dind-netcfg}
readonly PORT=8443
readonly SERVER=10.232.1.1
readonly LISTEN=127.0.0.1:9254

e2e_init
e2e_require_cmd curl jq nc nft iptables-legacy iptables-legacy-save

e2e_ns_add pod
e2e_ns_add outside
e2e_veth pod eth0 outside up0 1450
e2e_addr pod eth0 10.232.1.2/24
e2e_addr outside up0 $SERVER/24
e2e_route pod default via $SERVER
e2e_sysctl pod net.ipv4.ip_forward=1
e2e_bg_start server outside nc -lk -p $PORT

http_code() { # PATH [CURL-ARGS...]
  local path=$1
  shift
  e2e_in pod curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" "http://$LISTEN$path" || true
}
http_body() { e2e_in pod curl -s --max-time 3 "http://$LISTEN$1" || true; }
# The value of one series, named as the exposition writes it (labels may hold spaces).
metric() { http_body /metrics | awk -v series="$1 " 'index($0, series) == 1 { print $NF }'; }

wait_ready() { # SECONDS
  local deadline
  deadline=$(e2e_deadline "$1")
  until [[ "$(http_code /readyz)" == 200 ]]; do
    e2e_before "$deadline" || e2e_fail "/readyz not 200 within $1s; it says: $(http_body /readyz)"
    sleep 0.1
  done
  e2e_pass "/readyz is 200"
}

start_run() { # LABEL ARGS...
  local label=$1
  shift
  e2e_bg_start "$label" pod "$BINARY" run --daemon-json "$E2E_TMP/daemon.json" \
    --dockerd-version 24.0.7 --listen $LISTEN --docker-socket "$E2E_TMP/no-dockerd.sock" \
    --probe-target $SERVER:$PORT --probe-interval 1s --probe-timeout 1s "$@"
  wait_until 10 "run ($label) answers /healthz" '[[ $(http_code /healthz) == 200 ]]'
}

# Sends SIGTERM to run's process and checks it ends within a second with status 0.
stop_run() { # LABEL
  local pid=${E2E_BG_PGID[$1]} started rc=0
  started=$(date +%s%N)
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  assert_eq 0 "$rc" "run exits 0 on SIGTERM"
  assert_le 1000 $((($(date +%s%N) - started) / 1000000)) "run stops within a second (ms)"
  unset "E2E_BG_PGID[$1]"
}

nft_table_exists() { e2e_in pod nft list table ip dind-netcfg; }

e2e_step "bad flags: exit 2 naming the flag, nothing started"
for bad in "--poll-interval soon" "--listen nowhere" "--probe-target 10.0.0.1" "--backend bogus"; do
  rc=0
  # shellcheck disable=SC2086 # the flag and its value are two words
  out=$(e2e_in pod "$BINARY" run --daemon-json "$E2E_TMP/daemon.json" $bad 2>&1) || rc=$?
  assert_eq 2 "$rc" "run $bad exits 2"
  [[ "$out" == *"${bad%% *}"* ]] || e2e_fail "the error for '$bad' does not name ${bad%% *}: $out"
done
[[ ! -e "$E2E_TMP/daemon.json" ]] || e2e_fail "a usage error wrote daemon.json"

e2e_step "no docker bridge yet: live but not ready, and says why"
echo '{"storage-driver": "vfs"}' >"$E2E_TMP/daemon.json"
# systemd's side of the notify protocol: a datagram socket that logs what it receives.
cat >"$E2E_TMP/notify.py" <<'PY'
import socket, sys
listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
listener.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(listener.recv(4096).decode().replace("\n", " | ") + "\n")
PY
e2e_bg_start notify pod python3 "$E2E_TMP/notify.py" "$E2E_TMP/notify.sock" "$E2E_TMP/notify.txt"
wait_until 5 "notify socket bound" '[[ -S $E2E_TMP/notify.sock ]]'
export NOTIFY_SOCKET=$E2E_TMP/notify.sock WATCHDOG_USEC=400000
start_run nft --backend nft
unset NOTIFY_SOCKET WATCHDOG_USEC
assert_eq 503 "$(http_code /readyz)" "/readyz before docker0 exists"
reason=$(http_body /readyz)
[[ "$reason" == *docker0* ]] || e2e_fail "/readyz does not name the missing bridge: $reason"
e2e_pass "/readyz says: $reason"
assert_eq vfs "$(jq -r '."storage-driver"' "$E2E_TMP/daemon.json")" "a user's key is kept"
assert_eq 1450 "$(jq -r .mtu "$E2E_TMP/daemon.json")" "daemon.json mtu"

e2e_step "docker0 appears: the probe passes through our masquerade"
ip -n "$(e2e_ns_name pod)" link add docker0 type bridge
e2e_addr pod docker0 172.17.0.1/16
ip -n "$(e2e_ns_name pod)" link set docker0 up
wait_ready 10
assert_eq 1 "$(metric dind_netcfg_ready)" "dind_netcfg_ready"
wait_until 2 "systemd is told READY=1" 'grep -q "READY=1" "$E2E_TMP/notify.txt"'
wait_until 2 "the watchdog is fed" 'grep -q "WATCHDOG=1" "$E2E_TMP/notify.txt"'
grep -q "STATUS=not ready: no docker bridge docker0" "$E2E_TMP/notify.txt" ||
  e2e_fail "systemd's STATUS did not carry the reason: $(cat "$E2E_TMP/notify.txt")"
e2e_pass "STATUS= carried the readiness reason"
assert_eq 1450 "$(metric dind_netcfg_uplink_mtu_bytes)" "uplink MTU metric"
assert_eq 1 "$(metric 'dind_netcfg_probe_success{target="tcp 10.232.1.1:8443"}')" "probe metric"
assert_eq 1 "$(metric 'dind_netcfg_masquerade_backend_info{backend="nft"}')" "backend metric"
status=$(http_body /status)
assert_eq true "$(jq -r .ready <<<"$status")" "/status ready"
assert_eq 172.17.255.254 "$(jq -r .egress.vantage.address <<<"$status")" "probe's reserved address"
assert_eq eth0 "$(jq -r .rules.out_interface <<<"$status")" "rules leave by the uplink"
assert_eq 404 "$(http_code /nothing)" "unknown path"
assert_eq 405 "$(http_code /healthz -X POST)" "POST"

e2e_step "nft: a deleted table is repaired at once"
e2e_in pod nft delete table ip dind-netcfg
wait_until 1 "table ip dind-netcfg is back" nft_table_exists
assert_eq 1 "$(metric dind_netcfg_rule_repairs_total)" "repairs counted"
e2e_in pod nft flush chain ip dind-netcfg postrouting
wait_until 1 "a flushed chain is refilled" \
  'e2e_in pod nft list chain ip dind-netcfg postrouting | grep -q masquerade'

e2e_step "the uplink MTU drops: daemon.json follows and a dockerd restart is asked for"
ip -n "$(e2e_ns_name pod)" link set eth0 mtu 1400
wait_until 5 "daemon.json says mtu 1400" '[[ $(jq -r .mtu "$E2E_TMP/daemon.json") == 1400 ]]'
assert_eq 1 "$(metric dind_netcfg_dockerd_restart_required)" "restart required metric"
[[ "$(http_body /status | jq -r .daemon_json.restart_reason)" == *"restart dockerd"* ]] ||
  e2e_fail "/status does not say dockerd must be restarted"
e2e_pass "/status asks for a dockerd restart"

e2e_step "no Docker API (socket not mounted): a bridge above the safe MTU is seen through netlink and clamped"
# As a network made at 1500 before the MTU was fixed, or by a dockerd that ignores
# default-network-opts; the pod's uplink is 1400 now, and nothing answers on --docker-socket.
ip -n "$(e2e_ns_name pod)" link add br-0123456789ab mtu 1500 type bridge
e2e_addr pod br-0123456789ab 172.30.0.1/16
clamp_rule() { e2e_in pod nft list ruleset | grep '172.30.0.0/16' | grep 'maxseg size set 1360'; }
wait_until 5 "nft clamps TCP of 172.30.0.0/16 to MSS 1360" clamp_rule
e2e_pass "rule: $(clamp_rule | head -1 | sed "s/^[[:space:]]*//")"
status=$(http_body /status)
from=$(jq -r .docker.networks_from <<<"$status")
[[ "$from" == "netlink (docker API unavailable: "*"no-dockerd.sock"* ]] ||
  e2e_fail "/status does not say the networks came from netlink: $from"
e2e_pass "/status docker.networks_from: $from"
assert_eq 1500 "$(jq -r '.docker.mtu_too_high[] | select(.bridge == "br-0123456789ab") | .mtu' <<<"$status")" \
  "/status names the bridge above the safe MTU"
assert_eq 1360 "$(jq -r '.clamp.clamps[] | select(.network == "172.30.0.0/16") | .mss' <<<"$status")" \
  "/status clamp for the bridge's subnet"
ip -n "$(e2e_ns_name pod)" link del br-0123456789ab
wait_until 5 "the clamp goes with the bridge" '! clamp_rule'

e2e_step "the target goes away: not ready, naming it"
e2e_bg_stop server
wait_until 10 "/readyz turns 503" '[[ $(http_code /readyz) == 503 ]]'
reason=$(http_body /readyz)
[[ "$reason" == *"$SERVER:$PORT"* ]] || e2e_fail "/readyz does not name the target: $reason"
e2e_pass "/readyz says: $reason"
e2e_bg_start server outside nc -lk -p $PORT

e2e_step "SIGTERM: orderly exit within a second; the rules stay by default"
stop_run nft
assert_succeeds "rules left for dockerd" nft_table_exists
wait_until 2 "systemd is told STOPPING=1" 'grep -q "STOPPING=1" "$E2E_TMP/notify.txt"'

e2e_step "--cleanup-on-exit takes the rules away"
start_run nft-cleanup --backend nft --cleanup-on-exit
stop_run nft-cleanup
assert_fails "no table after --cleanup-on-exit" nft_table_exists

e2e_step "as PID 1 of a PID namespace (a container): orphans are reaped, SIGTERM still works"
e2e_bg_start pid1 pod unshare --pid --fork --kill-child "$BINARY" run --no-rules --no-probes \
  --daemon-json "$E2E_TMP/daemon.json" --dockerd-version 24.0.7 --listen $LISTEN \
  --docker-socket ""
wait_until 10 "run as PID 1 answers /healthz" '[[ $(http_code /healthz) == 200 ]]'
pid1=$(pgrep -f -n -- "--no-rules --no-probes --daemon-json $E2E_TMP/daemon.json" | head -1)
[[ $(awk '/^NSpid/ { print $3 }' "/proc/$pid1/status") == 1 ]] || e2e_fail "run is not PID 1 there"
# Each sleep outlives its shell, so it is re-parented to PID 1 of the namespace: run.
nsenter --target "$pid1" --pid -- sh -c 'for i in 1 2 3 4 5; do sleep 0.2 & done'
sleep 1
zombies=$(ps -o stat= --ppid "$pid1" | grep -c '^Z' || true)
assert_eq 0 "$zombies" "zombies left under run (PID 1)"
kill -TERM "$pid1"
wait_until 2 "PID 1 run stops on SIGTERM" '! kill -0 '"$pid1"
e2e_bg_stop pid1

e2e_step "legacy: a flushed chain is back within the poll interval"
start_run legacy --backend legacy --poll-interval 200ms
wait_ready 10
legacy_rules() { e2e_in pod iptables-legacy-save -t nat | grep -c -- '-A DIND-NETCFG-POSTROUTING' || true; }
before=$(legacy_rules)
assert_gt 0 "$before" "legacy rules installed"
e2e_in pod iptables-legacy -w -t nat -F DIND-NETCFG-POSTROUTING
wait_until 2 "the legacy chain is refilled" '[[ $(legacy_rules) == "$before" ]]'
assert_eq 1 "$(metric dind_netcfg_rule_repairs_total)" "legacy repair counted"
stop_run legacy

e2e_step "dockerd's public DNS fallback is probed from docker0 for the preflight, not readiness"
# Both fallback servers are the outside namespace's own addresses, so the queries end there:
# 8.8.8.8 answers (NXDOMAIN to anything), nothing listens on 8.8.4.4.
e2e_in outside ip addr add 8.8.8.8/32 dev lo
e2e_in outside ip addr add 8.8.4.4/32 dev lo
cat >"$E2E_TMP/dns.py" <<'PY'
import socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind((sys.argv[1], 53))
while True:
    query, peer = server.recvfrom(512)
    end = 12
    while query[end]:
        end += query[end] + 1
    server.sendto(query[:2] + b"\x81\x83\x00\x01" + bytes(6) + query[12:end + 5], peer)
PY
e2e_bg_start dns outside python3 "$E2E_TMP/dns.py" 8.8.8.8
wait_until 5 "the DNS responder listens on 8.8.8.8:53" \
  'e2e_in outside ss -Hlun "sport = :53" | grep -q 8.8.8.8'
printf 'nameserver 127.0.0.1\n' >"$E2E_TMP/resolv.conf"
# Its own PID namespace: no dockerd of a test running beside this one is visible, so the
# preflight reads run's own (bound) /etc/resolv.conf.
e2e_bg_start fallback pod unshare --mount --pid --fork --kill-child --mount-proc \
  sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$E2E_TMP/resolv.conf" \
  "$BINARY" run --daemon-json "$E2E_TMP/daemon.json" --dockerd-version 24.0.7 --listen $LISTEN \
  --docker-socket "$E2E_TMP/no-dockerd.sock" --backend legacy \
  --probe-target $SERVER:$PORT --probe-interval 1s --probe-timeout 1s
wait_until 10 "run (fallback) answers /healthz" '[[ $(http_code /healthz) == 200 ]]'
fallback_check() { http_body /status | jq -c '.preflight.checks[] | select(.id == "dns-fallback")'; }
wait_until 10 "dns-fallback is judged by the prober" \
  '[[ $(fallback_check | jq -r .observed.reachable) != null ]]'
check=$(fallback_check)
assert_eq warn "$(jq -r .status <<<"$check")" "dns-fallback status (one server answers)"
[[ "$(jq -r .summary <<<"$check")" == *"(8.8.8.8 answered, 8.8.4.4 did not)"* ]] ||
  e2e_fail "dns-fallback does not say which server answered: $(jq -r .summary <<<"$check")"
[[ "$(jq -r .source <<<"$check")" == *"egress prober from the docker bridge"* ]] ||
  e2e_fail "dns-fallback's source does not name the prober: $(jq -r .source <<<"$check")"
e2e_pass "dns-fallback: $(jq -r .summary <<<"$check")"
wait_ready 10
assert_eq "[]" "$(http_body /status | jq -c '[.egress.results[] | select(.target | test("8[.]8[.]"))]')" \
  "the fallback's probes among the egress results"
assert_eq 0 "$(http_body /metrics | grep -c '8[.]8[.]' || true)" "series naming the fallback"
e2e_bg_stop fallback
e2e_bg_stop dns

e2e_step "done"
