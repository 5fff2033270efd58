#!/usr/bin/env bash
# Installs the dependencies, builds dind-netcfg twice (plain, and with AddressSanitizer +
# UndefinedBehaviorSanitizer) and runs every test: unit tests, root tests in network
# namespaces the tests create and delete, and end-to-end tests with a real dockerd. Then builds
# the libFuzzer targets with clang and runs each briefly on its seed corpus.
# Exits non-zero when any test fails. Needs root (namespaces, netfilter, dockerd).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: the suite builds network namespaces and runs dockerd: run as root (sudo $0)" >&2
  exit 2
fi

scripts/install-deps.sh

jobs=$(nproc)
configure_and_build() { # DIR EXTRA_CMAKE_ARGS...
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  cmake --build "$dir" -j "$jobs"
}

echo "==> plain build: every test"
configure_and_build build
(cd build && ctest --output-on-failure -j "$jobs")

echo "==> sanitizer build (ASan + UBSan): unit, namespace and fault tests, the sidecar end to end"
configure_and_build build-asan -DDIND_SANITIZE=ON -DDIND_BUILD_BENCH=OFF
(cd build-asan && export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 &&
  ctest --output-on-failure -j "$jobs" -LE e2e &&
  ctest --output-on-failure -R '^e2e_run_sidecar$')

echo "==> fuzz build (clang, libFuzzer + ASan + UBSan): a short run of every fuzz target"
# Only the fuzz targets and what they link; each runs ~20 s on its seeds (tests/fuzz).
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDIND_FUZZ=ON -DDIND_BUILD_BENCH=OFF
cmake --build build-fuzz -j "$jobs" --target dind_fuzz_targets
(cd build-fuzz && ctest --output-on-failure -L fuzz)

echo "==> all tests passed"
