# SPDX-License-Identifier: Apache-2.0
"""Namespaces around one `dind-netcfg run`, shared by benchmarks 3, 5 and 6.

    [POD ns: run, (docker0 172.17.0.1/16)]--eth0 NET.2--up0 NET.1--[OUTSIDE ns: TCP listener]

The pod has a default route via OUTSIDE and forwards (as a DinD pod does); OUTSIDE has no route
to 172.17.0.0/16, so the egress probe, standing on docker0, reaches the listener only through
dind-netcfg's masquerade rule (as in tests/daemon/sidecar/run_sidecar_test.sh). Every namespace is
named PREFIX-…; close() deletes them, and bench/run.sh deletes whatever carries its prefix on exit.
"""

import os
import signal
import subprocess
import time

LISTEN = "127.0.0.1:9254"
PROBE_PORT = 8443
BRIDGE_ADDRESS = "172.17.0.1/16"  # the bip `run` decides in an empty namespace

# Accepts and closes every connection: all the prober's TCP probe needs.
LISTENER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(128)
while True:
    connection, _ = server.accept()
    connection.close()
"""


def sh(*args, check=True, **kwargs):
    return subprocess.run(args, check=check, capture_output=True, **kwargs)


class Lab:
    def __init__(self, prefix, tmp, binary, subnet):
        """subnet: the first three octets of the pod's uplink network, e.g. "10.211.0"."""
        self.pod, self.outside = f"{prefix}-pod", f"{prefix}-out"
        self.tmp, self.binary = tmp, binary
        self.server_ip = f"{subnet}.1"
        self.pod_ip = f"{subnet}.2"
        self.sidecar = None
        self.listener = None
        self.log_path = None
        self.daemon_json = os.path.join(tmp, f"{prefix}-daemon.json")
        for name in (self.pod, self.outside):
            sh("ip", "netns", "add", name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        sh("ip", "-n", self.outside, "link", "add", "up0", "mtu", "1450", "type", "veth", "peer",
           "name", "eth0", "mtu", "1450", "netns", self.pod)
        sh("ip", "-n", self.outside, "addr", "add", f"{self.server_ip}/24", "dev", "up0")
        sh("ip", "-n", self.outside, "link", "set", "up0", "up")
        sh("ip", "-n", self.pod, "addr", "add", f"{self.pod_ip}/24", "dev", "eth0")
        sh("ip", "-n", self.pod, "link", "set", "eth0", "up")
        sh("ip", "-n", self.pod, "route", "add", "default", "via", self.server_ip)
        sh("ip", "netns", "exec", self.pod, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")

    @property
    def probe_target(self):
        return f"{self.server_ip}:{PROBE_PORT}"

    def start_listener(self):
        self.listener = subprocess.Popen(
            ["ip", "netns", "exec", self.outside, "python3", "-c", LISTENER, str(PROBE_PORT)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def in_pod(self, *args, check=True, **kwargs):
        return sh("ip", "netns", "exec", self.pod, *args, check=check, **kwargs)

    def add_bridge(self):
        """docker0 the way dockerd makes it: link, address, up (one `ip -batch`)."""
        subprocess.run(["ip", "-n", self.pod, "-batch", "-"], check=True, input=(
            "link add docker0 type bridge\n"
            f"addr add {BRIDGE_ADDRESS} dev docker0\n"
            "link set docker0 up\n").encode())

    def delete_bridge(self):
        sh("ip", "-n", self.pod, "link", "del", "docker0", check=False)

    def start_run(self, label, *flags):
        self.log_path = os.path.join(self.tmp, f"{os.path.basename(self.pod)}-{label}.log")
        with open(self.log_path, "wb") as log:
            self.sidecar = subprocess.Popen(
                ["ip", "netns", "exec", self.pod, self.binary, "run", "--daemon-json",
                 self.daemon_json, "--dockerd-version", "24.0.7", "--listen", LISTEN,
                 "--docker-socket", "", *flags],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.wait_for("/healthz", 200, 30)

    @property
    def pid(self):
        return self.sidecar.pid  # ip netns exec execs the command: same pid

    def log_tail(self):
        if not self.log_path:
            return ""
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()[-3000:]

    def get(self, path, timeout=3):
        """(status, body) of GET http://LISTEN/PATH from inside the pod; (0, error) if none."""
        script = ("import sys,urllib.request,urllib.error\n"
                  "try:\n"
                  f" r=urllib.request.urlopen('http://{LISTEN}'+sys.argv[1],timeout={timeout})\n"
                  " code,body=r.status,r.read()\n"
                  "except urllib.error.HTTPError as e:\n"
                  " code,body=e.code,e.read()\n"
                  "sys.stdout.write(str(code)+'\\n');sys.stdout.buffer.write(body)\n")
        done = self.in_pod("python3", "-c", script, path, check=False)
        if done.returncode != 0:
            return 0, done.stderr.decode(errors="replace")
        code, _, body = done.stdout.decode(errors="replace").partition("\n")
        return int(code), body

    def wait_for(self, path, code, seconds):
        deadline = time.monotonic() + seconds
        while True:
            got, body = self.get(path)
            if got == code:
                return body
            if self.sidecar.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{path} did not answer {code} within {seconds}s (last: {got} "
                                   f"{body.strip()[:200]!r}; run exit {self.sidecar.poll()}); "
                                   f"log:\n{self.log_tail()}")
            time.sleep(0.1)

    def metrics(self):
        """{series: value} of /metrics (series as the exposition writes it, labels included)."""
        code, body = self.get("/metrics")
        if code != 200:
            raise RuntimeError(f"/metrics answered {code}: {body[:200]}")
        values = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                series, _, value = line.rpartition(" ")
                values[series] = float(value)
        return values

    def stop_run(self):
        if self.sidecar is not None and self.sidecar.poll() is None:
            self.sidecar.send_signal(signal.SIGTERM)
            try:
                self.sidecar.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sidecar.kill()
                self.sidecar.wait()
        self.sidecar = None

    def close(self):
        self.stop_run()
        if self.listener is not None:
            self.listener.kill()
            self.listener.wait()
        for name in (self.pod, self.outside):
            sh("ip", "netns", "del", name, check=False)


def schedstat(pid):
    """(on-CPU ns, waiting-for-a-CPU ns) summed over the process's threads."""
    run = wait = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as f:
                fields = f.read().split()
        except FileNotFoundError:
            continue  # a thread that just ended
        run, wait = run + int(fields[0]), wait + int(fields[1])
    return run, wait


def percentile(values, p):
    """Nearest-rank percentile: the smallest value with at least p % of values at or below."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(rank) - 1]


def median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
