#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's bad-input tables, run as tests: every row is checked here, so the README cannot
# promise an answer the tool does not give.
#
# Table "bad-input-cli": each row's Given (shell, may be "—") and Run (shell; `dind-netcfg` is
# the binary under test) run in a fresh sandbox pod namespace (eth0 MTU 1450 with a default
# route, like a pod behind a VXLAN overlay), in a fresh working directory. The test checks the
# exit code and that the output holds the quoted answer. When the exit code is not 0 it also
# checks that nothing was lost or changed: every file of the working directory and the pod's
# nf_tables and ip_tables rulesets are as Given left them.
#
# Table "bad-input-faults": rows that need a running sidecar, a fault or a kernel state. Each
# names the ctest tests that check it (or a fuzz target's source, registered only in the clang
# build); here the names are checked to be registered tests (or existing files).
#
# Usage: bad_input_test.sh /path/to/build/bin/dind-netcfg   (root: it creates namespaces)

source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

readonly BINARY=$(realpath "${1:?usage: $0 /path/to/dind-netcfg}")
readonly README=$(dirname "${BASH_SOURCE[0]}")/../../README.md
readonly BUILD_DIR=$(dirname "$(dirname "$BINARY")")

e2e_init
e2e_require_cmd nft iptables-legacy-save sha256sum ctest
# Rows must never take the machine's own xtables lock.
export XTABLES_LOCKFILE=$E2E_TMP/xtables.lock

# Prints the cells of the table between <!-- NAME:begin --> and <!-- NAME:end -->, one row per
# line, cells separated by a tab, without the header and separator rows.
table_rows() { # NAME
  awk -v begin="<!-- $1:begin -->" -v end="<!-- $1:end -->" '
    $0 == begin { inside = 1; next }
    $0 == end { inside = 0 }
    inside && /^\|/ && !/^\|[-| ]+\|$/ {
      if (!header_seen) { header_seen = 1; next }
      line = substr($0, 2, length($0) - 2)
      n = split(line, cells, "|")
      out = ""
      for (i = 1; i <= n; i++) {
        cell = cells[i]
        gsub(/^ +| +$/, "", cell)
        out = out (i > 1 ? "\t" : "") cell
      }
      print out
    }' "$README"
}

# `code` in a cell -> code; a cell of "—" -> empty.
unquote() {
  local cell=$1
  [[ $cell == "—" ]] && return 0
  cell=${cell#\`}
  printf '%s' "${cell%\`}"
}

# What a failing command must leave alone: the files and the pod's rulesets.
pod_state() { # WORKDIR
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
  e2e_in pod nft list ruleset
  e2e_in pod iptables-legacy-save | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]//'
}

rows=0
row_number=0
while IFS=$'\t' read -r input given run exit_code answer; do
  row_number=$((row_number + 1))
  given=$(unquote "$given")
  run=$(unquote "$run")
  answer=$(unquote "$answer")
  e2e_step "row $row_number: $input"

  e2e_ns_add pod
  e2e_ns_add up
  e2e_veth pod eth0 up up0 1450
  e2e_addr pod eth0 10.232.1.2/24
  e2e_addr up up0 10.232.1.1/24
  e2e_route pod default via 10.232.1.1
  workdir=$E2E_TMP/row-$row_number
  mkdir "$workdir"

  if [[ -n "$given" ]]; then
    (cd "$workdir" && e2e_in pod bash -euc "$given") || e2e_fail "row $row_number: Given failed: $given"
  fi
  before=$(pod_state "$workdir")
  set +e
  output=$(cd "$workdir" &&
    e2e_in pod env PATH="$(dirname "$BINARY"):$PATH" bash -c "$run" 2>&1)
  status=$?
  set -e
  printf '    $ %s\n%s\n' "$run" "$(sed 's/^/    | /' <<<"$output")"
  assert_eq "$exit_code" "$status" "exit code of: $run"
  [[ "$output" == *"$answer"* ]] || e2e_fail "row $row_number: the output does not say: $answer"
  e2e_pass "says: $answer"
  if ((status != 0)); then
    after=$(pod_state "$workdir")
    [[ "$after" == "$before" ]] ||
      e2e_fail "row $row_number changed files or rules:"$'\n'"$(diff <(echo "$before") <(echo "$after"))"
    e2e_pass "files and rules unchanged"
  fi

  ip netns del "$(e2e_ns_name pod)"
  ip netns del "$(e2e_ns_name up)"
  E2E_NAMESPACES=()
  rows=$((rows + 1))
done < <(table_rows bad-input-cli)
((rows >= 20)) || e2e_fail "found only $rows rows in the bad-input-cli table of $README"

e2e_step "every row of bad-input-faults names registered tests"
registered=$(ctest --test-dir "$BUILD_DIR" -N | sed -n 's/^ *Test *#[0-9]*: //p')
fault_rows=0
while IFS=$'\t' read -r input _ tests; do
  names=$(grep -o '`[^`]*`' <<<"$tests" | tr -d '`')
  [[ -n "$names" ]] || e2e_fail "row '$input' names no test"
  for name in $names; do
    if [[ $name == */* ]]; then # a fuzz target's source: registered only in the clang build
      [[ -f "$(dirname "$README")/$name" ]] || e2e_fail "row '$input': $name does not exist"
    else
      grep -qx "$name" <<<"$registered" || e2e_fail "row '$input': $name is not a registered test"
    fi
  done
  fault_rows=$((fault_rows + 1))
done < <(table_rows bad-input-faults)
((fault_rows >= 10)) || e2e_fail "found only $fault_rows rows in the bad-input-faults table"
e2e_pass "$rows command rows run, $fault_rows fault rows name registered tests"
