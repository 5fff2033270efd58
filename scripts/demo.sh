#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job against a sandbox pod: installs the dependencies, builds dind-netcfg, makes a
# "pod" out of network namespaces (a CNI-like veth uplink with a VXLAN-overlay MTU of 1450, a
# node namespace behind it), and runs `detect` and `init` inside the pod namespace, printing the
# detection report and the generated daemon.json. The machine's own network is never touched:
# every link lives in the namespaces made here, and they are deleted on exit.
# The installer's and the build's output go to build-logs/demo.log (shown when a stage fails);
# each stage prints one line with its time.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: building network namespaces needs root: run it as root (sudo $0 where sudo" \
    "is installed)" >&2
  exit 2
fi

mkdir -p build-logs
log=$PWD/build-logs/demo.log
: >"$log"
# quietly NAME COMMAND...: one line with the time; the output goes to the log, shown on failure.
quietly() {
  local name=$1 start=$SECONDS
  shift
  printf '==> %-48s' "$name"
  if "$@" >>"$log" 2>&1; then
    printf ' done (%d s)\n' $((SECONDS - start))
  else
    printf ' FAILED (%d s)\n' $((SECONDS - start))
    tail -n 40 "$log" >&2
    echo "demo.sh: '$name' failed; the whole output is in $log" >&2
    exit 1
  fi
}

quietly "install dependencies (scripts/install-deps.sh)" scripts/install-deps.sh
quietly "configure (cmake, Release)" cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
quietly "build dind-netcfg (a few minutes)" cmake --build build -j "$(nproc)" --target dind-netcfg
echo "    installer and build output: $log"
binary=$PWD/build/bin/dind-netcfg

pod=dnc-demo-pod-$$
node=dnc-demo-node-$$
work=$(mktemp -d /tmp/dind-netcfg-demo.XXXXXX)
cleanup() {
  ip netns del "$pod" 2>/dev/null || true
  ip netns del "$node" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> sandbox pod: namespace $pod, eth0 MTU 1450 (VXLAN overlay), node namespace $node"
ip netns add "$pod"
ip netns add "$node"
ip -n "$pod" link set lo up
ip -n "$node" link set lo up
# Created inside the pod namespace and moved to the node: nothing appears on the machine.
ip -n "$pod" link add eth0 mtu 1450 type veth peer name cali0 mtu 1450
ip -n "$pod" link set cali0 netns "$node"
ip -n "$pod" addr add 10.244.1.5/24 dev eth0
ip -n "$node" addr add 10.244.1.1/24 dev cali0
ip -n "$pod" link set eth0 up
ip -n "$node" link set cali0 up
ip -n "$pod" route add default via 10.244.1.1

printf 'nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\n' \
  >"$work/resolv.conf"
# A daemon.json the CI image already ships: its keys must survive untouched.
cat >"$work/daemon.json" <<'JSON'
{
  "storage-driver": "overlay2",
  "log-opts": {"max-size": "10m"},
  "mtu": 1500
}
JSON

# The traffic proof's cache stays in the demo's directory: detect proves, init reuses it.
in_pod() {
  nsenter --net="/var/run/netns/$pod" env KUBERNETES_SERVICE_HOST=10.96.0.1 \
    DIND_NETCFG_PROOF_CACHE="$work/backend-proof.json" "$@"
}

echo
echo "==> dind-netcfg detect (inside the pod)"
in_pod "$binary" detect --resolv-conf "$work/resolv.conf"

echo
echo "==> dind-netcfg init --daemon-json $work/daemon.json (inside the pod)"
in_pod "$binary" init --daemon-json "$work/daemon.json" --resolv-conf "$work/resolv.conf"

echo
echo "==> the generated daemon.json"
cat "$work/daemon.json"

cat <<EOF

==> next steps
    The binary is $binary (--help on every command). Package it with scripts/build-deb.sh and
    install it with 'apt install ./build-deb/dind-netcfg_*.deb', or build the container image
    with scripts/build-image.sh.
    In a DinD pod, 'dind-netcfg init --daemon-json /etc/docker/daemon.json' runs before dockerd
    (an init container) and 'dind-netcfg run' beside it keeps the rules in place and proves
    nested egress (a sidecar): deploy/kubernetes/ has the pod manifests, deploy/README.md says
    how to use them. On a VM runner the systemd units in systemd/ do the same.
    Every flag, output and exit code: README.md. The whole test suite: scripts/test.sh (as root).
EOF
