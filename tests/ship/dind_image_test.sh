#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The dind image dind-netcfg:<version>-dind, run as the single-container CI pod runs it, on a
# real dockerd in a namespace of the test's own:
#
#   [server ns: nc listener, "outside"]--veth--[node ns: dockerd, docker0]
#        job, idle, sleeper   dind-netcfg:<version>-dind --privileged, each with its own dockerd
#                             (the entrypoint's) and nested containers behind it
#
#   1. A stand-in for docker:dind, made here (no registry): a root holding Debian's docker.io
#      (dockerd, containerd, the runc shim, runc, the CLI, docker-init, docker-proxy), iptables
#      (xtables-legacy-multi, xtables-nft-multi and Debian's iptables*/ip6tables* links and
#      extensions), busybox as /bin/sh and its applets (no modprobe), the shared libraries ldd
#      names for all of them, /etc/nsswitch.conf as Alpine has it, and a busybox tar for the
#      nested image; `docker import`ed with VOLUME /var/lib/docker and ENTRYPOINT dockerd.
#   2. scripts/build-image.sh --dind builds dind-netcfg:<version>-dind FROM it: ENTRYPOINT
#      ["dind-netcfg","entrypoint","--"], Cmd empty, three layers on the base's; with the base's
#      glibc hidden (as on a musl base) the binary still runs while the base's dockerd cannot.
#   3. A CI command: it imports the busybox tar, a nested container sends "hi" to the outside
#      listener and reads its answer, and it exits 7: the container exits 7 and the listener got
#      the bytes (nested egress through the entrypoint's dockerd and the masquerade). The probe
#      target is a name (resolved by the bundle's glibc through the base's /etc/hosts). PID 1
#      maps only the bundle's libraries; COMMAND's and dockerd's environments and dockerd's
#      maps carry nothing of the bundle.
#   4. Without a command (dockerd kept running; `docker exec … docker info` works as with
#      docker:dind) and with `sleep 300`: `docker stop` ends each within the stop timeout plus a
#      margin, exit status 0 and 143 (128+SIGTERM: the signal ended COMMAND), as the README's
#      exit-code table says.
#
# Usage: dind_image_test.sh /path/to/dind-netcfg   (root; docker.io, iptables, busybox-static,
#                                                   patchelf, jq)
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

readonly BINARY=${1:-}
readonly NET=10.236
readonly OUTSIDE_IP=$NET.2.2
readonly PORT=18080
readonly BASE_IMAGE=dnc-dind-base:e2e
readonly STOP_TIMEOUT_S=5
readonly STOP_MARGIN_S=3
if [[ -z "$BINARY" || ! -x "$BINARY" ]]; then
  echo "usage: $0 /path/to/dind-netcfg (built: cmake --build <build-dir> --target dind-netcfg)" >&2
  exit 2
fi

test_start=$(e2e_now_us)
e2e_init
e2e_require_cmd jq objcopy readelf ldd patchelf xtables-nft-multi xtables-legacy-multi
version=$(sed -n 's/^project(dind-netcfg VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
image=dind-netcfg:$version-dind
elapsed_s() { # since START_US, as seconds with one decimal
  local ms=$((($(e2e_now_us) - $1) / 1000))
  printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

e2e_step "1/4 node and outside; a docker:dind stand-in made from Debian's docker.io"
step_start=$(e2e_now_us)
e2e_ns_add node
e2e_ns_add server
e2e_veth node to-server server eth0 1500
e2e_addr node to-server "$NET.2.1/24"
e2e_addr server eth0 "$OUTSIDE_IP/24"
e2e_route server default via "$NET.2.1"
# "outside": each connection's first 3 bytes are appended to received, then it answers. The
# egress probes connect and close: they add nothing.
: >"$E2E_TMP/received"
e2e_bg_start outside server /bin/busybox nc -ll -p "$PORT" \
  -e /bin/busybox sh -c "head -c 3 >>'$E2E_TMP/received'; echo from-outside"
# --privileged asks runc for every capability the kernel has. Where this machine is itself
# given fewer (a bounding set without CAP_SYS_RESOURCE, as on some CI sandboxes), runc fails
# with "unable to apply caps". Then the containers run under a runtime that takes exactly the
# capabilities this machine lacks out of the OCI spec and runs runc: the most privileged a
# container can be here. Everything else of --privileged stays as it is.
runtime=()
last_cap=$(cat /proc/sys/kernel/cap_last_cap)
bounding=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
lacking=$((((1 << (last_cap + 1)) - 1) & ~bounding))
if ((lacking != 0)); then
  e2e_require_cmd capsh
  names=$(capsh --decode="$(printf '%x' "$lacking")" | sed 's/.*=//')
  drop=$(tr ',' '\n' <<<"$names" | tr '[:lower:]' '[:upper:]' | jq -R . | jq -cs .)
  echo "$drop" >"$E2E_TMP/runc-privileged.drop"
  cat >"$E2E_TMP/runc-privileged" <<'EOF'
#!/usr/bin/env bash
# runc, minus the capabilities in $0.drop (a JSON list) in the spec of `create --bundle DIR`
# (DIR/config.json) and of `exec --process FILE`.
set -euo pipefail
spec="" key=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
  --bundle | -b) spec=${args[i + 1]}/config.json key=.process ;;
  --bundle=*) spec=${args[i]#--bundle=}/config.json key=.process ;;
  --process | -p) spec=${args[i + 1]} key="" ;;
  --process=*) spec=${args[i]#--process=} key="" ;;
  esac
done
if [[ -n $spec && -f $spec ]]; then
  jq --argjson drop "$(cat "$0.drop")" \
    "$key.capabilities |= (if . == null then . else with_entries(.value |= ((. // []) - \$drop)) end)" \
    "$spec" >"$spec.dnc"
  mv "$spec.dnc" "$spec"
fi
exec /usr/sbin/runc "$@"
EOF
  chmod 755 "$E2E_TMP/runc-privileged"
  echo "{\"runtimes\": {\"dnc-privileged\": {\"path\": \"$E2E_TMP/runc-privileged\"}}}" >"$E2E_TMP/node-daemon.json"
  runtime=(--runtime dnc-privileged)
  e2e_info "this machine's bounding set lacks $names: privileged containers run without it"
else
  echo '{}' >"$E2E_TMP/node-daemon.json"
fi
start_dockerd node "$E2E_TMP/node-daemon.json"
e2e_on_cleanup "docker_in node rm -f -v job idle sleeper >/dev/null 2>&1"

# The stand-in's root. Large files are hard links (same file system) or copies; libraries are
# copied to the path ldd found them at, under /usr (usr-merged, as Debian 12).
base=$E2E_TMP/dind-base
mkdir -p "$base"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64,etc/alternatives,run,tmp} \
  "$base"/{proc,sys,dev,root,var/lib/docker}
for link in bin:usr/bin sbin:usr/sbin lib:usr/lib lib64:usr/lib64 var/run:../run; do
  ln -s "${link#*:}" "$base/${link%%:*}"
done
chmod 1777 "$base/tmp"
put() { # HOST_PATH: the file at the same place in the root
  local dest=$base/usr${1#/usr}
  mkdir -p "$(dirname "$dest")"
  cp -l "$1" "$dest" 2>/dev/null || cp -L "$1" "$dest"
}
programs=(/usr/sbin/dockerd /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/sbin/runc
  /usr/bin/docker /usr/sbin/docker-proxy /usr/sbin/xtables-legacy-multi /usr/sbin/xtables-nft-multi)
for program in "${programs[@]}"; do put "$program"; done
if [[ -e /usr/bin/docker-init ]]; then # Debian's is a link to tini-static
  cp -L /usr/bin/docker-init "$base/usr/bin/docker-init"
fi
# iptables as Debian has it: the per-backend links, the alternatives' choice, the extensions.
for link in /usr/sbin/iptables* /usr/sbin/ip6tables* /etc/alternatives/iptables* \
  /etc/alternatives/ip6tables*; do
  [[ -L $link && $link != *-apply ]] && cp -P "$link" "$base$link"
done
xtables=$(find /usr/lib/x86_64-linux-gnu/xtables /lib/x86_64-linux-gnu/xtables -maxdepth 0 -type d 2>/dev/null | head -n 1)
[[ -n $xtables ]] || e2e_fail "iptables' extensions (…/xtables) not found"
cp -a "$xtables" "$base/usr/lib/x86_64-linux-gnu/"
# Every shared library ldd names for those programs and extensions, and the loader.
mapfile -t libs < <(LC_ALL=C ldd "${programs[@]}" "$xtables"/*.so 2>/dev/null |
  sed -n 's/.*=> \(\/[^ ]*\) (.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' | sort -u)
((${#libs[@]} > 5)) || e2e_fail "ldd found only ${#libs[@]} libraries for docker.io and iptables"
for lib in "${libs[@]}"; do
  dest=$base/usr${lib#/usr}
  mkdir -p "$(dirname "$dest")"
  cp -L "$lib" "$dest"
done
# busybox as /bin/sh and its applets, where no real program of that name is; no modprobe.
cp /bin/busybox "$base/usr/bin/busybox"
for applet in $(/bin/busybox --list); do
  case $applet in modprobe | insmod | rmmod | lsmod | depmod | modinfo) continue ;; esac
  [[ -e $base/usr/bin/$applet || -e $base/usr/sbin/$applet ]] || ln -s busybox "$base/usr/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$base/etc/passwd"
printf 'root:x:0:\n' >"$base/etc/group"
printf 'hosts: files dns\n' >"$base/etc/nsswitch.conf" # Alpine's, which docker:dind checks for
cp "$(build_busybox_tar)" "$base/busybox.tar"
tar --numeric-owner -C "$base" -cf - . |
  docker_in node import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'VOLUME /var/lib/docker' --change 'ENTRYPOINT ["dockerd"]' --change 'CMD []' \
    - "$BASE_IMAGE" >/dev/null || e2e_fail "docker import of $BASE_IMAGE failed"
base_size=$(docker_in node image inspect --format '{{.Size}}' "$BASE_IMAGE")
e2e_pass "$BASE_IMAGE imported: $((base_size / 1024 / 1024)) MiB, ${#libs[@]} libraries ($(elapsed_s "$step_start") s)"

e2e_step "2/4 scripts/build-image.sh --dind $BASE_IMAGE"
step_start=$(e2e_now_us)
build_out=$("$here/scripts/build-image.sh" --dind "$BASE_IMAGE" --binary "$BINARY" \
  --docker "$DOCKER_CLI" --host "unix://$(e2e_docker_sock node)" 2>&1) ||
  e2e_fail "build-image.sh --dind failed:"$'\n'"$build_out"
sed 's/^/    | /' <<<"$build_out"
assert_eq "build-image.sh: built $image" "$(tail -n 1 <<<"$build_out" | cut -d, -f1)" "the image's name"
config=$(docker_in node image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$image")
[[ $config == '["dind-netcfg","entrypoint","--"] null' || $config == '["dind-netcfg","entrypoint","--"] []' ]] ||
  e2e_fail "entrypoint and command are '$config', not [\"dind-netcfg\",\"entrypoint\",\"--\"] and empty"
e2e_pass "entrypoint and command: $config"
base_layers=$(docker_in node image inspect --format '{{join .RootFS.Layers " "}}' "$BASE_IMAGE")
layers=$(docker_in node image inspect --format '{{join .RootFS.Layers " "}}' "$image")
[[ $layers == "$base_layers "* ]] || e2e_fail "the image's layers do not start with the base's"
assert_eq 3 "$(($(wc -w <<<"$layers") - $(wc -w <<<"$base_layers")))" "layers added to the base (the bundle, the PATH link, /etc/docker)"
# As on a musl base: the base's glibc and loader hidden under empty tmpfs mounts. The base's
# own dockerd cannot start then; the bundle's binary does not notice.
out=$(docker_in node run --rm --tmpfs /usr/lib/x86_64-linux-gnu --tmpfs /usr/lib64 \
  --entrypoint /bin/sh "$image" -c \
  'dockerd --version >/dev/null 2>&1; echo "dockerd=$?"; dind-netcfg version && dind-netcfg detect --dockerd-version 20.10 >/dev/null && echo detect-ok' 2>&1) ||
  e2e_fail "the image without the base's glibc: $out"
[[ $out == *"dockerd=127"* || $out == *"dockerd=126"* ]] ||
  e2e_fail "the base's glibc was not hidden (its dockerd still ran): $out"
[[ $out == *"$version"*detect-ok* ]] || e2e_fail "dind-netcfg without the base's glibc: $out"
e2e_pass "without the base's glibc: the base's dockerd cannot run, dind-netcfg version and detect do ($(elapsed_s "$step_start") s)"

e2e_step "3/4 a CI command: nested egress to the outside, exit 7"
step_start=$(e2e_now_us)
common=(--privileged "${runtime[@]}" --add-host "outside:$OUTSIDE_IP"
  -e "DIND_NETCFG_PROBE_TARGET=outside:$PORT" -e "DIND_NETCFG_STOP_TIMEOUT=${STOP_TIMEOUT_S}s"
  -e DIND_NETCFG_READY_TIMEOUT=60s)
mkdir -p "$E2E_TMP/out"
# What the command sees of the bundle, then the job itself. PID 1 is the entrypoint.
job='set -u
env >/out/command.env
cat /proc/1/maps >/out/entrypoint.maps
dockerd_pid=$(cat /var/run/docker.pid)
tr "\0" "\n" </proc/$dockerd_pid/environ >/out/dockerd.env
cat /proc/$dockerd_pid/maps >/out/dockerd.maps
docker import --change "ENV PATH=/bin" /busybox.tar bb >/dev/null || exit 3
reply=$(timeout -k 2 20 docker run --rm bb sh -c "echo hi | nc -w 5 '"$OUTSIDE_IP"' '"$PORT"'")
echo "$reply" >/out/reply
[ "$reply" = from-outside ] && exit 7
exit 4'
rc=0
timeout -k 5 90 "$DOCKER_CLI" -H "unix://$(e2e_docker_sock node)" run --name job "${common[@]}" \
  -v "$E2E_TMP/out:/out" "$image" sh -c "$job" >"$E2E_TMP/job.log" 2>&1 || rc=$?
job_s=$(elapsed_s "$step_start")
grep -v 'level=\|module=' "$E2E_TMP/job.log" | cut -c1-220 | tail -n 25 | sed 's/^/    job| /'
assert_eq 7 "$rc" "the container's exit status (the CI command's)"
assert_eq 7 "$(docker_in node inspect -f '{{.State.ExitCode}}' job)" "docker inspect's exit code"
assert_eq from-outside "$(cat "$E2E_TMP/out/reply")" "the nested container's answer from outside"
assert_eq hi "$(tr -d '\n' <"$E2E_TMP/received")" "bytes the outside listener got from the nested container"
grep -q 'nested egress verified' "$E2E_TMP/job.log" || e2e_fail "the command started before egress was verified"
e2e_info "$(grep -o "dockerd's iptables: [a-z]*" "$E2E_TMP/job.log" | head -n 1); $(grep -o 'cgroup-parent for dockerd: [^ ]*' "$E2E_TMP/job.log" | head -n 1)"
# The entrypoint maps its bundle's libraries and nothing of the base's.
foreign=$(awk '$6 ~ /\.so/ { print $6 }' "$E2E_TMP/out/entrypoint.maps" | sort -u | grep -v '^/opt/dind-netcfg/lib/' || true)
assert_eq "" "$foreign" "shared objects PID 1 maps from outside /opt/dind-netcfg/lib"
grep -q ' /opt/dind-netcfg/lib/libc.so.6$' "$E2E_TMP/out/entrypoint.maps" ||
  e2e_fail "PID 1 does not map the bundle's libc.so.6: is PID 1 the entrypoint?"
assert_eq "" "$(grep -E '^LD_|/opt/dind-netcfg' "$E2E_TMP/out/command.env" || true)" "LD_* or bundle paths in COMMAND's environment"
assert_eq "DOCKER_HOST=unix:///var/run/docker.sock" "$(grep '^DOCKER_HOST=' "$E2E_TMP/out/command.env")" "COMMAND's DOCKER_HOST"
assert_eq "" "$(grep -E '^LD_|/opt/dind-netcfg' "$E2E_TMP/out/dockerd.env" || true)" "LD_* or bundle paths in dockerd's environment"
assert_eq "" "$(grep /opt/dind-netcfg "$E2E_TMP/out/dockerd.maps" || true)" "bundle files dockerd maps"
e2e_info "dockerd's PATH: $(grep '^PATH=' "$E2E_TMP/out/dockerd.env")"
e2e_pass "the job took $job_s s from docker run to its exit"

e2e_step "4/4 docker stop: without a command (exit 0) and during 'sleep 300' (exit 143)"
step_start=$(e2e_now_us)
docker_in node run -d --name idle "${common[@]}" "$image" >/dev/null
docker_in node run -d --name sleeper "${common[@]}" "$image" sleep 300 >/dev/null
ready() { # CONTAINER LOG-LINE: waits for the line in its log, or fails when it exits first
  local deadline logs
  deadline=$(e2e_deadline 60)
  # The whole log first: grep -q would end the pipe early, and pipefail count that a failure.
  until logs=$(docker_in node logs "$1" 2>&1) && grep -q "$2" <<<"$logs"; do
    [[ $(docker_in node inspect -f '{{.State.Running}}' "$1") == true ]] ||
      e2e_fail "$1 exited: $(docker_in node logs "$1" 2>&1 | tail -n 15)"
    e2e_before "$deadline" || e2e_fail "$1 did not log '$2' within 60s: $(docker_in node logs "$1" 2>&1 | tail -n 15)"
    sleep 0.3
  done
  e2e_pass "$1: $2"
}
ready idle 'no command: dockerd keeps running until SIGTERM'
ready sleeper 'command started'
server=$(docker_in node exec idle docker info --format '{{.ServerVersion}}' 2>&1) ||
  e2e_fail "docker exec idle docker info: $server"
e2e_pass "docker exec idle docker info (the default socket, as with docker:dind): server $server"
stop_timed() { # CONTAINER: stops it, prints the milliseconds docker stop took
  local start
  start=$(e2e_now_us)
  docker_in node stop -t 30 "$1" >/dev/null
  echo $((($(e2e_now_us) - start) / 1000))
}
stop_timed idle >"$E2E_TMP/idle.ms" &
idle_stop=$!
stop_timed sleeper >"$E2E_TMP/sleeper.ms" &
sleeper_stop=$!
wait "$idle_stop" "$sleeper_stop"
for name in idle sleeper; do
  docker_in node logs "$name" 2>&1 | grep -v 'level=\|module=' | tail -n 4 | cut -c1-200 | sed "s/^/    $name| /"
done
limit_ms=$(((STOP_TIMEOUT_S + STOP_MARGIN_S) * 1000))
assert_le "$limit_ms" "$(cat "$E2E_TMP/idle.ms")" "docker stop of idle, in ms (stop timeout ${STOP_TIMEOUT_S}s + ${STOP_MARGIN_S}s)"
assert_le "$limit_ms" "$(cat "$E2E_TMP/sleeper.ms")" "docker stop of sleeper, in ms"
assert_eq 0 "$(docker_in node inspect -f '{{.State.ExitCode}}' idle)" "idle's exit status (SIGTERM without COMMAND)"
assert_eq 143 "$(docker_in node inspect -f '{{.State.ExitCode}}' sleeper)" "sleeper's exit status (COMMAND killed by SIGTERM)"
e2e_info "step 4 took $(elapsed_s "$step_start") s"

printf '\nPASS: dind_image_test (image %s FROM %s) in %s s\n' "$image" "$BASE_IMAGE" "$(elapsed_s "$test_start")"
