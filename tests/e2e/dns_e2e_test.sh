#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The resolv.conf a real dockerd gives nested containers against doctor's model of it
# (netcfg/dns/container_dns.h, reported by `doctor --json` as dns-resolv-conf's observed): for
# three pod resolv.conf variants (loopback only; the kubelet's search + ndots:5; IPv6 nameservers
# only), on the default bridge and on a user-defined network, with the Docker release on PATH
# (E2E_DOCKER_RELEASE=DIR, or the machine's 20.10).
#
# dockerd and doctor run in a private mount namespace each, where the variant's file is
# bind-mounted over /etc/resolv.conf: the machine's own file is never touched. dockerd reads it
# at every container start, so one dockerd serves all variants (the file is rewritten in place).
#
# Usage: dns_e2e_test.sh /path/to/dind-netcfg   (root; busybox-static, jq, unshare)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly BINARY=${1:-}
e2e_require_binary "$BINARY"
e2e_init
e2e_require_cmd jq unshare

readonly RESOLV=$E2E_TMP/resolv.conf
readonly NETWORK=dnc-dns-e2e
: >"$RESOLV"
# Runs CMD... with $RESOLV bound over /etc/resolv.conf, in a mount namespace of its own.
# shellcheck disable=SC2016 # $0 and $@ are the inner shell's
readonly -a WITH_RESOLV=(unshare -m --propagation private sh -c
  'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$RESOLV")

e2e_step "dockerd in a pod namespace whose /etc/resolv.conf is the test's"
e2e_ns_add pod
E2E_DOCKERD_WRAP=("${WITH_RESOLV[@]}")
start_dockerd pod
build_busybox_image pod
docker_in pod network create "$NETWORK" >/dev/null || e2e_fail "docker network create $NETWORK"
SOCKET=$(e2e_docker_sock pod)
DAEMON_JSON=$(e2e_dockerd_dir pod)/empty-daemon.json
readonly SOCKET DAEMON_JSON
release=$(docker_in pod version --format '{{.Server.Version}}')
e2e_info "dockerd $release"

# "nameservers|search|options" of a resolv.conf text, each list space-separated, comments
# skipped; the options of every options line, in order.
resolv_fields() { # TEXT
  awk '
    /^[ \t]*[#;]/ { next }
    $1 == "nameserver" { ns = ns (ns == "" ? "" : " ") $2 }
    $1 == "search" { s = ""; for (i = 2; i <= NF; i++) s = s (s == "" ? "" : " ") $i }
    $1 == "options" { for (i = 2; i <= NF; i++) o = o (o == "" ? "" : " ") $i }
    END { printf "%s|%s|%s", ns, s, o }' <<<"$1"
}

# The same fields of doctor's model for NETWORK_KIND (default_bridge | user_defined).
model_fields() { # DOCTOR_JSON NETWORK_KIND
  jq -r --arg kind "$2" '
    .checks[] | select(.id == "dns-resolv-conf") | .observed[$kind]
    | [(.nameservers | join(" ")), (.search | join(" ")), (.options | join(" "))] | join("|")' \
    <<<"$1"
}

check_variant() { # NAME TEXT
  local name=$1 doctor got want network kind
  printf '%s' "$2" >"$RESOLV" # in place: the bind mounts see it
  e2e_step "variant $name: $(tr '\n' ';' <<<"$2")"
  doctor=$("${WITH_RESOLV[@]}" "$BINARY" doctor --json --docker-socket "$SOCKET" \
    --daemon-json "$DAEMON_JSON") || (($? == 1)) || e2e_fail "doctor --json failed for $name"
  [[ "$(jq -r '.checks[] | select(.id == "dns-resolv-conf") | .status' <<<"$doctor")" != unknown ]] ||
    e2e_fail "doctor could not model $name: $(jq -c '.checks[] | select(.id == "dns-resolv-conf")' <<<"$doctor")"
  for network in bridge "$NETWORK"; do
    kind=user_defined
    [[ $network == bridge ]] && kind=default_bridge
    got=$(docker_in pod run --rm --network "$network" "$E2E_IMAGE" cat /etc/resolv.conf) ||
      e2e_fail "a nested container on $network could not read its /etc/resolv.conf"
    want=$(model_fields "$doctor" "$kind")
    assert_eq "$want" "$(resolv_fields "$got")" \
      "dockerd $release, $name, $network: the container's nameservers|search|options"
  done
}

check_variant loopback-only $'nameserver 127.0.0.1\nsearch example.org\n'
check_variant search-ndots $'search ci.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n'
check_variant ipv6 $'nameserver ::1\nnameserver 2001:db8::53\nsearch example.org\n'

e2e_pass "dockerd $release wrote what the model predicts for 3 variants x 2 networks"
