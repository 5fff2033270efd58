#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fault: the xtables lock held by another process for longer than dind-netcfg waits
# (--xtables-wait: 5 s by default, 2 s given here to `remove`). `rules apply` and `rules remove`
# on the legacy backend must give up with exit 1 and one error that names the lock file, the
# holder's PID and command (from /proc/locks) and the bound it waited, and change no rule: the
# nat table before and after is the same.
#
# The lock is a temporary file (XTABLES_LOCKFILE), held with flock(1), so no other iptables user
# of the machine is ever blocked.
#
# Usage: xtables_lock_held_test.sh /path/to/dind-netcfg   (root; needs flock, iptables-legacy)

source "$(dirname "${BASH_SOURCE[0]}")/faults_lib.sh"

readonly BINARY=${1:?usage: $0 /path/to/dind-netcfg}

e2e_init
e2e_require_cmd flock iptables-legacy iptables-legacy-save
faults_make_pod
export XTABLES_LOCKFILE=$E2E_TMP/xtables.lock

nat_rules() { e2e_in pod iptables-legacy-save -t nat | grep -v '^#'; }
rules() { # ARGS... ; sets rc and err
  rc=0
  err=$(e2e_in pod "$BINARY" rules "$@" --backend legacy 2>&1 >/dev/null) || rc=$?
}

e2e_step "the pod's nat table: someone's rule and ours"
e2e_in pod iptables-legacy -w -t nat -A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE
rules apply --source 172.17.0.0/16 --out-interface eth0
assert_eq 0 "$rc" "rules apply with the lock free ($err)"
before=$(nat_rules)
grep -q DIND-NETCFG-POSTROUTING <<<"$before" || e2e_fail "our chain is not there: $before"

e2e_step "the lock held past the wait bound"
e2e_bg_start holder pod flock "$XTABLES_LOCKFILE" sleep 600
wait_until 5 "the holder has the lock" '! flock -n "$XTABLES_LOCKFILE" true'
holder_pid=${E2E_BG_PGID[holder]}

for action in "apply --source 172.18.0.0/16 --out-interface eth0" "remove --xtables-wait 2s"; do
  # shellcheck disable=SC2086 # the action and its flags are words
  rules $action
  assert_eq 1 "$rc" "rules $action exits 1"
  waited="waited 5 s"
  [[ $action == *--xtables-wait* ]] && waited="waited 2 s"
  for part in "$XTABLES_LOCKFILE" "held by PID $holder_pid (flock)" "$waited"; do
    [[ "$err" == *"$part"* ]] || e2e_fail "rules $action: the error does not say '$part': $err"
  done
  [[ $(grep -c ' error ' <<<"$err") == 1 ]] || e2e_fail "rules $action: not one error line: $err"
  e2e_pass "rules $action says: $(grep ' error ' <<<"$err")"
  assert_eq "$before" "$(nat_rules)" "the nat table after rules $action"
done

e2e_step "the holder lets go: the same command works"
e2e_bg_stop holder
rules apply --source 172.18.0.0/16 --out-interface eth0
assert_eq 0 "$rc" "rules apply once the lock is free ($err)"
grep -q -- '-A DIND-NETCFG-POSTROUTING -s 172.18.0.0/16' < <(nat_rules) ||
  e2e_fail "the new source is not masqueraded: $(nat_rules)"
e2e_pass "the new source is masqueraded"

e2e_step "done"
