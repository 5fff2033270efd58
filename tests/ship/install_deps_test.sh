#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every tool the tests call comes from scripts/install-deps.sh on a machine that has nothing
# preinstalled (Debian 12 minbase: the Essential packages and apt). For each command the test
# scripts require (their e2e_require_cmd lines) and each one the C++ tests and scripts run
# directly (the list below), the package that owns it here must be Essential, apt, or in
# install-deps.sh's list or what those packages depend on. A tool this machine happens to have
# preinstalled, say systemd-analyze, fails here until the list installs it.
#
#   bash tests/ship/install_deps_test.sh [BINARY]   (BINARY is ignored: ctest passes it)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)

# Run by the C++ tests, bench/ and scripts/ (test.sh among them) rather than through
# e2e_require_cmd.
direct=(ip nft iptables iptables-legacy iptables-legacy-save iptables-legacy-restore
  ip6tables-legacy-save iptables-nft docker dockerd containerd busybox nsenter unshare sysctl
  setpriv setcap getcap wrk python3 debootstrap lintian cpack ctest cmake ninja c++ clang
  clang++ dpkg-deb dpkg-shlibdeps dpkg-buildflags systemd-analyze chroot gzip tar flock
  timeout ethtool curl jq nc ss renice
  qemu-system-x86_64 qemu-img mkfs.ext4 debugfs depmod) # tests/vm
mapfile -t required < <(grep -rhoE '^[[:space:]]*e2e_require_cmd[[:space:]].*' \
  "$here/tests" "$here/bench" --include='*.sh' | sed 's/^[[:space:]]*e2e_require_cmd//' |
  tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9._+-]*$')
mapfile -t commands < <(printf '%s\n' "${direct[@]}" "${required[@]}" | sort -u)
mapfile -t listed < <(bash "$here/scripts/install-deps.sh" --list)
((${#commands[@]} > 30)) || { echo "FAIL: only ${#commands[@]} commands found" >&2; exit 1; }

# What a minbase root gets from the list: the listed packages and, recursively, what they
# depend on (each alternative of an "a | b" that is installed here), plus Essential and apt.
covered=$(python3 - "${listed[@]}" <<'PY'
import re, sys
packages, provides, essential = {}, {}, set()
for stanza in open("/var/lib/dpkg/status").read().split("\n\n"):
    fields = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", stanza, re.M))
    if "install ok installed" not in fields.get("Status", ""):
        continue
    name = fields["Package"]
    packages[name] = ", ".join(filter(None, [fields.get("Depends"), fields.get("Pre-Depends")]))
    for virtual in (p.split()[0] for p in fields.get("Provides", "").split(",") if p.strip()):
        provides.setdefault(virtual, []).append(name)
    if fields.get("Essential") == "yes":
        essential.add(name)
todo, seen = list(sys.argv[1:]) + sorted(essential) + ["apt"], set()
while todo:
    name = todo.pop().split(":")[0]
    for real in [name] + provides.get(name, []):
        if real in packages and real not in seen:
            seen.add(real)
            for alternative in re.split(r"[,|]", packages[real]):
                if alternative.strip():
                    todo.append(alternative.split()[0])
print("\n".join(sorted(seen)))
PY
)

owner() { # PATH -> the package that ships it (merged /usr and alternatives: try each spelling)
  local path candidate
  for path in "$1" "$(readlink -f "$1")"; do
    for candidate in "$path" "${path#/usr}"; do
      dpkg-query -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1 && return 0
    done
  done
  return 1
}

# Each command passes when one of its copies on PATH comes from a covered package: this machine
# may have others first (a pyenv python3, a docker client in /usr/local/bin) that a fresh
# machine lacks, and then the Debian copy is the one the tests run there.
failures=0
for command in "${commands[@]}"; do
  mapfile -t paths < <(type -ap "$command")
  found=""
  owners=()
  for path in "${paths[@]}"; do
    package=$(owner "$path" || true)
    owners+=("$path:${package:-no package}")
    if [[ -n $package ]] && grep -qxF "$package" <<<"$covered"; then
      found="$package"
      break
    fi
  done
  if [[ -n $found ]]; then
    echo "    ok: $command ($found)"
  elif ((${#paths[@]} == 0)); then
    echo "FAIL: '$command' is not installed here (scripts/install-deps.sh should bring it)"
    failures=$((failures + 1))
  else
    echo "FAIL: '$command' is here only as ${owners[*]}: a Debian 12 minbase root gets none of" \
      "these from scripts/install-deps.sh; add the Debian package that ships it to its list"
    failures=$((failures + 1))
  fi
done
((failures == 0)) || { echo "FAIL: $failures tools the tests use are not installed by scripts/install-deps.sh" >&2; exit 1; }
echo "PASS: install_deps_test (${#commands[@]} tools, each from install-deps.sh's list or minbase)"
