#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Kubernetes manifests in deploy/kubernetes parse, and what they say agrees with the
# binary and the project: the image tag is the project version, the probes ask the paths and
# the port the binary serves, daemon.json is written where the dind container reads it, and
# dind-netcfg gets exactly NET_ADMIN, NET_RAW and SYS_ADMIN. (No kubectl here: this is as far
# as this machine can check them.)
#
#   bash tests/ship/manifests_test.sh BUILD_DIR/bin/dind-netcfg   (needs python3-yaml)
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

exec "$python" - "$here/deploy/kubernetes" "$version" "$probe_url" "$listen" "$run_daemon_json" <<'EOF'
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

if failures:
    print(f"\nFAIL: manifests_test: {len(failures)} check(s) failed")
    sys.exit(1)
print("\nPASS: manifests_test")
EOF
