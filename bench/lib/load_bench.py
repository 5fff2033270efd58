#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark 5: the health endpoint of `dind-netcfg run` under wrk, while the probes run.

A pod namespace (lib/sidecar_lab.py) with docker0 and a TCP listener in the peer namespace
runs `run --backend nft --probe-target PEER:8443 --probe-interval 1s`; once /readyz is 200 (the
probe passes through our masquerade), wrk loads the endpoint on loopback inside the pod: one
thread and 50 keep-alive connections (wrk on one of the two cores, the sidecar's single event
loop on the other), --seconds each, /healthz and /metrics alternating --runs times after a
warm-up. A Lua `done` hook prints wrk's exact p50/p90/p99 from its latency histogram.

Probe schedule: the prober's finished rounds (/status egress.rounds) and its probe count
(dind_netcfg_probe_latency_seconds_count) are read right before and after each wrk run; with a
1 s interval (±10% jitter) a run of D seconds should see about D rounds, all probes passing.
Writes one JSON object to --out.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

from sidecar_lab import LISTEN, Lab, median, schedstat

REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""

PROBE_INTERVAL_S = 1.0


def load_average():
    with open("/proc/loadavg", encoding="ascii") as f:
        return float(f.read().split()[0])


def probe_counters(lab):
    code, body = lab.get("/status")
    if code != 200:
        raise RuntimeError(f"/status answered {code}")
    egress = json.loads(body)["egress"]
    metrics = lab.metrics()
    probes = sum(v for k, v in metrics.items()
                 if k.startswith("dind_netcfg_probe_latency_seconds_count"))
    failing = [k for k, v in metrics.items()
               if k.startswith("dind_netcfg_probe_success") and v != 1]
    return {"rounds": egress["rounds"], "probes": probes, "failing": failing,
            "at": time.monotonic()}


def run_wrk(lab, script, path, seconds):
    done = lab.in_pod("wrk", "-t1", "-c50", f"-d{seconds}s", "--timeout", "2s", "-s", script,
                      f"http://{LISTEN}{path}", check=False)
    out = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"wrk {path} failed: {out}{done.stderr.decode(errors='replace')}")
    for line in out.splitlines():
        if line.startswith("WRK_JSON "):
            result = json.loads(line.removeprefix("WRK_JSON "))
            break
    else:
        raise RuntimeError(f"wrk {path}: no WRK_JSON line in its output:\n{out}")
    result["requests_per_second"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors",
                                                "status_errors", "timeouts"))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dind-netcfg", required=True)
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup-seconds", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    script = os.path.join(args.tmp, "wrk-report.lua")
    with open(script, "w", encoding="utf-8") as f:
        f.write(REPORT_LUA)
    lab = Lab(args.prefix, args.tmp, args.dind_netcfg, "10.212.0")
    try:
        lab.start_listener()
        lab.add_bridge()
        lab.start_run("load", "--backend", "nft", "--probe-target", lab.probe_target,
                      "--probe-interval", f"{PROBE_INTERVAL_S:g}s", "--probe-timeout", "1s")
        lab.wait_for("/readyz", 200, 30)
        run_wrk(lab, script, "/healthz", args.warmup_seconds)
        runs = {"/healthz": [], "/metrics": []}
        for _ in range(args.runs):
            for path in runs:
                before = probe_counters(lab)
                cpu_before = schedstat(lab.pid)
                result = run_wrk(lab, script, path, args.seconds)
                cpu_after = schedstat(lab.pid)
                after = probe_counters(lab)
                # How much CPU the sidecar got, and how long it waited for one: on a shared
                # machine the second says whether the endpoint or the machine was the limit.
                on_cpu = (cpu_after[0] - cpu_before[0]) / 1e9
                result.update({
                    "sidecar_cpu_s": on_cpu,
                    "sidecar_wait_s": (cpu_after[1] - cpu_before[1]) / 1e9,
                    "requests_per_sidecar_cpu_s": result["requests"] / on_cpu if on_cpu else 0,
                    "load_average": load_average(),
                })
                window = after["at"] - before["at"]
                result.update({
                    "probe_window_s": window,
                    "probe_rounds": after["rounds"] - before["rounds"],
                    "probe_rounds_expected": window / PROBE_INTERVAL_S,
                    # The slowest schedule the jitter (+10%) allows, less one round in flight
                    # at either end of the window.
                    "probe_rounds_min": max(0, math.floor(window / (1.1 * PROBE_INTERVAL_S)) - 1),
                    "probes": after["probes"] - before["probes"],
                    "probes_failing_after": after["failing"],
                })
                runs[path].append(result)
                print(f"wrk {path}: {result['requests_per_second']:.0f} req/s, p99 "
                      f"{result['p99_us'] / 1000:.2f} ms, {result['errors']} errors; sidecar on CPU "
                      f"{result['sidecar_cpu_s']:.1f} s, waiting {result['sidecar_wait_s']:.1f} s; probe "
                      f"rounds {result['probe_rounds']} in {window:.1f} s")
        if lab.sidecar.poll() is not None:
            raise RuntimeError(f"run exited {lab.sidecar.returncode} under load")
        summary = {}
        for path, results in runs.items():
            summary[path] = {
                "runs": results,
                "requests_per_second": median([r["requests_per_second"] for r in results]),
                "p99_ms": median([r["p99_us"] / 1000 for r in results]),
                "p50_ms": median([r["p50_us"] / 1000 for r in results]),
                "errors": sum(r["errors"] for r in results),
                "sidecar_cpu_share": median([r["sidecar_cpu_s"] / (r["duration_us"] / 1e6)
                                             for r in results]),
                "sidecar_wait_share": median([r["sidecar_wait_s"] / (r["duration_us"] / 1e6)
                                              for r in results]),
                "requests_per_sidecar_cpu_s": median([r["requests_per_sidecar_cpu_s"]
                                                      for r in results]),
                "probe_rounds": sum(r["probe_rounds"] for r in results),
                "probe_rounds_expected": sum(r["probe_rounds_expected"] for r in results),
                "probe_rounds_min": sum(r["probe_rounds_min"] for r in results),
                "probe_failures": sorted({f for r in results for f in r["probes_failing_after"]}),
            }
        result = {"connections": 50, "threads": 1, "seconds": args.seconds, "runs": args.runs,
                  "probe_interval_s": PROBE_INTERVAL_S, "endpoints": summary}
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    finally:
        lab.close()


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None)
        print(f"load_bench: {error}{': ' + detail.decode() if detail else ''}", file=sys.stderr)
        sys.exit(1)
