#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The peer of `dind-netcfg entrypoint` in benchmark 7: the docker:dind way of running a CI job in
# the container that runs dockerd. A shell entrypoint starts dockerd in the background, polls
# `docker info` until the daemon answers, then execs the job, which takes over as PID 1 (so when
# it ends, the kernel kills dockerd and everything else in the PID namespace, as when such a
# container exits).
#
# It does much less than dind-netcfg: no daemon.json of its own (it is given one), no choice of
# iptables backend (dockerd runs the image's `iptables`), no masquerade rules, no egress check,
# no reaping, no signal forwarding, no cgroup nesting.
#
# Usage: dind_entrypoint.sh [DOCKERD_ARG...] -- COMMAND [ARGS...]
#   DIND_SOCKET  the socket dockerd serves (default /var/run/docker.sock)
#   DIND_DOCKER  the docker client that polls (default docker)
#   DIND_POLL    seconds between `docker info` attempts (default 1, what such scripts often sleep)
#   DIND_TRIES   attempts before giving up with status 1 (default 120)
set -eu
socket=${DIND_SOCKET:-/var/run/docker.sock}
docker=${DIND_DOCKER:-docker}
poll=${DIND_POLL:-1}
tries=${DIND_TRIES:-120}

# dockerd in the background with the first KEEP arguments (those before `--`).
start_dockerd() { # KEEP ARG...
  keep=$1
  shift
  i=0
  for arg do # the list is expanded once: shift away each original, append the kept ones
    shift
    if [ "$i" -lt "$keep" ]; then set -- "$@" "$arg"; fi
    i=$((i + 1))
  done
  dockerd --host "unix://$socket" "$@" >&2 &
  dockerd_pid=$!
}

before=0
for arg do
  [ "$arg" = "--" ] && break
  before=$((before + 1))
done
if [ "$before" -ge $# ]; then
  echo "usage: $0 [DOCKERD_ARG...] -- COMMAND [ARGS...]" >&2
  exit 2
fi
start_dockerd "$before" "$@"
shift $((before + 1))

attempt=1
until "$docker" -H "unix://$socket" info >/dev/null 2>&1; do
  if [ "$attempt" -ge "$tries" ] || ! kill -0 "$dockerd_pid" 2>/dev/null; then
    echo "dind_entrypoint.sh: dockerd did not answer 'docker info' on $socket ($attempt tries)" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep "$poll"
done
export DOCKER_HOST="unix://$socket"
exec "$@"
