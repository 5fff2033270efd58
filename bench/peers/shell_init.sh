#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The peer of `dind-netcfg init` in benchmark 1: the shell way common DinD entrypoints set up the
# network. Default-route device from `ip route`, its MTU from /sys (run it where /sys shows the
# pod's namespace, as `ip netns exec` arranges), daemon.json by printf, the iptables backend by
# /proc/net/ip_tables_names, then check-or-append the masquerade rule.
#
# It does much less than dind-netcfg: no overlay detection, no address pools, no merge into an
# existing daemon.json, no cgroup parent, no proof that the backend works.
#
# Usage: shell_init.sh DAEMON_JSON
set -eu
daemon_json=$1

dev=$(ip route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
mtu=$(cat "/sys/class/net/$dev/mtu")
printf '{\n  "mtu": %s,\n  "default-network-opts": {"bridge": {"com.docker.network.driver.mtu": "%s"}}\n}\n' \
  "$mtu" "$mtu" >"$daemon_json"

if grep -q . /proc/net/ip_tables_names 2>/dev/null; then
  iptables="iptables-legacy"
else
  iptables="iptables-nft"
fi
"$iptables" -w -t nat -C POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE 2>/dev/null ||
  "$iptables" -w -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
