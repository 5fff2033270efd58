#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package, as a VM runner's admin would use it: built with cpack from the tested
# build, checked by lintian (no errors), installed into a clean Debian 12 root (debootstrap)
# with `apt install ./dind-netcfg_*.deb`, its file capabilities checked with getcap,
# `dind-netcfg version` run from it, the installed units checked by `systemd-analyze verify`,
# and the package purged again.
#
#   bash tests/ship/deb_test.sh BUILD_DIR/bin/dind-netcfg
#
# The debootstrap root is cached as a tarball under /var/cache/dind-netcfg, so only the first
# run downloads it. Needs root, debootstrap, lintian and a reachable Debian mirror (the one
# apt uses).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)

binary=${1:?usage: deb_test.sh BUILD_DIR/bin/dind-netcfg}
build_dir=$(cd "$(dirname "$binary")/.." && pwd)
suite=bookworm
mirror=${DIND_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache_dir=/var/cache/dind-netcfg
root_tarball=$cache_dir/debootstrap-$suite-minbase-systemd-$(dpkg --print-architecture).tar.gz

step() { printf '\n==> %s\n' "$*"; }
pass() { printf '    ok: %s\n' "$*"; }
fail() { printf '    FAIL: %s\n' "$*" >&2; exit 1; }

if ((EUID != 0)); then
  echo "FAIL: deb_test.sh needs root (debootstrap, chroot, dpkg)" >&2
  exit 1
fi
for tool in debootstrap lintian cpack dpkg-deb systemd-analyze chroot; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh installs it)"
done

tmp=$(mktemp -d /tmp/dnc-deb.XXXXXX)
root=$tmp/root
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM HUP
  # Lazily, deepest first: everything mounted inside the chroot.
  awk -v d="$tmp/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r mnt; do umount -l "$mnt"; done
  rm -rf --one-file-system "$tmp"
  printf '    cleanup done\n'
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

version=$(sed -n 's/^project(dind-netcfg VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")

step "build the .deb from $build_dir and run lintian"
deb=$("$here/scripts/build-deb.sh" --build-dir "$build_dir" --reuse --out "$tmp/out" | tee "$tmp/build-deb.log" | tail -n 1) ||
  { cat "$tmp/build-deb.log" >&2; fail "build-deb.sh failed"; }
sed 's/^/    /' "$tmp/build-deb.log" | grep -v "^    $deb\$"
[[ -f $deb ]] || fail "no .deb produced"
assert_field() { # FIELD EXPECTED
  local got
  got=$(dpkg-deb -f "$deb" "$1")
  [[ $got == "$2" ]] || fail "$1 is '$got', expected '$2'"
  pass "$1: $got"
}
assert_field Package dind-netcfg
assert_field Version "$version"
assert_field Section net
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libstdc++6 libnl-3-200 libnl-route-3-200 libnftnl11 libmnl0 libip4tc2; do
  [[ $depends == *"$lib "* || $depends == *"$lib," || $depends == *"$lib" ]] ||
    fail "Depends lacks $lib (dpkg-shlibdeps should have found it): $depends"
done
pass "Depends derived from the binary: $depends"
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/dind-netcfg ./usr/lib/systemd/system/dind-netcfg.service \
  ./usr/lib/systemd/system/dind-netcfg-init.service ./etc/default/dind-netcfg \
  ./usr/share/doc/dind-netcfg/copyright ./usr/share/doc/dind-netcfg/changelog.gz; do
  grep -q " $path\$" <<<"$contents" || fail "the package lacks $path"
done
pass "binary, units, default configuration, copyright and changelog are in the package"

step "a clean Debian 12 root (debootstrap $suite, cached in $root_tarball)"
if [[ ! -s $root_tarball ]]; then
  mkdir -p "$cache_dir"
  printf '    no cached root: debootstrap --variant=minbase --include=systemd %s from %s\n' "$suite" "$mirror"
  if ! debootstrap --variant=minbase --include=systemd "$suite" "$tmp/bootstrap" "$mirror" \
    >"$tmp/debootstrap.log" 2>&1; then
    tail -n 20 "$tmp/debootstrap.log" >&2
    fail "debootstrap could not build a $suite root from $mirror (is the mirror reachable?)"
  fi
  rm -rf "$tmp/bootstrap/var/cache/apt/archives/"*.deb "$tmp/bootstrap/var/lib/apt/lists/"*_Packages
  tar -C "$tmp/bootstrap" --numeric-owner -czf "$root_tarball.part" .
  mv "$root_tarball.part" "$root_tarball"
  rm -rf --one-file-system "$tmp/bootstrap"
fi
mkdir -p "$root"
tar -C "$root" --numeric-owner -xzf "$root_tarball"
[[ ! -e $root/usr/bin/dind-netcfg ]] || fail "the cached root already has dind-netcfg"
pass "root unpacked; it has no dind-netcfg"

# What apt in the root needs: the host's DNS answers, /proc, the full Debian 12 suites (the
# build machine's libraries may come from bookworm-updates or -security, and shlibdeps asks
# for at least those versions), and no service starts.
cp /etc/resolv.conf "$root/etc/resolv.conf"
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian}/debian-security $suite-security main
EOF
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

step "apt install ./$(basename "$deb"), as a VM runner's admin would"
cp "$deb" "$root/tmp/"
in_root apt-get update -qq >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; fail "apt-get update in the root failed"; }
in_root sh -c "cd /tmp && apt-get install -y -qq --no-install-recommends ./$(basename "$deb")" \
  >>"$tmp/apt.log" 2>&1 || { tail -n 30 "$tmp/apt.log" >&2; fail "apt-get install ./$(basename "$deb") failed"; }
status=$(in_root dpkg-query -W -f='${Status}' dind-netcfg)
[[ $status == "install ok installed" ]] || fail "dind-netcfg is '$status' in the root"
pass "dind-netcfg is installed ($status)"
conffiles=$(in_root dpkg-query -W -f='${Conffiles}' dind-netcfg)
[[ $conffiles == *"/etc/default/dind-netcfg "* ]] || fail "/etc/default/dind-netcfg is not a conffile: '$conffiles'"
pass "/etc/default/dind-netcfg is a conffile"

step "the binary's file capabilities (postinst) and the licence"
caps=$(in_root getcap /usr/bin/dind-netcfg)
[[ $caps == "/usr/bin/dind-netcfg cap_net_admin,cap_net_raw,cap_sys_admin=p" ]] ||
  fail "getcap /usr/bin/dind-netcfg says '$caps', expected cap_net_admin,cap_net_raw,cap_sys_admin=p"
pass "getcap: $caps"
# Not `dpkg-deb | grep -q`: grep stops at the match, dpkg-deb then dies of SIGPIPE, and
# pipefail turns that into a failure whenever the text is longer than the pipe's first read.
grep -q 'cap_net_admin,cap_net_raw,cap_sys_admin+p' <<<"$(dpkg-deb -f "$deb" Description)" ||
  fail "the package description does not name the file capabilities"
grep -q '^License: Apache-2.0$' "$root/usr/share/doc/dind-netcfg/copyright" ||
  fail "/usr/share/doc/dind-netcfg/copyright does not say License: Apache-2.0"
pass "the description names the capabilities; the copyright file says Apache-2.0"

step "dind-netcfg runs from the installed package"
out=$(in_root dind-netcfg version 2>&1) || fail "chroot ROOT dind-netcfg version failed: $out"
[[ $out == *"$version"* ]] || fail "dind-netcfg version says '$out', expected $version"
pass "dind-netcfg version: $out"
missing=$(in_root ldd /usr/bin/dind-netcfg | grep 'not found' || true)
[[ -z $missing ]] || fail "libraries missing in the root: $missing"
pass "every shared library resolves in the root"

step "systemd-analyze verify on the installed units"
for unit in dind-netcfg.service dind-netcfg-init.service; do
  [[ -f $root/usr/lib/systemd/system/$unit ]] || fail "$unit is not installed"
  # verify prints problems (including bad values it ignores) but may still exit 0: any
  # output is a failure.
  vout=$(systemd-analyze verify --man=no --root="$root" "/usr/lib/systemd/system/$unit" 2>&1) ||
    fail "systemd-analyze verify $unit failed: $vout"
  [[ -z $vout ]] || fail "systemd-analyze verify $unit reported: $vout"
  pass "$unit verifies against the root"
done

step "purge"
in_root dpkg --purge dind-netcfg >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log" >&2; fail "dpkg --purge failed"; }
for path in /usr/bin/dind-netcfg /etc/default/dind-netcfg /usr/lib/systemd/system/dind-netcfg.service; do
  [[ ! -e $root$path ]] || fail "$path is still there after purge"
done
pass "purged: binary, units and configuration are gone"

printf '\nPASS: deb_test\n'
