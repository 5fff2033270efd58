#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: IPv6 for nested containers in a dual-stack and then an IPv6-only sandbox pod.
#
#   [pod ns: dockerd, docker0]--eth0--[router ns]--[server ns: nc on :8080, v4 and v6]
#
# Addresses are documentation prefixes: pod 2001:db8:31:1::2, server 2001:db8:31:2::2 (and
# 10.231.x for IPv4). The router knows only its two links, so a reply to a nested container's
# ULA address (fd4d:...) has no way back: a nested container reaches the server over IPv6 only
# when its packets leave the pod masqueraded (NAT66) to the pod's own address. dockerd runs with
# "iptables"/"ip6tables": false, so the masquerade can only be dind-netcfg's.
#   1. dual-stack: `init --no-rules` (dockerd 20.10) gives nested networks IPv6 (ipv6,
#      fixed-cidr-v6, ip6tables, experimental, an IPv6 pool); before `rules apply` the nested
#      IPv6 fetch fails, after it both families reach the server (both backends);
#   2. IPv6-only: the pod loses its IPv4 address and route; `init` says nested IPv4 cannot get
#      out and how to fix it, masquerades out of the IPv6 uplink, and nested IPv6 still reaches
#      the server while nested IPv4 cannot.
#
# Usage: ipv6_egress_test.sh /path/to/dind-netcfg   (root; needs docker.io, busybox-static, jq)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BINARY=${1:-}
readonly PORT=8080
readonly SERVER_V4=10.231.2.2
readonly SERVER_V6=2001:db8:31:2::2
readonly TOKEN=reached-the-server
readonly FETCH_TIMEOUT_S=${E2E_FETCH_TIMEOUT_S:-15}

e2e_require_binary "$BINARY"

e2e_init
e2e_require_cmd jq ss nft iptables-legacy-save

# What a fresh nested container reads from the server at ADDRESS (empty when it cannot connect).
nested_fetch() { e2e_nested_fetch pod bridge "$1" "$PORT" "$FETCH_TIMEOUT_S"; } # ADDRESS

netcfg() { # ARGS...: runs the binary in the pod namespace, shows its output, returns its status
  local rc=0
  e2e_in pod "$BINARY" "$@" >"$E2E_TMP/netcfg.out" 2>"$E2E_TMP/netcfg.err" || rc=$?
  sed 's/^/    | /' "$E2E_TMP/netcfg.out" "$E2E_TMP/netcfg.err"
  return "$rc"
}


# init (no rules) for dockerd 20.10, then dockerd restarted on what it wrote, without its own
# iptables/ip6tables rules.
init_and_start_dockerd() { # WHAT
  netcfg init --no-rules --json --daemon-json "$daemon_json" --dockerd-version 20.10.24 ||
    e2e_fail "$1: dind-netcfg init --no-rules failed"
  cp "$E2E_TMP/netcfg.out" "$E2E_TMP/init.json"
  jq '. + {"iptables": false, "ip6tables": false}' "$daemon_json" >"$daemon_json.new" &&
    mv "$daemon_json.new" "$daemon_json"
  e2e_info "daemon.json: $(jq -c . "$daemon_json")"
  if [[ -n "${E2E_DOCKERD_PID[pod]:-}" ]]; then
    stop_dockerd pod
    reset_dockerd_network pod
  fi
  start_dockerd pod "$daemon_json"
}

e2e_step "1/5 topology: a dual-stack pod --eth0-- router -- server"
e2e_dual_stack_topology 1500 10.231 2001:db8:31 "$TOKEN" "$PORT"
for server in "$SERVER_V4" "$SERVER_V6"; do
  got=$(e2e_in pod timeout -k 2 10 /bin/busybox nc -w 3 "$server" "$PORT" </dev/null) || true
  assert_eq "$TOKEN" "$got" "control: the pod namespace itself reaches $server"
done

e2e_step "2/5 dual-stack: init gives nested networks IPv6 for dockerd 20.10"
daemon_json=$E2E_TMP/daemon.json
init_and_start_dockerd "dual-stack"
assert_eq dual-stack "$(jq -r '.families' "$E2E_TMP/init.json")" "init's families"
assert_eq true "$(jq '.ipv6' "$daemon_json")" "daemon.json ipv6"
assert_eq true "$(jq '.experimental' "$daemon_json")" "daemon.json experimental (ip6tables needs it on 20.10)"
fixed_v6=$(jq -r '."fixed-cidr-v6"' "$daemon_json")
assert_eq 1 "$(jq '[."default-address-pools"[] | select(.base | contains(":"))] | length' "$daemon_json")" \
  "daemon.json has one IPv6 pool"
build_busybox_image pod
docker0_v6=$(ip -n "$(e2e_ns_name pod)" -6 -o addr show dev docker0 scope global | awk '{ print $4 }')
assert_eq "${fixed_v6%%::/64}::1/64" "$docker0_v6" "docker0's IPv6 address from fixed-cidr-v6"

e2e_step "3/5 before rules apply: nested IPv6 cannot reach the server (no NAT66)"
assert_ne "$TOKEN" "$(nested_fetch "$SERVER_V6")" "nested IPv6 fetch without masquerade"

e2e_step "4/5 each backend: NAT66 and NAT44 make both families reach the server"
for backend in legacy nft; do
  netcfg rules apply --backend "$backend" --daemon-json "$daemon_json" ||
    e2e_fail "rules apply --backend $backend failed"
  for server in "$SERVER_V4" "$SERVER_V6"; do
    got=$(nested_fetch "$server")
    [[ "$got" == "$TOKEN" ]] || e2e_info "docker run stderr: $(cat "$E2E_TMP/fetch.err")"
    assert_eq "$TOKEN" "$got" "nested container reaches $server (--backend $backend)"
  done
  netcfg rules remove || e2e_fail "rules remove failed"
  assert_ne "$TOKEN" "$(nested_fetch "$SERVER_V6")" "nested IPv6 after remove ($backend)"
done

e2e_step "5/5 IPv6-only: the pod loses IPv4; init names the problem, nested IPv6 still gets out"
ip -n "$(e2e_ns_name pod)" route del default via 10.231.1.1
ip -n "$(e2e_ns_name pod)" addr del 10.231.1.2/24 dev eth0
init_and_start_dockerd "IPv6-only"
assert_eq ipv6-only "$(jq -r '.families' "$E2E_TMP/init.json")" "init's families"
assert_eq false "$(jq '.nested_egress.ipv4' "$E2E_TMP/init.json")" "init: nested IPv4 has no way out"
problem=$(jq -r '.nested_egress.problem' "$E2E_TMP/init.json")
[[ "$problem" == *NAT64* ]] || e2e_fail "init's problem statement names no fix: $problem"
grep -q "IPv6-only" "$E2E_TMP/netcfg.err" || e2e_fail "init's log does not say the pod is IPv6-only"
e2e_pass "init says nested IPv4 cannot get out and how to fix it"
build_busybox_image pod
netcfg rules apply --json --daemon-json "$daemon_json" || e2e_fail "rules apply (auto) failed"
assert_eq eth0 "$(jq -r '.spec.out_interface' "$E2E_TMP/netcfg.out")" "masquerade out of the IPv6 uplink"
got=$(nested_fetch "$SERVER_V6")
assert_eq "$TOKEN" "$got" "nested container reaches $SERVER_V6 in the IPv6-only pod"
assert_ne "$TOKEN" "$(nested_fetch "$SERVER_V4")" "nested IPv4 in the IPv6-only pod"

printf '\nPASS e2e_ipv6_egress: NAT66 in both backends, dual-stack and IPv6-only pods\n'
