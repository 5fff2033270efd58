# SPDX-License-Identifier: Apache-2.0
"""Offline validation of Kubernetes objects against the API schema (tests/ship/recipes_test.sh,
monitoring_test.sh).

No API server is reachable in CI, and `kubectl apply --dry-run=client` validates nothing
without one (its schema comes from the server). So the schema the server would use is kept
here, in tests/ship/k8s_schema.json: the definitions reachable from the kinds the recipes use,
cut from the published OpenAPI documents with their descriptions dropped:

  Kubernetes 1.29    swagger.json of the kubernetes-client/python v29.0.0 release
                     (kubernetes/swagger.json.unprocessed: release-1.29's api/openapi-spec).
                     1.29 is the oldest release the recipes are for: native sidecars
                     (init containers with restartPolicy: Always) are on by default from it.
  Tekton v1.15.0     pkg/apis/pipeline/v1/swagger.json (tekton.dev/v1 Task); its core types
                     are the Kubernetes ones above.
  Prometheus         the CRDs' openAPIV3Schema, example/prometheus-operator-crd/ of
  Operator v0.93.0   prometheus-operator (PodMonitor, PrometheusRule).

What a check finds, as the API server would reject it or silently drop it: an unknown field
(a misspelled key is dropped by the server, so the setting never applies), a missing required
field, a value of the wrong JSON type (a string where an integer goes), an enum value the CRD
does not know. Not checked: cross-field rules the server's validation code enforces (unique
names, valid DNS labels).

  python3 k8s_schema.py generate K8S_SWAGGER TEKTON_SWAGGER PODMONITOR_CRD PROMETHEUSRULE_CRD > k8s_schema.json
"""
import json
import pathlib
import sys

SCHEMA_FILE = pathlib.Path(__file__).with_name("k8s_schema.json")

# The kinds a recipe may hold, and their root definitions in k8s_schema.json.
ROOTS = {
    ("v1", "Pod"): "io.k8s.api.core.v1.Pod",
    ("v1", "ConfigMap"): "io.k8s.api.core.v1.ConfigMap",
    ("tekton.dev/v1", "Task"): "tekton.v1.Task",
    ("monitoring.coreos.com/v1", "PodMonitor"): "monitoring.coreos.com.v1.PodMonitor",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com.v1.PrometheusRule",
}
# Parts of objects that are not objects themselves (a Helm values file's template.spec, a
# GitLab pod_spec patch).
FRAGMENTS = {"PodSpec": "io.k8s.api.core.v1.PodSpec"}

# Only what validation reads is kept.
KEPT = (
    "type",
    "format",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "$ref",
    "enum",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
)


# --- generate ---------------------------------------------------------------------------------


def _trim(node, rename):
    if isinstance(node, list):
        return [_trim(n, rename) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = rename(value.rsplit("/", 1)[-1])
        elif key == "properties":
            out[key] = {name: _trim(v, rename) for name, v in value.items()}
        elif key in KEPT:
            out[key] = _trim(value, rename)
    return out


def _closure(definitions, roots):
    keep, todo = {}, list(roots)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        if name not in definitions:
            raise SystemExit(f"{name} is referred to but not defined")
        keep[name] = definitions[name]
        stack = [keep[name]]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "$ref":
                        todo.append(value)
                    else:
                        stack.append(value)
            elif isinstance(node, list):
                stack.extend(node)
    return keep


def generate(k8s_swagger, tekton_swagger, podmonitor_crd, prometheusrule_crd):
    import yaml  # only the generator needs it

    k8s = json.loads(pathlib.Path(k8s_swagger).read_text())["definitions"]
    definitions = {name: _trim(d, lambda ref: ref) for name, d in k8s.items()}

    # Tekton's document names its own types v1.X and refers to the Kubernetes ones by the same
    # short names (v1.Volume, v1.ObjectMeta) without defining them.
    tekton = json.loads(pathlib.Path(tekton_swagger).read_text())["definitions"]
    meta = "io.k8s.apimachinery.pkg.apis.meta.v1."
    # metav1.Duration ("1h30m", a Step's timeout) is a string the Kubernetes document never
    # needs to define.
    definitions[meta + "Duration"] = {"type": "string"}

    def tekton_name(ref):
        if ref in tekton:
            return "tekton." + ref
        short = ref.rsplit(".", 1)[-1]
        for candidate in (
            "io.k8s.api.core.v1." + short,
            meta + short,
            "io.k8s.apimachinery.pkg.runtime." + short,
        ):
            if candidate in definitions:
                return candidate
        return "unresolved." + ref  # run status types, unreachable from a Task

    for name, d in tekton.items():
        definitions["tekton." + name] = _trim(d, tekton_name)

    # A CRD's schema is one inline tree; metadata is the usual ObjectMeta.
    for path, group_kind in (
        (podmonitor_crd, "PodMonitor"),
        (prometheusrule_crd, "PrometheusRule"),
    ):
        crd = yaml.safe_load(pathlib.Path(path).read_text())
        version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
        schema = _trim(version["schema"]["openAPIV3Schema"], lambda ref: ref)
        schema["properties"]["metadata"] = {"$ref": meta + "ObjectMeta"}
        definitions[f"monitoring.coreos.com.v1.{group_kind}"] = schema

    kept = _closure(definitions, list(ROOTS.values()) + list(FRAGMENTS.values()))
    document = {
        "$comment": "Generated by tests/ship/k8s_schema.py from the Kubernetes 1.29 OpenAPI "
        "(kubernetes-client/python v29.0.0), Tekton Pipelines v1.15.0 "
        "(pkg/apis/pipeline/v1/swagger.json) and the Prometheus Operator v0.93.0 "
        "CRDs; descriptions dropped. Those are Apache-2.0, (c) The Kubernetes "
        "Authors, The Tekton Authors, The Prometheus Operator Authors.",
        "definitions": dict(sorted(kept.items())),
    }
    json.dump(document, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


# --- validate ---------------------------------------------------------------------------------

_definitions = None


def _defs():
    global _definitions
    if _definitions is None:
        _definitions = json.loads(SCHEMA_FILE.read_text())["definitions"]
    return _definitions


def _type_ok(value, schema, ref_name):
    kind = schema.get("type")
    # IntOrString (ports, probe ports) and Quantity (resources: `cpu: 2`) take numbers too.
    if schema.get("format") == "int-or-string" or schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    if ref_name == "io.k8s.apimachinery.pkg.api.resource.Quantity":
        return isinstance(value, (int, float, str)) and not isinstance(value, bool)
    if kind is None:
        return True
    return {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }[kind](value)


def _check(value, schema, path, errors, partial, ref_name=None):
    while "$ref" in schema:
        ref_name = schema["$ref"]
        schema = _defs()[ref_name]
    if value is None:
        return  # YAML's empty value: the server treats null as unset
    if not _type_ok(value, schema, ref_name):
        errors.append(
            f"{path}: {type(value).__name__} {json.dumps(value)[:60]} where the schema "
            f"wants {schema.get('format') or schema.get('type') or ref_name}"
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties")
        if properties is not None:
            if not partial:
                for name in schema.get("required", []):
                    if name not in value:
                        errors.append(f"{path}: required field {name!r} is missing")
            for key, item in value.items():
                if key in properties:
                    # Below its top a patch holds whole objects: new list items, and existing
                    # ones named by their merge key (a container's name), which is required.
                    _check(item, properties[key], f"{path}.{key}", errors, False)
                elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                    errors.append(
                        f"{path}: unknown field {key!r} (known: "
                        f"{', '.join(sorted(properties))})"
                    )
        elif isinstance(schema.get("additionalProperties"), dict):
            for key, item in value.items():
                _check(item, schema["additionalProperties"], f"{path}.{key}", errors, False)
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            label = item.get("name") if isinstance(item, dict) and "name" in item else i
            _check(item, schema["items"], f"{path}[{label}]", errors, False)


def validate(obj, where="object"):
    """Errors of a whole object, found by its apiVersion and kind ([] when it is valid)."""
    if not isinstance(obj, dict):
        return [f"{where}: not a mapping"]
    root = ROOTS.get((obj.get("apiVersion"), obj.get("kind")))
    if root is None:
        return [
            f"{where}: no schema for apiVersion {obj.get('apiVersion')!r} kind "
            f"{obj.get('kind')!r} (known: {sorted(ROOTS)})"
        ]
    errors = []
    _check(obj, {"$ref": root}, where, errors, partial=False)
    return errors


def validate_fragment(value, fragment, where, partial=False):
    """Errors of a part of an object, e.g. a PodSpec; partial for a patch (its top level may
    leave out required fields, which the object it patches has)."""
    errors = []
    _check(value, {"$ref": FRAGMENTS[fragment]}, where, errors, partial)
    return errors


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "generate":
        generate(*sys.argv[2:])
    else:
        sys.exit(__doc__)
