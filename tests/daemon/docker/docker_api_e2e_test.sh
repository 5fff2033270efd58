#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: the Docker API client (daemon/docker) against a real dockerd in a namespace.
# dockerd runs with {"mtu": 1400}; the script adds a dual-stack network with an MTU option and an
# internal network, then runs docker_api_e2e_check, which lists them over the socket and follows
# the event stream while a network is created and removed.
#
# Usage: docker_api_e2e_test.sh /path/to/build/bin/dind-netcfg   (root; needs docker.io and
# busybox-static like the other e2e tests). The check binary is found next to the build's tests.

source "$(dirname "${BASH_SOURCE[0]}")/../../e2e/lib.sh"

readonly BINARY=${1:-}
if [[ -z "$BINARY" ]]; then
  echo "usage: $0 /path/to/build/bin/dind-netcfg" >&2
  exit 2
fi
CHECK="$(dirname "$BINARY")/../tests/docker_api_e2e_check"
readonly CHECK
if [[ ! -x "$CHECK" ]]; then
  echo "FAIL: $CHECK is missing; build it first: cmake --build <build-dir> --target" \
    "docker_api_e2e_check" >&2
  exit 1
fi

e2e_init

e2e_step "dockerd with an MTU of 1400 in its own namespace"
e2e_ns_add pod
config="$E2E_TMP/daemon.json"
echo '{"mtu": 1400}' >"$config"
start_dockerd pod "$config"

e2e_step "networks to list"
assert_succeeds "dual-stack network with an MTU option" \
  docker_in pod network create --ipv6 --subnet fd00:dead:beef::/64 --subnet 10.250.0.0/24 \
  -o com.docker.network.driver.mtu=1300 e2e-dual
assert_succeeds "internal network" docker_in pod network create --internal e2e-internal

e2e_step "the client against dockerd's socket"
DIND_E2E_DOCKER_SOCKET=$(e2e_docker_sock pod) DIND_E2E_DOCKER_CLI=$DOCKER_CLI "$CHECK" ||
  e2e_fail "docker_api_e2e_check failed (output above)"
e2e_pass "the client read dockerd's networks and events"
