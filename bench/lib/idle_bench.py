#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark 4: idle cost of `dind-netcfg run` with a big legacy nat table.

A fresh namespace (veth uplink MTU 1450, default route) gets --rules foreign legacy nat rules
(iptables-legacy-restore of the file run.sh wrote). `run` starts there with --backend legacy and
the default --poll-interval (1s), serving on 127.0.0.1:9254 inside the namespace. Once /healthz
answers 200 and a settle time passed, its CPU time (sum of every thread's
/proc/PID/task/*/schedstat run time) is read, again after --seconds; peak RSS is VmHWM.

The sidecar runs with --no-probes and --docker-socket '' (no dockerd, no bridge to probe from in
this namespace); the poll of the legacy table, which is what grows with the rule count, runs.
Writes one JSON object to --out.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time


def sh(*args, check=True, **kwargs):
    return subprocess.run(args, check=check, capture_output=True, **kwargs)


def cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass  # a thread that just ended
    return total


def status_kib(pid, key):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def healthy(ns):
    probe = ("import urllib.request,sys;"
             "sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9254/healthz',timeout=1)"
             ".status==200 else 1)")
    return sh("ip", "netns", "exec", ns, "python3", "-c", probe, check=False).returncode == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dind-netcfg", required=True)
    parser.add_argument("--ruleset", required=True, help="iptables-restore file of the nat table")
    parser.add_argument("--rules", type=int, required=True)
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--settle", type=float, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    ns, router = f"{args.prefix}-pod", f"{args.prefix}-router"
    sidecar = None
    log_path = os.path.join(args.tmp, "idle-run.log")
    try:
        for name in (ns, router):
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        sh("ip", "-n", router, "link", "add", "up0", "mtu", "1450", "type", "veth", "peer",
           "name", "eth0", "mtu", "1450", "netns", ns)
        sh("ip", "-n", router, "link", "set", "up0", "up")
        sh("ip", "-n", ns, "addr", "add", "10.200.0.2/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", "10.200.0.1")
        with open(args.ruleset, "rb") as ruleset:
            subprocess.run(["ip", "netns", "exec", ns, "iptables-legacy-restore"], stdin=ruleset,
                           check=True)
        with open(log_path, "wb") as log:
            sidecar = subprocess.Popen(
                ["ip", "netns", "exec", ns, args.dind_netcfg, "run", "--daemon-json",
                 os.path.join(args.tmp, "idle-daemon.json"), "--dockerd-version", "24.0.7",
                 "--backend", "legacy", "--listen", "127.0.0.1:9254", "--docker-socket", "",
                 "--no-probes"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while not healthy(ns):
            if sidecar.poll() is not None or time.monotonic() > deadline:
                with open(log_path, encoding="utf-8", errors="replace") as log:
                    raise RuntimeError("run did not become healthy (exit "
                                       f"{sidecar.poll()}); log:\n{log.read()[-3000:]}")
            time.sleep(0.2)
        time.sleep(args.settle)
        pid = sidecar.pid  # ip netns exec execs the command: same pid
        start_cpu, start = cpu_ns(pid), time.monotonic()
        time.sleep(args.seconds)
        cpu, wall = cpu_ns(pid) - start_cpu, time.monotonic() - start
        result = {"rules": args.rules, "seconds": wall, "cpu_seconds": cpu / 1e9,
                  "cpu_percent": 100.0 * cpu / 1e9 / wall,
                  "peak_rss_kib": status_kib(pid, "VmHWM"), "rss_kib": status_kib(pid, "VmRSS")}
        if sidecar.poll() is not None:
            raise RuntimeError(f"run exited {sidecar.returncode} during the measurement")
        print(f"idle: {result['cpu_percent']:.3f}% of a core over {wall:.0f} s, peak RSS "
              f"{result['peak_rss_kib'] / 1024:.1f} MiB ({args.rules} foreign legacy rules)")
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    finally:
        if sidecar is not None and sidecar.poll() is None:
            sidecar.send_signal(signal.SIGTERM)
            try:
                sidecar.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sidecar.kill()
                sidecar.wait()
        for name in (ns, router):
            sh("ip", "netns", "del", name, check=False)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None)
        print(f"idle_bench: {error}{': ' + detail.decode() if detail else ''}", file=sys.stderr)
        sys.exit(1)
