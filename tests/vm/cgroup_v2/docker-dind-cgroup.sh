#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What the docker:dind image's entrypoint does on cgroup v2 before it starts dockerd (moby's
# hack/dind, which dockerd-entrypoint.sh runs): move every process of the container's cgroup
# into a child "init" and enable all controllers, so the no-internal-processes rule lets dockerd
# create containers below its own cgroup. Then exec the command (dockerd).
set -e
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs || :
  sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control
fi
exec "$@"
