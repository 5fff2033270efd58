#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# PID 1 of the VM (the initramfs switch_roots here, with the payload disk at /vm): mounts what a
# container host has, a cgroup v2 hierarchy with every controller, runs the group's scenarios,
# writes the done marker and powers off. See tests/vm/run_group.sh for the contract.
set -u
export PATH=/vm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
export VM_RESULTS=/vm/results
mkdir -p "$VM_RESULTS/logs"

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/netns /run/lock
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
# Every controller the kernel offers, delegated from the root, as on a Kubernetes node.
read -r -a controllers </sys/fs/cgroup/cgroup.controllers
for controller in "${controllers[@]}"; do
  echo "+$controller" >/sys/fs/cgroup/cgroup.subtree_control ||
    echo "init: could not enable cgroup controller $controller at the root" >&2
done
ip link set lo up
hostname dind-vm
ln -sf /proc/self/fd /dev/fd 2>/dev/null || true

{
  echo "kernel $(uname -r), booted to init in $(cut -d' ' -f1 /proc/uptime)s"
  echo "cgroup2 root controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
  echo "docker $(dockerd --version 2>&1 | head -n1)"
  # Its versions file, not `dockerd --version`: exec'ing an 80 MB binary costs seconds under TCG.
  if [[ -f /vm/release/versions ]]; then
    echo "release in /vm/release/bin (not on PATH): $(paste -sd ' ' /vm/release/versions)"
  fi
} >"$VM_RESULTS/boot.txt"
cat "$VM_RESULTS/boot.txt"

group=$(cat /vm/group-name 2>/dev/null || echo group)
echo "init: running /vm/group/scenarios.sh ($group)"
start=$(cut -d' ' -f1 /proc/uptime)
cd /vm/group || exit 1
bash /vm/group/scenarios.sh 2>&1 | tee "$VM_RESULTS/scenarios.log"
rc=${PIPESTATUS[0]}
end=$(cut -d' ' -f1 /proc/uptime)
echo "scenarios.sh exited $rc; scenarios ran from ${start}s to ${end}s of uptime" | tee -a "$VM_RESULTS/boot.txt"
if ((rc != 0)); then
  echo "not ok - scenarios.sh: exited with status $rc" >>"$VM_RESULTS/results.txt"
fi
echo "$end" >"$VM_RESULTS/done"
sync
mount -o remount,ro /vm 2>/dev/null || true
sync
echo "init: powering off"
echo o >/proc/sysrq-trigger
sleep 30
