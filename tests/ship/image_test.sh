#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The container image, as a pod would use it, with a real dockerd in a namespace of its own:
#
#   [node ns: dockerd {"mtu": 1450}, docker0]
#        pod        busybox container standing for the pod (its eth0 has MTU 1450)
#        init       dind-netcfg:<version> init, --network container:pod, daemon.json to a volume
#        sidecar    dind-netcfg:<version> (CMD run), --network container:pod
#        client     busybox, --network container:pod, asks 127.0.0.1:9254/healthz
#
#   1. scripts/build-image.sh builds dind-netcfg:<version> FROM scratch (reports its size);
#   2. the image runs `version`, as root and as its non-root user with no capabilities (the
#      binary's file capabilities are permitted-only, so exec does not need them granted);
#   3. `init` in the pod's network namespace, as the non-root user (65532) given only NET_ADMIN,
#      NET_RAW and SYS_ADMIN (which reach it through the file capabilities), writes daemon.json
#      (mtu 1450) to a mounted volume, with a read-only root file system;
#   4. `run`, PID 1 of its container and the same non-root user, keeps exactly those three,
#      answers /healthz, and stops within a second on `docker stop`.
#
# Usage: image_test.sh /path/to/dind-netcfg   (root; docker.io, busybox-static, jq)
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

readonly BINARY=${1:-}
readonly POD_MTU=1450
readonly STOP_LIMIT_MS=${DIND_STOP_LIMIT_MS:-1000}
if [[ -z "$BINARY" || ! -x "$BINARY" ]]; then
  echo "usage: $0 /path/to/dind-netcfg (built: cmake --build <build-dir> --target dind-netcfg)" >&2
  exit 2
fi

e2e_init
e2e_require_cmd jq objcopy readelf ldd
version=$(sed -n 's/^project(dind-netcfg VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
image=dind-netcfg:$version
caps=(--cap-drop ALL --cap-add NET_ADMIN --cap-add NET_RAW --cap-add SYS_ADMIN)
has_run=0
"$BINARY" run --help >/dev/null 2>&1 && has_run=1

e2e_step "1/4 dockerd in its own namespace; the image built FROM scratch"
e2e_ns_add node
echo "{\"mtu\": $POD_MTU}" >"$E2E_TMP/node-daemon.json"
start_dockerd node "$E2E_TMP/node-daemon.json"
build_busybox_image node
build_out=$("$here/scripts/build-image.sh" --binary "$BINARY" --docker "$DOCKER_CLI" \
  --host "unix://$(e2e_docker_sock node)" 2>&1) ||
  e2e_fail "build-image.sh failed:"$'\n'"$build_out"
sed 's/^/    | /' <<<"$build_out"
size=$(docker_in node image inspect --format '{{.Size}}' "$image")
e2e_pass "$image built, $size bytes ($((size / 1024 / 1024)) MiB)"
config=$(docker_in node image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$image")
assert_eq '["/usr/bin/dind-netcfg"] ["run"]' "$config" "entrypoint and default command"
layers=$(docker_in node image history -q "$image" | wc -l)
e2e_info "image history has $layers entries (FROM scratch: no base image)"

e2e_step "2/4 the image runs 'version'"
out=$(docker_in node run --rm "$image" version 2>&1) || e2e_fail "docker run $image version: $out"
[[ $out == *"$version"* ]] || e2e_fail "version printed '$out', expected $version"
e2e_pass "version as root: $out"
out=$(docker_in node run --rm --user dind-netcfg --cap-drop ALL "$image" version 2>&1) ||
  e2e_fail "docker run --user dind-netcfg $image version: $out"
e2e_pass "version as the non-root user dind-netcfg with no capabilities: $out"

e2e_step "3/4 'init' as the non-root user in the pod's network namespace writes daemon.json"
docker_in node run -d --name pod "$E2E_IMAGE" sleep 3600 >/dev/null
pod_mtu=$(docker_in node exec pod cat /sys/class/net/eth0/mtu)
assert_eq "$POD_MTU" "$pod_mtu" "the pod's eth0 MTU"
# As an emptyDir the non-root init container writes into: the directory open to all, the
# existing file its own.
mkdir -m 777 "$E2E_TMP/etc-docker"
echo '{"debug": true}' >"$E2E_TMP/etc-docker/daemon.json"
chown 65532:65532 "$E2E_TMP/etc-docker/daemon.json"
rc=0
docker_in node run --rm --name init --network container:pod "${caps[@]}" --read-only \
  --user 65532:65532 \
  -v "$E2E_TMP/etc-docker:/etc/docker" "$image" \
  init --daemon-json /etc/docker/daemon.json --dockerd-version 20.10 --json \
  >"$E2E_TMP/init.json" 2>"$E2E_TMP/init.err" || rc=$?
sed 's/^/    | /' "$E2E_TMP/init.err"
((rc == 0)) || e2e_fail "init in the image exited $rc"
written=$(jq -r '.daemon_json.written' "$E2E_TMP/init.json")
assert_eq true "$written" "init reports daemon.json written"
assert_eq "$POD_MTU" "$(jq -r '.mtu' "$E2E_TMP/etc-docker/daemon.json")" "daemon.json mtu (the pod's uplink MTU)"
assert_eq true "$(jq -r '.debug' "$E2E_TMP/etc-docker/daemon.json")" "a key dind-netcfg does not own is kept"
bip=$(jq -r '.bip' "$E2E_TMP/etc-docker/daemon.json")
assert_ne null "$bip" "daemon.json has a bip"
e2e_info "rules: $(jq -c '.rules // .masquerade // "not reported"' "$E2E_TMP/init.json" | cut -c1-200)"

e2e_step "4/4 'run' (the default command) as the non-root user answers /healthz, stops within 1 s"
if ((!has_run)); then
  e2e_fail "this dind-netcfg has no 'run' command yet: the sidecar part of the test cannot run"
fi
docker_in node run -d --name sidecar --network container:pod "${caps[@]}" --read-only \
  --user 65532:65532 -v "$E2E_TMP/etc-docker:/etc/docker" -e DIND_NETCFG_DOCKERD_VERSION=20.10 "$image" >/dev/null
# No --init: dind-netcfg is PID 1 of its container, signals and zombies are its own.
healthz() { # prints the status line of GET /healthz, asked from a third container in the pod
  docker_in node run --rm --network container:pod "$E2E_IMAGE" \
    sh -c 'printf "GET /healthz HTTP/1.0\r\nHost: pod\r\n\r\n" | timeout 3 nc 127.0.0.1 9254 | head -n 1' 2>/dev/null |
    tr -d '\r'
}
status=""
for ((i = 0; i < 40; i++)); do
  status=$(healthz)
  [[ $status == *" 200 "* ]] && break
  [[ $(docker_in node inspect -f '{{.State.Running}}' sidecar) == true ]] ||
    e2e_fail "the sidecar exited: $(docker_in node logs sidecar 2>&1 | tail -n 20)"
  sleep 0.5
done
[[ $status == *" 200 "* ]] ||
  e2e_fail "/healthz answered '$status'; sidecar log:"$'\n'"$(docker_in node logs sidecar 2>&1 | tail -n 20)"
e2e_pass "/healthz from another container in the pod: $status"
kept=$(docker_in node logs sidecar 2>&1 | grep -o 'capabilities kept kept=[A-Z_,]* .*uid=[0-9]*' || true)
[[ $kept == *"kept=NET_ADMIN,NET_RAW,SYS_ADMIN "*"uid=65532"* ]] ||
  e2e_fail "run as 65532 did not keep NET_ADMIN,NET_RAW,SYS_ADMIN (file capabilities lost?): $kept"
e2e_pass "the non-root sidecar received its capabilities: $kept"
e2e_info "sidecar log: $(docker_in node logs sidecar 2>&1 | tail -n 3 | cut -c1-240)"

start_ns=$(date +%s%N)
docker_in node stop -t 10 sidecar >/dev/null
stop_ms=$((($(date +%s%N) - start_ns) / 1000000))
exit_code=$(docker_in node inspect -f '{{.State.ExitCode}}' sidecar)
e2e_info "docker stop took ${stop_ms} ms; exit code $exit_code; last log lines:"
docker_in node logs sidecar 2>&1 | tail -n 3 | cut -c1-240 | sed 's/^/    | /'
assert_ne 137 "$exit_code" "the sidecar exited by itself on SIGTERM (137 would be docker's SIGKILL)"
assert_le "$STOP_LIMIT_MS" "$stop_ms" "docker stop, in ms (SIGTERM to an exited container)"

printf '\nPASS: image_test (image %s, %s bytes)\n' "$image" "$size"
