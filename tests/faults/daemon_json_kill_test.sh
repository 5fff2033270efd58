#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fault: `init` killed with SIGKILL at random points while it rewrites daemon.json, 500 times.
#
# Each round asks for the other of two MTUs (1400, 1420), so every write really changes the
# file, and kills the process after a random delay spread over its whole run time. After every
# kill: daemon.json holds exactly the old or the new bytes, jq parses it, and at most one
# temporary file (the killed write's) is left; the next write removes it. Kills must have
# landed on both sides of the rename (some rounds end old, some new), or the test proved nothing.
#
# Usage: daemon_json_kill_test.sh /path/to/dind-netcfg   (root; needs jq, python3)

source "$(dirname "${BASH_SOURCE[0]}")/faults_lib.sh"

readonly BINARY=${1:?usage: $0 /path/to/dind-netcfg}
readonly ROUNDS=${FAULTS_KILL_ROUNDS:-500}

e2e_init
e2e_require_cmd jq python3
faults_make_pod

e2e_step "the two contents: init with --mtu 1400 and with --mtu 1420"
daemon_json=$E2E_TMP/daemon.json
init_args=(init --daemon-json "$daemon_json" --no-rules --dockerd-version 24.0.7)
echo '{"storage-driver": "vfs", "debug": true}' >"$daemon_json"
e2e_in pod "$BINARY" "${init_args[@]}" --mtu 1400 >/dev/null
cp "$daemon_json" "$E2E_TMP/content-1400"
e2e_in pod "$BINARY" "${init_args[@]}" --mtu 1420 >/dev/null
cp "$daemon_json" "$E2E_TMP/content-1420"
assert_eq 1400 "$(jq .mtu "$E2E_TMP/content-1400")" "the first content's mtu"
assert_eq 1420 "$(jq .mtu "$E2E_TMP/content-1420")" "the second content's mtu"

e2e_step "$ROUNDS writes, each killed at a random point"
cat >"$E2E_TMP/kill_rounds.py" <<'PY'
import glob, os, random, signal, statistics, subprocess, sys, time

netns, binary, path, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
directory = os.path.dirname(path)
contents = {mtu: open(f"{directory}/content-{mtu}", "rb").read() for mtu in (1400, 1420)}
other = {1400: 1420, 1420: 1400}
base = ["nsenter", f"--net={netns}", "--", binary, "init", "--daemon-json", path, "--no-rules",
        "--dockerd-version", "24.0.7", "--mtu"]
def temporaries():
    return glob.glob(os.path.join(directory, "." + os.path.basename(path) + ".tmp-*"))

def current_mtu():
    data = open(path, "rb").read()
    for mtu, content in contents.items():
        if data == content:
            return mtu
    sys.exit(f"FAIL: daemon.json is neither the old nor the new content:\n{data!r}")

# How long one complete init takes here: the kills are spread over that.
durations = []
for _ in range(5):
    started = time.monotonic()
    subprocess.run(base + [str(other[current_mtu()])], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    durations.append(time.monotonic() - started)
span = statistics.median(durations) * 1.2
seed = int(os.environ.get("FAULTS_SEED", time.time_ns() % 1_000_000))
random.seed(seed)
print(f"    one init takes {statistics.median(durations) * 1000:.1f} ms; kills within "
      f"{span * 1000:.1f} ms; seed {seed} (FAULTS_SEED to repeat)", flush=True)

ended = {"old": 0, "new": 0}
most_temporaries = 0
left_by_kill = 0
for round in range(rounds):
    old = current_mtu()
    new = other[old]
    process = subprocess.Popen(base + [str(new)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(0, span))
    process.send_signal(signal.SIGKILL)
    process.wait()
    now = current_mtu()  # exits when the content is torn or foreign
    ended["new" if now == new else "old"] += 1
    check = subprocess.run(["jq", "-e", ".mtu", path], capture_output=True, text=True)
    if check.returncode != 0 or check.stdout.strip() != str(now):
        sys.exit(f"FAIL: round {round}: jq does not read daemon.json: {check.stderr}")
    left = temporaries()
    left_by_kill += 1 if left else 0
    most_temporaries = max(most_temporaries, len(left))
    if len(left) > 1:
        sys.exit(f"FAIL: round {round}: temporary files pile up: {left}")

print(f"    rounds ending with the old content: {ended['old']}, with the new: {ended['new']}; "
      f"rounds that left a temporary file for the next write: {left_by_kill}", flush=True)
if ended["old"] == 0 or ended["new"] == 0:
    sys.exit("FAIL: the kills did not land on both sides of the rename; nothing was proven")
# A write that completes cleans what the killed ones left.
subprocess.run(base + [str(other[current_mtu()])], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if temporaries():
    sys.exit(f"FAIL: a complete write left temporary files: {temporaries()}")
print("    ok: a complete write leaves no temporary file", flush=True)
PY
python3 "$E2E_TMP/kill_rounds.py" "$(e2e_ns_path pod)" "$BINARY" "$daemon_json" "$ROUNDS" ||
  e2e_fail "the kill rounds failed (see above)"
e2e_pass "$ROUNDS killed writes: always the old or the new content, always valid JSON"

e2e_step "done"
