#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies, builds dind-netcfg twice and runs every test:
#   build/         GCC, Release (-O3), warnings as errors: unit tests, root tests in network
#                  namespaces the tests create and delete, faults, end-to-end tests with a real
#                  dockerd, shipping tests and the benchmarks' smoke run.
#   build-sanitize/ clang, AddressSanitizer + UndefinedBehaviorSanitizer + libFuzzer coverage,
#                  warnings as errors: the same tests but the end-to-end and shipping ones
#                  (the sidecar's and the entrypoint's end to end run), and every fuzz target
#                  briefly on its seeds.
# Two more environments than this machine: the end-to-end tests labelled `release` run against
# Debian 13's and unstable's Docker as well as Debian 12's (tests/releases), and the tests
# labelled `vm` boot Debian 12's kernel under QEMU (TCG) on a cgroup v2 root, with one netfilter
# backend withheld in some boots (tests/vm). Their downloads (the VM's root, the releases) run
# beside the plain build, into caches outside the clone that a later run reuses.
# The sanitizer build compiles (at low priority) while the plain build's tests run: those mostly
# wait on the kernel and dockerd. The VM boots run after it, beside the sanitizer tests. Every stage runs even when an earlier one failed; the end is a
# summary (stage, result, time), the time per ctest label, the ten slowest tests and the failed
# tests by name. Exits non-zero when any stage failed. Needs root (namespaces, netfilter, dockerd).
#
# The budget: a cold run (fresh clone, nothing cached) within 2,400 s on a 2-core machine.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: the suite builds network namespaces and runs dockerd: run it as root" \
    "(sudo $0 where sudo is installed)" >&2
  exit 2
fi

jobs=$(nproc)
suite_start=$SECONDS
stage_names=()
stage_results=()
stage_seconds=()

record() { # NAME RESULT SECONDS
  stage_names+=("$1")
  stage_results+=("$2")
  stage_seconds+=("$3")
  printf '==> %s: %s (%d s)\n' "$1" "$2" "$3"
}

# stage NAME COMMAND...: runs COMMAND in the foreground and records its result and time.
stage() {
  local name=$1 start=$SECONDS
  shift
  printf '\n==> %s\n' "$name"
  if "$@"; then record "$name" passed $((SECONDS - start)); else record "$name" FAILED $((SECONDS - start)); return 1; fi
}

skip() { record "$1" "skipped ($2)" 0; }

configure_and_build() { # DIR LOG CMAKE_ARGS...
  local dir=$1 log=$2
  shift 2
  mkdir -p "$dir"
  if ! { cmake -S . -B "$dir" -G Ninja -DDIND_WERROR=ON "$@" && cmake --build "$dir" -j "$jobs"; } \
    >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "test.sh: the build in $dir failed; its whole log is $log" >&2
    return 1
  fi
  echo "    build log: $log"
}

# ctest_in DIR JUNIT_NAME CTEST_ARGS...: one ctest run whose per-test times land in DIR.
ctest_in() {
  local dir=$1 junit=$2
  shift 2
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --output-junit "junit-$junit.xml" "$@")
}

# The two longest fault loops run shorter under the sanitizers (each round starts an
# instrumented process): 200 kills of init and 300 nft table deletions reach every path the
# plain build's 500 and 1,000 do, and ASan watches each of them.
sanitizer_ctest() { # JUNIT_NAME CTEST_ARGS...
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    FAULTS_KILL_ROUNDS=200 FAULTS_NFT_DELETIONS=300 ctest_in build-sanitize "$@"
}

mkdir -p build-logs
logs=$PWD/build-logs
rm -f build/junit-*.xml build-sanitize/junit-*.xml

stage "install dependencies" scripts/install-deps.sh

# The downloads that need no build run beside it (they mostly wait on the mirror): the VM's root
# (debootstrap and the kernel .deb) and the other Docker releases. The ctest fixtures vm_root and
# release_fetch_* run the same scripts again and find everything in their caches; a failure here
# shows again, with its cause, in those tests. DIND_RELEASE_SUITES' default (tests/releases).
prepare_start=$SECONDS
(
  status=0
  bash tests/vm/build_root.sh >"$logs/vm-root.log" 2>&1 &
  vm_root_pid=$!
  for suite in trixie sid; do
    bash tests/releases/fetch_release.sh "$suite" "build/releases/$suite" \
      >"$logs/release-$suite.log" 2>&1 || status=1
  done
  wait "$vm_root_pid" || status=1
  echo $((SECONDS - prepare_start)) >"$logs/prepare.seconds"
  exit $status
) &
prepare_pid=$!

plain_built=0
stage "plain build (GCC, Release -O3)" configure_and_build build "$logs/plain-build.log" \
  -DCMAKE_BUILD_TYPE=Release && plain_built=1

# The sanitizer build starts now, in the background and at the lowest CPU priority, so the plain
# tests keep their timing; it takes the cores they leave idle.
sanitize_start=$SECONDS
(
  renice -n 19 -p "$BASHPID" >/dev/null
  # -O0 with line tables only: full stack traces with file and line, and half the compile time
  # of -O1 under ASan (the build is on the suite's critical path). The fuzz runs here are brief
  # checks of the seeds and a few seconds of mutation, not a campaign: OSS-Fuzz's -O1 would buy
  # them executions per second, not coverage this suite relies on.
  CC=clang CXX=clang++ configure_and_build build-sanitize "$logs/sanitize-build.log" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O0 -gline-tables-only" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -gline-tables-only" -DDIND_FUZZ=ON \
    -DDIND_BUILD_BENCH=OFF
) &
sanitize_pid=$!

prepare_name="downloads: VM root, Docker releases (beside the build)"
if wait "$prepare_pid"; then result=passed; else result=FAILED; fi
record "$prepare_name" "$result" "$(cat "$logs/prepare.seconds" 2>/dev/null || echo 0)"
[[ $result == passed ]] || tail -n 20 "$logs"/vm-root.log "$logs"/release-*.log >&2

if ((plain_built)); then
  stage "plain tests: every test but the VM's (Docker releases included)" ctest_in build plain -LE vm
else
  skip "plain tests" "the plain build failed"
fi

printf '\n==> sanitizer build (clang, ASan + UBSan + libFuzzer coverage): waiting for it\n'
sanitize_built=0
if wait "$sanitize_pid"; then
  record "sanitizer build (clang, in the background)" passed $((SECONDS - sanitize_start))
  sanitize_built=1
else
  record "sanitizer build (clang, in the background)" FAILED $((SECONDS - sanitize_start))
fi

# The VM boots take both cores (TCG) for minutes, two groups at a time. They run beside the
# sanitizer tests, not before them: the sanitizer build lives on the cores the plain tests leave
# idle, and a VM stage in between left it none (it ended minutes after the VM's stage then).
# Their output goes to a log, printed when they end.
vm_name="VM tests: cgroup v2 node, kernels missing a backend (QEMU, TCG; beside the sanitizer tests)"
if ((plain_built)); then
  vm_start=$SECONDS
  ctest_in build vm -L vm >"$logs/vm-tests.log" 2>&1 &
  vm_pid=$!
fi

if ((sanitize_built)); then
  # Not the e2e tests (but the two below), the VM groups (their guest has no sanitizer runtime)
  # nor the ship checks of files and manifests, which run
  # no C++ of ours beyond --help that the plain build has not already run.
  stage "sanitizer tests: unit, root, faults and fuzz" sanitizer_ctest sanitize -LE 'e2e|ship|vm'
else
  skip "sanitizer tests" "the sanitizer build failed"
fi

if ((plain_built)); then
  printf '\n==> %s\n' "$vm_name"
  if wait "$vm_pid"; then result=passed; else result=FAILED; fi
  cat "$logs/vm-tests.log"
  record "$vm_name" "$result" $((SECONDS - vm_start))
else
  skip "VM tests" "the plain build failed"
fi

# After the VM's stage: dockerd and the entrypoint's deadlines under ASan want the cores.
if ((sanitize_built)); then
  stage "sanitizer tests: the sidecar and the entrypoint end to end" sanitizer_ctest sanitize-e2e \
    -R '^(e2e_run_sidecar|e2e_entrypoint)$'
fi

printf '\n==> summary (%d s in all; the budget is 2,400 s)\n' $((SECONDS - suite_start))
failed=0
for i in "${!stage_names[@]}"; do
  printf '    %-55s %-32s %5d s\n' "${stage_names[$i]}" "${stage_results[$i]}" "${stage_seconds[$i]}"
  [[ ${stage_results[$i]} == passed ]] || failed=1
done
python3 scripts/test_timings.py build build-sanitize
if ((failed)); then
  echo "test.sh: FAILED (the stages above marked FAILED or skipped; logs in $logs)" >&2
  exit 1
fi
echo "test.sh: every stage passed"
