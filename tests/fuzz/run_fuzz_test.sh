#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One bounded libFuzzer run, as ctest's fuzz tests do it (dind_add_fuzz_test, cmake/Testing.cmake):
#   run_fuzz_test.sh FUZZER SEED_DIR SECONDS ARTIFACT_DIR [DICT]
# The seeds are only read: libFuzzer writes new inputs to the first corpus directory, a temporary
# one here. Fails when the fuzzer finds a crash, leak, UB or timeout; the input that triggered it
# is left in ARTIFACT_DIR.
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3 artifacts=$4 dict=${5:-}

if ! compgen -G "$seeds/*" >/dev/null; then
  echo "run_fuzz_test.sh: no seeds in $seeds: a fuzz run without its corpus proves little" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

args=(-rss_limit_mb=2048 -timeout=5 -print_final_stats=1 -artifact_prefix="$artifacts/")
if ((seconds == 0)); then
  args+=(-runs=0) # every seed once: a regression run, no mutation
else
  args+=(-max_total_time="$seconds")
fi
[[ -n $dict ]] && args+=(-dict="$dict")
"$fuzzer" "${args[@]}" "$work" "$seeds"
