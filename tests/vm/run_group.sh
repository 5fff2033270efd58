#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The VM harness: boots Debian 12's kernel (TCG; KVM is not needed) on a cached Debian 12 root
# with a group of scenarios as its init, and returns what they found.
#
#   tests/vm/run_group.sh GROUP_DIR [--append "KERNEL ARGS"] [--timeout SECONDS]
#                         [--release DIR]
#
# --release DIR puts another Docker release (tests/releases/fetch_release.sh unpacked it into
# DIR) on the payload disk, not the cached root: its dockerd, docker-proxy, containerd, shim and
# client in /vm/release/bin, its versions in /vm/release/versions. The guest's PATH does not
# have them: the root's Debian 12 docker.io stays the default; runc is the root's.
#
# Environment:
#   DIND_NETCFG_BIN  the binary to test (default build/bin/dind-netcfg)
#   DIND_VM_CACHE    where roots are cached (default /var/cache/dind-netcfg/vm; see build_root.sh)
#   VM_OUT           output directory, kept (default: a new /tmp/dind-vm-GROUP.XXXXXX, removed
#                    after a pass); it holds console.log, results/ (what the guest wrote) and
#                    payload.img
#   VM_MEM, VM_CPUS  guest memory in MiB (default 2048) and vCPUs (default 2)
#
# What the guest runs (contract for GROUP_DIR/scenarios.sh):
#   - a second disk, the payload, is mounted at /vm: /vm/bin/dind-netcfg (the binary, on PATH as
#     `dind-netcfg`), /vm/lib.sh (guest helpers: source it), /vm/group/ (a copy of GROUP_DIR),
#     /vm/results/ ($VM_RESULTS, read back by the host after power-off);
#   - /vm/init.sh is PID 1: it mounts proc, sys, dev, /tmp, /run and cgroup2 at /sys/fs/cgroup
#     with every controller enabled in the root's subtree_control, brings lo up, and runs
#     `bash /vm/group/scenarios.sh` as root (cwd /vm/group, output in
#     $VM_RESULTS/scenarios.log and on the console), then writes $VM_RESULTS/done, syncs and
#     powers off;
#   - scenarios report with vm_ok NAME DETAIL / vm_fail NAME DETAIL (lib.sh): lines
#     "ok - NAME: DETAIL" / "not ok - NAME: DETAIL" in $VM_RESULTS/results.txt; each scenario may
#     keep a log in $VM_RESULTS/logs/ (vm_log NAME prints its path).
# Exit 0 only when results.txt has at least one line, every line is ok, and the done marker is
# there. Otherwise the failed lines, the console's last 80 lines and each log's are printed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() {
  echo "usage: $0 GROUP_DIR [--append \"KERNEL ARGS\"] [--timeout SECONDS] [--release DIR]" >&2
  exit 2
}
[[ $# -ge 1 ]] || usage
group_dir=$(cd "$1" && pwd) || usage
shift
append=""
timeout_s=1200
release=""
while [[ $# -gt 0 ]]; do
  case $1 in
  --append) append=${2:?--append needs a value}; shift 2 ;;
  --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
  --release) release=${2:?--release needs a directory}; shift 2 ;;
  *) usage ;;
  esac
done
[[ -f $group_dir/scenarios.sh ]] || { echo "run_group.sh: $group_dir has no scenarios.sh" >&2; exit 2; }
group=$(basename "$group_dir")
binary=${DIND_NETCFG_BIN:-build/bin/dind-netcfg}
[[ -x $binary ]] || { echo "run_group.sh: no dind-netcfg binary at $binary (set DIND_NETCFG_BIN or build it)" >&2; exit 2; }
# The release's programs, and where the guest finds each (fetch_release.sh's layout).
release_bins=(usr/sbin/dockerd usr/sbin/docker-proxy usr/bin/containerd
  usr/bin/containerd-shim-runc-v2 usr/bin/docker)
if [[ -n $release ]]; then
  for bin in "${release_bins[@]}"; do
    [[ -x $release/$bin ]] || {
      echo "run_group.sh: --release $release has no $bin; fetch it first (ctest -R release_fetch_, or tests/releases/fetch_release.sh SUITE $release)" >&2
      exit 2
    }
  done
fi
for tool in qemu-system-x86_64 qemu-img mkfs.ext4 debugfs timeout setpriv; do
  command -v "$tool" >/dev/null || { echo "run_group.sh: '$tool' is missing; run scripts/install-deps.sh" >&2; exit 2; }
done
own_out=0 # a directory of our own is removed after a pass; VM_OUT's is kept
if [[ -n ${VM_OUT:-} ]]; then
  out=$VM_OUT
else
  out=$(mktemp -d "/tmp/dind-vm-$group.XXXXXX")
  own_out=1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The root: built when absent, else reused.
root_log=$out/build_root.log
if ! bash "$here/build_root.sh" "$binary" >"$root_log" 2>&1; then
  cat "$root_log" >&2
  echo "run_group.sh: the VM root could not be built (log above)" >&2
  exit 1
fi
grep -v '^VM_ROOT=' "$root_log"
root=$(sed -n 's/^VM_ROOT=//p' "$root_log" | tail -n1)

# The payload disk: binary, guest helpers, the group, an empty results directory. No journal:
# the host reads it with debugfs, which does not replay one.
stage=$out/payload
rm -rf "$stage" "$out/results"
mkdir -p "$stage/bin" "$stage/group" "$stage/results/logs"
cp "$binary" "$stage/bin/dind-netcfg"
cp "$here/guest/init.sh" "$here/guest/lib.sh" "$stage/"
cp -r "$group_dir/." "$stage/group/"
printf '%s\n' "$group" >"$stage/group-name"
if [[ -n $release ]]; then
  mkdir -p "$stage/release/bin"
  for bin in "${release_bins[@]}"; do cp "$release/$bin" "$stage/release/bin/"; done
  cp "$release/.versions" "$stage/release/versions" 2>/dev/null ||
    echo "(versions not recorded in $release/.versions)" >"$stage/release/versions"
  echo "vm $group: release from $release on the payload disk: $(paste -sd ' ' "$stage/release/versions")"
fi
payload_mb=$(($(du -sm "$stage" | cut -f1) + 256))
rm -f "$out/payload.img"
mkfs.ext4 -q -F -O ^has_journal -L dind-payload -d "$stage" "$out/payload.img" "${payload_mb}M" >/dev/null
rm -rf "$stage"
rm -f "$out/overlay.qcow2"
qemu-img create -q -f qcow2 -b "$root/base.img" -F raw "$out/overlay.qcow2"

echo "vm $group: booting (TCG, ${VM_CPUS:-2} vCPUs, ${VM_MEM:-2048} MiB, append '${append}', timeout ${timeout_s}s); console $out/console.log"
start=$SECONDS
rc=0
# qemu dies with this script (ctest's timeout, ^C): each of timeout and qemu gets SIGKILL when
# its parent ends (setpriv --pdeathsig).
setpriv --pdeathsig KILL timeout -k 10 "$timeout_s" \
  setpriv --pdeathsig KILL qemu-system-x86_64 -accel tcg -machine q35 -cpu max \
  -smp "${VM_CPUS:-2}" -m "${VM_MEM:-2048}" -no-reboot -display none -monitor none -nic none \
  -kernel "$root/vmlinuz" -initrd "$root/initrd.img" \
  -append "console=ttyS0 root=/dev/vda panic=-1 loglevel=4 $append" \
  -drive "file=$out/overlay.qcow2,if=virtio,format=qcow2" \
  -drive "file=$out/payload.img,if=virtio,format=raw" \
  -serial "file:$out/console.log" >"$out/qemu.log" 2>&1 || rc=$?
boot_s=$((SECONDS - start))
rm -f "$out/overlay.qcow2"
if ((rc == 124 || rc == 137)); then
  echo "vm $group: FAIL: qemu did not power off within ${timeout_s}s; killed" >&2
elif ((rc != 0)); then
  echo "vm $group: FAIL: qemu exited with $rc: $(tail -n 5 "$out/qemu.log")" >&2
fi

debugfs -R "rdump /results $out" "$out/payload.img" >"$out/debugfs.log" 2>&1 ||
  echo "vm $group: debugfs could not read the results back: $(tail -n 3 "$out/debugfs.log")" >&2
results=$out/results/results.txt
failed=0
[[ -s $results ]] || { echo "vm $group: FAIL: the scenarios reported nothing ($results is missing or empty)" >&2; failed=1; }
[[ -f $out/results/done ]] || { echo "vm $group: FAIL: no done marker: the guest did not reach the end of its init" >&2; failed=1; }
if [[ -s $results ]]; then
  sed 's/^/    /' "$results"
  grep -v '^ok - ' "$results" >"$out/failed.txt" || true
  [[ ! -s $out/failed.txt ]] || failed=1
fi
[[ -f $out/results/boot.txt ]] && sed 's/^/    guest: /' "$out/results/boot.txt"
if ((failed || rc != 0)); then
  if [[ -s $out/failed.txt ]]; then
    echo "--- failed lines:"
    cat "$out/failed.txt"
  fi
  echo "--- console (last 80 lines of $out/console.log):"
  tail -n 80 "$out/console.log" 2>/dev/null || true
  for log in "$out/results/scenarios.log" "$out"/results/logs/*.log; do
    [[ -f $log ]] || continue
    echo "--- $(basename "$log") (last 80 lines):"
    tail -n 80 "$log"
  done
  echo "vm $group: FAIL after ${boot_s}s (boot and scenarios); everything is in $out" >&2
  exit 1
fi
checks=$(grep -c '^ok - ' "$results")
if ((own_out)); then
  rm -rf "$out"
  echo "vm $group: PASS: $checks checks in ${boot_s}s (boot, scenarios and power-off)"
else
  echo "vm $group: PASS: $checks checks in ${boot_s}s (boot, scenarios and power-off); output in $out"
fi
