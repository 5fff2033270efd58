#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs everything dind-netcfg needs to build, test and benchmark, from Debian 12's packages.
# Safe to re-run. Installing docker.io must not start the machine's own dockerd (it would add
# docker0 and iptables rules to the machine's namespace), so service starts are held off.
#
#   scripts/install-deps.sh          install what is missing
#   scripts/install-deps.sh --list   print the package list, one a line (tests/ship checks it)
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-format
  # libraries (see README, "Dependencies")
  libnl-3-dev libnl-route-3-dev libnftnl-dev libmnl-dev libiptc-dev
  libboost-dev libboost-system-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
  libcap-dev
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev wrk
  clang libclang-rt-14-dev
  # promtool: checks and unit-tests deploy/monitoring's rules and a real /metrics scrape
  prometheus
  # the real kernel-facing peers the tests drive inside their own namespaces
  iproute2 iptables nftables ethtool docker.io busybox-static netcat-openbsd jq procps curl
  libcap2-bin
  util-linux kmod
  # shipping: the .deb (cpack needs dpkg-shlibdeps from dpkg-dev), its lint and a clean root to
  # install it in; the manifests' YAML check and `kubectl kustomize` of them (kubectl 1.20)
  dpkg-dev lintian debootstrap python3 python3-yaml kubernetes-client
  # the dind image's self-contained bundle (scripts/build-image.sh --dind)
  patchelf
  # systemd-analyze verifies the installed units (ship_deb)
  systemd
  # tests/vm: Debian 12's kernel under QEMU (TCG), its root and payload disks made with
  # mkfs.ext4 -d and read back with debugfs, the initramfs' module list from depmod
  qemu-system-x86 qemu-utils e2fsprogs
)

if [[ ${1:-} == --list ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: run as root (apt-get needs it; sudo $0 where sudo is installed)" >&2
  exit 2
fi

# dpkg refuses to install a package over a file another package owns: a kubectl that came with
# the machine (a package of its own, such as Google Cloud's `kubectl`) stands in for Debian's.
declare -A stand_in=([kubernetes-client]=/usr/bin/kubectl)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' && continue
  if [[ -n ${stand_in[$package]:-} ]] && owner=$(dpkg-query -S "${stand_in[$package]}" 2>/dev/null); then
    echo "install-deps.sh: not installing $package: ${stand_in[$package]} is already there, from ${owner%%:*}"
    continue
  fi
  missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps.sh: all ${#packages[@]} packages already installed"
  exit 0
fi

policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && rm -f "$policy"' EXIT

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
