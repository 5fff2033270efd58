#!/usr/bin/env bash
# The main job against a sandbox pod: installs the dependencies, builds dind-netcfg, makes a
# "pod" out of network namespaces (a CNI-like veth uplink with a VXLAN-overlay MTU of 1450, a
# node namespace behind it), and runs `detect` and `init` inside the pod namespace, printing the
# detection report and the generated daemon.json. The machine's own network is never touched:
# every link lives in the namespaces made here, and they are deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: building network namespaces needs root: sudo $0" >&2
  exit 2
fi

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target dind-netcfg
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

in_pod() { nsenter --net="/var/run/netns/$pod" env KUBERNETES_SERVICE_HOST=10.96.0.1 "$@"; }

echo
echo "==> dind-netcfg detect (inside the pod)"
in_pod "$binary" detect --resolv-conf "$work/resolv.conf"

echo
echo "==> dind-netcfg init --daemon-json $work/daemon.json (inside the pod)"
in_pod "$binary" init --daemon-json "$work/daemon.json" --resolv-conf "$work/resolv.conf"

echo
echo "==> the generated daemon.json"
cat "$work/daemon.json"
