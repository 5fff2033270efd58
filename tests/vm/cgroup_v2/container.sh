#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A pod's container made the way runc makes it, for the scenarios of this group:
#   container.sh CGROUP CMD...
# run as the first process of new PID and mount namespaces (`unshare --pid --mount --fork`, in
# the pod's network namespace): joins CGROUP (a path below /sys/fs/cgroup, say
# /kubepods/burstable/pod<uid>/<ctr>), then unshares a cgroup namespace, so that CGROUP is its
# root, mounts proc and a fresh cgroup2 at /sys/fs/cgroup (what a container sees), and execs
# CMD as PID 1.
set -euo pipefail
cgroup=$1
shift
[[ $$ -eq 1 ]] || { echo "container.sh: not PID 1 of a PID namespace (pid $$)" >&2; exit 2; }
echo 0 >"/sys/fs/cgroup$cgroup/cgroup.procs"
# shellcheck disable=SC2016 # expanded by the inner bash
exec unshare --cgroup -- /bin/bash -c '
  set -e
  mount --make-rprivate /
  mount -t proc proc /proc
  umount -l /sys/fs/cgroup
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
  exec "$@"' container-init "$@"
