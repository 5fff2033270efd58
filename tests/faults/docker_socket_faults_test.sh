#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Faults: the Docker socket missing, answering garbage (not HTTP; HTTP with a body that is not
# JSON) or hanging (accepts, reads, never answers). For each, `run` (nft backend, no probes)
# must say so in /status (docker.api_up false, docker.error naming the socket and the
# trouble), while nothing else stalls: /healthz and /readyz answer within 2 s (the Docker
# client's deadline is 5 s, so a loop blocked on dockerd would miss it), a deleted nft table is
# repaired, and SIGTERM ends the process with status 0 within a second.
#
# Usage: docker_socket_faults_test.sh /path/to/dind-netcfg   (root; needs python3, nft, curl, jq)

source "$(dirname "${BASH_SOURCE[0]}")/faults_lib.sh"

readonly BINARY=${1:?usage: $0 /path/to/dind-netcfg}

e2e_init
e2e_require_cmd python3 nft curl jq
faults_make_pod
echo '{}' >"$E2E_TMP/daemon.json"

# A fake dockerd on a unix socket: MODE garbage (not HTTP), notjson (HTTP 200, HTML body) or
# hang (reads the request, never answers).
cat >"$E2E_TMP/fake_dockerd.py" <<'PY'
import os, socket, sys, threading, time
mode, path = sys.argv[1], sys.argv[2]
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path)
listener.listen(64)
held = []  # hang: connections kept open, never answered

def serve(connection):
    try:
        connection.recv(65536)  # the request
        if mode == "garbage":
            connection.sendall(b"\x00\xff\xfeSSH-2.0-not-docker\r\n\r\n\x07\x08")
            connection.close()
        elif mode == "notjson":
            body = b"<html>this is not the Docker API</html>"
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            connection.close()
        elif mode == "hang":
            held.append(connection)
    except OSError:
        pass

while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
PY

table_complete() {
  e2e_in pod nft list chain ip dind-netcfg postrouting 2>/dev/null | grep -q masquerade
}
docker_status() { http_body /status | jq -r "$1"; }

for fault in missing garbage notjson hang; do
  e2e_step "the Docker socket: $fault"
  socket=$E2E_TMP/docker-$fault.sock
  case $fault in
    missing) expected="dockerd is not running or its socket is not mounted here" ;;
    garbage) expected="is not HTTP" ;;
    notjson) expected="is not JSON|the event stream" ;; # the list or the stream: the last to fail
    hang) expected="did not answer GET" ;;
  esac
  if [[ $fault != missing ]]; then
    e2e_bg_start "fake-$fault" pod python3 "$E2E_TMP/fake_dockerd.py" "$fault" "$socket"
    wait_until 5 "the fake dockerd ($fault) listens" '[[ -S $socket ]]'
  fi
  start_run "run-$fault" "$BINARY" --backend nft --no-probes --docker-socket "$socket"
  wait_until 15 "/status reports the Docker API down" \
    '[[ $(docker_status .docker.api_up) == false && -n $(docker_status ".docker.error // empty") ]]'
  error=$(docker_status .docker.error)
  [[ "$error" == *"$socket"* ]] || e2e_fail "docker.error does not name the socket: $error"
  [[ "$error" =~ $expected ]] || e2e_fail "docker.error does not say '$expected': $error"
  e2e_pass "/status docker.error: $error"
  assert_eq 0 "$(metric dind_netcfg_docker_api_up)" "dind_netcfg_docker_api_up"
  # Readiness is daemon.json, rules and probes (none here): a broken dockerd does not hold it.
  assert_eq 200 "$(http_code /readyz --max-time 2)" "/readyz answers 200 within 2 s"
  for i in 1 2 3; do
    assert_eq 200 "$(http_code /healthz --max-time 2)" "/healthz answers within 2 s ($i)"
  done
  e2e_in pod nft delete table ip dind-netcfg
  wait_until 5 "a deleted table is repaired" table_complete
  stop_run "run-$fault"
  e2e_bg_stop "fake-$fault"
done

e2e_step "done"
