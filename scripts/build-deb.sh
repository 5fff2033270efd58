#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package dind-netcfg_<version>_<arch>.deb with CPack from CMake's install
# rules (binary, systemd units, /etc/default/dind-netcfg, docs; postinst gives the binary its file
# capabilities), with Debian's hardening flags, then checks it with lintian.
#
#   scripts/build-deb.sh [--build-dir DIR] [--reuse] [--out DIR] [--no-lintian]
#
#   --build-dir DIR  where to configure and build (default: build-deb, tests and benchmarks off)
#   --reuse          package DIR as it is built (e.g. the test build), without configuring it
#   --out DIR        where the .deb goes (default: the build directory)
#   --no-lintian     skip lintian
#
# Exits non-zero when the build fails or lintian reports an error (E:); warnings are printed.
# The last line names the .deb.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

build_dir=$here/build-deb
reuse=0
out=""
run_lintian=1
while (($#)); do
  case $1 in
  --build-dir) build_dir=$2; shift 2 ;;
  --reuse) reuse=1; shift ;;
  --out) out=$2; shift 2 ;;
  --no-lintian) run_lintian=0; shift ;;
  -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "build-deb.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
die() { echo "build-deb.sh: $*" >&2; exit 1; }
for tool in cmake cpack dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh installs it)"
done

if ((reuse)); then
  [[ -f $build_dir/CPackConfig.cmake ]] ||
    die "$build_dir has no CPackConfig.cmake: configure it with this source tree first"
else
  # As a Debian package build does it: dpkg-buildflags' hardening flags (CMake reads CFLAGS,
  # CXXFLAGS and LDFLAGS, not CPPFLAGS, so the fortify define is added to the compile flags) and
  # build type None, so those flags are the whole optimisation and debug setting.
  eval "$(dpkg-buildflags --export=sh)"
  export CFLAGS="$CFLAGS $CPPFLAGS" CXXFLAGS="$CXXFLAGS $CPPFLAGS"
  cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_INSTALL_PREFIX=/usr -DDIND_BUILD_TESTS=OFF -DDIND_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target dind-netcfg
fi
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)
out=${out:-$build_dir}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# cpack's own staging directory lives under --out, so packaging never writes into a build
# directory someone else is using.
log=$out/cpack.log
if ! (cd "$out" && cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$out/cpack" >"$log" 2>&1); then
  cat "$log" >&2
  die "cpack failed (log above)"
fi
deb=$(find "$out/cpack" -maxdepth 1 -name 'dind-netcfg_*.deb' -newer "$log" -print -quit 2>/dev/null || true)
[[ -n $deb ]] || deb=$(ls -t "$out"/cpack/dind-netcfg_*.deb | head -n 1)
mv -f "$deb" "$out/"
deb=$out/$(basename "$deb")
rm -rf "$out/cpack/_CPack_Packages"

echo "build-deb.sh: $(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')"
echo "build-deb.sh: Depends: $(dpkg-deb -f "$deb" Depends)"
if ((run_lintian)); then
  command -v lintian >/dev/null || die "lintian is missing (apt-get install lintian)"
  # As root lintian wants --allow-root; it only reads the package.
  lintian_out=$(lintian --allow-root --display-info "$deb" 2>&1) || true
  [[ -n $lintian_out ]] && printf '%s\n' "$lintian_out" | sed 's/^/    /'
  errors=$(grep -c '^E: ' <<<"$lintian_out" || true)
  warnings=$(grep -c '^W: ' <<<"$lintian_out" || true)
  echo "build-deb.sh: lintian: $errors errors, $warnings warnings"
  ((errors == 0)) || die "lintian reported errors"
fi
echo "$deb"
