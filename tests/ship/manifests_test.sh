#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Kubernetes manifests in deploy/kubernetes parse, and what they say agrees with the
# binary and the project: the image tag is the project version, the probes ask the paths and
# the port the binary serves, daemon.json is written where the dind container reads it, and
# dind-netcfg gets exactly NET_ADMIN, NET_RAW and SYS_ADMIN. The single-container pod
# (deploy/kubernetes/single-container) agrees with `dind-netcfg entrypoint`: the -dind image
# tag, only DIND_NETCFG_* variables entrypoint reads, probes on its --listen port and paths,
# args as COMMAND after the image's --, restartPolicy Never, a grace period longer than the
# stop timeouts, a startup probe longer than the ready timeout, and the dind-netcfg
# subcommands and flags the CI command calls. Both kustomizations render with `kubectl
# kustomize` (Debian 12's kubectl 1.20, kustomize 2.0.3, and newer ones).
#
#   bash tests/ship/manifests_test.sh BUILD_DIR/bin/dind-netcfg   (needs python3-yaml, kubectl)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:?usage: manifests_test.sh BUILD_DIR/bin/dind-netcfg}
python=/usr/bin/python3 # Debian's, with python3-yaml
"$python" -c 'import yaml' 2>/dev/null || { echo "FAIL: python3-yaml is missing (apt-get install python3-yaml)" >&2; exit 1; }

version=$(sed -n 's/^project(dind-netcfg VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
# The binary's defaults: the readiness URL of `probe` names the port and /readyz; /healthz is
# one of the paths its endpoint serves; init's daemon.json default is /etc/docker/daemon.json.
probe_url=$("$binary" probe --help | sed -n 's/.*--url [^ =]*=\([^ ]*\).*/\1/p')
[[ -n $probe_url ]] || { echo "FAIL: no --url default in 'probe --help'" >&2; exit 1; }
grep -aq '/healthz' "$binary" || { echo "FAIL: the binary serves no /healthz" >&2; exit 1; }
# run's own defaults, where this binary has run: the port it listens on, the daemon.json it keeps.
run_help=$("$binary" run --help 2>/dev/null || true)
listen=$(sed -n 's/.*--listen [^ =]*=\([^ ]*\).*/\1/p' <<<"$run_help")
run_daemon_json=$(sed -n 's/.*--daemon-json [^ =]*=\([^ ]*\).*/\1/p' <<<"$run_help")

# kubectl kustomize renders each kustomization as `kubectl apply -k` reads it.
kubectl=$(command -v kubectl) ||
  { echo "FAIL: kubectl is missing (Debian: kubernetes-client; scripts/install-deps.sh installs it)" >&2; exit 1; }
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
status=0
for dir in deploy/kubernetes deploy/kubernetes/single-container; do
  if "$kubectl" kustomize "$here/$dir" >"$rendered/${dir//\//_}.yaml" 2>"$rendered/error"; then
    echo "    ok: kubectl kustomize $dir renders"
  else
    echo "    FAIL: kubectl kustomize $dir: $(cat "$rendered/error")"
    status=1
  fi
done

"$python" - "$here/deploy/kubernetes" "$version" "$probe_url" "$listen" "$run_daemon_json" <<'EOF' || status=1
import sys, pathlib, urllib.parse, yaml

directory, version, probe_url = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
listen, run_daemon_json = sys.argv[4], sys.argv[5]
url = urllib.parse.urlparse(probe_url)
port, ready_path = url.port, url.path
failures = []

def check(condition, what):
    print(("    ok: " if condition else "    FAIL: ") + what)
    if not condition:
        failures.append(what)

docs = {}
for path in sorted(directory.glob("*.yaml")):
    loaded = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    check(bool(loaded), f"{path.name} parses ({len(loaded)} document(s))")
    for d in loaded:
        docs.setdefault(d["kind"], []).append(d)

kustomization = docs["Kustomization"][0]
for resource in kustomization["resources"]:
    check((directory / resource).is_file(), f"kustomization resource {resource} exists")
tags = {i["name"]: i.get("newTag") for i in kustomization.get("images", [])}
check(tags.get("dind-netcfg") == version, f"kustomization tags dind-netcfg {tags.get('dind-netcfg')} (project {version})")

pod = docs["Pod"][0]["spec"]
inits = {c["name"]: c for c in pod["initContainers"]}
mains = {c["name"]: c for c in pod["containers"]}
netcfg = [c for c in list(inits.values()) + list(mains.values()) if c["image"].startswith("dind-netcfg")]
check(len(netcfg) == 2, "two dind-netcfg containers (init and sidecar)")
for c in netcfg:
    check(c["image"] == f"dind-netcfg:{version}", f"{c['name']} image {c['image']}")
    sc = c["securityContext"]
    caps = sc["capabilities"]
    check(caps.get("drop") == ["ALL"], f"{c['name']} drops every capability")
    check(sorted(caps.get("add", [])) == ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"],
          f"{c['name']} adds exactly NET_ADMIN, NET_RAW, SYS_ADMIN")
    check(not sc.get("privileged", False), f"{c['name']} is not privileged")
    # Non-root: the capabilities arrive through the binary's file capabilities, which
    # allowPrivilegeEscalation must not forbid (deploy/README.md).
    check(sc.get("runAsNonRoot") is True and sc.get("runAsUser") == 65532,
          f"{c['name']} runs as the image's non-root user 65532")
    check(sc.get("allowPrivilegeEscalation") is True,
          f"{c['name']} allows the exec to take the file capabilities")

init = inits["dind-netcfg-init"]
check(init["args"][0] == "init" and "--daemon-json" in init["args"], "the init container runs init --daemon-json")
daemon_json = init["args"][init["args"].index("--daemon-json") + 1]
check(daemon_json == "/etc/docker/daemon.json", f"init writes {daemon_json}")

sidecar = inits["dind-netcfg"]
if listen:
    check(listen.rsplit(":", 1)[1] == str(port), f"run listens on {listen}, the port the probes ask ({port})")
if run_daemon_json:
    check(run_daemon_json == daemon_json, f"run keeps {run_daemon_json}, the file init writes")
check(sidecar.get("restartPolicy") == "Always", "dind-netcfg is a native sidecar (restartPolicy: Always)")
check(sidecar["args"][0] == "run", "the sidecar runs `run`")
check(sidecar["readinessProbe"]["httpGet"] == {"path": ready_path, "port": port},
      f"readinessProbe asks {ready_path} on {port} (the binary's probe URL {probe_url})")
check(sidecar["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port},
      f"livenessProbe asks /healthz on {port}")
check([p["containerPort"] for p in sidecar.get("ports", [])] == [port], f"the sidecar declares port {port}")

def mount_of(container, path):
    return next((m["name"] for m in container.get("volumeMounts", []) if m["mountPath"] == path), None)

dind = mains["dind"]
config_dir = daemon_json.rsplit("/", 1)[0]
volume = mount_of(init, config_dir)
check(volume is not None and mount_of(dind, config_dir) == volume and mount_of(sidecar, config_dir) == volume,
      f"init, sidecar and dind share the volume at {config_dir} ({volume})")
volumes = {v["name"]: v for v in pod["volumes"]}
check(volume in volumes and "emptyDir" in volumes[volume], f"{volume} is an emptyDir")
check(mount_of(sidecar, "/run") is not None and mount_of(sidecar, "/run") == mount_of(dind, "/run"),
      "the sidecar shares dind's /run (docker.sock, xtables lock)")
check(dind["securityContext"].get("privileged") is True, "dind runs privileged (dockerd needs it)")
socket_group = sidecar["securityContext"].get("runAsGroup")
check(f"--group={socket_group}" in dind.get("args", []),
      f"dockerd gives its API socket the sidecar's group {socket_group} (--group)")
# docker:dind's dockerd-entrypoint.sh adds --host=tcp://0.0.0.0:2375 (2376 with TLS) to args that
# begin with a flag: with DOCKER_TLS_CERTDIR empty, an unauthenticated root API on the pod IP.
# Args that begin with `dockerd` are run as given.
dind_args = dind.get("args", [])
check(dind_args[:1] == ["dockerd"] and not any("tcp://" in arg for arg in dind_args),
      f"dind's args begin with dockerd and open no TCP socket ({dind_args[:2]})")

if failures:
    print(f"\nFAIL: manifests_test (deploy/kubernetes): {len(failures)} check(s) failed\n")
    sys.exit(1)
print("\n    deploy/kubernetes: all checks passed\n")
EOF

# --- the single-container pod (deploy/kubernetes/single-container) against `entrypoint` ---
"$python" - "$here/deploy/kubernetes/single-container" "$version" "$binary" "$probe_url" \
  "$rendered/deploy_kubernetes_single-container.yaml" <<'EOF' || status=1
import pathlib, re, shlex, subprocess, sys, urllib.parse, yaml

directory, version, binary = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
ready_path = urllib.parse.urlparse(sys.argv[4]).path
rendered_path = pathlib.Path(sys.argv[5])
failures = []

def check(condition, what):
    print(("    ok: " if condition else "    FAIL: ") + what)
    if not condition:
        failures.append(what)

def helps(*args):
    """The binary's --help for a subcommand: (exit status, text)."""
    done = subprocess.run([binary, *args, "--help"], capture_output=True, text=True)
    return done.returncode, done.stdout

def default(help_text, flag):
    found = re.search(r"^\s*" + re.escape(flag) + r" [^ =\n]*=(\S+)", help_text, re.M)
    return found.group(1) if found else None

def seconds(duration):
    """A duration as the binary reads it (README: ms, s, m, a bare number is seconds)."""
    found = re.fullmatch(r"(\d+)(ms|s|m)?", str(duration).strip())
    if not found:
        return None
    return int(found.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[found.group(2)]

status, entrypoint_help = helps("entrypoint")
check(status == 0, "dind-netcfg entrypoint --help exits 0")
# The names entrypoint reads, and the global options' (--log-level, --log-format) before it.
known_env = set(re.findall(r"\(Env:(DIND_NETCFG_[A-Z0-9_]+)\)", entrypoint_help))
global_env = set(re.findall(r"\(Env:(DIND_NETCFG_[A-Z0-9_]+)\)", helps()[1]))
check(len(known_env) > 20, f"entrypoint --help lists {len(known_env)} DIND_NETCFG_* variables")

docs = {}
for path in sorted(directory.glob("*.yaml")):
    loaded = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    check(bool(loaded), f"single-container/{path.name} parses ({len(loaded)} document(s))")
    for d in loaded:
        docs.setdefault(d["kind"], []).append(d)

kustomization = docs["Kustomization"][0]
for resource in kustomization["resources"]:
    check((directory / resource).is_file(), f"kustomization resource {resource} exists")
tag = f"{version}-dind"
tags = {i["name"]: i.get("newTag") for i in kustomization.get("images", [])}
check(tags.get("dind-netcfg") == tag, f"kustomization tags dind-netcfg {tags.get('dind-netcfg')} (project {version}, so {tag})")

check(len(docs.get("Pod", [])) == 1, "one Pod")
pod = docs["Pod"][0]["spec"]
containers = pod.get("containers", [])
check([c["name"] for c in containers] == ["dind"] and not pod.get("initContainers"),
      "a single container, dind, and no init containers")
dind = containers[0]
check(dind["image"] == f"dind-netcfg:{tag}", f"dind image {dind['image']} (dind-netcfg:{tag})")
rendered = [d for d in yaml.safe_load_all(rendered_path.read_text()) if d] if rendered_path.is_file() else []
rendered_images = [c["image"] for d in rendered if d.get("kind") == "Pod" for c in d["spec"]["containers"]]
check(rendered_images == [f"dind-netcfg:{tag}"], f"kubectl kustomize renders the image {rendered_images}")
check(pod.get("restartPolicy") == "Never", f"restartPolicy {pod.get('restartPolicy')}: the job runs once")
check(dind.get("securityContext", {}).get("privileged") is True, "dind runs privileged (dockerd needs it)")

# The image's ENTRYPOINT is [dind-netcfg, entrypoint, --]: `command` would replace it, and args
# are COMMAND, a program and its arguments (not entrypoint's flags, not a second --).
args = dind.get("args") or []
check("command" not in dind, "no `command`: the image's ENTRYPOINT (dind-netcfg entrypoint --) stays")
check(bool(args) and not args[0].startswith("-") and args[0] not in ("entrypoint", "dind-netcfg"),
      f"args is the CI command, run after the image's -- ({args[:2]})")

# Every DIND_NETCFG_* variable is one entrypoint reads; the values it is checked with below.
env = {e["name"]: e.get("value") for e in dind.get("env", [])}
check("envFrom" not in dind, "the entrypoint's settings are in env (no envFrom to check)")
for name in sorted(n for n in env if n.startswith("DIND_NETCFG_")):
    check(name in known_env | global_env, f"{name} is a variable `dind-netcfg [--help|entrypoint --help]` lists")
for name in sorted(n for n in env if re.search(r"_(TIMEOUT|INTERVAL)$", n)):
    check(seconds(env[name]) is not None, f"{name}={env[name]} is a duration")

# The probes ask the entrypoint's endpoint: its --listen port, /healthz and /readyz.
listen = env.get("DIND_NETCFG_LISTEN") or default(entrypoint_help, "--listen")
check(listen is not None, f"entrypoint listens on {listen}")
port = int(listen.rsplit(":", 1)[1]) if listen else None
ports = {p.get("name"): p["containerPort"] for p in dind.get("ports", [])}
check(any(name and number == port for name, number in ports.items()),
      f"the endpoint's port {port} is a named containerPort ({ports})")
served = pathlib.Path(binary).read_bytes()
check(ready_path == "/readyz", f"readiness is {ready_path} (probe --help's URL)")
for path in ("/healthz", ready_path):
    check(path.encode() in served, f"the binary serves {path}")
for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", ready_path)):
    get = dind.get(probe, {}).get("httpGet", {})
    asked = ports.get(get.get("port"), get.get("port"))  # a port's name, or its number
    check(get.get("path") == path and asked == port,
          f"{probe} asks {get.get('path')} on {get.get('port')} ({path} on {port})")

# The endpoint opens once dockerd answers /_ping, which may take --ready-timeout: the startup
# probe must outlast it, so the entrypoint says what never became ready before any kill.
ready_timeout = seconds(env.get("DIND_NETCFG_READY_TIMEOUT") or default(entrypoint_help, "--ready-timeout"))
startup = dind.get("startupProbe", {})
budget = startup.get("initialDelaySeconds", 0) + startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
check(ready_timeout is not None and budget > ready_timeout,
      f"the startup probe's {budget}s outlast the ready timeout ({ready_timeout}s)")

# On SIGTERM the command gets --stop-timeout, then dockerd and its containerd get it again.
stop_timeout = seconds(env.get("DIND_NETCFG_STOP_TIMEOUT") or default(entrypoint_help, "--stop-timeout"))
grace = pod.get("terminationGracePeriodSeconds", 30)
check(stop_timeout is not None and grace > 2 * stop_timeout,
      f"terminationGracePeriodSeconds {grace} > 2 x the stop timeout {stop_timeout}s (the command, then dockerd)")

# The dind-netcfg subcommands the CI command calls exist, with the flags it gives them.
script = " ".join(args[2:] if args[:1] in (["sh"], ["bash"]) and args[1:2] and args[1].startswith("-") else args)
lexer = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars=True)
lexer.commenters = "#"
lexer.whitespace_split = True
tokens = list(lexer)
calls = []
for i, token in enumerate(tokens):
    if token.rsplit("/", 1)[-1] != "dind-netcfg":
        continue
    words = []
    for word in tokens[i + 1:]:
        if set(word) <= set(";|&<>()"):
            break
        words.append(word)
    while words and words[0] in ("--log-level", "--log-format"):
        words = words[2:]
    while words and words[0].startswith("--log-"):
        words = words[1:]
    calls.append(words)
check(any(c[:1] == ["kind-config"] for c in calls), "the CI command makes its KIND config with dind-netcfg kind-config")
check(any(t == "kind" and tokens[i + 1:i + 3] == ["create", "cluster"] and "--config" in tokens[i:]
          for i, t in enumerate(tokens)), "the CI command runs kind create cluster --config")
def own_help(path):
    """--help of `dind-netcfg PATH...` when it is a subcommand (CLI11 prints the top-level help
    and exits 0 for an unknown one, so the exit status alone proves nothing)."""
    status, text = helps(*path)
    usage = re.search(r"^Usage: dind-netcfg " + re.escape(" ".join(path)) + r"( \[|$)", text, re.M)
    return text if status == 0 and usage else None

for call in calls:
    path, sub_help = [], None
    for word in call:  # the longest subcommand path: `rules apply`, `kind-config`
        if word.startswith("-") or own_help(path + [word]) is None:
            break
        path.append(word)
        sub_help = own_help(path)
    sub = " ".join(path) or (call[0] if call else "")
    check(sub_help is not None, f"dind-netcfg {sub} exists (its own --help exits 0)")
    check("Subcommands:" not in (sub_help or ""), f"dind-netcfg {sub} is a command, not a group of them")
    for flag in (w.split("=", 1)[0] for w in call[len(path):] if w.startswith("--")):
        check(re.search(r"(^|[ ,])" + re.escape(flag) + r"(?=[ =\n]|$)", sub_help or "", re.M) is not None,
              f"dind-netcfg {sub} takes {flag}")

# What dockerd needs: its data on a volume (overlay2 does not stack on the overlay root), the
# node's modules read-only for modprobe.
mounts = {m["mountPath"]: m for m in dind.get("volumeMounts", [])}
volumes = {v["name"]: v for v in pod.get("volumes", [])}
data = volumes.get(mounts.get("/var/lib/docker", {}).get("name"), {})
check("emptyDir" in data, "/var/lib/docker is an emptyDir")
modules = mounts.get("/lib/modules", {})
check(volumes.get(modules.get("name"), {}).get("hostPath", {}).get("path") == "/lib/modules"
      and modules.get("readOnly") is True, "/lib/modules is the node's, read-only")
check("memory" in dind.get("resources", {}).get("limits", {}),
      "a memory limit (the nested containers count against it)")

if failures:
    print(f"\nFAIL: manifests_test (single-container): {len(failures)} check(s) failed\n")
    sys.exit(1)
print("\n    deploy/kubernetes/single-container: all checks passed\n")
EOF

if ((status != 0)); then
  echo "FAIL: manifests_test"
  exit 1
fi
echo "PASS: manifests_test"
