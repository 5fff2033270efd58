#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Turns the raw results of bench/run.sh into RESULTS.md and rule_check_cost.svg.

Inputs (all in --data): machine.env, init.json (lib/init_bench.py),
rulecheck-<backend>-<rules>.json (Google Benchmark JSON of rule_check_bench), and when the
sidecar ran: repair.json, idle.json, load.json, ready.json (lib/repair_bench.py,
lib/idle_bench.py, lib/load_bench.py, lib/ready_bench.py), and entrypoint.json
(lib/entrypoint_bench.py). Every comparison is against a target from the issues; a missed target
pulls its explanation (reason, what would close it) from bench/MISSES.md, section
`### <target id>`, written by whoever analysed it. A miss without an explanation is printed as
such: the numbers are never adjusted here.

--merge (bench/run.sh --only): the benchmarks whose raw results are in --data replace their
sections and target rows in the existing --out/RESULTS.md; every other section and row is kept
as it is, and the machine table gets one row saying when and under what load they ran.

Standard library only (no matplotlib): the SVG is written by hand.
"""

import argparse
import json
import math
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MISSES = os.path.join(os.path.dirname(HERE), "MISSES.md")

# (series key, legend, colour, dashed): in-process solid, CLI dashed.
SERIES = [
    ("legacy:inprocess/legacy/cold", "in-process legacy (libiptc), cold", "#1f77b4", False),
    ("legacy:inprocess/legacy/warm", "in-process legacy (libiptc), warm", "#6baed6", False),
    ("legacy:cli/iptables-legacy -C", "iptables-legacy -t nat -C", "#1f77b4", True),
    ("nft:inprocess/nft/cold", "in-process nft (libnftnl), cold", "#d62728", False),
    ("nft:inprocess/nft/warm", "in-process nft (libnftnl), warm", "#ff9896", False),
    ("nft:cli/iptables-nft -C", "iptables-nft -t nat -C", "#d62728", True),
    ("nft:cli/nft list chain", "nft list chain ip dind-netcfg postrouting", "#2ca02c", True),
]


def read_env(path):
    values = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            values[key] = value
    return values


def read_misses():
    if not os.path.exists(MISSES):
        return {}
    sections, current = {}, None
    with open(MISSES, encoding="utf-8") as f:
        for line in f:
            match = re.match(r"^### (\S+)\s*$", line)
            if match:
                current = match.group(1)
                sections[current] = []
            elif current:
                sections[current].append(line)
    return {key: "".join(lines).strip() for key, lines in sections.items()}


def to_ms(value, unit):
    return value * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def read_rulecheck(data, sizes):
    """{series key: {rules: {"median": ms, "min": ms, "max": ms, "iterations": n}}}"""
    table = {}
    for backend in ("legacy", "nft"):
        for rules in sizes:
            path = os.path.join(data, f"rulecheck-{backend}-{rules}.json")
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
            per_rep = {}
            for bench in report["benchmarks"]:
                if bench.get("error_occurred"):
                    sys.exit(f"report.py: {bench['name']} failed: {bench.get('error_message')}")
                name = bench.get("run_name", bench["name"]).removesuffix("/real_time")
                if bench.get("run_type") == "aggregate":
                    continue
                per_rep.setdefault(name, []).append(
                    (to_ms(bench["real_time"], bench["time_unit"]), bench["iterations"]))
            for name, reps in per_rep.items():
                times = sorted(t for t, _ in reps)
                mid = len(times) // 2
                median = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
                table.setdefault(f"{backend}:{name}", {})[rules] = {
                    "median": median, "min": times[0], "max": times[-1],
                    "reps": len(reps), "iterations": sum(i for _, i in reps)}
    return table


def fmt_ms(ms):
    if ms < 1:
        return f"{ms * 1000:.0f} µs"
    if ms < 100:
        return f"{ms:.2f} ms"
    return f"{ms:.0f} ms"


# The benchmark (section number) each target belongs to, by the prefix of its id.
TARGET_BENCHMARK = {"init-": 1, "rulecheck-": 2, "repair-": 3, "idle-": 4, "load-": 5,
                    "entrypoint-": 7}


def benchmark_of(target_id):
    return next((n for prefix, n in TARGET_BENCHMARK.items() if target_id.startswith(prefix)), 0)


class Targets:
    def __init__(self):
        self.rows = []
        self.misses = read_misses()

    def add(self, target_id, what, measured, limit_text, met):
        self.rows.append((target_id, what, measured, limit_text, met))
        return "met" if met else "**MISSED**"

    def table(self):
        lines = ["| target | what | measured | target | verdict |", "|---|---|---|---|---|"]
        for target_id, what, measured, limit_text, met in self.rows:
            verdict = "met" if met else "**missed**"
            lines.append(f"| `{target_id}` | {what} | {measured} | {limit_text} | {verdict} |")
        return "\n".join(lines)

    def miss_notes(self):
        out = []
        for target_id, what, measured, limit_text, met in self.rows:
            if met:
                continue
            note = self.misses.get(target_id)
            out.append(f"### `{target_id}` missed: {what} ({measured}, target {limit_text})\n")
            out.append(note if note else
                       "_No analysis recorded yet: add a section `### " + target_id +
                       "` to bench/MISSES.md with the reason and what would close it._")
            out.append("")
        return "\n".join(out)


def init_section(init, targets, tmp_fs):
    lines = [
        "## 1. init end to end, against the shell entrypoint way",
        "",
        "Each run in a fresh network namespace (veth uplink MTU 1450, address, default route),",
        "entered the same way for both tools (fork, `setns` into the namespace and into a mount",
        "namespace whose /sys shows it, exec, wait; timed by `ns_exec_time`); order alternating; "
        f"{init['warmup']} warm-up runs dropped, {init['iterations']} measured per tool and pair.",
        "dind-netcfg: `init --daemon-json X --dockerd-version 24.0.7 --backend B` (an explicit",
        "backend: no traffic proof), and with **default flags** (no `--backend`, as the README and",
        "the manifests run it: kernel facts, rule census and, when they do not decide, the traffic",
        "proof, kept in the proof cache; `--proof-cache` only places the file). *First*: a cache",
        "of its own, absent, so init proves and keeps the proof, as the first init on a kernel",
        "does; *proof reused*: one cache for the run, as every later init, `run` or entrypoint on",
        "the same kernel boot finds it (the sidecar after the init container; every pod on a node",
        "with the hostPath cache). Peer: [`peers/shell_init.sh`](peers/shell_init.sh) under",
        f"`/bin/sh` (dash). All write daemon.json to the same file system ({tmp_fs}, /tmp). The",
        "pair names the namespace: `legacy` has a legacy nat table already, `nft` has none.",
        "",
        "| pair | dind-netcfg `--backend` median | default flags, proof reused | default flags, "
        "first | shell median | ratio (explicit) | ratio (reused) | ratio (first) | "
        "daemon.json mtu written |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for backend, pair in init["pairs"].items():
        def median(tool):
            return f"{fmt_ms(pair[tool]['median_ms'])} (min {fmt_ms(pair[tool]['min_ms'])})"
        ratio, reused, first = pair["ratio"], pair["ratio_reused"], pair["ratio_default"]
        lines.append(
            f"| {backend} | {median('dind-netcfg')} | {median('dind-netcfg-reused')} | "
            f"{median('dind-netcfg-default')} | {median('shell')} | {ratio:.3f} | "
            f"{reused:.3f} | {first:.3f} | "
            f"{', '.join(f'{k}: {v}' for k, v in pair['mtu_written'].items())} |")
        targets.add(f"init-{backend}", f"init --backend {backend} / shell peer, wall time",
                    f"{ratio:.3f}", "≤ 0.35", ratio <= 0.35)
        targets.add(f"init-default-{backend}",
                    f"init with default flags, proof reused ({backend} pair) / shell peer, "
                    "wall time", f"{reused:.3f}", "≤ 0.5", reused <= 0.5)
        targets.add(f"init-default-first-{backend}",
                    f"init with default flags, first on the kernel: proves ({backend} pair) / "
                    "shell peer, wall time", f"{first:.3f}", "≤ 0.5", first <= 0.5)
    lines += [
        "",
        "Diagnostics from the same runs (medians; each in a fresh namespace as well), to show",
        "where dind-netcfg's time goes; they are not part of any comparison:",
        "",
        "| backend | floor: `/bin/true` | `dind-netcfg version` (process start) | "
        "init with daemon.json on tmpfs (no fsync cost) | init as above |",
        "|---|---|---|---|---|",
    ]
    for backend, pair in init["pairs"].items():
        lines.append(f"| {backend} | {fmt_ms(pair['floor']['median_ms'])} | "
                     f"{fmt_ms(pair['dind-netcfg-version']['median_ms'])} | "
                     f"{fmt_ms(pair['dind-netcfg-tmpfs']['median_ms'])} | "
                     f"{fmt_ms(pair['dind-netcfg']['median_ms'])} |")
    lines += [
        "",
        "The shell peer does far less than dind-netcfg (no overlay detection, no address pools, no",
        "merge into an existing daemon.json, no cgroup parent); the ratio compares the cost of the",
        "job each does, not equal work.",
    ]
    return "\n".join(lines)


def rulecheck_section(table, sizes, targets):
    header = "| series | " + " | ".join(f"{n:,} rules" for n in sizes) + " |"
    lines = [
        "## 2. Rule check cost as the nat table grows",
        "",
        "N foreign rules in nat POSTROUTING (half `-p tcp --dport … -m comment … -j SNAT`, half",
        "`-o eth1 -j RETURN`), loaded with iptables-legacy-restore / iptables-nft-restore from the",
        "same file, then a shell peer's masquerade rule last, which the CLI checks find (exit 0)",
        "after walking past all N. dind-netcfg's own rules are applied through the library before",
        "timing; every in-process check verifies it found them, and a census (`Inspect()`, untimed)",
        "first proves ≥ N foreign rules are there.",
        "One `rule_check_bench` run per backend and size measures every variant (Google Benchmark,",
        "real time, repetitions interleaved at random, after a warm-up); the table shows the",
        "median over repetitions of the mean per call.",
        "",
        "- *cold*: `MakeBackend()` + `InspectOurs()`, what a one-shot check of our rules pays",
        "  (opening the netlink socket / libiptc handle included). nft reads only our table's rules;",
        "  libiptc can only snapshot the whole nat table.",
        "- *warm*: `InspectOurs()` on a backend made once, what the `run` sidecar pays per check.",
        "- CLI: `posix_spawn` + `waitpid` of the command, output to /dev/null.",
        "",
        header,
        "|---|" + "---|" * len(sizes),
    ]
    for key, legend, _, _ in SERIES:
        if key not in table:
            continue
        cells = [fmt_ms(table[key][n]["median"]) if n in table[key] else "–" for n in sizes]
        lines.append(f"| {legend} | " + " | ".join(cells) + " |")
    lines += ["", "Ratios (in-process cold / CLI; target ≤ 0.5 at every size):", "",
              "| comparison | " + " | ".join(f"{n:,}" for n in sizes) + " |",
              "|---|" + "---|" * len(sizes)]
    pairs = [("legacy:inprocess/legacy/cold", "legacy:cli/iptables-legacy -C",
              "legacy-vs-iptables-legacy", "in-process legacy / iptables-legacy -C"),
             ("nft:inprocess/nft/cold", "nft:cli/iptables-nft -C",
              "nft-vs-iptables-nft", "in-process nft / iptables-nft -C"),
             ("nft:inprocess/nft/cold", "nft:cli/nft list chain",
              "nft-vs-nft-list-chain", "in-process nft / nft list chain")]
    for ours, theirs, target_id, what in pairs:
        if ours not in table or theirs not in table:
            continue
        ratios = {n: table[ours][n]["median"] / table[theirs][n]["median"] for n in sizes}
        lines.append(f"| {what} | " + " | ".join(f"{ratios[n]:.3f}" for n in sizes) + " |")
        worst = max(sizes, key=lambda n: ratios[n])
        targets.add(f"rulecheck-{target_id}", f"{what}, worst size ({worst:,} rules)",
                    f"{ratios[worst]:.3f}", "≤ 0.5 at every size", ratios[worst] <= 0.5)
    lines += ["", "![rule check cost against rule count](rule_check_cost.svg)"]
    return "\n".join(lines)


def idle_section(idle, targets, realistic=None):
    lines = [
        "## 4. Idle cost of `run`",
        "",
        f"`run --backend legacy` (default poll interval 1s, `--no-probes`, `--docker-socket ''`:",
        "no dockerd or bridge in the namespace) in a namespace holding "
        f"{idle['rules']:,} foreign legacy nat rules, measured over {idle['seconds']:.0f} s after",
        "it answered /healthz; CPU time summed over all its threads (schedstat).",
        "",
        "| rules | CPU (% of one core) | CPU seconds | peak RSS (VmHWM) | RSS at the end |",
        "|---|---|---|---|---|",
    ]
    for run in [r for r in (realistic, idle) if r]:
        lines.append(f"| {run['rules']:,} | {run['cpu_percent']:.3f} % | "
                     f"{run['cpu_seconds']:.3f} s | {run['peak_rss_kib'] / 1024:.1f} MiB | "
                     f"{run['rss_kib'] / 1024:.1f} MiB |")
    if realistic:
        targets.add("idle-rss-realistic",
                    f"run peak RSS, a realistic table ({realistic['rules']} legacy rules)",
                    f"{realistic['peak_rss_kib'] / 1024:.1f} MiB", "≤ 10 MiB",
                    realistic["peak_rss_kib"] <= 10 * 1024)
    if idle["rules"] >= 50000:
        targets.add("idle-cpu", "run idle CPU, 50,000 legacy rules",
                    f"{idle['cpu_percent']:.3f} %", "≤ 1 % of a core", idle["cpu_percent"] <= 1)
        targets.add("idle-rss", "run peak RSS, 50,000 legacy rules",
                    f"{idle['peak_rss_kib'] / 1024:.1f} MiB", "≤ 16 MiB",
                    idle["peak_rss_kib"] <= 16 * 1024)
    else:
        lines += ["", "(Targets apply at 50,000 rules; not judged at this size.)"]
    return "\n".join(lines)


def write_svg(table, sizes, path):
    width, height = 900, 520
    left, right, top, bottom = 80, 330, 40, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v["median"] for key, *_ in SERIES if key in table for v in table[key].values()]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10

    def x_of(i):
        return left + (plot_w * i / (len(sizes) - 1) if len(sizes) > 1 else plot_w / 2)

    def y_of(ms):
        return top + plot_h * (1 - (math.log10(ms) - math.log10(lo)) /
                               (math.log10(hi) - math.log10(lo)))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + plot_w / 2}" y="22" text-anchor="middle" font-size="15">'
           'Masquerade rule check: cost per check against foreign nat rules</text>']
    decade = lo
    while decade <= hi * 1.0001:
        y = y_of(decade)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{fmt_ms(decade)}</text>')
        decade *= 10
    for i, n in enumerate(sizes):
        x = x_of(i)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
                   'stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle">{n:,}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
               'stroke="#444"/>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 18}" text-anchor="middle">'
               'foreign rules in the nat table (sizes evenly spaced)</text>')
    out.append(f'<text x="18" y="{top + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {top + plot_h / 2})">time per check (median, log)</text>')
    legend_y = top + 10
    for key, legend, colour, dashed in SERIES:
        if key not in table:
            continue
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        points = [(x_of(i), y_of(table[key][n]["median"])) for i, n in enumerate(sizes)
                  if n in table[key]]
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="' +
                   " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        for x, y in points:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
        lx = left + plot_w + 20
        out.append(f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 30}" y2="{legend_y}" '
                   f'stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{lx + 38}" y="{legend_y + 4}">{legend}</text>')
        legend_y += 22
    out.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def repair_section(repair, targets, judge):
    nft, legacy = repair["nft"], repair["legacy"]
    poll_ms = legacy["poll_interval_ms"]
    lines = [
        "## 3. Repair latency of `run`",
        "",
        "`run --backend B --no-probes` in a fresh pod namespace with no foreign rules; in the same",
        "namespace `repair_latency_bench` removes the sidecar's rules and times until they are",
        "back, after a warm-up, with a random pause between flushes. The clock starts right",
        "before the kernel call that removes them; every repetition is confirmed by a full",
        "`Inspect()` (the same rules as before, all present), and the sidecar's",
        "`dind_netcfg_rule_repairs_total` must equal the number of flushes.",
        "",
        "- *nft*: `delete table ip dind-netcfg` (one nf_tables batch, what `nft delete table`",
        "  sends). \"Back\" is the nf_tables notification (`nft monitor`'s socket) of the",
        "  transaction that re-adds a rule of ours; waiting is a blocking `poll()`, so detection",
        "  costs no CPU and adds one wake-up. Pause 20–60 ms, so the sidecar's re-check after its",
        "  own repair is over before the next flush (a flush that lands during it waits for it).",
        "- *legacy*: `iptables-legacy -w -t nat -F DIND-NETCFG-POSTROUTING` done in process",
        "  (libiptc snapshot, our rules deleted, committed under the xtables lock). ip_tables has",
        "  no notifications, so \"back\" is the first read of the table header",
        f"  (`IPT_SO_GET_INFO`, a few µs, no rules copied) that changed, read every "
        f"{legacy['poll_us'] / 1000:g} ms",
        f"  (so detection adds ≤ {legacy['poll_us'] / 1000:g} ms), confirmed by `Inspect()`. "
        f"The sidecar polls every {poll_ms} ms",
        "  (its `--poll-interval`); the pause between flushes is uniform over one interval, so",
        "  flushes land at every phase of its timer and the latency is uniform over",
        "  [0, interval] plus the repair.",
        "",
        "| backend | flushes | rules | p50 | p99 | min | max | target | sidecar CPU per flush (all it did) "
        "| sidecar waiting for a CPU per flush |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, result, target in (("nft", nft, "p50 ≤ 5 ms, p99 ≤ 20 ms"),
                                  (f"legacy (poll {poll_ms} ms)", legacy,
                                   f"p99 ≤ {poll_ms + 20} ms")):
        lines.append(
            f"| {label} | {len(result['latencies_ms'])} | {result['rules']} | "
            f"{fmt_ms(result['p50_ms'])} | {fmt_ms(result['p99_ms'])} | "
            f"{fmt_ms(result['min_ms'])} | {fmt_ms(result['max_ms'])} | {target} | "
            f"{fmt_ms(result['sidecar_cpu_ms_per_flush'])} | "
            f"{fmt_ms(result['sidecar_wait_ms_per_flush'])} |")
    lines += [
        "",
        "Percentiles are nearest-rank. With no foreign rules this measures the repair path",
        "itself; the nft repair re-reads the ruleset with the same full dump as the rule check",
        "(benchmark 2), so with many foreign nf_tables rules it grows like the *warm* nft row",
        "there.",
    ]
    if judge:
        targets.add("repair-nft-p50", "nft repair latency, p50", fmt_ms(nft["p50_ms"]), "≤ 5 ms",
                    nft["p50_ms"] <= 5)
        targets.add("repair-nft-p99", "nft repair latency, p99", fmt_ms(nft["p99_ms"]),
                    "≤ 20 ms", nft["p99_ms"] <= 20)
        targets.add("repair-legacy-p99", f"legacy repair latency, p99 (poll {poll_ms} ms)",
                    fmt_ms(legacy["p99_ms"]), f"≤ {poll_ms + 20} ms",
                    legacy["p99_ms"] <= poll_ms + 20)
    else:
        lines += ["", "(Smoke run: targets not judged.)"]
    return "\n".join(lines)


def load_section(load, targets, judge):
    healthz, metrics = load["endpoints"]["/healthz"], load["endpoints"]["/metrics"]
    lines = [
        "## 5. Health endpoint under load",
        "",
        "`run --backend nft` in a pod namespace with docker0 and a TCP listener in a peer",
        f"namespace as `--probe-target` (`--probe-interval {load['probe_interval_s']:g}s`), ready "
        "(the probe passes",
        f"through our masquerade). `wrk -t{load['threads']} -c{load['connections']}` on loopback "
        "inside the pod (wrk on one of the",
        f"two cores, the sidecar's single event loop on the other), {load['seconds']} s per run, "
        f"{load['runs']} runs per path,",
        "alternating, after a warm-up; medians over the runs. p50/p99 are wrk's own percentiles",
        "(a Lua `done` hook prints them). The sidecar's CPU time and its time waiting for a CPU",
        "(schedstat, all threads) are read around each run: on a shared machine they tell",
        "whether the endpoint or the machine was the limit.",
        "",
        "| path | req/s | p50 | p99 | errors | sidecar on CPU | sidecar waiting for a CPU | "
        "req per CPU-second of the sidecar |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path, result in (("/healthz", healthz), ("/metrics", metrics)):
        lines.append(
            f"| `{path}` | {result['requests_per_second']:,.0f} | {fmt_ms(result['p50_ms'])} | "
            f"{fmt_ms(result['p99_ms'])} | {result['errors']} | "
            f"{result['sidecar_cpu_share'] * 100:.0f} % of the time | "
            f"{result['sidecar_wait_share'] * 100:.0f} % of the time | "
            f"{result['requests_per_sidecar_cpu_s']:,.0f} |")
    lines += [
        "",
        "Probe schedule during the runs (rounds finished, read from `/status` before and after",
        "each run; the least the ±10 % jitter allows is one round per 1.1 intervals, less one",
        "round in flight at either end):",
        "",
        "| path | probe rounds | at the nominal interval | least on schedule | probes failing |",
        "|---|---|---|---|---|",
    ]
    schedule_kept = True
    for path, result in (("/healthz", healthz), ("/metrics", metrics)):
        failing = ", ".join(result["probe_failures"]) or "none"
        lines.append(f"| `{path}` | {result['probe_rounds']} | "
                     f"{result['probe_rounds_expected']:.1f} | {result['probe_rounds_min']} | "
                     f"{failing} |")
        schedule_kept &= (result["probe_rounds"] >= result["probe_rounds_min"]
                          and not result["probe_failures"])
    if judge:
        targets.add("load-healthz-rps", "/healthz req/s, 50 connections",
                    f"{healthz['requests_per_second']:,.0f}", "≥ 20,000",
                    healthz["requests_per_second"] >= 20000)
        targets.add("load-healthz-p99", "/healthz p99, 50 connections",
                    fmt_ms(healthz["p99_ms"]), "≤ 5 ms", healthz["p99_ms"] <= 5)
        targets.add("load-metrics-rps", "/metrics req/s, 50 connections",
                    f"{metrics['requests_per_second']:,.0f}", "≥ 5,000",
                    metrics["requests_per_second"] >= 5000)
        targets.add("load-probe-schedule", "probes keep their schedule under load",
                    f"{healthz['probe_rounds'] + metrics['probe_rounds']} rounds, failing: "
                    f"{len(healthz['probe_failures']) + len(metrics['probe_failures'])}",
                    f"≥ {healthz['probe_rounds_min'] + metrics['probe_rounds_min']} rounds, "
                    "none failing", schedule_kept)
    else:
        lines += ["", "(Smoke run: targets not judged.)"]
    return "\n".join(lines)


def ready_section(ready, targets, judge):
    samples = ", ".join(fmt_ms(s["ready_ms"]) for s in ready["samples"])
    lines = [
        "## 6. Time to ready",
        "",
        "A fresh `run --backend nft --probe-target PEER:8443` (probe interval and timeout at their",
        "defaults, no daemon.json yet) in a pod namespace without docker0, the TCP listener in a",
        "peer namespace; once `/readyz` says 503 for the missing bridge, a timer inside the pod",
        "makes docker0 as dockerd does (link, address 172.17.0.1/16, up: one `ip -batch`) and",
        f"polls `/readyz` every {ready['poll_ms']:g} ms on a fresh connection until it answers "
        "200. Measured from",
        "right before `ip` starts (the `ip` process is included) to that 200; a new `run` and",
        f"bridge each repetition, {ready['warmup']} warm-up dropped.",
        "",
        "| repetitions | median | min | max | of which `ip` making the bridge (median) |",
        "|---|---|---|---|---|",
        f"| {len(ready['samples'])} | {fmt_ms(ready['median_ms'])} | {fmt_ms(ready['min_ms'])} | "
        f"{fmt_ms(ready['max_ms'])} | {fmt_ms(ready['bridge_median_ms'])} |",
        "",
        f"Every repetition: {samples}. The sidecar handles the first link change after a quiet",
        "spell at once and the burst that follows once it is 5 ms quiet (100 ms after its start",
        "at the latest: README, the sidecar's events), then detects again and starts the probe;",
        "the rest is attaching the probe namespace to the bridge and one TCP connect through",
        "the masquerade.",
    ]
    if judge:
        targets.add("ready-median", "docker0 made until /readyz 200, median",
                    fmt_ms(ready["median_ms"]), "≤ 20 ms", ready["median_ms"] <= 20)
    return "\n".join(lines)


ENTRYPOINT_KINDS = [
    ("entrypoint", "entrypoint, `--backend nft`"),
    ("entrypoint-default", "entrypoint, defaults"),
    ("entrypoint-pinned", "entrypoint, `--backend nft --dockerd-version V`"),
    ("shell", "shell peer (docker:dind way)"),
    ("dockerd", "dockerd alone: first 200 of `/_ping`"),
]
ENTRYPOINT_SEGMENTS = [
    ("before_dockerd", "before dockerd starts"),
    ("dockerd_as_polled", "dockerd start → answers, as its 50 ms `/_ping` polls see it"),
    ("rules_listen_attach", "rules, listener, probe attached"),
    ("first_probe", "first egress probe (attached → passed)"),
    ("probe_to_verified", "probe passed → egress verified"),
    ("verified_to_command", "verified → COMMAND running"),
]


def entrypoint_section(ep, targets, judge):
    kinds = ep["kinds"]
    runs = len(kinds["entrypoint"]["samples_ms"])
    version = ep["dockerd_version"]
    lines = [
        "## 7. Container start to COMMAND start: `entrypoint` against the docker:dind way",
        "",
        "Each run in a fresh pod namespace (veth uplink MTU 1450, default route to a peer",
        "namespace whose TCP listener on :8443 is the probe target) with fresh dockerd",
        "directories, started as a container's PID 1: `nsenter --net=POD -- unshare --pid",
        "--fork --mount-proc …`. The clock (CLOCK_MONOTONIC) starts right before that fork and",
        "stops when COMMAND, `sh -c ': >FIFO'` for every kind, opens the FIFO the harness waits",
        f"on. The kinds take turns in a rotating order; {ep['warmup']} warm-up repetition(s) "
        f"dropped, {runs} measured.",
        f"The same dockerd everywhere ({version}): the argv the entrypoint gives it, the",
        "daemon.json it wrote and its iptables links (to the nft backend), copied for the shell",
        "and dockerd-alone runs.",
        "",
        "- *entrypoint*: `dind-netcfg entrypoint --backend nft --probe-target PEER:8443 --",
        "  COMMAND` (an explicit backend, as users may pass: no traffic proof; `--dockerd-version`",
        "  left at auto: read from dockerd's Go build information, `dockerd --version` only",
        "  where the build recorded none). *defaults*: no `--backend` (auto: a traffic proof",
        f"  picks it) and `--dockerd-version auto`. *pinned*: `--backend nft --dockerd-version {version}`,",
        "  all a user can pin (a diagnostic, not judged). All wait for nested egress (the",
        "  default); probe interval and timeout at their defaults.",
        "- *shell peer*: [`peers/dind_entrypoint.sh`](peers/dind_entrypoint.sh): dockerd in the",
        f"  background, `docker info` (`{ep['docker_cli']}`) every {ep['peer_poll_s']:g} s until "
        "it answers,",
        "  then `exec` COMMAND. It checks no egress and sets up nothing.",
        "- *dockerd alone*: the reference, dockerd's own time to answer: the harness polls",
        f"  `GET /_ping` on its socket every {ep['ping_poll_ms']:g} ms and stops the clock at "
        "the first 200.",
        "",
        "| kind | median | min | max | over dockerd's `/_ping` + first probe "
        "(median per repetition) |",
        "|---|---|---|---|---|",
    ]
    for kind, label in ENTRYPOINT_KINDS:
        k = kinds[kind]
        if "overhead" in k:
            extra = fmt_ms(k["overhead"]["median_ms"])
        elif "over_dockerd" in k:
            extra = ("— (no probe; over dockerd's `/_ping` alone: "
                     f"{fmt_ms(k['over_dockerd']['median_ms'])})")
        else:
            extra = "—"
        lines.append(f"| {label} | {fmt_ms(k['median_ms'])} | {fmt_ms(k['min_ms'])} | "
                     f"{fmt_ms(k['max_ms'])} | {extra} |")
    lines += [
        "",
        "Where the entrypoint's time goes: medians of each step, timed by its log lines as they",
        "arrived on its stderr (the steps' medians need not add up to the total's):",
        "",
        "| kind | " + " | ".join(label for _, label in ENTRYPOINT_SEGMENTS) + " |",
        "|---|" + "---|" * len(ENTRYPOINT_SEGMENTS),
    ]
    for kind, label in ENTRYPOINT_KINDS:
        if "segments_median_ms" not in kinds[kind]:
            continue
        segments = kinds[kind]["segments_median_ms"]
        lines.append(f"| {label} | " + " | ".join(fmt_ms(segments[key])
                                                  for key, _ in ENTRYPOINT_SEGMENTS) + " |")

    def from_medians(kind):
        return (kinds[kind]["median_ms"] - kinds["dockerd"]["median_ms"] -
                kinds[kind]["segments_median_ms"]["first_probe"])

    entrypoints = ENTRYPOINT_KINDS[:3]
    slow = sum(kinds[kind]["slow_first_probes"] for kind, _ in entrypoints)
    total = sum(len(kinds[kind]["samples_ms"]) for kind, _ in entrypoints)
    backends = "; ".join(f"{label}: {'/'.join(kinds[kind]['backends'])}"
                         for kind, label in entrypoints)
    lines += [
        "",
        "The overhead is, per repetition, the entrypoint's total less the dockerd-alone run's",
        "`/_ping` time in the same repetition and less the entrypoint's first egress probe; the",
        "rest is the entrypoint's own: its start and detection (reading dockerd's version from",
        "its binary, the traffic proof when not pinned) before dockerd starts, daemon.json and",
        "the iptables links, the wait between its `/_ping` polls, the rules, the listener,",
        "attaching the probe, and starting COMMAND from the probe round that verified egress.",
        "From the medians instead (entrypoint − dockerd alone − first probe): " +
        "; ".join(f"{label}: {fmt_ms(from_medians(kind))}" for kind, label in entrypoints) + ".",
        f"Backends the entrypoint chose: {backends}.",
        f"First egress probes slower than 500 ms: {slow} of {total} entrypoint runs (about 1 s",
        "each: a TCP connect whose first SYN goes unanswered is resent after 1 s).",
    ]
    if judge:
        for kind, target_id, what in (
                ("entrypoint", "entrypoint-overhead", "entrypoint (`--backend nft`)"),
                ("entrypoint-default", "entrypoint-overhead-default", "entrypoint (defaults)")):
            overhead = kinds[kind]["overhead"]["median_ms"]
            targets.add(target_id, f"{what} over dockerd's /_ping + first egress probe, median",
                        fmt_ms(overhead), "≤ 50 ms", overhead <= 50)
    else:
        lines += ["", "(Smoke run: targets not judged.)"]
    return "\n".join(lines)


def read_json(data, name):
    path = os.path.join(data, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def benchmark_sections(args, sizes, machine, targets):
    """{benchmark number: its section} for every benchmark whose raw results are in --data."""
    judge = not args.smoke
    sections = {}
    init = read_json(args.data, "init.json")
    if init:
        sections[1] = init_section(init, targets, machine.get("tmp_fs", "?"))
    if os.path.exists(os.path.join(args.data, f"rulecheck-legacy-{sizes[0]}.json")):
        table = read_rulecheck(args.data, sizes)
        sections[2] = rulecheck_section(table, sizes, targets)
        write_svg(table, sizes, os.path.join(args.out, "rule_check_cost.svg"))
    for number, name, render in ((3, "repair.json", lambda r: repair_section(r, targets, judge)),
                                 (4, "idle.json",
                                  lambda r: idle_section(
                                      r, targets, read_json(args.data, "idle-realistic.json"))),
                                 (5, "load.json", lambda r: load_section(r, targets, judge)),
                                 (6, "ready.json", lambda r: ready_section(r, targets, judge)),
                                 (7, "entrypoint.json",
                                  lambda r: entrypoint_section(r, targets, judge))):
        raw = read_json(args.data, name)
        if raw:
            sections[number] = render(raw)
    return sections


def parse_results(path):
    """An earlier RESULTS.md: (its head, above "## Targets"; target rows; {number: section})."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if "\n## Targets\n" not in text:
        sys.exit(f"report.py --merge: {path} has no '## Targets' section")
    head, _, rest = text.partition("\n## Targets\n")
    rows, sections = [], {}
    for block in re.split(r"\n(?=## )", "## Targets\n" + rest):
        if block.startswith("## Targets"):
            for line in block.splitlines():
                cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
                if len(cells) == 5 and cells[0].startswith("`"):
                    rows.append((cells[0].strip("`"), cells[1], cells[2], cells[3],
                                 cells[4] == "met"))
            continue
        number = re.match(r"## (\d+)\. ", block)
        if number:
            sections[int(number.group(1))] = block.strip()
    return head.rstrip("\n").split("\n"), rows, sections


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--sizes", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--merge", action="store_true",
                        help="replace only the benchmarks in --data in --out/RESULTS.md")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    machine = read_env(os.path.join(args.data, "machine.env"))
    results_path = os.path.join(args.out, "RESULTS.md")
    targets = Targets()
    sections = benchmark_sections(args, sizes, machine, targets)

    if args.merge:
        if not os.path.exists(results_path):
            sys.exit(f"report.py --merge: no {results_path} to merge into; run the whole "
                     "bench/run.sh first")
        head, old_rows, old_sections = parse_results(results_path)
        ran = sorted(sections)
        if not ran:
            sys.exit(f"report.py --merge: no raw results in {args.data}")
        kept = [row for row in old_rows if benchmark_of(row[0]) not in ran]
        targets.rows = sorted(kept + targets.rows, key=lambda row: benchmark_of(row[0]))
        sections = {**old_sections, **sections}
        label = (f"benchmark{'s' if len(ran) > 1 else ''} {', '.join(map(str, ran))} "
                 "(`--only`)")
        row = (f"| {label} | run alone on {machine.get('date', '?')}, load average "
               f"{machine.get('load_before', '?')} before, {machine.get('load_after', '?')} "
               f"after; {machine.get('dind_netcfg', '?')} |")
        head = [line for line in head if not line.startswith(f"| {label} |")]
        last_row = max(i for i, line in enumerate(head) if line.startswith("|"))
        head.insert(last_row + 1, row)
        summary = [""]
    else:
        head = ["# Benchmark results", ""]
        if args.smoke:
            head += ["**SMOKE RUN**: few iterations and tiny tables, to prove the benchmarks "
                     "run. These numbers mean nothing.", ""]
        head += ["Written by `sudo bench/run.sh` (see [README.md](README.md)); do not edit by "
                 "hand.", "Analyses of missed targets live in [MISSES.md](MISSES.md).", "",
                 "| | |", "|---|---|"]
        for key, label in [("date", "date"), ("cpu", "CPU"), ("kernel", "kernel"),
                           ("os", "OS"), ("dind_netcfg", "dind-netcfg"),
                           ("iptables_legacy", "iptables (legacy)"),
                           ("iptables_nft", "iptables (nft)"), ("nft", "nft"),
                           ("docker", "docker"), ("dockerd", "dockerd"),
                           ("compiler", "compiler"), ("google_benchmark", "Google Benchmark"),
                           ("wrk", "wrk"), ("python", "harness"),
                           ("load_before", "load average before"),
                           ("load_after", "load average after")]:
            head.append(f"| {label} | {machine.get(key, '?')} |")
        summary = [""]
        load = machine.get("load_before", "0").split()[0]
        cores = re.search(r"\((\d+) cores\)", machine.get("cpu", ""))
        if cores and float(load) > int(cores.group(1)) / 2:
            summary += [f"**Caution:** the 1-minute load average was {load} on "
                        f"{cores.group(1)} cores when the run started: other work shared the "
                        "CPUs, so absolute times are inflated and noisier. Ratios, measured "
                        "within one run and interleaved, are less affected.", ""]
    body = []
    for number in sorted(sections):
        body += [sections[number], ""]
    if not args.merge and not machine.get("only"):  # a benchmark left out by --only: no note
        if not all(n in sections for n in (3, 4, 5, 6)):
            body += [f"(Benchmarks 3–6 of the `run` sidecar did not all run: sidecar "
                     f"{machine.get('sidecar', 'unknown')}.)", ""]
        if 7 not in sections:
            body += [f"(Benchmark 7, the entrypoint, did not run: "
                     f"{machine.get('entrypoint', 'not requested')}.)", ""]
    summary += ["## Targets", "", targets.table(), ""]
    misses = targets.miss_notes()
    if misses:
        body += ["## Missed targets: why, and what would close them", "", misses]
    with open(results_path, "w", encoding="utf-8") as f:
        f.write("\n".join(head + summary + body) + "\n")


if __name__ == "__main__":
    main()
