#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end, once per Docker release (E2E_DOCKER_RELEASE=DIR from tests/releases, or the
# machine's Debian 12 docker.io without it): what dind-netcfg writes and does is what that real
# dockerd accepts and needs, in a dual-stack pod.
#
#   [pod ns: dockerd, run]--eth0 (1450)--[router]--[server ns: nc on :8080, v4 and v6]
#
# The router knows only its two links, so nested containers get out only masqueraded.
#   1. `init` (dockerd version read from the binary on PATH) writes daemon.json; dockerd starts
#      on it as written, accepts every key and warns about none of them; what init decided is
#      what the release does: it refuses an unknown key, ip6tables without experimental where
#      init writes experimental, and default-network-opts is an option (>= 24.0) or, on 20.10,
#      taken for --bridge (refused beside it, ignored alone);
#   2. a user-defined network created without options gets the docker MTU where dockerd honours
#      default-network-opts (>= 24.0); an older dockerd ignores the key (no MTU option, 1500);
#   3. nested IPv4 and IPv6 reach the server from the default bridge and a user network;
#   4. `run` reads GET /info (the firewall backend) and is ready; dockerd is killed -9 and
#      started again: `run` follows it back and nested egress passes again;
#   5. `entrypoint` starts dockerd itself and runs a job whose nested download passes.
# With E2E_RECORD_DIR set, dockerd's /info, /version and /networks bodies are kept there (the
# fixtures in tests/daemon/docker/releases come from such a run).
#
# Usage: release_e2e_test.sh /path/to/dind-netcfg   (root; busybox-static, jq, curl)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BINARY=${1:-}
readonly PORT=8080
readonly POD_MTU=1450
readonly SERVER_V4=10.234.2.2
readonly SERVER_V6=2001:db8:34:2::2
readonly TOKEN=reached-the-server
readonly LISTEN=127.0.0.1:9254

e2e_require_binary "$BINARY"
e2e_init
e2e_require_cmd jq curl ss unshare

version=$(dockerd --version | sed -n 's/^Docker version \([0-9]*\.[0-9]*\.[0-9]*\).*/\1/p')
[[ -n "$version" ]] || e2e_fail "cannot read dockerd's version from: $(dockerd --version 2>&1)"
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
at_least() { (( major > $1 || (major == $1 && minor >= $2) )); } # MAJOR MINOR

netcfg() { # ARGS...: the binary in the pod namespace; output in netcfg.out/.err
  local rc=0
  e2e_in pod "$BINARY" "$@" >"$E2E_TMP/netcfg.out" 2>"$E2E_TMP/netcfg.err" || rc=$?
  return "$rc"
}
nested_fetch() { e2e_nested_fetch pod "$1" "$2" "$PORT"; } # NETWORK ADDRESS
assert_nested_egress() { # WHEN
  local network server
  for network in bridge user; do
    for server in "$SERVER_V4" "$SERVER_V6"; do
      got=$(nested_fetch "$network" "$server")
      [[ "$got" == "$TOKEN" ]] || e2e_info "docker run stderr: $(cat "$E2E_TMP/fetch.err")"
      assert_eq "$TOKEN" "$got" "$1: nested container on '$network' reaches $server"
    done
  done
}
api() { curl -sf --max-time 5 --unix-socket "$(e2e_docker_sock pod)" "http://docker$1"; } # PATH
http_body() { e2e_in pod curl -s --max-time 3 "http://$LISTEN$1" || true; }
http_code() { e2e_in pod curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$LISTEN$1" || true; }

# Starts dockerd on CONFIG (and ARGS) in scratch directories and a namespace of its own, so
# nothing it does before it gives up touches the pod; passes when it refuses to start with a
# message matching PATTERN within 30 s.
dockerd_refuses() { # WHAT PATTERN CONFIG ARGS...
  local what=$1 pattern=$2 config=$3 dir rc=0
  shift 3
  dir=$(mktemp -d "$E2E_TMP/refuse.XXXXXX")
  timeout -k 5 30 nsenter --net="$(e2e_ns_path judge)" -- dockerd --data-root "$dir/data" \
    --exec-root "$dir/exec" -H "unix://$dir/docker.sock" --pidfile "$dir/dockerd.pid" \
    --config-file "$config" "$@" </dev/null >"$dir/log" 2>&1 || rc=$?
  e2e_kill_referencing "$dir/"
  ip -n "$(e2e_ns_name judge)" link del docker0 2>/dev/null || true
  ((rc != 0 && rc != 124 && rc != 137)) || e2e_fail "$what: dockerd $version did not refuse (exit $rc)"
  grep -qE -- "$pattern" "$dir/log" ||
    e2e_fail "$what: dockerd $version exited $rc but not for /$pattern/: $(tail -n 3 "$dir/log")"
  e2e_pass "$what: $(grep -oE -- "$pattern.*" "$dir/log" | head -n 1 | cut -c1-150)"
}
# dockerd --validate (23.0 and later): the file's keys are all options and agree with ARGS.
dockerd_validates() { # WHAT CONFIG ARGS...
  local what=$1 config=$2 out
  shift 2
  out=$(dockerd --validate --config-file "$config" "$@" 2>&1) ||
    e2e_fail "$what: dockerd $version --validate says: $out"
  e2e_pass "$what ($out)"
}

e2e_step "1/6 topology: a dual-stack pod --eth0 ($POD_MTU)-- router -- server"
e2e_dual_stack_topology "$POD_MTU" 10.234 2001:db8:34 "$TOKEN" "$PORT"
e2e_ns_add judge # where dockerd_refuses runs

e2e_step "2/6 init for dockerd $version, then dockerd on the daemon.json it wrote"
daemon_json=$E2E_TMP/daemon.json
netcfg init --json --daemon-json "$daemon_json" ||
  e2e_fail "init failed: $(cat "$E2E_TMP/netcfg.err")"
cp "$E2E_TMP/netcfg.out" "$E2E_TMP/init.json"
e2e_info "daemon.json: $(jq -c . "$daemon_json")"
e2e_info "init: dockerd $(jq -c .dockerd "$E2E_TMP/init.json")"
assert_eq "$version dockerd" "$(jq -r '.dockerd | "\(.version) \(.source)"' "$E2E_TMP/init.json")" \
  "the version init read from the dockerd on PATH"
assert_eq "$POD_MTU" "$(jq .mtu "$daemon_json")" "daemon.json mtu"
assert_eq true "$(jq .ipv6 "$daemon_json")" "daemon.json ipv6 (the pod has IPv6 egress)"
start_dockerd pod "$daemon_json"
dockerd_log=$(e2e_dockerd_dir pod)/dockerd.log
# dockerd refuses a key it does not know (it would not have started); one it takes but does not
# honour, it names in a warning or error. Every warning and error is shown; one that names a key
# of ours and says it is deprecated, ignored or unsupported fails the test.
complaints=$(grep -E 'level=(warn|error)' "$dockerd_log" | grep -v 'module=grpc' || true)
[[ -z "$complaints" ]] || sed 's/^/    dockerd| /' <<<"$complaints"
for key in $(jq -r 'keys[]' "$daemon_json"); do
  if grep -iF -- "$key" <<<"$complaints" |
    grep -qiE 'deprecat|ignor|unknown|invalid|not supported|unsupported|no longer|removed|does not match|don.t match'; then
    e2e_fail "dockerd $version complains about daemon.json's '$key': $(grep -iF -- "$key" <<<"$complaints")"
  fi
done
assert_eq "[]" "$(api /info | jq -c '[.Warnings // [] | .[] | select(test("ipv6|mtu|network-opts|experimental|cgroup"; "i"))]')" \
  "docker info warnings about our keys"
e2e_pass "dockerd $version started on every key: $(jq -r 'keys | join(", ")' "$daemon_json")"
# What init decided for this release is what the release does (each refusal costs < 1 s):
echo '{"dind-netcfg-no-such-key": true}' >"$E2E_TMP/unknown.json"
dockerd_refuses "an unknown key" "don't match any configuration option" "$E2E_TMP/unknown.json"
if [[ $(jq .experimental "$daemon_json") == true ]]; then
  jq 'del(.experimental)' "$daemon_json" >"$E2E_TMP/no-experimental.json"
  dockerd_refuses "ip6tables without experimental, as init said" "only available if experimental" \
    "$E2E_TMP/no-experimental.json"
fi
echo '{"default-network-opts": {"bridge": {"com.docker.network.driver.mtu": "1400"}}}' \
  >"$E2E_TMP/network-opts.json"
if at_least 24 0; then
  dockerd_validates "default-network-opts is an option, also beside --bridge" \
    "$E2E_TMP/network-opts.json" --bridge=none
else
  # dockerd < 24 has no such option: its check of the file's keys looks one level down and
  # takes "bridge" for its --bridge flag, so it starts on the key and ignores it (the user
  # network below gets no MTU) but refuses it beside a --bridge given on the command line.
  dockerd_refuses "default-network-opts beside --bridge=none, as init said" \
    "specified both as a flag and in the configuration file: bridge" \
    "$E2E_TMP/network-opts.json" --bridge=none
  # ... and alone it starts and applies nothing: a network created then has no MTU option.
  dir=$(mktemp -d "$E2E_TMP/ignores.XXXXXX")
  setsid nsenter --net="$(e2e_ns_path judge)" -- dockerd --data-root "$dir/data" \
    --exec-root "$dir/exec" -H "unix://$dir/docker.sock" --pidfile "$dir/dockerd.pid" \
    --config-file "$E2E_TMP/network-opts.json" </dev/null >"$dir/log" 2>&1 &
  judge_pid=$!
  judge_api() { curl -sf --max-time 5 --unix-socket "$dir/docker.sock" "$@"; }
  wait_until 30 "dockerd $version starts on default-network-opts alone" \
    "judge_api http://docker/_ping || ! kill -0 $judge_pid"
  kill -0 "$judge_pid" 2>/dev/null || e2e_fail "dockerd $version refused default-network-opts alone: $(tail -n 3 "$dir/log")"
  judge_api -X POST -H 'Content-Type: application/json' -d '{"Name": "probe"}' \
    http://docker/networks/create >/dev/null || e2e_fail "network create on the judging dockerd failed"
  assert_eq "" "$(judge_api http://docker/networks/probe | jq -r '.Options["com.docker.network.driver.mtu"] // empty')" \
    "the MTU option of a network dockerd $version created with default-network-opts set (ignored)"
  kill -TERM "$judge_pid"
  wait "$judge_pid" 2>/dev/null || true
  e2e_kill_referencing "$dir/"
fi
build_busybox_image pod

e2e_step "3/6 a user-defined network created without options"
docker_in pod network create --ipv6 user >/dev/null || e2e_fail "docker network create --ipv6 user failed"
option=$(docker_in pod network inspect user --format '{{index .Options "com.docker.network.driver.mtu"}}')
eth0_mtu=$(docker_in pod run --rm --network user "$E2E_IMAGE" cat /sys/class/net/eth0/mtu)
if at_least 24 0; then
  assert_eq true "$(jq '.dockerd.supports_default_network_opts' "$E2E_TMP/init.json")" "init's decision"
  assert_eq "$POD_MTU" "$option" "the user network's MTU option (from default-network-opts)"
  assert_eq "$POD_MTU" "$eth0_mtu" "a nested container's eth0 MTU on the user network"
else
  # What init says it does for this release is what dockerd does: it starts on
  # default-network-opts and ignores it (dockerd < 24 has no such option).
  assert_eq false "$(jq '.dockerd.supports_default_network_opts' "$E2E_TMP/init.json")" "init's decision"
  assert_eq "" "$option" "the user network's MTU option (dockerd < 24 does not apply default-network-opts)"
  assert_eq 1500 "$eth0_mtu" "a nested container's eth0 MTU on the user network (dockerd's default)"
fi

e2e_step "4/6 dual-stack nested egress"
assert_nested_egress "after init"
if [[ -n "${E2E_RECORD_DIR:-}" ]]; then
  mkdir -p "$E2E_RECORD_DIR"
  # Only this run's temp paths are replaced, by dockerd's defaults; the rest is as dockerd said.
  for path in /info /version /networks; do
    api "$path" | jq . | sed -e "s|$(e2e_dockerd_dir pod)/data|/var/lib/docker|g" \
      -e "s|$(e2e_dockerd_dir pod)/exec|/var/run/docker|g" >"$E2E_RECORD_DIR/${path#/}.json" ||
      e2e_fail "GET $path failed"
  done
  e2e_info "GET /info, /version, /networks kept in $E2E_RECORD_DIR"
fi

e2e_step "5/6 run reads /info; dockerd killed -9 and started again"
# Through a link: what ends dockerd kills whatever names dockerd's directory on its command line.
ln -s "$(e2e_docker_sock pod)" "$E2E_TMP/docker.sock"
e2e_bg_start run pod "$BINARY" run --daemon-json "$daemon_json" --listen "$LISTEN" \
  --docker-socket "$E2E_TMP/docker.sock" --probe-target "$SERVER_V4:$PORT" --probe-interval 1s
wait_until 30 "run is ready" '[[ $(http_code /readyz) == 200 ]]'
driver=$(api /info | jq -r '.FirewallBackend.Driver // empty')
status=$(http_body /status)
assert_eq true "$(jq .docker.api_up <<<"$status")" "run follows the Docker API"
if [[ -n "$driver" ]]; then
  assert_eq "$driver GET /info FirewallBackend" \
    "$(jq -r '.docker.firewall | "\(.driver) \(.read_from)"' <<<"$status")" \
    "run's firewall backend, from /info's FirewallBackend"
else
  e2e_info "dockerd $version's /info has no FirewallBackend; run says: $(jq -c .docker.firewall <<<"$status")"
fi
assert_eq false "$(jq .daemon_json.dockerd_restart_required <<<"$status")" \
  "run's daemon.json is what dockerd runs on (no restart required)"
kill -KILL "${E2E_DOCKERD_PID[pod]}"
wait "${E2E_DOCKERD_PID[pod]}" 2>/dev/null || true
wait_until 15 "run sees the Docker API gone" '[[ $(http_body /status | jq .docker.api_up) == false ]]'
# The container restarts as a pod does it: what is left of dockerd's (its containerd) ends and
# /var/run (the exec-root and pidfile) is new; data-root and docker0 stay.
dockerd_dir=$(e2e_dockerd_dir pod)
containerd_pid=$(cat "$dockerd_dir/exec/containerd/containerd.pid" 2>/dev/null || true)
if [[ -n "$containerd_pid" ]] && process_is "$containerd_pid" containerd; then
  e2e_info "containerd ($containerd_pid) outlived dockerd's kill -9; it ends with the container"
fi
e2e_kill_referencing "$dockerd_dir/"
unset "E2E_DOCKERD_PID[pod]"
e2e_unmount_under "$dockerd_dir/exec"
rm -rf --one-file-system "$dockerd_dir/exec" "$dockerd_dir/dockerd.pid"
start_dockerd pod "$daemon_json"
wait_until 30 "run follows the restarted dockerd" '[[ $(http_body /status | jq .docker.api_up) == true ]]'
wait_until 30 "run is ready again" '[[ $(http_code /readyz) == 200 ]]'
kill -0 "${E2E_BG_PGID[run]}" || e2e_fail "run did not survive dockerd's kill -9 and restart"
assert_eq "[]" "$(http_body /status | jq -c .rules.missing)" "rules missing after the restart"
assert_nested_egress "after kill -9 and restart"
e2e_bg_stop run
stop_dockerd pod

e2e_step "6/6 entrypoint starts dockerd $version itself and runs a job"
dind_dir=$E2E_TMP/dind
mkdir -p "$dind_dir"
e2e_on_cleanup "e2e_kill_referencing '$dind_dir/'; e2e_unmount_under '$dind_dir'"
cat >"$dind_dir/job.sh" <<EOF
#!/bin/sh
set -e
$DOCKER_CLI import --change 'ENV PATH=/bin' '$(build_busybox_tar)' job:latest >/dev/null
for server in $SERVER_V4 $SERVER_V6; do
  $DOCKER_CLI run --rm job:latest nc -w 3 \$server $PORT </dev/null >>'$dind_dir/fetched'
done
exit 7
EOF
chmod +x "$dind_dir/job.sh"
rc=0
timeout -k 5 120 nsenter --net="$(e2e_ns_path pod)" -- unshare --pid --fork --mount-proc \
  "$BINARY" entrypoint --daemon-json "$dind_dir/daemon.json" \
  --docker-socket "$dind_dir/docker.sock" --state-dir "$dind_dir/state" \
  --dockerd-arg=--data-root="$dind_dir/data" --dockerd-arg=--exec-root="$dind_dir/exec" \
  --dockerd-arg=--pidfile="$dind_dir/dockerd.pid" --listen 127.0.0.1:19254 \
  --probe-target "$SERVER_V4:$PORT" --probe-interval 1s -- "$dind_dir/job.sh" \
  </dev/null >"$E2E_TMP/entrypoint.log" 2>&1 || rc=$?
grep -v "level=\|module=" "$E2E_TMP/entrypoint.log" | tail -n 15 | sed 's/^/    entrypoint| /'
assert_eq 7 "$rc" "the entrypoint exits with the job's status"
assert_eq "$TOKEN$TOKEN" "$(tr -d '[:space:]' <"$dind_dir/fetched")" "the job's nested IPv4 and IPv6 fetches"
grep -q "dockerd.*$version" "$E2E_TMP/entrypoint.log" ||
  e2e_fail "the entrypoint's log does not name dockerd $version"

release_dir=${E2E_DOCKER_RELEASE:-/usr}
printf '\nPASS e2e_release: dockerd %s (from %s) with containerd %s\n' "$version" "$release_dir" \
  "$(containerd --version | awk '{ print $3 }')"
