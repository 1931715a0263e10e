#!/usr/bin/env bash
# Checks every object the test suites produce against the Kubernetes OpenAPI schema, strictly
# (unknown fields are errors), with kubernetes-validate: the policy's output for every fixture and
# the fixtures' expected objects, the e2e tests' expected outputs (test_data/requests/expected),
# the mutate-mode outputs of SCHEMA_SAMPLES generated valid pods and workloads, the RBAC documents
# of policy.yaml, and what `native-sidecar convert` writes for every fixture directory (as YAML,
# which kubernetes-validate reads with a YAML 1.1 reader, as kubectl does: a string the tool wrote
# bare that such a reader takes for a boolean or a number fails the check).
#
#   scripts/k8s-schema-check.sh                           # Kubernetes 1.34.0, 300 samples
#   K8S_VERSION=1.35.0 SCHEMA_SAMPLES=2000 scripts/k8s-schema-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
version=${K8S_VERSION:-1.34.0}
samples=${SCHEMA_SAMPLES:-300}
dir=target/k8s-objects

# A virtual environment of its own: a system Python may refuse pip installs (PEP 668), and a
# console script pip just installed may not be on PATH yet (pyenv shims), so it runs as a module.
venv=target/k8s-validate-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
python="$venv/bin/python"
if ! "$python" -c "import kubernetes_validate" 2>/dev/null; then
  "$python" -m pip install --quiet --disable-pip-version-check "kubernetes-validate==1.37.0"
fi

rm -rf "$dir"
mkdir -p "$dir"
cargo run -q --locked -p native-sidecar-core --example k8s_objects -- "$dir" "$samples"
for expected in test_data/requests/expected/*.json; do
  # settings.json names the settings of some conversions: not a Kubernetes object.
  [ "$(basename "$expected")" = settings.json ] && continue
  cp "$expected" "$dir/e2e-$(basename "$expected")"
done
# policy.yaml's RBAC documents (its Kubewarden policies are checked against their CRDs by
# crates/oci/tests/manifests.rs).
"$python" - "$dir" <<'PY'
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open("policy.yaml")) if d and not d["apiVersion"].startswith("policies.kubewarden.io/")]
for at, doc in enumerate(docs):
    with open(f"{sys.argv[1]}/policy-yaml-{at}-{doc['kind']}.json", "w") as out:
        json.dump(doc, out)
PY
count=$(find "$dir" -name '*.json' | wc -l)

# One line per fixture directory; directories that are not there (yet) are skipped.
fixture_dirs=(
  test_data/istio
  test_data/linkerd
  test_data/consul
  test_data/cases
)
cargo build -q --locked -p native-sidecar-cli
converted=0
for fixtures in "${fixture_dirs[@]}"; do
  [ -d "$fixtures" ] || continue
  target/debug/native-sidecar convert "$fixtures" > "$dir/convert-$(basename "$fixtures").yaml"
  converted=$((converted + 1))
done
# Kuma's pairs with the settings they were rendered with (settings.yaml is not an object).
if [ -d test_data/kuma ]; then
  target/debug/native-sidecar convert --settings test_data/kuma/settings.yaml test_data/kuma/*.classic.yaml \
    test_data/kuma/*.native.yaml > "$dir/convert-kuma.yaml"
  converted=$((converted + 1))
fi

# --quiet prints only the objects that fail; the exit code says whether any did.
"$python" -m kubernetes_validate --strict --quiet -k "$version" "$dir"/*.json "$dir"/*.yaml
echo "schema check: $count objects and the convert output of $converted fixture directories valid for Kubernetes $version (strict)"
