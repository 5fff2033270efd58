#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The runner recipes in deploy/recipes (GitHub Actions Runner Controller, GitLab Runner's
# Kubernetes executor, Tekton, Jenkins) become the pods their runners make, validate against the
# Kubernetes API schema, and agree with the binary: images, subcommands, --flags, DIND_NETCFG_*
# variables, ports, probe paths, capabilities, daemon.json, the shared socket and /run.
# tests/ship/recipes_test.py says how each recipe is rendered and what is checked.
#
# Offline, nothing validates a Kubernetes object: `kubectl apply --dry-run=client` needs a
# server for its schema. So the schema is kept in tests/ship/k8s_schema.json (the Kubernetes
# 1.29 OpenAPI, Tekton's and the Prometheus Operator's, cut to the kinds used here).
#
#   bash tests/ship/recipes_test.sh BUILD_DIR/bin/dind-netcfg   (needs python3-yaml, kubectl)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:?usage: recipes_test.sh BUILD_DIR/bin/dind-netcfg}
python=/usr/bin/python3 # Debian's, with python3-yaml; 3.11 has tomllib for config.toml
"$python" -c 'import tomllib, yaml' 2>/dev/null ||
  { echo "FAIL: python3 >= 3.11 with python3-yaml is needed (apt-get install python3-yaml)" >&2; exit 1; }
# kubectl patch --local applies GitLab's pod_spec patch (strategic merge) with no server.
kubectl=$(command -v kubectl) ||
  { echo "FAIL: kubectl is missing (Debian: kubernetes-client; scripts/install-deps.sh installs it)" >&2; exit 1; }

if "$python" "$here/tests/ship/recipes_test.py" "$here" "$binary" "$kubectl"; then
  echo "PASS: recipes_test"
else
  echo "FAIL: recipes_test"
  exit 1
fi
