#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark 6: time to ready, from a docker bridge appearing to /readyz 200.

A pod namespace (lib/sidecar_lab.py) with a TCP listener in the peer namespace. Each repetition
starts a fresh `run --backend nft --probe-target PEER:8443` (no daemon.json yet; the probe
interval and timeout at their defaults, 10s and 2s) with no docker0; once /healthz is 200 and
/readyz says 503 for the missing bridge, a timer inside the pod makes docker0 the way dockerd
does (link, address, up: one `ip -batch`) and polls /readyz every --poll-ms with a fresh HTTP
connection until it answers 200. Measured: from right before `ip` starts to that 200 (so the
`ip` process, ~1-3 ms, is included). Between repetitions run stops, docker0 and daemon.json go.
Writes one JSON object to --out.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from sidecar_lab import BRIDGE_ADDRESS, LISTEN, Lab, median

# Runs inside the pod namespace: makes the bridge, then polls /readyz. Prints milliseconds.
TIMER = r"""
import http.client, subprocess, sys, time
host, port = sys.argv[1].rsplit(":", 1)
poll, limit = float(sys.argv[3]) / 1000, float(sys.argv[4])
commands = f"link add docker0 type bridge\naddr add {sys.argv[2]} dev docker0\nlink set docker0 up\n"
start = time.monotonic()
subprocess.run(["ip", "-batch", "-"], input=commands.encode(), check=True)
bridge_done = time.monotonic()
polls = 0
while True:
    polls += 1
    connection = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        connection.request("GET", "/readyz")
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        connection.close()
    now = time.monotonic()
    if status == 200:
        break
    if now - start > limit:
        sys.exit(f"/readyz not 200 within {limit} s (last status {status})")
    time.sleep(poll)
print(f"{(bridge_done - start) * 1000:.3f} {(now - start) * 1000:.3f} {polls}")
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dind-netcfg", required=True)
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--poll-ms", type=float, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    lab = Lab(args.prefix, args.tmp, args.dind_netcfg, "10.213.0")
    samples = []
    try:
        lab.start_listener()
        for rep in range(args.warmup + args.repetitions):
            if os.path.exists(lab.daemon_json):
                os.unlink(lab.daemon_json)
            lab.start_run(f"ready{rep}", "--backend", "nft", "--probe-target", lab.probe_target)
            reason = lab.wait_for("/readyz", 503, 10)
            if "docker" not in reason:
                raise RuntimeError(f"/readyz is 503 for another reason than the bridge: {reason}")
            time.sleep(0.5)  # let start-up work (first detection, rule check) finish
            done = lab.in_pod("python3", "-c", TIMER, LISTEN, BRIDGE_ADDRESS, str(args.poll_ms),
                              "30", check=False)
            if done.returncode != 0:
                raise RuntimeError(f"repetition {rep + 1}: {done.stderr.decode(errors='replace')}"
                                   f"\nrun's log:\n{lab.log_tail()}")
            bridge_ms, ready_ms, polls = done.stdout.decode().split()
            if rep >= args.warmup:
                samples.append({"ready_ms": float(ready_ms), "bridge_ms": float(bridge_ms),
                                "polls": int(polls)})
            lab.stop_run()
            lab.delete_bridge()
        ready = [s["ready_ms"] for s in samples]
        result = {"repetitions": args.repetitions, "warmup": args.warmup,
                  "poll_ms": args.poll_ms, "samples": samples, "median_ms": median(ready),
                  "min_ms": min(ready), "max_ms": max(ready),
                  "bridge_median_ms": median([s["bridge_ms"] for s in samples])}
        print(f"time to ready: median {result['median_ms']:.0f} ms (min {result['min_ms']:.0f}, "
              f"max {result['max_ms']:.0f}) over {len(ready)} bridges")
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    finally:
        lab.close()


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None)
        print(f"ready_bench: {error}{': ' + detail.decode() if detail else ''}", file=sys.stderr)
        sys.exit(1)
