#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deploy/monitoring works with what the binary really exports: a /metrics scrape of
# `dind-netcfg run` passes `promtool check metrics`; the rules pass `promtool check rules` and
# their unit tests (`promtool test rules`); every expression of the rules and the Grafana
# dashboard names only series and labels the scrape has, and the dashboard's parse as PromQL;
# the PodMonitor validates against its CRD and scrapes the port name every manifest and recipe
# gives the endpoint (tests/ship/monitoring_test.py has the list).
#
# The scrape comes from `run` in a network namespace of its own, inside a user namespace where
# the kernel allows one (so no root is needed): a veth pair stands for the pod's uplink, with
# no rules, no probes and no dockerd. The machine's own namespace is not touched.
#
#   bash tests/ship/monitoring_test.sh BUILD_DIR/bin/dind-netcfg   (needs promtool, python3-yaml)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:?usage: monitoring_test.sh BUILD_DIR/bin/dind-netcfg}
python=/usr/bin/python3 # Debian's, with python3-yaml
"$python" -c 'import yaml' 2>/dev/null || { echo "FAIL: python3-yaml is missing (apt-get install python3-yaml)" >&2; exit 1; }
promtool=$(command -v promtool) ||
  { echo "FAIL: promtool is missing (Debian: prometheus; scripts/install-deps.sh installs it)" >&2; exit 1; }
monitoring=$here/deploy/monitoring

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
listen=$("$binary" run --help | sed -n 's/.*--listen [^ =]*=\([^ ]*\).*/\1/p')
[[ $listen == *:* ]] || { echo "FAIL: no --listen default in 'run --help'" >&2; exit 1; }

# Run in the new namespaces: $1 binary, $2 work directory, $3 port.
# shellcheck disable=SC2016 # expanded by the inner bash
inner='
set -euo pipefail
binary=$1 work=$2 port=$3
ip link set lo up
ip link add eth0 mtu 1450 type veth peer name uplink-peer
ip link set uplink-peer up
ip link set eth0 up
ip addr add 10.200.0.2/24 dev eth0
ip route add default via 10.200.0.1
echo "nameserver 10.200.0.10" >"$work/resolv.conf"
"$binary" run --daemon-json "$work/daemon.json" --no-rules --no-probes --docker-socket "" \
  --dockerd-version 24.0 --listen "127.0.0.1:$port" --resolv-conf "$work/resolv.conf" \
  --cni-config "$work/no-cni" --calico-mtu-file "$work/no-calico" >"$work/run.log" 2>&1 &
pid=$!
# Until the first preflight round is in it (about 10 ms after the start).
for _ in $(seq 100); do
  curl -sf --max-time 2 "http://127.0.0.1:$port/metrics" >"$work/metrics" &&
    grep -q "^dind_netcfg_preflight{" "$work/metrics" && break
  sleep 0.05
done
kill -TERM "$pid"
wait "$pid"
'
status=0
if ! unshare --user --map-root-user --net bash -c "$inner" _ "$binary" "$work" "${listen##*:}" 2>"$work/unshare.err"; then
  # No unprivileged user namespaces here: as root a network namespace alone does.
  if (($(id -u) == 0)); then
    unshare --net bash -c "$inner" _ "$binary" "$work" "${listen##*:}"
  else
    echo "FAIL: no namespace for run: $(cat "$work/unshare.err")" >&2
    exit 1
  fi
fi
if [[ -s $work/metrics ]]; then
  echo "    ok: scraped /metrics of dind-netcfg run in a namespace of its own"
else
  echo "    FAIL: no /metrics from dind-netcfg run; its log:"
  cat "$work/run.log"
  exit 1
fi

if "$promtool" check metrics <"$work/metrics" >"$work/check.out" 2>&1; then
  echo "    ok: promtool check metrics on the scrape"
else
  echo "    FAIL: promtool check metrics: $(cat "$work/check.out")"
  status=1
fi
if "$promtool" check rules "$monitoring/dind-netcfg.rules.yml" >"$work/check.out" 2>&1; then
  echo "    ok: promtool check rules: $(grep -o '[0-9]* rules found' "$work/check.out")"
else
  echo "    FAIL: promtool check rules: $(cat "$work/check.out")"
  status=1
fi
# promtool reads the rule files relative to the test file.
if "$promtool" test rules "$monitoring/dind-netcfg.rules.test.yml" >"$work/check.out" 2>&1; then
  echo "    ok: promtool test rules dind-netcfg.rules.test.yml"
else
  echo "    FAIL: promtool test rules:"
  cat "$work/check.out"
  status=1
fi

"$python" "$here/tests/ship/monitoring_test.py" "$here" "$work/metrics" "$promtool" "$listen" || status=1

if ((status != 0)); then
  echo "FAIL: monitoring_test"
  exit 1
fi
echo "PASS: monitoring_test"
