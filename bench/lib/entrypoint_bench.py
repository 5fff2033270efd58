#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark 7: container start to COMMAND start, `entrypoint` against the docker:dind way.

    [POD ns, fresh per run: PID namespace (unshare --pid --fork --mount-proc) running one of the
     kinds below, its dockerd and docker0]--eth0 NET.2--up0 NET.1--[OUTSIDE ns: TCP listener]

Every run gets a fresh pod namespace (veth uplink MTU 1450, address, default route, forwarding
on, as sidecar_lab.py builds it) and fresh dockerd directories; the outside namespace with the
probe target (a TCP listener on NET.1:8443) is shared. Each run is started the same way, as a
container's PID 1: `nsenter --net=POD -- unshare --pid --fork --mount-proc KIND...`. The kinds:

  entrypoint          dind-netcfg entrypoint --backend nft (an explicit backend, as users may
                      pass: no traffic proof), --dockerd-version left at auto (read from
                      dockerd's Go build information, or `dockerd --version` without it)
  entrypoint-default  dind-netcfg entrypoint with the defaults (--backend auto: the backend is
                      proved with packets; --dockerd-version auto); the proof cache is the run's
                      own and starts empty, as in a container whose /run is new
                      (--proof-cache only places it)
  entrypoint-pinned   --backend nft --dockerd-version V (V read from `dockerd --version` once,
                      untimed): all a user can pin; a diagnostic, not judged
  shell               peers/dind_entrypoint.sh: dockerd in the background, `docker info` polled
                      every --peer-poll seconds, then exec COMMAND (no egress check)
  dockerd             the reference: dockerd alone with the argv the entrypoint gives it, polled
                      by this harness on `GET /_ping` every --ping-poll-ms over its socket

All dockerds are the same: the same binary and arguments, the daemon.json the entrypoint wrote in
the first run of this benchmark (copied for the shell and dockerd kinds) and the same iptables
(PATH starts with a copy of the entrypoint's links to the chosen backend's xtables binary).

Timing: the clock (CLOCK_MONOTONIC, system-wide) starts right before the harness forks
`nsenter`. COMMAND, the same for every kind, is `sh -c ': >FIFO'`; the harness, blocked in
open() of FIFO's read end, stamps the moment COMMAND opens it: "COMMAND start". For the dockerd
kind the clock stops at the first 200 of /_ping. Every line of the process's stderr (the
entrypoint's log, dockerd's) is stamped as it arrives, which splits the entrypoint's time into
its steps. "First egress probe" = from the log line saying the probe is attached to docker0 to
the one saying its TCP connect passed (the wait for the probe's port to come up included).

The order of the kinds rotates from one repetition to the next; the first --warmup repetitions
are dropped. Overhead per repetition = entrypoint total - (dockerd's /_ping time in the same
repetition + the entrypoint's first egress probe). Writes one JSON object to --out.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from sidecar_lab import LISTEN, PROBE_PORT, median

KINDS = ["entrypoint", "entrypoint-default", "entrypoint-pinned", "shell", "dockerd"]
ENTRYPOINTS = ["entrypoint", "entrypoint-default", "entrypoint-pinned"]
SUBNET = "10.214.0"
RUN_LIMIT_S = 120

LISTENER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(128)
print("listening", flush=True)
while True:
    connection, _ = server.accept()
    connection.close()
"""

# COMMAND, the same for every kind: its opening FIFO is "COMMAND start".
COMMAND = ': >"$1"'

# The entrypoint's log lines (not dockerd's) whose arrival marks a step: key -> substring.
STEPS = [("dockerd_started", " info dockerd started "),
         ("dockerd_answers", " info dockerd answers "),
         ("probe_attached", " egress probe attached to docker bridge "),
         ("probe_passed", "outcome=passed"),
         ("egress_verified", " info nested egress verified "),
         ("command_started", " info command started ")]
OUR_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) ")


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True)


def ns_path(name):
    return f"/var/run/netns/{name}"


class Outside:
    """The shared outside namespace with the probe target."""

    def __init__(self, name):
        self.name = name
        self.listener = None
        sh("ip", "netns", "add", name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        self.listener = subprocess.Popen(
            ["ip", "netns", "exec", name, "python3", "-c", LISTENER, str(PROBE_PORT)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if self.listener.stdout.readline().strip() != b"listening":
            raise RuntimeError("the probe target's listener did not start")

    def close(self):
        if self.listener is not None:
            self.listener.kill()
            self.listener.wait()
        sh("ip", "netns", "del", self.name, check=False)


def make_pod(name, outside):
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    sh("ip", "-n", outside, "link", "add", "up0", "mtu", "1450", "type", "veth", "peer", "name",
       "eth0", "mtu", "1450", "netns", name)
    sh("ip", "-n", outside, "addr", "add", f"{SUBNET}.1/24", "dev", "up0")
    sh("ip", "-n", outside, "link", "set", "up0", "up")
    sh("ip", "-n", name, "addr", "add", f"{SUBNET}.2/24", "dev", "eth0")
    sh("ip", "-n", name, "link", "set", "eth0", "up")
    sh("ip", "-n", name, "route", "add", "default", "via", f"{SUBNET}.1")
    sh("ip", "netns", "exec", name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")


def processes_referencing(text):
    """Pids whose command line contains text (this run's directory: dockerd, containerd, …)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def ping(path):
    """True when dockerd answers GET /_ping with 200 on the unix socket at path."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(1)
        try:
            client.connect(path)
            client.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = b""
            while chunk := client.recv(4096):
                answer += chunk
        except OSError:
            return False
    return answer.startswith(b"HTTP/1.") and answer.split(b" ", 2)[1] == b"200"


class Run:
    """One timed start of one kind in a fresh pod namespace."""

    def __init__(self, args, kind, label, outside, shared):
        self.args, self.kind, self.outside, self.shared = args, kind, outside, shared
        self.pod = f"{args.prefix}-{label}"
        self.dir = os.path.join(args.tmp, f"{args.prefix}-{label}")
        self.lines = []  # (monotonic seconds, line)
        self.stamp = None
        self.log_path = self.dir + ".log"

    def argv_and_env(self):
        d, env = self.dir, dict(os.environ)
        command = ["/bin/sh", "-c", COMMAND, "sh", os.path.join(d, "started")]
        dockerd_args = [f"--data-root={d}/data", f"--exec-root={d}/exec",
                        f"--pidfile={d}/dockerd.pid"]
        if self.kind in ENTRYPOINTS:
            argv = [self.args.dind_netcfg, "entrypoint", "--daemon-json", f"{d}/daemon.json",
                    "--docker-socket", f"{d}/docker.sock", "--state-dir", f"{d}/state",
                    *(f"--dockerd-arg={arg}" for arg in dockerd_args),
                    "--probe-target", f"{SUBNET}.1:{PROBE_PORT}"]
            if self.kind != "entrypoint-default":
                argv += ["--backend", "nft"]
            else:
                argv += ["--proof-cache", f"{d}/backend-proof.json"]
            if self.kind == "entrypoint-pinned":
                argv += ["--dockerd-version", self.args.dockerd_version]
            # Not a repeatable flag (--probe-target, --dockerd-arg) right before `--`: with one
            # there, the entrypoint parses COMMAND's own flags (`sh -c`) as its own (exit 2).
            argv += ["--listen", LISTEN, "--", *command]
        else:
            shutil.copyfile(self.shared["daemon_json"], f"{d}/daemon.json")
            env["PATH"] = self.shared["iptables_dir"] + ":" + env.get("PATH", "/usr/bin:/bin")
            dockerd = ["--config-file", f"{d}/daemon.json", *dockerd_args]
            if self.kind == "shell":
                env.update(DIND_SOCKET=f"{d}/docker.sock", DIND_DOCKER=self.args.docker_cli,
                           DIND_POLL=f"{self.args.peer_poll:g}")
                argv = ["/bin/sh", self.args.peer, *dockerd, "--", *command]
            else:
                argv = ["dockerd", "--host", f"unix://{d}/docker.sock", *dockerd]
        return ["nsenter", f"--net={ns_path(self.pod)}", "--", "unshare", "--pid", "--fork",
                "--mount-proc", *argv], env

    def _read_stderr(self, stream):
        with open(self.log_path, "wb") as log:
            for line in stream:
                self.lines.append((time.monotonic(), line.decode(errors="replace")))
                log.write(line)

    def _wait_for_command(self, fifo):
        with open(fifo, "rb"):
            self.stamp = time.monotonic()

    def execute(self):
        try:
            make_pod(self.pod, self.outside)
            os.makedirs(os.path.join(self.dir, "data"))
            fifo = os.path.join(self.dir, "started")
            os.mkfifo(fifo)
            argv, env = self.argv_and_env()
            waiter = threading.Thread(target=self._wait_for_command, args=(fifo,), daemon=True)
            waiter.start()
            start = time.monotonic()
            process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       start_new_session=True)
            reader = threading.Thread(target=self._read_stderr, args=(process.stderr,),
                                      daemon=True)
            reader.start()
            try:
                if self.kind == "dockerd":
                    result = self._ping_until_up(process, start)
                else:
                    result = self._wait_for_stamp(process, start)
            finally:
                self._end(process, fifo)
                reader.join(timeout=10)
            return result
        finally:
            # The veth goes first: a deleted namespace frees its devices only later.
            sh("ip", "-n", self.pod, "link", "del", "eth0", check=False)
            sh("ip", "netns", "del", self.pod, check=False)
            shutil.rmtree(self.dir, ignore_errors=True)

    def _ping_until_up(self, process, start):
        sock = os.path.join(self.dir, "docker.sock")
        while not ping(sock):
            if process.poll() is not None or time.monotonic() - start > RUN_LIMIT_S:
                raise RuntimeError(f"dockerd did not answer /_ping (exit {process.poll()})"
                                   f"\n{self.tail()}")
            time.sleep(self.args.ping_poll_ms / 1000)
        return {"total_ms": (time.monotonic() - start) * 1000}

    def _wait_for_stamp(self, process, start):
        try:
            code = process.wait(timeout=RUN_LIMIT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{self.kind} did not end within {RUN_LIMIT_S}s\n{self.tail()}")
        if self.stamp is None or code != 0:
            raise RuntimeError(f"{self.kind} exited {code}, COMMAND "
                               f"{'ran' if self.stamp else 'never ran'}\n{self.tail()}")
        result = {"total_ms": (self.stamp - start) * 1000}
        if self.kind in ENTRYPOINTS:
            result.update(self._entrypoint_details(start))
        return result

    def _entrypoint_details(self, start):
        steps = {}
        first = None
        backend = None
        for at, line in self.lines:
            if not OUR_LINE.match(line):
                continue  # dockerd's own output
            if first is None:
                first = at
            for key, text in STEPS:
                if text in line and key not in steps:
                    steps[key] = (at - start) * 1000
            chosen = re.search(r"masquerade backend chosen backend=(\w+)", line)
            if chosen:
                backend = chosen.group(1)
        missing = [key for key, _ in STEPS if key not in steps]
        if missing or first is None:
            raise RuntimeError(f"the entrypoint's log lacks {missing}\n{self.tail()}")
        if self.kind == "entrypoint" and not self.shared:
            self._share_dockerd_setup()
        total = (self.stamp - start) * 1000
        segments = {
            "before_dockerd": steps["dockerd_started"],
            "dockerd_as_polled": steps["dockerd_answers"] - steps["dockerd_started"],
            "rules_listen_attach": steps["probe_attached"] - steps["dockerd_answers"],
            "first_probe": steps["probe_passed"] - steps["probe_attached"],
            "probe_to_verified": steps["egress_verified"] - steps["probe_passed"],
            "verified_to_command": total - steps["egress_verified"],
        }
        return {"steps_ms": steps, "segments_ms": segments, "backend": backend,
                "first_log_line_ms": (first - start) * 1000}

    def _share_dockerd_setup(self):
        """Keeps this run's daemon.json and dockerd's iptables links for the other kinds."""
        keep = os.path.join(self.args.tmp, f"{self.args.prefix}-shared")
        links = os.path.join(keep, "iptables")
        os.makedirs(links)
        shutil.copyfile(os.path.join(self.dir, "daemon.json"),
                        os.path.join(keep, "daemon.json"))
        state = os.path.join(self.dir, "state", "iptables")
        for name in sorted(os.listdir(state)):
            os.symlink(os.readlink(os.path.join(state, name)), os.path.join(links, name))
        self.shared.update(daemon_json=os.path.join(keep, "daemon.json"), iptables_dir=links)
        for line in (line for _, line in self.lines if " info dockerd started " in line):
            self.shared["dockerd_argv"] = line.split('argv="', 1)[-1].rstrip().rstrip('"')

    def _end(self, process, fifo):
        """Ends the run and waits until none of its processes (dockerd, containerd) is left."""
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # nsenter, unshare and PID 1
            except ProcessLookupError:
                pass
        process.wait()
        if self.stamp is None:  # release the waiting thread
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        deadline = time.monotonic() + 30
        while left := processes_referencing(self.dir + "/"):
            if time.monotonic() > deadline:
                for pid in left:
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def tail(self):
        return "".join(line for _, line in self.lines[-25:])


def summarize(values):
    return {"median_ms": median(values), "min_ms": min(values), "max_ms": max(values),
            "samples_ms": values}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dind-netcfg", required=True)
    parser.add_argument("--peer", required=True, help="peers/dind_entrypoint.sh")
    parser.add_argument("--docker-cli", default="/usr/bin/docker" if os.access(
        "/usr/bin/docker", os.X_OK) else shutil.which("docker"))
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--repetitions", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--peer-poll", type=float, default=0.05,
                        help="seconds the shell peer sleeps between `docker info` attempts")
    parser.add_argument("--ping-poll-ms", type=float, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if not args.docker_cli:
        raise RuntimeError("no docker client for the shell peer")
    version = subprocess.run(["dockerd", "--version"], check=True, capture_output=True,
                             text=True).stdout
    found = re.search(r"version (\d+\.\d+(\.\d+)?)", version)
    if not found:
        raise RuntimeError(f"cannot read dockerd's version from {version!r}")
    args.dockerd_version = found.group(1)

    outside = Outside(f"{args.prefix}-out")
    shared = {}
    runs = {kind: [] for kind in KINDS}
    try:
        for rep in range(args.warmup + args.repetitions):
            order = KINDS[rep % len(KINDS):] + KINDS[:rep % len(KINDS)]
            if not shared:
                order.remove("entrypoint")
                order.insert(0, "entrypoint")  # its daemon.json and links serve the others
            totals = []
            for position, kind in enumerate(order):
                result = Run(args, kind, f"{rep}{kind[0]}{len(kind)}", outside.name,
                             shared).execute()
                result["repetition"], result["position"] = rep, position
                totals.append(f"{kind} {result['total_ms']:.0f} ms")
                if rep >= args.warmup:
                    runs[kind].append(result)
            print(f"    repetition {rep + 1}{' (warm-up)' if rep < args.warmup else ''}: " +
                  ", ".join(totals), flush=True)
    finally:
        outside.close()
        shutil.rmtree(os.path.join(args.tmp, f"{args.prefix}-shared"), ignore_errors=True)

    result = {"repetitions": args.repetitions, "warmup": args.warmup,
              "peer_poll_s": args.peer_poll, "ping_poll_ms": args.ping_poll_ms,
              "docker_cli": args.docker_cli, "dockerd_version": args.dockerd_version,
              "dockerd_argv": shared.get("dockerd_argv", ""), "kinds": {}}
    ping_by_rep = {run["repetition"]: run["total_ms"] for run in runs["dockerd"]}
    for kind in KINDS:
        summary = summarize([run["total_ms"] for run in runs[kind]])
        summary["runs"] = runs[kind]
        if kind in ENTRYPOINTS:
            # What the entrypoint adds over what it waits for: dockerd's own /_ping time (the
            # dockerd run of the same repetition) and its first egress probe.
            summary["overhead"] = summarize(
                [run["total_ms"] - ping_by_rep[run["repetition"]] -
                 run["segments_ms"]["first_probe"] for run in runs[kind]])
            summary["segments_median_ms"] = {
                key: median([run["segments_ms"][key] for run in runs[kind]])
                for key in runs[kind][0]["segments_ms"]}
            summary["first_log_line_median_ms"] = median(
                [run["first_log_line_ms"] for run in runs[kind]])
            summary["backends"] = sorted({run["backend"] for run in runs[kind]})
            summary["slow_first_probes"] = sum(
                run["segments_ms"]["first_probe"] > 500 for run in runs[kind])
        if kind == "shell":
            summary["over_dockerd"] = summarize(
                [run["total_ms"] - ping_by_rep[run["repetition"]] for run in runs[kind]])
        result["kinds"][kind] = summary
        line = f"{kind}: median {summary['median_ms']:.0f} ms"
        if "overhead" in summary:
            line += (f"; over dockerd's /_ping + first probe: median "
                     f"{summary['overhead']['median_ms']:.0f} ms")
        print(line)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError, OSError) as error:
        detail = getattr(error, "stderr", None)
        print(f"entrypoint_bench: {error}{': ' + detail.decode() if detail else ''}",
              file=sys.stderr)
        sys.exit(1)
