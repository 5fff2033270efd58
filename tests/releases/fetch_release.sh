#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fetches the dockerd and containerd of another Debian suite and unpacks them into the build
# tree, without touching the machine's own packages or apt configuration:
#   fetch_release.sh SUITE OUT_DIR      e.g. fetch_release.sh trixie build/releases/trixie
# apt runs on a sources list and state/cache directories of its own (under OUT_DIR/../apt/SUITE),
# never /etc/apt. It downloads docker.io, containerd and docker-cli (where the suite splits the
# client out) from http://deb.debian.org/debian and unpacks them with dpkg-deb -x into OUT_DIR;
# E2E_DOCKER_RELEASE=OUT_DIR then runs the end-to-end tests with them (tests/e2e/lib.sh). Their
# runc and docker-init (tini) are not used: the host's Debian 12 ones are (the suite's need a
# newer glibc than Debian 12's or are static builds we do not need).
#
# The suite's index says which versions are taken; an unstable suite moves, so this takes what
# it holds and prints it. The .deb files are kept in DIND_RELEASE_CACHE (default
# /var/cache/dind-netcfg/releases, outside the clone), named by version, so a later run with
# the same versions downloads only the index; delete the directory to start afresh. Any
# failure (mirror unreachable, package missing, bad signature) fails loudly with exit 1.
set -euo pipefail

MIRROR=${DIND_RELEASE_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
CACHE=${DIND_RELEASE_CACHE:-/var/cache/dind-netcfg/releases}

fail() {
  echo "fetch_release.sh: FAIL: $*" >&2
  exit 1
}

(($# == 2)) || {
  echo "usage: $0 SUITE OUT_DIR   (SUITE: a Debian suite such as trixie or sid)" >&2
  exit 2
}
suite=$1
out=$2
[[ $suite =~ ^[a-z0-9-]+$ ]] || fail "'$suite' is not a Debian suite name (trixie, sid, ...)"
[[ -r $KEYRING ]] || fail "$KEYRING is missing: apt-get install debian-archive-keyring"
for cmd in apt-get apt-cache dpkg-deb; do
  command -v "$cmd" >/dev/null || fail "$cmd not found (this needs Debian's apt and dpkg)"
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
state=$(dirname "$out")/apt/$suite
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$CACHE"
echo "deb [signed-by=$KEYRING] $MIRROR $suite main" >"$state/sources.list"

# Every apt call sees only this suite: its own sources list, lists, cache, an empty dpkg
# status (nothing is "installed") and no configuration fragments of the machine's.
apt_opts=(-q -o "Dir::Etc::sourcelist=$state/sources.list" -o Dir::Etc::sourceparts=-
  -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
  -o Dir::State::status=/dev/null -o Acquire::Languages=none
  -o APT::Get::List-Cleanup=0 -o Acquire::Retries=3
  # apt's _apt user may not reach a clone under /root: it would warn and fetch as root anyway.
  -o APT::Sandbox::User=root)

echo "==> $suite: apt-get update from $MIRROR (state in $state)"
if ! apt-get "${apt_opts[@]}" update >"$state/update.log" 2>&1; then
  cat "$state/update.log" >&2
  fail "apt-get update of $suite failed (is $MIRROR reachable?); log above and in $state/update.log"
fi
# apt-get update exits 0 when a source could not be fetched; an index that is not there is
# such a failure.
if grep -qE '^(W|E): ' "$state/update.log"; then
  cat "$state/update.log" >&2
  fail "apt-get update of $suite reported errors or warnings (above); the index may be stale"
fi

version_of() { # PACKAGE -> candidate version, empty when the suite has no such package
  apt-cache "${apt_opts[@]}" show --no-all-versions "$1" 2>/dev/null |
    sed -n 's/^Version: //p' | head -n 1
}

packages=(docker.io containerd)
# Since Debian 13 the client is a package of its own; before, docker.io held it.
[[ -n $(version_of docker-cli) ]] && packages+=(docker-cli)

declare -A versions=()
debs=()
for pkg in "${packages[@]}"; do
  version=$(version_of "$pkg")
  [[ -n $version ]] || fail "$suite has no package $pkg (apt-cache show $pkg is empty)"
  versions[$pkg]=$version
  # The file name apt-get download gives it: ':' of an epoch becomes %3a.
  deb="$CACHE/${pkg}_${version//:/%3a}_amd64.deb"
  if [[ ! -s $deb ]]; then
    echo "==> $suite: apt-get download $pkg=$version"
    if ! (cd "$CACHE" && apt-get "${apt_opts[@]}" download "$pkg=$version") \
      >"$state/download-$pkg.log" 2>&1; then
      cat "$state/download-$pkg.log" >&2
      fail "apt-get download $pkg=$version from $suite failed; log above"
    fi
    [[ -s $deb ]] || fail "apt-get download $pkg=$version succeeded but $deb is not there"
  else
    echo "==> $suite: $pkg=$version from the cache ($deb)"
  fi
  debs+=("$deb")
done

# Unpacked afresh unless OUT_DIR already holds exactly these versions.
stamp=$out/.versions
want=$(for pkg in "${packages[@]}"; do echo "$pkg=${versions[$pkg]}"; done)
if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
  rm -rf --one-file-system "$out"
  mkdir -p "$out"
  for deb in "${debs[@]}"; do
    dpkg-deb -x "$deb" "$out" || fail "dpkg-deb -x $deb failed (a damaged download? delete it)"
  done
  # Their docker-init points at tini-static, which Debian 12 does not ship: dockerd then finds
  # the host's docker-init further along PATH.
  rm -f "$out/usr/bin/docker-init"
  printf '%s\n' "$want" >"$stamp"
fi

for bin in usr/sbin/dockerd usr/bin/containerd usr/bin/containerd-shim-runc-v2 usr/bin/docker; do
  [[ -x $out/$bin ]] || fail "$out/$bin is missing after unpacking ${packages[*]} of $suite"
done
dockerd_says=$("$out/usr/sbin/dockerd" --version 2>&1) ||
  fail "$out/usr/sbin/dockerd --version failed on this machine: $dockerd_says"
containerd_says=$("$out/usr/bin/containerd" --version 2>&1) ||
  fail "$out/usr/bin/containerd --version failed on this machine: $containerd_says"
echo "==> $suite in $out:"
for pkg in "${packages[@]}"; do echo "    $pkg ${versions[$pkg]}"; done
echo "    $dockerd_says"
echo "    $containerd_says"
