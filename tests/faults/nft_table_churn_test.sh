#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fault: the nft table `ip dind-netcfg` deleted 1,000 times in a row while `run` works. Every
# deletion must be repaired (the table and its masquerade rule come back, the repair counter
# counts it), and the daemon must not leak: its open descriptors are the same number after the
# churn as before it, and its resident memory grows by less than 4 MiB over the 1,000 repairs
# (measured after 100 warm-up repairs, which let the allocator and the netlink buffers settle).
#
# Usage: nft_table_churn_test.sh /path/to/dind-netcfg   (root; needs nft, curl)

source "$(dirname "${BASH_SOURCE[0]}")/faults_lib.sh"

readonly BINARY=${1:?usage: $0 /path/to/dind-netcfg}
readonly WARMUP=100
readonly DELETIONS=${FAULTS_NFT_DELETIONS:-1000}
readonly RSS_GROWTH_LIMIT_KIB=4096

e2e_init
e2e_require_cmd nft curl
faults_make_pod
echo '{}' >"$E2E_TMP/daemon.json"
start_run nft "$BINARY" --backend nft --no-probes --docker-socket ""
pid=$FAULTS_RUN_PID

table_complete() {
  e2e_in pod nft list chain ip dind-netcfg postrouting 2>/dev/null | grep -q masquerade
}
# Deletes the table COUNT times, each time waiting (up to 5 s) for run to make it again. The loop
# runs in one shell inside the pod's namespace, spawning only nft: a process per deletion and per
# look, where nsenter and grep for each made it twice as slow on a loaded machine.
churn() { # COUNT
  e2e_in pod bash -c '
    complete() { [[ $(nft list chain ip dind-netcfg postrouting 2>/dev/null) == *masquerade* ]]; }
    now_us() { printf "%s" "${EPOCHREALTIME/./}"; }
    for ((i = 1; i <= $1; i++)); do
      nft delete table ip dind-netcfg || { echo "deletion $i: the table was not there to delete"; exit 1; }
      deadline=$(($(now_us) + 5000000))
      until complete; do
        (($(now_us) < deadline)) || { echo "deletion $i: the table was not repaired within 5 s"; exit 1; }
        sleep 0.002
      done
    done' churn "$1" || e2e_fail "the churn stopped (the line above says where)"
}

wait_until 10 "the table is installed" table_complete

e2e_step "warm-up: $WARMUP deletions"
churn $WARMUP
fds_before=$(proc_fd_count "$pid")
rss_before=$(proc_rss_kib "$pid")
repairs_before=$(metric dind_netcfg_rule_repairs_total)
e2e_info "after warm-up: $fds_before descriptors, VmRSS $rss_before KiB, $repairs_before repairs"

e2e_step "$DELETIONS deletions, each repaired"
churn "$DELETIONS"
e2e_pass "all $DELETIONS deletions were repaired"
wait_until 5 "the repair counter counts every deletion" \
  '(( $(metric dind_netcfg_rule_repairs_total) >= repairs_before + DELETIONS ))'
fds_after=$(proc_fd_count "$pid")
rss_after=$(proc_rss_kib "$pid")
e2e_info "after the churn: $fds_after descriptors, VmRSS $rss_after KiB"
assert_eq "$fds_before" "$fds_after" "open descriptors after $DELETIONS repairs"
assert_le $RSS_GROWTH_LIMIT_KIB $((rss_after > rss_before ? rss_after - rss_before : 0)) \
  "VmRSS growth over $DELETIONS repairs (KiB)"
assert_eq 200 "$(http_code /healthz)" "/healthz"
assert_eq true "$(http_body /status | jq -r .rules.present)" "/status says the rules are present"

stop_run nft
e2e_step "done"
