# SPDX-License-Identifier: Apache-2.0
"""The runner recipes in deploy/recipes agree with the Kubernetes API and with the binary.

Each recipe is first turned into the pod its runner would create, the way that runner does:
  actions-runner-controller  the chart (gha-runner-scale-set 0.14, containerMode unset) copies
                             template.spec into the runner pod and adds restartPolicy: Never;
  gitlab-runner              a stand-in of the build pod the Kubernetes executor makes from
                             config.toml (build, helper, one container per service named after
                             its alias, the empty_dir volumes in each) gets the pod_spec patch
                             applied by `kubectl patch --local --type strategic`: the strategic
                             merge GitLab Runner itself uses;
  tekton                     the Task as it is (steps and sidecars are the pod's containers);
  jenkins                    the pod YAML as it is (the plugin adds its jnlp container).
The objects are validated against the Kubernetes 1.29 API schema (tests/ship/k8s_schema.py: the
recipes' kinds, the ARC template's PodSpec, the GitLab patch's PodSpec), then checked against
the binary: the images are the project version's, every dind-netcfg subcommand, --flag and
DIND_NETCFG_* variable is one the binary's own --help lists, durations parse, the probes ask
the --listen port and the paths the binary serves, the capabilities are the ones the image's
file capabilities carry (scripts/build-image.sh), daemon.json is written where dockerd reads
it, the sidecar shares dockerd's socket and xtables lock and gets the socket's group, the init
container runs before dockerd and the sidecar is a native one, the job's DOCKER_HOST reaches
dockerd.

  python3 tests/ship/recipes_test.py SOURCE_DIR BUILD_DIR/bin/dind-netcfg KUBECTL
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import tomllib
import urllib.parse

import yaml

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, str(pathlib.Path(__file__).parent))
import k8s_schema  # noqa: E402
from checks import check, finish  # noqa: E402

source, binary, kubectl = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
recipes = source / "deploy" / "recipes"
version = re.search(
    r"^project\(dind-netcfg VERSION ([0-9.]+)", (source / "CMakeLists.txt").read_text(), re.M
).group(1)


# --- what the binary and the image really are ---------------------------------------------

_helps = {}


def own_help(*path):
    """`dind-netcfg PATH... --help` when PATH is a subcommand, else None (CLI11 prints the top
    level's help with status 0 for an unknown one)."""
    if path not in _helps:
        done = subprocess.run([binary, *path, "--help"], capture_output=True, text=True)
        usage = re.search(
            r"^Usage: dind-netcfg " + re.escape(" ".join(path)) + r"( \[|$)", done.stdout, re.M
        )
        _helps[path] = done.stdout if done.returncode == 0 and (usage or not path) else None
    return _helps[path]


def default(help_text, flag):
    found = re.search(r"^\s*" + re.escape(flag) + r" [^ =\n]*=(\S+)", help_text or "", re.M)
    return found.group(1) if found else None


def flags_of(help_text):
    return set(re.findall(r"^\s+(?:-\w,)?(--[a-z0-9][a-z0-9-]*)", help_text or "", re.M))


def env_of(help_text):
    return set(re.findall(r"\(Env:(DIND_NETCFG_[A-Z0-9_]+)\)", help_text or ""))


def seconds(duration):
    """A duration as the binary reads it (README: ms, s, m; a bare number is seconds)."""
    found = re.fullmatch(r"(\d+)(ms|s|m)?", str(duration).strip())
    if not found:
        return None
    return int(found.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[found.group(2)]


check(
    own_help() is not None and own_help("run") is not None and own_help("entrypoint"),
    "the binary answers --help, run --help and entrypoint --help",
)
global_env = env_of(own_help())
listen_port = int(default(own_help("run"), "--listen").rsplit(":", 1)[1])
check(
    default(own_help("entrypoint"), "--listen") == default(own_help("run"), "--listen"),
    f"run and entrypoint listen on the same default ({default(own_help('run'), '--listen')})",
)
ready_path = urllib.parse.urlparse(default(own_help("probe"), "--url")).path
served = pathlib.Path(binary).read_bytes()
check(
    ready_path == "/readyz" and b"/healthz" in served and b"/metrics" in served,
    f"the binary serves {ready_path}, /healthz and /metrics (port {listen_port})",
)
# The image's binary carries these file capabilities and runs as this user (the image build).
build_image = (source / "scripts" / "build-image.sh").read_text()
file_caps = re.search(r"^setcap (\S+)\+p ", build_image, re.M).group(1)
image_caps = sorted(c.removeprefix("cap_").upper() for c in file_caps.split(","))
image_uid = int(re.search(r"^dind-netcfg:x:(\d+):", build_image, re.M).group(1))
check(len(image_caps) == 3, f"the image's binary carries {image_caps}, uid {image_uid}")


# --- helpers over a pod spec --------------------------------------------------------------


def normal(path):
    # Every image here (dind-netcfg's, docker:dind's, the CI images) has /var/run -> /run.
    path = path.rstrip("/") or "/"
    return (
        "/run" + path[len("/var/run") :]
        if path == "/var/run" or path.startswith("/var/run/")
        else path
    )


def volume_at(container, directory):
    """The volume mounted at DIRECTORY (or the one holding it) in CONTAINER."""
    best = None
    for mount in container.get("volumeMounts", []):
        mounted = normal(mount.get("mountPath", ""))
        if directory == mounted or directory.startswith(mounted.rstrip("/") + "/"):
            if best is None or len(mounted) > len(normal(best["mountPath"])):
                best = mount
    return best


def env_map(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def expand(text, container):
    # Kubernetes expands $(VAR) in command and args from the container's env.
    return re.sub(r"\$\((\w+)\)", lambda m: env_map(container).get(m.group(1), m.group(0)), text)


def image_parts(image):
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    return name.rsplit("/", 1)[-1], tag


def dockerd_args(container):
    """dockerd's arguments in a docker:dind container: after a leading `dockerd`, or those the
    image's entrypoint adds (its socket /var/run/docker.sock) for flags alone."""
    args = [expand(a, container) for a in container.get("args", [])]
    if args[:1] == ["dockerd"]:
        return args[1:]
    return ["--host=unix:///var/run/docker.sock"] + args


def option(args, flag):
    values = []
    for i, arg in enumerate(args):
        if arg.startswith(flag + "="):
            values.append(arg.split("=", 1)[1])
        elif arg == flag and i + 1 < len(args):
            values.append(args[i + 1])
    return values


def probe_port(container, probe):
    port = container.get(probe, {}).get("httpGet", {}).get("port")
    named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    return named.get(port, port)


def check_endpoint(name, container, startup_budget_over=None):
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    listen = env_map(container).get("DIND_NETCFG_LISTEN")
    port = int(listen.rsplit(":", 1)[1]) if listen else listen_port
    check(
        ports.get("netcfg-http") == port,
        f"{name}: port netcfg-http is {ports.get('netcfg-http')}, the --listen port {port} "
        "(deploy/monitoring/podmonitor.yaml scrapes it by name)",
    )
    wanted = {"livenessProbe": "/healthz", "readinessProbe": ready_path}
    if "startupProbe" in container:
        wanted["startupProbe"] = container["startupProbe"].get("httpGet", {}).get("path")
        check(
            wanted["startupProbe"] in ("/healthz", ready_path),
            f"{name}: startupProbe asks {wanted['startupProbe']}",
        )
    for probe, path in wanted.items():
        asked = container.get(probe, {}).get("httpGet", {})
        check(
            asked.get("path") == path and probe_port(container, probe) == port,
            f"{name}: {probe} asks {asked.get('path')} on {asked.get('port')} ({path} on {port})",
        )
    if startup_budget_over is not None:
        startup = container.get("startupProbe", {})
        budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        check(
            budget > startup_budget_over,
            f"{name}: the startup probe's {budget}s outlast the ready timeout ({startup_budget_over}s)",
        )


def check_env(name, container, sub_help):
    known = env_of(sub_help) | global_env
    for var, value in sorted(env_map(container).items()):
        if not var.startswith("DIND_NETCFG_"):
            continue
        check(var in known, f"{name}: {var} is a variable its --help lists")
        flag = "--" + var.removeprefix("DIND_NETCFG_").lower().replace("_", "-")
        kind = re.search(r"^\s*" + re.escape(flag) + r" (\S+?)[= ]", sub_help or "", re.M)
        if kind and kind.group(1) == "DURATION":
            check(seconds(value) is not None, f"{name}: {var}={value} is a duration")
    check(
        "envFrom" not in container or all("configMapRef" in e for e in container["envFrom"]),
        f"{name}: settings come from env (or a ConfigMap)",
    )


def check_pod(where, spec, dockerd_versions):
    """The checks every recipe's pod shares. DOCKERD_VERSIONS: the dind image's dockerd major
    for DIND_NETCFG_DOCKERD_VERSION ({} when the pod runs the entrypoint image)."""
    inits = spec.get("initContainers", [])
    mains = spec.get("containers", [])
    everyone = inits + mains
    names = [c["name"] for c in everyone]
    check(len(names) == len(set(names)), f"{where}: container names are unique")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for c in everyone:
        for mount in c.get("volumeMounts", []):
            check(
                mount["name"] in volumes,
                f"{where}: {c['name']} mounts volume {mount['name']}, " "which the pod has",
            )

    netcfg = [c for c in everyone if image_parts(c["image"])[0] == "dind-netcfg"]
    check(bool(netcfg), f"{where}: runs dind-netcfg")
    plain = [c for c in netcfg if image_parts(c["image"])[1] == version]
    entry = [c for c in netcfg if image_parts(c["image"])[1] == f"{version}-dind"]
    check(
        len(plain) + len(entry) == len(netcfg),
        f"{where}: dind-netcfg images are tagged {version} or {version}-dind "
        f"({[c['image'] for c in netcfg]})",
    )
    dinds = [
        c
        for c in everyone
        if image_parts(c["image"])[0] == "docker" and image_parts(c["image"])[1].endswith("dind")
    ]
    server = None  # the container running dockerd, and its socket

    # --- the sidecar layout: init container, native sidecar, docker:dind -------------------
    by_sub = {}
    for c in plain:
        name = f"{where}: {c['name']}"
        args = c.get("args", [])
        sub_help = own_help(args[0]) if args else None
        check("command" not in c, f"{name}: no command (the image's ENTRYPOINT is the binary)")
        check(
            sub_help is not None and "Subcommands:" not in sub_help,
            f"{name}: runs `dind-netcfg {args[0] if args else ''}`, a subcommand of the binary",
        )
        for flag in (a.split("=", 1)[0] for a in args[1:] if a.startswith("--")):
            check(flag in flags_of(sub_help), f"{name}: `{args[0]}` takes {flag}")
        check_env(name, c, sub_help)
        by_sub.setdefault(args[0] if args else "", []).append(c)
        sc = c.get("securityContext", {})
        caps = sc.get("capabilities", {})
        check(
            caps.get("drop") == ["ALL"] and sorted(caps.get("add", [])) == image_caps,
            f"{name}: drops ALL and adds exactly {image_caps} (the image's file capabilities)",
        )
        check(
            sc.get("runAsNonRoot") is True
            and sc.get("runAsUser") == image_uid
            and sc.get("allowPrivilegeEscalation") is True
            and not sc.get("privileged"),
            f"{name}: runs as the image's user {image_uid}, not privileged, and may take the "
            "file capabilities at exec (allowPrivilegeEscalation)",
        )
        version_env = env_map(c).get("DIND_NETCFG_DOCKERD_VERSION")
        if dockerd_versions:
            check(
                version_env is not None and version_env.split(".")[0] in dockerd_versions,
                f"{name}: DIND_NETCFG_DOCKERD_VERSION {version_env} is the dind image's "
                f"dockerd ({sorted(dockerd_versions)}): the image has none to ask",
            )

    if plain:
        check(
            set(by_sub) == {"init", "run"} and len(by_sub["init"]) == len(by_sub["run"]) == 1,
            f"{where}: one `init` and one `run` container ({sorted(by_sub)})",
        )
        check(
            len(dinds) == 1, f"{where}: one docker:dind container ({[c['image'] for c in dinds]})"
        )
    if plain and set(by_sub) == {"init", "run"} and len(dinds) == 1:
        init, run, dind = by_sub["init"][0], by_sub["run"][0], dinds[0]
        check(
            init in inits and not init.get("restartPolicy"),
            f"{where}: {init['name']} is an init container (done before the pod's containers)",
        )
        check(
            run in inits and run.get("restartPolicy") == "Always",
            f"{where}: {run['name']} is a native sidecar (init container, restartPolicy: Always)",
        )
        if dind in inits:
            check(
                inits.index(init) < inits.index(dind) and dind.get("restartPolicy") == "Always",
                f"{where}: dind is a native sidecar started after {init['name']} wrote daemon.json",
            )
        check_endpoint(f"{where}: {run['name']}", run)

        paths = []
        for c in (init, run):
            arg = option(c.get("args", []), "--daemon-json")
            paths.append(
                (
                    arg
                    or [
                        env_map(c).get("DIND_NETCFG_DAEMON_JSON")
                        or default(own_help(c["args"][0]), "--daemon-json")
                    ]
                )[0]
            )
        check(paths[0] == paths[1], f"{where}: init and run keep the same daemon.json ({paths})")
        dd = dockerd_args(dind)
        config = (option(dd, "--config-file") or ["/etc/docker/daemon.json"])[0]
        volume = volume_at(init, normal(paths[0].rsplit("/", 1)[0]))
        dind_volume = volume_at(dind, normal(config.rsplit("/", 1)[0]))
        check(
            volume is not None
            and volume_at(run, normal(paths[1].rsplit("/", 1)[0])) == volume
            and dind_volume is not None
            and dind_volume["name"] == volume["name"]
            and volume["name"] in volumes
            and "emptyDir" in volumes[volume["name"]],
            f"{where}: daemon.json {paths[0]} is in the emptyDir dockerd reads {config} from",
        )
        check(
            dind_volume is not None and dind_volume.get("readOnly") is True,
            f"{where}: dind mounts daemon.json's directory read-only (only dind-netcfg writes it)",
        )

        socket = env_map(run).get("DIND_NETCFG_DOCKER_SOCKET") or default(
            own_help("run"), "--docker-socket"
        )
        hosts = [h.removeprefix("unix://") for h in option(dd, "--host") if h.startswith("unix://")]
        check(
            len(hosts) == 1 and normal(hosts[0]) == normal(socket),
            f"{where}: dockerd serves its API on {hosts}, the socket `run` follows ({socket})",
        )
        theirs = volume_at(dind, normal(socket).rsplit("/", 1)[0])
        ours = volume_at(run, normal(socket).rsplit("/", 1)[0])
        check(
            theirs is not None and ours is not None and theirs["name"] == ours["name"],
            f"{where}: run and dind share the socket's directory ({ours and ours['name']})",
        )
        check(
            volume_at(run, "/run") is not None
            and volume_at(dind, "/run") is not None
            and volume_at(run, "/run")["name"] == volume_at(dind, "/run")["name"],
            f"{where}: run and dind share /run (dockerd's iptables and ours take /run/xtables.lock)",
        )
        group = option(dd, "--group")
        check(
            group == [str(run.get("securityContext", {}).get("runAsGroup"))],
            f"{where}: dockerd gives its socket the group {group}, run's runAsGroup",
        )
        check(
            dind.get("securityContext", {}).get("privileged") is True,
            f"{where}: dind is privileged (dockerd mounts and makes namespaces)",
        )
        data = volume_at(dind, "/var/lib/docker")
        check(
            data is not None and "emptyDir" in volumes.get(data["name"], {}),
            f"{where}: dind's /var/lib/docker is an emptyDir (overlay2 does not stack on overlay)",
        )
        server = {"container": dind, "socket": normal(hosts[0]) if hosts else None}

    # --- the entrypoint layout: dind-netcfg:<version>-dind runs dockerd itself -------------
    for c in entry:
        name = f"{where}: {c['name']}"
        sub_help = own_help("entrypoint")
        check(
            "command" not in c and not c.get("args"),
            f"{name}: no command and no args: the image's ENTRYPOINT (entrypoint --) keeps "
            "dockerd running",
        )
        check_env(name, c, sub_help)
        for arg in filter(None, (env_map(c).get("DIND_NETCFG_DOCKERD_ARG") or "").split(",")):
            check(
                not arg.startswith(("--host", "--config-file", "-H")),
                f"{name}: dockerd argument {arg!r} is not one the entrypoint passes itself",
            )
        check(
            c.get("securityContext", {}).get("privileged") is True,
            f"{name}: privileged (it runs dockerd)",
        )
        timeout = seconds(
            env_map(c).get("DIND_NETCFG_READY_TIMEOUT") or default(sub_help, "--ready-timeout")
        )
        check_endpoint(name, c, startup_budget_over=timeout)
        if c in inits:
            check(c.get("restartPolicy") == "Always", f"{name}: a native sidecar")
        data = volume_at(c, "/var/lib/docker")
        check(
            data is not None and "emptyDir" in volumes.get(data["name"], {}),
            f"{name}: /var/lib/docker is an emptyDir (overlay2 does not stack on overlay)",
        )
        socket = env_map(c).get("DIND_NETCFG_DOCKER_SOCKET") or default(sub_help, "--docker-socket")
        server = {"container": c, "socket": normal(socket)}

    # --- the job's docker CLI reaches dockerd ------------------------------------------------
    clients = [c for c in everyone if (env_map(c).get("DOCKER_HOST") or "").startswith("unix://")]
    if clients and server is None:
        check(False, f"{where}: {[c['name'] for c in clients]} use a dockerd the pod does not run")
        return clients
    for c in clients:
        host = normal(env_map(c)["DOCKER_HOST"].removeprefix("unix://"))
        theirs = volume_at(server["container"], server["socket"].rsplit("/", 1)[0])
        mine = volume_at(c, host.rsplit("/", 1)[0])
        # Same volume, and the same path below it.
        same = (
            theirs is not None
            and mine is not None
            and theirs["name"] == mine["name"]
            and host[len(normal(mine["mountPath"])) :]
            == server["socket"][len(normal(theirs["mountPath"])) :]
        )
        check(
            same,
            f"{where}: {c['name']}'s DOCKER_HOST {env_map(c)['DOCKER_HOST']} is dockerd's "
            f"socket {server['socket']} through volume {mine and mine['name']}",
        )
    return clients


def validate(obj, where, fragment=None, partial=False):
    errors = (
        k8s_schema.validate_fragment(obj, fragment, where, partial)
        if fragment
        else k8s_schema.validate(obj, where)
    )
    for error in errors:
        print(f"      {error}")
    check(
        not errors,
        f"{where} validates against the Kubernetes API schema"
        + (f" ({fragment}{', a patch' if partial else ''})" if fragment else ""),
    )


def load_yaml(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    check(len(docs) == 1, f"{path.relative_to(source)} parses (one document)")
    return docs[0]


# --- GitHub Actions Runner Controller ------------------------------------------------------


def check_arc():
    arc = recipes / "actions-runner-controller"
    for path in sorted(arc.glob("*.yaml")):
        where = f"arc/{path.name}"
        values = load_yaml(path)
        check(
            "containerMode" not in values,
            f"{where}: containerMode unset (the chart would replace the template's dind layout)",
        )
        spec = values["template"]["spec"]
        validate(spec, f"{where} template.spec", fragment="PodSpec")
        # What the chart renders with containerMode unset: template.spec as it is, restartPolicy Never.
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "runner"},
            "spec": {"restartPolicy": "Never", **spec},
        }
        validate(pod, f"{where} as the runner pod")
        runner = next((c for c in spec.get("containers", []) if c["name"] == "runner"), {})
        check(
            runner.get("command") == ["/home/runner/run.sh"],
            f"{where}: the runner container runs /home/runner/run.sh",
        )
        dinds = [
            image_parts(c["image"])[1].split("-")[0].split(".")[0]
            for c in spec.get("initContainers", []) + spec.get("containers", [])
            if image_parts(c["image"])[0] == "docker"
            and image_parts(c["image"])[1].endswith("dind")
        ]
        clients = check_pod(where, spec, set(dinds))
        check(
            [c["name"] for c in clients] == ["runner"],
            f"{where}: the runner uses the nested dockerd",
        )


# --- GitLab Runner, Kubernetes executor ----------------------------------------------------


def check_gitlab():
    gitlab = recipes / "gitlab-runner"
    config = tomllib.loads((gitlab / "config.toml").read_text())
    runner = config["runners"][0]
    k8s = runner["kubernetes"]
    job_env = dict(e.split("=", 1) for e in runner.get("environment", []))
    check(runner.get("executor") == "kubernetes", "gitlab: the kubernetes executor")
    check(
        job_env.get("FF_USE_ADVANCED_POD_SPEC_CONFIGURATION") == "true",
        "gitlab: FF_USE_ADVANCED_POD_SPEC_CONFIGURATION=true (pod_spec is ignored without it)",
    )
    services = k8s.get("services", [])
    check(len(services) == 1, "gitlab: one service, docker:dind")
    service = services[0] if services else {}
    alias = service.get("alias", "")
    # Since GitLab Runner 17.9 a service container is named after its alias (a DNS label).
    check(
        re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", alias) is not None,
        f"gitlab: the service's alias {alias!r} is a DNS label, so its container's name",
    )
    # The runner's container security context: privileged as configured, NET_RAW dropped.
    security = {"privileged": k8s.get("privileged", False), "capabilities": {"drop": ["NET_RAW"]}}
    mounts = [
        {"name": v["name"], "mountPath": v["mount_path"]}
        for v in k8s.get("volumes", {}).get("empty_dir", [])
    ]
    stand_in = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "runner-build"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "build",
                    "image": k8s["image"],
                    "securityContext": security,
                    "env": [{"name": n, "value": v} for n, v in job_env.items()],
                    "volumeMounts": mounts,
                },
                {
                    "name": "helper",
                    "image": "gitlab-runner-helper",
                    "securityContext": security,
                    "volumeMounts": mounts,
                },
                {
                    "name": alias,
                    "image": service.get("name"),
                    "args": service.get("command", []),
                    "securityContext": security,
                    "env": [
                        {"name": n, "value": v}
                        for n, v in list(job_env.items())
                        + [e.split("=", 1) for e in service.get("environment", [])]
                    ],
                    "volumeMounts": mounts,
                },
            ],
            "volumes": [
                {"name": v["name"], "emptyDir": {"medium": v.get("medium", "")}}
                for v in k8s.get("volumes", {}).get("empty_dir", [])
            ],
        },
    }
    patches = k8s.get("pod_spec", [])
    check(
        len(patches) == 1 and patches[0].get("patch_type") == "strategic",
        "gitlab: one pod_spec patch, strategic (merges lists by name, as kubectl patch does)",
    )
    patch = yaml.safe_load(patches[0]["patch"]) if patches else {}
    validate(patch, "gitlab pod_spec patch", fragment="PodSpec", partial=True)
    check(
        [c["name"] for c in patch.get("containers", [])] == [alias],
        f"gitlab: the patch changes only the service's container, {alias!r}",
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json") as pod_file:
        json.dump(stand_in, pod_file)
        pod_file.flush()
        done = subprocess.run(
            [
                kubectl,
                "patch",
                "--local",
                "-f",
                pod_file.name,
                "--type",
                "strategic",
                "-p",
                json.dumps({"spec": patch}),
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            env={"KUBECONFIG": "/dev/null", "PATH": "/usr/bin:/bin"},
        )
    check(
        done.returncode == 0,
        "gitlab: kubectl patch --local applies the pod_spec patch "
        + (done.stderr.strip() if done.returncode else ""),
    )
    if done.returncode == 0:
        build_pod = json.loads(done.stdout)
        validate(build_pod, "gitlab build pod (patched)")
        spec = build_pod["spec"]
        major = image_parts(service.get("name", ""))[1].split("-")[0].split(".")[0]
        check_pod("gitlab", spec, {major})
        dind = next(c for c in spec["containers"] if c["name"] == alias)
        build = next(c for c in spec["containers"] if c["name"] == "build")
        check(
            not build.get("securityContext", {}).get("privileged"),
            "gitlab: the job's container is not privileged",
        )
        # The job talks TLS to the service: docker:dind's entrypoint listens on 2376 with
        # --tlsverify when DOCKER_TLS_CERTDIR is set, and writes the client's certificates below it.
        service_env = env_map(dind)
        host = urllib.parse.urlparse(job_env.get("DOCKER_HOST", ""))
        certdir = service_env.get("DOCKER_TLS_CERTDIR")
        check(
            host.scheme == "tcp" and host.hostname == alias and host.port == 2376,
            f"gitlab: the job's DOCKER_HOST {job_env.get('DOCKER_HOST')} is the service's TLS port",
        )
        check(
            bool(certdir)
            and job_env.get("DOCKER_TLS_VERIFY") == "1"
            and job_env.get("DOCKER_CERT_PATH") == f"{certdir}/client",
            f"gitlab: DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH {job_env.get('DOCKER_CERT_PATH')} "
            f"is the service's {certdir}/client",
        )
        shared = volume_at(build, normal(job_env.get("DOCKER_CERT_PATH", "/nowhere")))
        check(
            shared is not None and volume_at(dind, normal(f"{certdir}/client")) == shared,
            "gitlab: the job and the service share the client certificates' volume",
        )
        check(
            service_env.get("HEALTHCHECK_TCP_PORT") == str(host.port),
            "gitlab: the runner waits for the service's TLS port (HEALTHCHECK_TCP_PORT) before the "
            "script, so the certificates exist",
        )

    # The example job leaves Docker to the runner: no services or DOCKER_* variables of its own,
    # which would replace the runner's.
    jobs = load_yaml(gitlab / "example.gitlab-ci.yml")
    for name, job in jobs.items():
        own = [v for v in (job.get("variables") or {}) if v.startswith("DOCKER_")]
        check(
            isinstance(job, dict) and "services" not in job and not own and job.get("script"),
            f"gitlab: example job {name} runs docker with the runner's service and variables",
        )


# --- Tekton ---------------------------------------------------------------------------------


def check_tekton():
    task = load_yaml(recipes / "tekton" / "task.yaml")
    validate(task, "tekton/task.yaml")
    spec = task.get("spec", {})
    # Tekton's pod: the steps and the sidecars side by side, the Task's volumes.
    clients = check_pod(
        "tekton",
        {
            "containers": spec.get("steps", []) + spec.get("sidecars", []),
            "volumes": spec.get("volumes", []),
        },
        set(),
    )
    check(
        [c["name"] for c in clients] == [s["name"] for s in spec.get("steps", [])],
        "tekton: every step uses the sidecar's dockerd",
    )


# --- Jenkins --------------------------------------------------------------------------------


def check_jenkins():
    jenkins = recipes / "jenkins"
    pod = load_yaml(jenkins / "dind-netcfg-pod.yaml")
    validate(pod, "jenkins/dind-netcfg-pod.yaml")
    majors = {
        image_parts(c["image"])[1].split("-")[0].split(".")[0]
        for c in pod["spec"]["containers"]
        if image_parts(c["image"])[0] == "docker" and image_parts(c["image"])[1].endswith("dind")
    }
    clients = check_pod("jenkins", pod["spec"], majors)
    jenkinsfile = (jenkins / "Jenkinsfile").read_text()
    yaml_file = re.search(r"yamlFile\s+'([^']+)'", jenkinsfile)
    container = re.search(r"defaultContainer\s+'([^']+)'", jenkinsfile)
    check(
        yaml_file is not None and (jenkins / yaml_file.group(1)).is_file(),
        f"jenkins: the Jenkinsfile's yamlFile {yaml_file and yaml_file.group(1)} is the recipe's pod",
    )
    check(
        container is not None and container.group(1) in [c["name"] for c in clients],
        f"jenkins: the steps' defaultContainer {container and container.group(1)} uses dind's socket",
    )


for recipe in (check_arc, check_gitlab, check_tekton, check_jenkins):
    try:
        recipe()
    except Exception as error:  # a recipe so broken that a check could not look: say where
        check(False, f"{recipe.__name__}: {type(error).__name__}: {error}")

# --- the README says for which runner versions each was written -----------------------------

readme = (source / "deploy" / "README.md").read_text()
section = (
    readme.split("## Runner recipes", 1)[1].split("\n## ", 1)[0]
    if "## Runner recipes" in readme
    else ""
)
for folder in sorted(p.name for p in recipes.iterdir() if p.is_dir()):
    check(
        f"deploy/recipes/{folder}" in section,
        f"deploy/README.md's Runner recipes section covers deploy/recipes/{folder}",
    )
check(
    section.count("Written for") >= len([p for p in recipes.iterdir() if p.is_dir()]),
    "each recipe's section says which runner versions it was written for",
)

finish("recipes_test.py")
