#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: nested containers reach the outside only through dind-netcfg's masquerade.
#
#   [pod ns: dockerd "iptables": false, docker0]--eth0--[router ns]--[server ns: nc on :8080]
#
# dockerd is told not to touch iptables, so it installs no masquerade of its own. The router
# knows only its two links: a reply to a container address (172.x) has no way back, so a nested
# container reaches the server only when its packets leave the pod masqueraded to the pod's
# uplink address 10.231.1.2, which the router can route back.
#   1. before `rules apply`: the nested container cannot reach the server (the test has teeth);
#   2. `rules apply --backend legacy`, then `--backend nft`: it can; `rules check` exits 0;
#      after `rules remove` it cannot again;
#   3. `rules apply` (auto): it can, and `rules check` sees our counters move;
#   4. after `remove`, `init` (rules on by default) restores egress by itself.
#
# Usage: rules_egress_test.sh /path/to/dind-netcfg   (root; needs docker.io, busybox-static, jq)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BINARY=${1:-}
readonly PORT=8080
readonly SERVER_IP=10.231.2.2
readonly TOKEN=reached-the-server
readonly FETCH_TIMEOUT_S=${E2E_FETCH_TIMEOUT_S:-15}

e2e_require_binary "$BINARY"

e2e_init
e2e_require_cmd jq ss nft iptables-legacy-save

# What a fresh nested container reads from the server (empty when it cannot connect).
nested_fetch() { e2e_nested_fetch pod bridge "$SERVER_IP" "$PORT" "$FETCH_TIMEOUT_S"; }

# Runs `BINARY ARGS...` in the pod namespace; prints its output indented; returns its status.
netcfg() {
  local rc=0
  e2e_in pod "$BINARY" "$@" >"$E2E_TMP/netcfg.out" 2>"$E2E_TMP/netcfg.err" || rc=$?
  sed 's/^/    | /' "$E2E_TMP/netcfg.out" "$E2E_TMP/netcfg.err"
  return "$rc"
}

pod_masquerade_rules() { # every MASQUERADE/masquerade in the pod namespace, both backends
  { e2e_in pod iptables-legacy-save -t nat; e2e_in pod nft list ruleset; } 2>/dev/null |
    grep -ci masquerade || true
}

e2e_step "1/6 topology: pod --eth0-- router -- server; the router cannot route 172.x back"
e2e_ns_add pod
e2e_ns_add router
e2e_ns_add server
e2e_veth pod eth0 router to-pod 1500
e2e_veth router to-server server eth0 1500
e2e_addr pod eth0 10.231.1.2/24
e2e_addr router to-pod 10.231.1.1/24
e2e_addr router to-server 10.231.2.1/24
e2e_addr server eth0 "$SERVER_IP/24"
e2e_route pod default via 10.231.1.1
e2e_route server default via 10.231.2.1
e2e_sysctl router net.ipv4.ip_forward=1
e2e_sysctl pod net.ipv4.ip_forward=1

e2e_bg_start server-nc server /bin/busybox nc -ll -p "$PORT" -e /bin/busybox echo "$TOKEN"
for ((i = 0; i < 20; i++)); do
  e2e_in server ss -Hltn "sport = :$PORT" | grep -q LISTEN && break
  sleep 0.25
done
control=$(e2e_in pod timeout -k 2 10 /bin/busybox nc -w 3 "$SERVER_IP" "$PORT" </dev/null) || true
assert_eq "$TOKEN" "$control" "control: the pod namespace itself reaches the server"

e2e_step "2/6 dockerd with \"iptables\": false and the networks init decides"
daemon_json=$E2E_TMP/daemon.json
assert_succeeds "dind-netcfg init --no-rules" \
  e2e_in pod "$BINARY" init --no-rules --daemon-json "$daemon_json" --dockerd-version 20.10.24
jq '. + {"iptables": false}' "$daemon_json" >"$daemon_json.new" && mv "$daemon_json.new" "$daemon_json"
e2e_info "daemon.json: $(jq -c . "$daemon_json")"
start_dockerd pod "$daemon_json"
build_busybox_image pod
assert_eq 0 "$(pod_masquerade_rules)" "no masquerade rule in the pod namespace (dockerd left iptables alone)"

e2e_step "3/6 before rules apply: the nested container cannot reach the server"
got=$(nested_fetch)
assert_ne "$TOKEN" "$got" "nested container without masquerade"

e2e_step "4/6 each backend: apply -> reachable and check 0; remove -> unreachable and check 1"
for backend in legacy nft; do
  netcfg rules apply --backend "$backend" --daemon-json "$daemon_json" ||
    e2e_fail "rules apply --backend $backend failed"
  got=$(nested_fetch)
  [[ "$got" == "$TOKEN" ]] || e2e_info "docker run stderr: $(cat "$E2E_TMP/fetch.err")"
  assert_eq "$TOKEN" "$got" "nested container reaches the server after apply --backend $backend"
  check_rc=0
  netcfg rules check --backend "$backend" --daemon-json "$daemon_json" || check_rc=$?
  assert_eq 0 "$check_rc" "rules check --backend $backend after apply"
  netcfg rules remove || e2e_fail "rules remove failed"
  assert_eq 0 "$(pod_masquerade_rules)" "no masquerade rule left after remove"
  got=$(nested_fetch)
  assert_ne "$TOKEN" "$got" "nested container after remove ($backend)"
  check_rc=0
  netcfg rules check --backend "$backend" --daemon-json "$daemon_json" || check_rc=$?
  assert_eq 1 "$check_rc" "rules check --backend $backend after remove"
done

e2e_step "5/6 auto: the decision, egress, and check reading our counters"
netcfg rules apply --json --daemon-json "$daemon_json" || e2e_fail "rules apply (auto) failed"
chosen=$(jq -r '.backend.chosen + " [" + .backend.step + "]"' "$E2E_TMP/netcfg.out")
e2e_info "auto chose $chosen"
got=$(nested_fetch)
assert_eq "$TOKEN" "$got" "nested container reaches the server after apply (auto: $chosen)"
check_rc=0
netcfg rules check --json --daemon-json "$daemon_json" || check_rc=$?
assert_eq 0 "$check_rc" "rules check (auto)"
packets=$(jq '[.state.rules[].packets] | add' "$E2E_TMP/netcfg.out")
assert_gt 0 "$packets" "our rules' packet counters after the nested fetch"

e2e_step "6/6 remove, then init alone (rules on by default) restores egress"
netcfg rules remove || e2e_fail "rules remove failed"
got=$(nested_fetch)
assert_ne "$TOKEN" "$got" "nested container after remove (auto)"
netcfg init --daemon-json "$daemon_json" --dockerd-version 20.10.24 ||
  e2e_fail "dind-netcfg init (with rules) failed"
assert_eq false "$(jq '.iptables' "$daemon_json")" "init kept the user's \"iptables\": false"
got=$(nested_fetch)
assert_eq "$TOKEN" "$got" "nested container reaches the server after init"

printf '\nPASS e2e_rules_egress: no egress without masquerade; legacy, nft, auto (%s) and init each restored it\n' \
  "$chosen"
