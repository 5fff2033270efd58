#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every dind-netcfg benchmark side by side with the tools users would use instead, and
# writes bench/RESULTS.md and bench/rule_check_cost.svg. See bench/README.md.
#
# Usage: sudo bench/run.sh [--smoke] [--only NAMES] [--build-dir DIR] [--dind-netcfg PATH]
#                          [--out DIR] [--keep-data DIR]
#   --smoke            few iterations and tiny tables (well under a minute); results go to a
#                      temporary directory (or --out), never over bench/RESULTS.md
#   --only NAMES       run only these benchmarks (comma-separated: init, rulecheck, repair, idle,
#                      load, ready, entrypoint); their sections and target rows replace those in
#                      OUT/RESULTS.md, the rest of it stays (with --smoke: a report of them alone)
#   --build-dir DIR    the Release build to use and (re)build; default <repo>/build-bench
#   --dind-netcfg PATH use this already built binary; rule_check_bench, repair_latency_bench
#                      and ns_exec_time must sit beside it. No build is run (the test suite's
#                      bench_smoke does this)
#   --out DIR          where RESULTS.md and the SVG go; default bench/ (smoke: a temp dir)
#   --keep-data DIR    also copy the raw results (machine.env, one JSON per benchmark) to DIR;
#                      `lib/report.py --data DIR --sizes … --out …` writes the report from them
#
# Needs root: every benchmark runs in network namespaces this script creates and deletes on exit.
# The machine's own network namespace is never touched.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
smoke=0
build_dir=$repo/build-bench
binary=""
out=""
only=""
keep_data=""

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() {
  echo "bench/run.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case $1 in
  --smoke) smoke=1 ;;
  --build-dir) build_dir=${2:?--build-dir needs a directory}; shift ;;
  --dind-netcfg) binary=${2:?--dind-netcfg needs a path}; shift ;;
  --out) out=${2:?--out needs a directory}; shift ;;
  --only) only=${2:?--only needs benchmark names}; shift ;;
  --keep-data) keep_data=${2:?--keep-data needs a directory}; shift ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
  shift
done

benchmarks=(init rulecheck repair idle load ready entrypoint)
for name in ${only//,/ }; do
  [[ " ${benchmarks[*]} " == *" $name "* ]] || die "--only: no benchmark '$name' (${benchmarks[*]})"
done
wanted() { [[ -z "$only" || ",$only," == *",$1,"* ]]; } # NAME: selected by --only (or no --only)

((EUID == 0)) || die "needs root (it creates network namespaces); run: sudo $0"
for tool in ip iptables-legacy iptables-legacy-restore iptables-nft iptables-nft-restore nft \
  python3 awk wrk; do
  command -v "$tool" >/dev/null || die "missing $tool; run scripts/install-deps.sh"
done

# --- cleanup: every namespace carries this prefix; all are deleted on exit ---------------------
prefix="dncb$$"
tmp=$(mktemp -d /tmp/dnc-bench.XXXXXX)
declare -a bg_pids=()
cleanup() {
  local rc=$? ns pid
  set +e
  trap - EXIT INT TERM HUP
  for pid in "${bg_pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ns in $(ip netns list | awk -v p="$prefix-" 'index($1, p) == 1 { print $1 }'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    ip netns del "$ns"
  done
  rm -rf --one-file-system "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

step() { printf '\n==> %s\n' "$*"; }
# The harnesses in lib/ import each other: keep __pycache__ out of the source tree.
export PYTHONDONTWRITEBYTECODE=1

# --- the binaries ------------------------------------------------------------------------------
if [[ -z "$binary" ]]; then
  configured_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
  configured_static=$(sed -n 's/^DIND_STATIC_LIBS:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
  if [[ "$configured_type" != Release || "$configured_static" != ON ]]; then
    step "configuring a Release build in $build_dir, linked as the images ship it (DIND_STATIC_LIBS)"
    # -Wno-error=restrict: GCC 12 at -O3 reports a false -Wrestrict inside std::string's
    # operator+ (GCC bug 105329); the warning is still printed, it just does not fail the build.
    cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDIND_STATIC_LIBS=ON \
      -DCMAKE_CXX_FLAGS=-Wno-error=restrict >/dev/null
  fi
  step "building (Release) in $build_dir"
  nice cmake --build "$build_dir" -j "$(nproc)" --target dind-netcfg rule_check_bench \
    repair_latency_bench ns_exec_time
  binary=$build_dir/bin/dind-netcfg
fi
binary=$(realpath "$binary")
bin_dir=$(dirname "$binary")
rule_bench=$bin_dir/rule_check_bench
repair_bench=$bin_dir/repair_latency_bench
timer=$bin_dir/ns_exec_time
[[ -x "$binary" ]] || die "$binary is not an executable"
for helper in "$rule_bench" "$repair_bench" "$timer"; do
  [[ -x "$helper" ]] ||
    die "$helper is missing (build the targets rule_check_bench repair_latency_bench ns_exec_time)"
done

if ((smoke)); then
  out=${out:-$tmp/results}
  sizes=(0 100)
  init_iterations=2 init_warmup=1
  gbench_flags=(--benchmark_repetitions=2 --benchmark_min_time=0.01)
else
  out=${out:-$here}
  sizes=(0 1000 10000 50000)
  init_iterations=30 init_warmup=3
  gbench_flags=(--benchmark_repetitions=7 --benchmark_min_time=0.3
    --benchmark_min_warmup_time=0.2 --benchmark_enable_random_interleaving=true)
fi
mkdir -p "$out" "$tmp/data"
data=$tmp/data

# --- the machine -------------------------------------------------------------------------------
step "recording the machine"
version_of() { "$@" 2>&1 | head -n 1 || true; }
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) ($(nproc) cores)"
  echo "kernel=$(uname -r)"
  echo "os=$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release)"
  echo "dind_netcfg=$(version_of "$binary" version) ($(git -C "$repo" describe --always --dirty 2>/dev/null || echo 'no git'))"
  echo "iptables_legacy=$(version_of iptables-legacy -V)"
  echo "iptables_nft=$(version_of iptables-nft -V)"
  echo "nft=$(version_of nft -v)"
  echo "docker=$(version_of docker --version); /usr/bin/docker: $(version_of /usr/bin/docker --version)"
  echo "dockerd=$(version_of dockerd --version)"
  echo "compiler=$(version_of c++ --version)"
  echo "google_benchmark=$(dpkg-query -W -f='${Version}' libbenchmark-dev 2>/dev/null || echo unknown)"
  echo "python=$(version_of python3 --version)"
  echo "tmp_fs=$(findmnt -n -o FSTYPE -T "$tmp" || stat -f -c %T "$tmp")"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "only=$only"
} >"$data/machine.env"

# --- benchmark 1: init end to end --------------------------------------------------------------
if wanted init; then
  step "benchmark 1: init end to end against the shell entrypoint way ($init_iterations runs + $init_warmup warm-up each)"
  python3 "$here/lib/init_bench.py" --dind-netcfg "$binary" --peer "$here/peers/shell_init.sh" \
    --timer "$timer" --tmp "$tmp" --prefix "$prefix-i" --iterations "$init_iterations" \
    --warmup "$init_warmup" --out "$data/init.json"
fi

# --- benchmark 2: rule check cost as the nat table grows ---------------------------------------
# N foreign rules in nat POSTROUTING (half SNAT with tcp/comment matches, half RETURN), then the
# shell peer's own masquerade rule last, so `iptables -C` has to walk past all of them to find
# it. Both backends load the same file (iptables-legacy-restore / iptables-nft-restore).
write_ruleset() { # N FILE
  awk -v n="$1" 'BEGIN {
    print "*nat"
    print ":PREROUTING ACCEPT [0:0]"; print ":INPUT ACCEPT [0:0]"
    print ":OUTPUT ACCEPT [0:0]"; print ":POSTROUTING ACCEPT [0:0]"
    for (i = 0; i < n; i++) {
      ip = sprintf("10.%d.%d.%d/32", int(i / 65536) % 256, int(i / 256) % 256, i % 256)
      if (i % 2 == 0)
        printf "-A POSTROUTING -s %s -p tcp -m tcp --dport %d -m comment --comment \"foreign %d\" -j SNAT --to-source 192.0.2.%d\n", ip, 1024 + i % 60000, i, 1 + i % 250
      else
        printf "-A POSTROUTING -s %s -o eth1 -j RETURN\n", ip
    }
    print "-A POSTROUTING -s 172.17.0.0/16 -o eth0 -j MASQUERADE"
    print "COMMIT"
  }' >"$2"
}

peer_rule="-t nat -C POSTROUTING -s 172.17.0.0/16 -o eth0 -j MASQUERADE"
wanted rulecheck && step "benchmark 2: rule check cost at ${sizes[*]} foreign nat rules"
for n in "${sizes[@]}"; do
  wanted rulecheck || break
  write_ruleset "$n" "$data/ruleset-$n.txt"
  for backend in legacy nft; do
    ns=$prefix-rc-$backend-$n
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    clis=()
    if [[ $backend == legacy ]]; then
      ip netns exec "$ns" iptables-legacy-restore <"$data/ruleset-$n.txt"
      clis+=("--cli=iptables-legacy -C=iptables-legacy $peer_rule")
    else
      ip netns exec "$ns" iptables-nft-restore <"$data/ruleset-$n.txt"
      clis+=("--cli=iptables-nft -C=iptables-nft $peer_rule"
        "--cli=nft list chain=nft list chain ip dind-netcfg postrouting")
    fi
    printf '    %s, %d foreign rules\n' "$backend" "$n"
    # Our rules go in through the library (Apply) before anything is timed.
    ip netns exec "$ns" "$rule_bench" --backend="$backend" --apply=172.17.0.0/16@eth0 \
      --expect-foreign="$n" "${clis[@]}" "${gbench_flags[@]}" \
      --benchmark_out="$data/rulecheck-$backend-$n.json" --benchmark_out_format=json \
      --benchmark_format=console >"$data/rulecheck-$backend-$n.log" 2>&1 ||
      die "rule_check_bench ($backend, $n rules) failed:"$'\n'"$(tail -n 30 "$data/rulecheck-$backend-$n.log")"
    ip netns del "$ns"
  done
done

# --- benchmarks 3-6: the `dind-netcfg run` sidecar -------------------------------------------
# Each harness in lib/ builds its own namespaces (lib/sidecar_lab.py: a pod with a default route
# to a peer namespace) and writes $data/<name>.json; lib/report.py turns them into sections.
if "$binary" run --help >/dev/null 2>&1; then
  echo "sidecar=available" >>"$data/machine.env"
  if ((smoke)); then
    repair_flags=(--nft-repetitions 3 --legacy-repetitions 3 --warmup 1 --poll-interval-ms 200)
    load_flags=(--seconds 1 --runs 1 --warmup-seconds 1)
    ready_flags=(--repetitions 1 --warmup 0)
  else
    repair_flags=(--nft-repetitions 200 --legacy-repetitions 100 --warmup 3)
    load_flags=(--seconds 10 --runs 3 --warmup-seconds 2)
    ready_flags=(--repetitions 15 --warmup 1)
  fi

  if wanted repair; then
    step "benchmark 3: repair latency of run (nft: table deleted; legacy: chain flushed)"
    python3 "$here/lib/repair_bench.py" --dind-netcfg "$binary" --repair-bench "$repair_bench" \
      --tmp "$tmp" --prefix "$prefix-rp" "${repair_flags[@]}" --out "$data/repair.json"
  fi

  idle_rules=${sizes[-1]}
  idle_seconds=60
  ((smoke)) && idle_seconds=2
  if wanted idle; then
    step "benchmark 4: idle cost of run over ${idle_seconds}s with $idle_rules foreign legacy rules"
    [[ -f "$data/ruleset-$idle_rules.txt" ]] || write_ruleset "$idle_rules" "$data/ruleset-$idle_rules.txt"
    python3 "$here/lib/idle_bench.py" --dind-netcfg "$binary" \
      --ruleset "$data/ruleset-$idle_rules.txt" --rules "$idle_rules" --tmp "$tmp" \
      --prefix "$prefix-idle" --seconds "$idle_seconds" --out "$data/idle.json"
    # A realistic pod's table (dockerd's own rules and a few CI networks' are well under 200).
    step "benchmark 4: peak RSS of run with a realistic table of 200 foreign legacy rules"
    [[ -f "$data/ruleset-200.txt" ]] || write_ruleset 200 "$data/ruleset-200.txt"
    python3 "$here/lib/idle_bench.py" --dind-netcfg "$binary" \
      --ruleset "$data/ruleset-200.txt" --rules 200 --tmp "$tmp" \
      --prefix "$prefix-idls" --seconds "$(((idle_seconds + 5) / 6))" --out "$data/idle-realistic.json"
  fi

  if wanted load; then
    step "benchmark 5: /healthz and /metrics under wrk, 50 connections, probes running"
    echo "wrk=$(version_of wrk --version)" >>"$data/machine.env"
    python3 "$here/lib/load_bench.py" --dind-netcfg "$binary" --tmp "$tmp" --prefix "$prefix-ld" \
      "${load_flags[@]}" --out "$data/load.json"
  fi

  if wanted ready; then
    step "benchmark 6: time to ready, docker bridge appearing -> /readyz 200"
    python3 "$here/lib/ready_bench.py" --dind-netcfg "$binary" --tmp "$tmp" --prefix "$prefix-rd" \
      "${ready_flags[@]}" --out "$data/ready.json"
  fi
else
  echo "sidecar=missing (dind-netcfg run --help failed)" >>"$data/machine.env"
fi

# --- benchmark 7: the entrypoint, container start to COMMAND start ----------------------------
# lib/entrypoint_bench.py: each run in a fresh pod namespace as PID 1 of a PID namespace, the
# entrypoint against peers/dind_entrypoint.sh and dockerd alone (the same dockerd each time).
if wanted entrypoint; then
  docker_cli=/usr/bin/docker # the distribution's client, of dockerd's version (tests/e2e/lib.sh)
  [[ -x $docker_cli ]] || docker_cli=$(command -v docker || true)
  if ! "$binary" entrypoint --help >/dev/null 2>&1; then
    echo "entrypoint=missing (dind-netcfg entrypoint --help failed)" >>"$data/machine.env"
  elif ! { command -v dockerd && command -v nsenter && command -v unshare; } >/dev/null ||
    [[ -z "$docker_cli" ]]; then
    echo "entrypoint=skipped (needs dockerd, a docker client, nsenter and unshare)" \
      >>"$data/machine.env"
  else
    if ((smoke)); then
      entrypoint_flags=(--repetitions 1 --warmup 0)
    else
      entrypoint_flags=(--repetitions 15 --warmup 1)
    fi
    step "benchmark 7: container start to COMMAND start, entrypoint against the docker:dind way"
    python3 "$here/lib/entrypoint_bench.py" --dind-netcfg "$binary" \
      --peer "$here/peers/dind_entrypoint.sh" --docker-cli "$docker_cli" --tmp "$tmp" \
      --prefix "$prefix-ep" "${entrypoint_flags[@]}" --out "$data/entrypoint.json"
  fi
fi

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$data/machine.env"

# --- the report --------------------------------------------------------------------------------
if [[ -n "$keep_data" ]]; then
  mkdir -p "$keep_data"
  cp "$data"/machine.env "$data"/*.json "$keep_data"/
fi
report_flags=()
((smoke)) && report_flags+=(--smoke)
if [[ -n "$only" ]] && ((!smoke)); then
  report_flags+=(--merge)
  step "updating the sections of $only in $out/RESULTS.md"
else
  step "writing $out/RESULTS.md and $out/rule_check_cost.svg"
fi
python3 "$here/lib/report.py" --data "$data" --sizes "$(
  IFS=,
  echo "${sizes[*]}"
)" --out "$out" "${report_flags[@]}"
if ((smoke)); then
  cat "$out/RESULTS.md"
fi
