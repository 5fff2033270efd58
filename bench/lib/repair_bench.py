#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark 3: repair latency of `dind-netcfg run`, per backend.

For each backend a fresh pod namespace (lib/sidecar_lab.py; no foreign rules) runs `run
--backend B --no-probes` (probes play no part in a repair); once /healthz answers,
`repair_latency_bench` runs in the same namespace: it removes the rules (nft: delete table ip
dind-netcfg; legacy: flush chain DIND-NETCFG-POSTROUTING) and times until they are back, warm-up
plus --repetitions times (see its source for how "back" is detected and why that is cheap).
Afterwards the sidecar's own dind_netcfg_rule_repairs_total must equal the number of flushes:
every repair measured was the sidecar's. Writes {backend: {...}} to --out.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from sidecar_lab import Lab, median, percentile, schedstat


def measure(args, backend, subnet):
    lab = Lab(f"{args.prefix}-{backend}", args.tmp, args.dind_netcfg, subnet)
    try:
        flags = ["--backend", backend, "--no-probes"]
        if backend == "legacy":
            flags += ["--poll-interval", f"{args.poll_interval_ms}ms"]
            # A uniform pause over one poll interval: flushes land at every phase of the timer.
            pause = f"0:{args.poll_interval_ms}"
            timeout = 3 * args.poll_interval_ms + 2000
            repetitions = args.legacy_repetitions
        else:
            # Long enough for the sidecar's re-check after its own repair to have finished.
            pause = "20:60"
            timeout = 2000
            repetitions = args.nft_repetitions
        lab.start_run(backend, *flags)
        raw = os.path.join(args.tmp, f"repair-{backend}.json")
        cpu_before, started = schedstat(lab.pid), time.monotonic()
        done = lab.in_pod(args.repair_bench, f"--backend={backend}",
                          f"--repetitions={repetitions}", f"--warmup={args.warmup}",
                          f"--pause-ms={pause}", f"--poll-us={args.poll_us}",
                          f"--timeout-ms={timeout}", f"--out={raw}", check=False)
        if done.returncode != 0:
            raise RuntimeError(f"repair_latency_bench ({backend}) failed: "
                               f"{done.stderr.decode(errors='replace')}\nrun's log:\n"
                               f"{lab.log_tail()}")
        cpu_after, wall = schedstat(lab.pid), time.monotonic() - started
        with open(raw, encoding="utf-8") as f:
            result = json.load(f)
        # The sidecar's CPU time per flush, and how long it sat runnable waiting for a CPU: on a
        # shared machine the second is where the tail comes from.
        flushes = repetitions + args.warmup
        result["sidecar_cpu_ms_per_flush"] = (cpu_after[0] - cpu_before[0]) / 1e6 / flushes
        result["sidecar_wait_ms_per_flush"] = (cpu_after[1] - cpu_before[1]) / 1e6 / flushes
        result["wall_s"] = wall
        repairs = lab.metrics().get("dind_netcfg_rule_repairs_total")
        if repairs != flushes:
            raise RuntimeError(f"{backend}: the sidecar counted {repairs} repairs for {flushes} "
                               f"flushes; log:\n{lab.log_tail()}")
        latencies = result["latencies_ms"]
        result.update({
            "poll_interval_ms": args.poll_interval_ms if backend == "legacy" else None,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "median_ms": median(latencies), "min_ms": min(latencies), "max_ms": max(latencies),
            "sidecar_repairs": repairs,
        })
        print(f"repair {backend}: p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
              f"max {result['max_ms']:.2f} ms over {len(latencies)} flushes")
        return result
    finally:
        lab.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dind-netcfg", required=True)
    parser.add_argument("--repair-bench", required=True, help="the repair_latency_bench binary")
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--nft-repetitions", type=int, default=200)
    parser.add_argument("--legacy-repetitions", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--poll-interval-ms", type=int, default=1000,
                        help="run's --poll-interval for the legacy backend (its default: 1s)")
    parser.add_argument("--poll-us", type=int, default=1000,
                        help="how often the legacy detection reads the table header")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    results = {"nft": measure(args, "nft", "10.211.0"),
               "legacy": measure(args, "legacy", "10.211.1")}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None)
        print(f"repair_bench: {error}{': ' + detail.decode() if detail else ''}", file=sys.stderr)
        sys.exit(1)
