#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark 1: `dind-netcfg init` against the shell entrypoint way, each run in a fresh namespace.

For every iteration and every backend pair, two fresh network namespaces are built (untimed): a
veth uplink (MTU 1450, the far end in a shared "router" namespace), an address and a default
route. A holder process (`ip netns exec NS sleep`) gives each one a mount namespace whose /sys
shows that network namespace, as `ip netns exec` arranges. The timed part is the same for both
tools, measured by the C++ helper ns_exec_time: fork, setns() into the holder's network and mount
namespaces (two syscalls), exec, wait.
The order of the two tools alternates between iterations; the first --warmup iterations are
dropped. Diagnostics run in the same loop, each in a fresh namespace too: `/bin/true` through the
same path (the harness floor), `dind-netcfg version` (process start alone) and init writing
daemon.json to tmpfs (no fsync cost).

Pairs:
  legacy: the namespace has a legacy nat table already (so the shell peer picks iptables-legacy
          from /proc/net/ip_tables_names); dind-netcfg runs with --backend legacy.
  nft:    the namespace has no legacy table (the shell peer picks iptables-nft); dind-netcfg
          runs with --backend nft.
An explicit --backend means no traffic proof runs. The two "default" tools run init the way users
do, without --backend: auto chooses from the kernel facts and the rule census, and proves the
backend by sending packets through throwaway namespaces when those do not decide. The proof is
kept in a cache file (--proof-cache only places it: the default is /run/dind-netcfg/):
  dind-netcfg-default: a cache file of its own, absent: the first init on a kernel (or in a pod
                       without a shared cache), which proves and keeps the proof;
  dind-netcfg-reused:  one cache file for the whole run, filled by the warm-up: every later init,
                       run or entrypoint on the same kernel boot (the sidecar after the init
                       container; any pod on a node with the hostPath cache).

Writes one JSON object (samples in milliseconds) to --out. Only the standard library is used.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# The comparison, then diagnostics that explain it (measured in the same loop, not compared):
# the floor of the timing path, dind-netcfg's process start alone, and init with daemon.json on
# tmpfs (where fsync costs nothing).
DIAGNOSTICS = ["floor", "dind-netcfg-version", "dind-netcfg-tmpfs"]
# Compared with the shell peer: init with an explicit backend, and init as the README and the
# manifests run it (no --backend: the kernel facts, the rule census and, when they do not
# decide, the traffic proof choose).
COMPARED = ["dind-netcfg", "dind-netcfg-default", "dind-netcfg-reused", "shell"]
DEFAULT_FLAGS = ("dind-netcfg-default", "dind-netcfg-reused")
TOOLS = COMPARED + DIAGNOSTICS

def sh(*args, check=True):
    return subprocess.run(args, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pod:
    """A fresh namespace with a veth uplink and a default route, entered through a holder."""

    def __init__(self, name, router, index, legacy_table):
        self.name = name
        self.holder = None
        sh("ip", "netns", "add", name)
        try:
            sh("ip", "-n", name, "link", "set", "lo", "up")
            peer = f"up{index}"
            sh("ip", "-n", router, "link", "add", peer, "mtu", "1450", "type", "veth",
               "peer", "name", "eth0", "mtu", "1450", "netns", name)
            sh("ip", "-n", router, "link", "set", peer, "up")
            sh("ip", "-n", name, "addr", "add", "10.200.0.2/24", "dev", "eth0")
            sh("ip", "-n", name, "link", "set", "eth0", "up")
            sh("ip", "-n", name, "route", "add", "default", "via", "10.200.0.1")
            if legacy_table:
                sh("ip", "netns", "exec", name, "iptables-legacy", "-w", "-t", "nat", "-S")
            self.holder = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "3600"],
                                           stdin=subprocess.DEVNULL)
            self._wait_for_holder()
        except BaseException:
            self.close()
            raise

    def _wait_for_holder(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{self.holder.pid}/comm", encoding="ascii") as comm:
                    if comm.read().strip() == "sleep":
                        return
            except FileNotFoundError:
                pass
            if self.holder.poll() is not None:
                raise RuntimeError(f"ip netns exec {self.name} exited {self.holder.returncode}")
            time.sleep(0.002)
        raise RuntimeError(f"holder of {self.name} did not start within 10 s")

    def run_timed(self, timer, argv, stderr_path):
        """Milliseconds of fork + setns + exec + wait, measured by the C++ timer."""
        pid = self.holder.pid
        done = subprocess.run([timer, "--net", f"/proc/{pid}/ns/net", "--mnt",
                               f"/proc/{pid}/ns/mnt", "--stderr", stderr_path, "--", *argv],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            with open(stderr_path, encoding="utf-8", errors="replace") as err:
                raise RuntimeError(f"{' '.join(argv)} exited {done.returncode} in {self.name}: "
                                   f"{done.stderr}{err.read()}")
        return int(done.stdout) / 1e6

    def masquerade_rules(self, backend):
        if backend == "legacy":
            argv = ["iptables-legacy-save", "-t", "nat"]
        else:
            argv = ["nft", "list", "ruleset"]
        out = subprocess.run(["ip", "netns", "exec", self.name, *argv], check=True,
                             capture_output=True, text=True).stdout
        return out.lower().count("masquerade")

    def close(self):
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()
            self.holder = None
        sh("ip", "netns", "del", self.name, check=False)


def summarize(samples):
    return {"median_ms": statistics.median(samples), "min_ms": min(samples),
            "max_ms": max(samples), "samples_ms": samples}


def check_outputs(pod, backend, daemon_json, tool):
    with open(daemon_json, encoding="utf-8") as f:
        written = json.load(f)
    if written.get("mtu") not in (1450, 1450.0) and tool == "shell":
        raise RuntimeError(f"shell peer wrote mtu {written.get('mtu')}, expected 1450")
    if "mtu" not in written:
        raise RuntimeError(f"{tool} wrote no mtu into {daemon_json}")
    # Without --backend, init chooses: its rule may be in either backend.
    backends = ["legacy", "nft"] if tool in DEFAULT_FLAGS else [backend]
    if sum(pod.masquerade_rules(b) for b in backends) < 1:
        raise RuntimeError(f"{tool} left no masquerade rule in {'/'.join(backends)} ({pod.name})")
    return written["mtu"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dind-netcfg", required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--timer", required=True, help="the ns_exec_time binary")
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--prefix", required=True, help="namespace name prefix")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--backends", default="legacy,nft")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    router = f"{args.prefix}-router"
    shm = tempfile.mkdtemp(prefix="dnc-bench-", dir="/dev/shm")
    sh("ip", "netns", "add", router)
    results = {"iterations": args.iterations, "warmup": args.warmup, "pairs": {}}
    counter = 0
    try:
        for backend in args.backends.split(","):
            samples = {tool: [] for tool in TOOLS}
            mtus = set()
            for iteration in range(args.warmup + args.iterations):
                # Each compared tool goes first, second and last equally often.
                shift = iteration % len(COMPARED)
                tools = COMPARED[shift:] + COMPARED[:shift]
                for tool in tools + DIAGNOSTICS:
                    counter += 1
                    daemon_json = os.path.join(args.tmp, f"daemon-{counter}.json")
                    if tool == "dind-netcfg":
                        argv = [args.dind_netcfg, "init", "--daemon-json", daemon_json,
                                "--dockerd-version", "24.0.7", "--backend", backend]
                    elif tool in DEFAULT_FLAGS:
                        cache = (os.path.join(args.tmp, f"proof-{counter}.json")
                                 if tool == "dind-netcfg-default" else
                                 os.path.join(args.tmp, "proof-shared.json"))
                        argv = [args.dind_netcfg, "init", "--daemon-json", daemon_json,
                                "--dockerd-version", "24.0.7", "--proof-cache", cache]
                    elif tool == "shell":
                        argv = ["/bin/sh", args.peer, daemon_json]
                    elif tool == "dind-netcfg-tmpfs":
                        daemon_json = os.path.join(shm, f"daemon-{counter}.json")
                        argv = [args.dind_netcfg, "init", "--daemon-json", daemon_json,
                                "--dockerd-version", "24.0.7", "--backend", backend]
                    elif tool == "dind-netcfg-version":
                        argv = [args.dind_netcfg, "version"]
                    else:
                        argv = ["/bin/true"]
                    pod = Pod(f"{args.prefix}-p{counter}", router, counter, backend == "legacy")
                    try:
                        elapsed = pod.run_timed(args.timer, argv,
                                                os.path.join(args.tmp, "stderr.txt"))
                        if tool in COMPARED or tool == "dind-netcfg-tmpfs":
                            mtus.add((tool, check_outputs(pod, backend, daemon_json, tool)))
                    finally:
                        pod.close()
                    if iteration >= args.warmup:
                        samples[tool].append(elapsed)
            pair = {tool: summarize(values) for tool, values in samples.items()}
            pair["ratio"] = pair["dind-netcfg"]["median_ms"] / pair["shell"]["median_ms"]
            pair["ratio_default"] = (pair["dind-netcfg-default"]["median_ms"] /
                                     pair["shell"]["median_ms"])
            pair["ratio_reused"] = (pair["dind-netcfg-reused"]["median_ms"] /
                                    pair["shell"]["median_ms"])
            pair["mtu_written"] = {tool: mtu for tool, mtu in sorted(mtus)}
            results["pairs"][backend] = pair
            print(f"init/{backend}: dind-netcfg {pair['dind-netcfg']['median_ms']:.2f} ms, "
                  f"default flags {pair['dind-netcfg-default']['median_ms']:.2f} ms "
                  f"(proof reused {pair['dind-netcfg-reused']['median_ms']:.2f} ms), "
                  f"shell {pair['shell']['median_ms']:.2f} ms, ratio {pair['ratio']:.3f}, "
                  f"floor {pair['floor']['median_ms']:.2f} ms", flush=True)
    finally:
        sh("ip", "netns", "del", router, check=False)
        shutil.rmtree(shm, ignore_errors=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None)
        print(f"init_bench: {error}{': ' + detail.decode() if detail else ''}", file=sys.stderr)
        sys.exit(1)
