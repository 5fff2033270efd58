#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `dind-netcfg run` with least privilege, against the real kernel in namespaces this test makes:
#
#   [pod ns: run, docker0 172.17.0.1/16]--eth0 10.233.1.2--[outside ns: 10.233.1.1, nc :8443]
#
#   1. as a non-root user (65534) given NET_ADMIN, NET_RAW and SYS_ADMIN the way Kubernetes gives
#      them (the bounding set, no ambient set) and a copy of the binary carrying the image's file
#      capabilities (+p): /readyz turns 200 (egress probe through our masquerade), a deleted
#      nft table is repaired, and every thread holds exactly those three (CapPrm, CapEff,
#      CapBnd), nothing inheritable or ambient, with no_new_privs set;
#   2. as root with --backend nft --no-probes: only NET_ADMIN and NET_RAW are kept, and the
#      bounding set is trimmed to them (root has CAP_SETPCAP to do it);
#   3. non-root without NET_ADMIN: exit 1 with a message naming CAP_NET_ADMIN and the
#      securityContext fix; nothing is started;
#   4. non-root with --no-probes --backend nft: SYS_ADMIN is not needed and not kept.
#
# Usage: run_privileges_test.sh /path/to/dind-netcfg   (root; needs curl, nc, nft, setpriv, setcap)

source "$(dirname "${BASH_SOURCE[0]}")/../../e2e/lib.sh"

readonly BINARY=${1:?usage: $0 /path/to/dind-netcfg}
readonly PORT=8443
readonly SERVER=10.233.1.1
readonly LISTEN=127.0.0.1:9254
readonly USER_ID=65534
# Bits of the kernel's capability masks: NET_ADMIN 12, NET_RAW 13, SYS_ADMIN 21.
readonly NET_ADMIN_RAW=0000000000003000
readonly NET_ADMIN_RAW_SYS_ADMIN=0000000000203000

e2e_init
e2e_require_cmd curl nc nft setpriv setcap getcap

e2e_ns_add pod
e2e_ns_add outside
e2e_veth pod eth0 outside up0 1450
e2e_addr pod eth0 10.233.1.2/24
e2e_addr outside up0 $SERVER/24
e2e_route pod default via $SERVER
e2e_sysctl pod net.ipv4.ip_forward=1
ip -n "$(e2e_ns_name pod)" link add docker0 type bridge
e2e_addr pod docker0 172.17.0.1/16
ip -n "$(e2e_ns_name pod)" link set docker0 up
e2e_bg_start server outside nc -lk -p $PORT

# What the image ships: the binary with permitted-only file capabilities, readable and
# executable by anyone, and a daemon.json directory the user may write (an emptyDir is 0777).
chmod 755 "$E2E_TMP"
mkdir -m 755 "$E2E_TMP/bin"
cp "$BINARY" "$E2E_TMP/bin/dind-netcfg"
setcap cap_net_admin,cap_net_raw,cap_sys_admin+p "$E2E_TMP/bin/dind-netcfg"
readonly CAPPED=$E2E_TMP/bin/dind-netcfg
mkdir -m 777 "$E2E_TMP/etc-docker"
e2e_info "$(getcap "$CAPPED")"

http_code() { # PATH
  e2e_in pod curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$LISTEN$1" || true
}
http_body() { e2e_in pod curl -s --max-time 3 "http://$LISTEN$1" || true; }

run_args() { # extra args...
  printf '%s\n' run --daemon-json "$E2E_TMP/etc-docker/daemon.json" --dockerd-version 24.0.7 \
    --listen $LISTEN --docker-socket "" --probe-target $SERVER:$PORT --probe-interval 1s \
    --probe-timeout 1s "$@"
}

# Every thread of PID holds exactly MASK in the permitted, effective and bounding sets.
assert_caps() { # LABEL PID MASK
  local label=$1 pid=$2 mask=$3 status task
  for task in /proc/"$pid"/task/*; do
    # A thread may end between the listing and the read (each preflight round has its own).
    status=$(cat "$task/status" 2>/dev/null) || continue
    for set in CapPrm CapEff CapBnd; do
      assert_eq "$mask" "$(awk -v s="$set:" '$1 == s { print $2 }' <<<"$status")" \
        "$label: $set of thread ${task##*/}"
    done
    for set in CapInh CapAmb; do
      assert_eq 0000000000000000 "$(awk -v s="$set:" '$1 == s { print $2 }' <<<"$status")" \
        "$label: $set of thread ${task##*/}"
    done
    assert_eq 1 "$(awk '$1 == "NoNewPrivs:" { print $2 }' <<<"$status")" \
      "$label: no_new_privs of thread ${task##*/}"
  done
}

stop_run() { # LABEL
  local pid=${E2E_BG_PGID[$1]} rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  assert_eq 0 "$rc" "$1: run exits 0 on SIGTERM"
  unset "E2E_BG_PGID[$1]"
}

e2e_step "1/4 non-root with the three capabilities, through file capabilities"
# As Kubernetes starts a non-root container: what capabilities.add names is in the bounding set
# only; nothing inheritable or ambient.
mapfile -t args < <(run_args --backend auto)
e2e_bg_start user pod setpriv --reuid=$USER_ID --regid=$USER_ID --clear-groups --inh-caps=-all \
  --bounding-set=-all,+net_admin,+net_raw,+sys_admin "$CAPPED" "${args[@]}"
wait_until 10 "run (uid $USER_ID) answers /healthz" '[[ $(http_code /healthz) == 200 ]]'
wait_until 15 "/readyz is 200: the probe passed through the masquerade" \
  '[[ $(http_code /readyz) == 200 ]]'
pid=${E2E_BG_PGID[user]}
assert_eq dind-netcfg "$(cat "/proc/$pid/comm")" "the background process is run itself"
assert_eq $USER_ID "$(awk '$1 == "Uid:" { print $3 }' "/proc/$pid/status")" "effective uid"
assert_caps "non-root" "$pid" $NET_ADMIN_RAW_SYS_ADMIN
grep -q 'capabilities kept.*kept=NET_ADMIN,NET_RAW,SYS_ADMIN' "$E2E_TMP/user.log" ||
  e2e_fail "run did not log the capabilities it kept: $(head -5 "$E2E_TMP/user.log")"
e2e_pass "logged: $(grep -o 'capabilities kept.*' "$E2E_TMP/user.log")"
e2e_in pod nft delete table ip dind-netcfg
wait_until 2 "the deleted nft table is repaired by the non-root run" \
  'e2e_in pod nft list table ip dind-netcfg'
assert_eq 1450 "$(jq -r .mtu "$E2E_TMP/etc-docker/daemon.json")" "daemon.json written by uid $USER_ID"
assert_eq $USER_ID "$(stat -c %u "$E2E_TMP/etc-docker/daemon.json")" "daemon.json's owner"
stop_run user

e2e_step "2/4 root with --backend nft --no-probes keeps NET_ADMIN and NET_RAW only"
# A daemon.json of uid 65534 would rightly make root keep CHOWN and FOWNER to preserve its owner.
rm -f "$E2E_TMP/etc-docker/daemon.json"
mapfile -t args < <(run_args --backend nft --no-probes)
e2e_bg_start root pod "$BINARY" "${args[@]}"
wait_until 10 "run (root) answers /healthz" '[[ $(http_code /healthz) == 200 ]]'
assert_caps "root" "${E2E_BG_PGID[root]}" $NET_ADMIN_RAW
stop_run root

e2e_step "3/4 non-root without NET_ADMIN: exit 1 naming it and the fix"
rm -f "$E2E_TMP/etc-docker/daemon.json"
mapfile -t args < <(run_args --backend auto)
rc=0
out=$(e2e_in pod setpriv --reuid=$USER_ID --regid=$USER_ID --clear-groups --inh-caps=-all \
  --bounding-set=-all,+net_raw,+sys_admin "$CAPPED" "${args[@]}" 2>&1) || rc=$?
assert_eq 1 "$rc" "run without NET_ADMIN exits"
for expected in "missing CAP_NET_ADMIN for the masquerade rules" "securityContext.capabilities" \
  "add: [NET_ADMIN, NET_RAW, SYS_ADMIN]" "not in the bounding set"; do
  [[ $out == *"$expected"* ]] || e2e_fail "the message lacks '$expected': $out"
done
e2e_pass "says: $out"
[[ $out != *"CAP_NET_RAW for"* ]] || e2e_fail "the message names NET_RAW, which it has: $out"
[[ ! -e "$E2E_TMP/etc-docker/daemon.json" ]] || e2e_fail "run wrote daemon.json before failing"
e2e_pass "nothing written"

e2e_step "4/4 non-root with --no-probes --backend nft: SYS_ADMIN is neither needed nor kept"
mapfile -t args < <(run_args --backend nft --no-probes)
e2e_bg_start lean pod setpriv --reuid=$USER_ID --regid=$USER_ID --clear-groups --inh-caps=-all \
  --bounding-set=-all,+net_admin,+net_raw "$CAPPED" "${args[@]}"
wait_until 10 "run (uid $USER_ID, two capabilities) answers /healthz" \
  '[[ $(http_code /healthz) == 200 ]]'
wait_until 10 "/readyz is 200 (rules present, probes off)" '[[ $(http_code /readyz) == 200 ]]'
assert_caps "lean" "${E2E_BG_PGID[lean]}" $NET_ADMIN_RAW
stop_run lean

e2e_step "done"
