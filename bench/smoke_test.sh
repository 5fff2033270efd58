#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ctest `bench_smoke` (labels root, bench): every benchmark once, with few iterations and tiny
# tables, against this build, so the benchmarks cannot rot. Asserts no timing; it fails when a
# benchmark cannot run or leaves a network namespace behind.
#
# Usage: smoke_test.sh PATH/TO/dind-netcfg   (rule_check_bench, repair_latency_bench and
#        ns_exec_time must sit beside it; the suite builds them all)
set -euo pipefail
binary=${1:?usage: smoke_test.sh PATH/TO/dind-netcfg}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# run.sh names every namespace it creates dncb<its pid>-…; other tests may run meanwhile.
bash "$here/run.sh" --smoke --dind-netcfg "$binary" &
pid=$!
wait "$pid"
left=$(ip netns list | awk -v p="dncb$pid-" 'index($1, p) == 1 { print $1 }')
if [[ -n "$left" ]]; then
  echo "FAIL: the benchmarks left network namespaces behind:"$'\n'"$left" >&2
  exit 1
fi
echo "bench smoke: ok"
