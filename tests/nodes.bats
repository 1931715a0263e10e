#!/usr/bin/env bats
# checkNodes end to end: the annotated module reads the nodes through the host capability
# kubernetes/list_resources_all, answered from the replay sessions in test_data/nodes.
#
#   make e2e-tests                                               # policy-host (and tests/e2e.bats)
#   make e2e-kwctl KWCTL=target/kubewarden/kwctl                 # the real kwctl, same sessions
#
# KWCTL is the runner (default: this repository's policy-host), ANNOTATED_POLICY the module
# (default: annotated-policy.wasm; context-aware access needs the metadata's contextAwareResources,
# so a bare policy.wasm is denied the nodes by both runners). kwctl exits 0 even when a host call
# was denied or did not match the session: the tests read its JSON.

bats_require_minimum_version 1.5.0
load helpers

setup() {
  cd "$BATS_TEST_DIRNAME/.."
  KWCTL="${KWCTL:-target/debug/policy-host}"
  ANNOTATED_POLICY="${ANNOTATED_POLICY:-annotated-policy.wasm}"
  REQUESTS=test_data/requests
  NODES=test_data/nodes
  CHECK='{"checkNodes": true}'
  read -ra KWCTL_RUN_FLAGS <<<"${KWCTL_RUN_FLAGS:-}"
}

# replay SESSION REQUEST_FILE [kwctl run options...]: runs the policy with context-aware access,
# answering its host calls from test_data/nodes/SESSION.session.yml.
replay() {
  local session="$1" request="$2"
  shift 2
  run --separate-stderr "$KWCTL" run "${KWCTL_RUN_FLAGS[@]}" --allow-context-aware \
    --replay-host-capabilities-interactions "$NODES/$session.session.yml" \
    --request-path "$request" "$@" "$ANNOTATED_POLICY"
  echo "status: $status"
  echo "stdout: $output"
  echo "stderr: $stderr"
  [ "$status" -eq 0 ]
}

# A request file: test_data/requests/NAME.json, with spec.nodeName set when NODE is given.
request() {
  local name="$1" node="${2:-}"
  if [ -z "$node" ]; then
    echo "$REQUESTS/$name.json"
    return
  fi
  local file="$BATS_TEST_TMPDIR/$name-on-$node.json"
  jq --arg node "$node" '.object.spec.nodeName = $node' "$REQUESTS/$name.json" >"$file"
  echo "$file"
}

# Accepted with a patch, no warnings.
assert_patched() {
  [ "$(jq -c '[.allowed, .patchType, .warnings]' <<<"$output")" = '[true,"JSONPatch",null]' ]
}

# Accepted, no patch, exactly one warning: WARNING.
assert_untouched_with() {
  [ "$(jq -c '[.allowed, has("patch")]' <<<"$output")" = '[true,false]' ]
  [ "$(jq -r '.warnings | length' <<<"$output")" = 1 ]
  [ "$(jq -r '.warnings[0]' <<<"$output")" = "$1" ]
}

# What every warning and message on the one-old cluster says about it.
ONE_OLD='node "worker-old" runs kubelet v1.32.9+k3s1, older than minKubeletVersion 1.33 (1 of 4 nodes)'
TOO_OLD="and a kubelet without sidecar support runs a native sidecar as an init container that never exits, so the pod would never start"
RAISE="Upgrade the node's kubelet, or lower minKubeletVersion (at least 1.29) if it runs sidecar containers"

@test "nodes: all nodes run kubelet 1.33 or later, so istio-proxy becomes a native sidecar" {
  replay all-new "$REQUESTS/istio-pod-classic.json" --settings-json "$CHECK"
  assert_patched
  [ "$(patched_object "$REQUESTS/istio-pod-classic.json" | jq -S .)" = "$(jq -S . "$REQUESTS/expected/istio-pod-classic.json")" ]
}

@test "nodes: one node on 1.32 among new ones leaves the pod classic, with a warning naming it" {
  replay one-old "$REQUESTS/istio-pod-classic.json" --settings-json "$CHECK"
  assert_untouched_with "no native sidecar made: $ONE_OLD, $TOO_OLD. $RAISE"
}

@test "nodes: a Deployment's template is left classic on the same cluster" {
  replay one-old "$REQUESTS/istio-hello-classic.json" --settings-json "$CHECK"
  [ "$(jq -c '[.allowed, has("patch"), (.warnings | length)]' <<<"$output")" = '[true,false,1]' ]
}

@test "nodes: the pod's own node is old while the others are new: left classic" {
  replay one-old-pinned-old "$(request istio-pod-classic worker-old)" --settings-json "$CHECK"
  assert_untouched_with "no native sidecar made: the pod's node \"worker-old\" runs kubelet v1.32.9+k3s1, older than minKubeletVersion 1.33, $TOO_OLD. $RAISE"
}

@test "nodes: the pod's own node is new while another is old: converted" {
  local file
  file="$(request istio-pod-classic worker-1)"
  # The session holds one exchange, get_resource for worker-1: no list is asked.
  replay one-old-pinned-new "$file" --settings-json "$CHECK"
  assert_patched
  [ "$(patched_object "$file" | jq -c '[.spec.nodeName, [.spec.initContainers[] | [.name, .restartPolicy]]]')" = '["worker-1",[["istio-init",null],["istio-proxy","Always"]]]' ]
}

@test "nodes: a DaemonSet's pod (node affinity on metadata.name) reads its node alone: converted" {
  local file="$BATS_TEST_TMPDIR/daemonset-pod.json"
  jq '.object.spec.affinity = {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchFields: [{key: "metadata.name", operator: "In", values: ["worker-1"]}]}]}}}' \
    "$REQUESTS/istio-pod-classic.json" >"$file"
  replay one-old-pinned-new "$file" --settings-json "$CHECK"
  assert_patched
}

@test "nodes: the pod's own node does not exist: the whole list decides, as in Istio's rule" {
  replay one-old-pinned-missing "$(request istio-pod-classic gone)" --settings-json "$CHECK"
  assert_untouched_with "no native sidecar made: $ONE_OLD, $TOO_OLD. $RAISE"
}

@test "nodes: minKubeletVersion 1.32 lets the 1.32 node run native sidecars" {
  replay one-old "$REQUESTS/istio-pod-classic.json" --settings-json '{"checkNodes": true, "minKubeletVersion": "1.32"}'
  assert_patched
}

@test "nodes: native injection is requested on new clusters only" {
  replay all-new "$REQUESTS/pod-uninjected.json" --settings-json "$CHECK"
  assert_patched
  [ "$(patched_object "$REQUESTS/pod-uninjected.json" | jq -r '.metadata.annotations["sidecar.istio.io/nativeSidecar"]')" = true ]
  replay one-old "$REQUESTS/pod-uninjected.json" --settings-json "$CHECK"
  [ "$(jq -c '[.allowed, has("patch"), (.warnings | length)]' <<<"$output")" = '[true,false,1]' ]
}

@test "nodes: no RBAC on nodes: untouched, and the warning names the ClusterRole" {
  replay forbidden "$REQUESTS/istio-pod-classic.json" --settings-json "$CHECK"
  assert_untouched_with "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read (Callback evaluation failure: nodes is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot list resource \"nodes\" in API group \"\" at the cluster scope); let the policy-server's service account get, list and watch nodes (the ClusterRole and ClusterRoleBinding in policy.yaml), or set checkNodes: false"
}

@test "nodes: without --allow-context-aware the nodes are denied: untouched, and the warning names contextAwareResources" {
  run --separate-stderr "$KWCTL" run "${KWCTL_RUN_FLAGS[@]}" --request-path "$REQUESTS/istio-pod-classic.json" \
    --settings-json "$CHECK" "$ANNOTATED_POLICY"
  echo "stdout: $output"
  [ "$status" -eq 0 ]
  assert_untouched_with "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read (Policy has not been granted access to Kubernetes v1/Node resources. The violation has been reported.); add {apiVersion: v1, kind: Node} to the policy's spec.contextAwareResources (kwctl run: --allow-context-aware and the annotated module), or set checkNodes: false"
}

@test "nodes: without the host capability list_resources_all: untouched, and the warning names it" {
  run --separate-stderr "$KWCTL" run "${KWCTL_RUN_FLAGS[@]}" --allowed-host-capabilities 'oci/*' --allow-context-aware \
    --replay-host-capabilities-interactions "$NODES/all-new.session.yml" \
    --request-path "$REQUESTS/istio-pod-classic.json" --settings-json "$CHECK" "$ANNOTATED_POLICY"
  echo "stdout: $output"
  [ "$status" -eq 0 ]
  assert_untouched_with "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read (Policy has not been granted access to the 'kubernetes/list_resources_all' host capability. The violation has been reported.); allow the policy the host capabilities kubernetes/list_resources_all and kubernetes/get_resource (policy-server: the policy's hostCapabilities; kwctl run: --allowed-host-capabilities), or set checkNodes: false"
}

@test "nodes: a session that does not match the policy's request: untouched, same message from both runners" {
  replay no-masks "$REQUESTS/istio-pod-classic.json" --settings-json "$CHECK"
  assert_untouched_with 'no native sidecar made: checkNodes is on and the cluster'"'"'s nodes cannot be read (Callback evaluation failure: Replay error: unexpected request. Was expecting KubernetesListResourceAll { api_version: "v1", kind: "Node", label_selector: None, field_selector: None, field_masks: None }, got KubernetesListResourceAll { api_version: "v1", kind: "Node", label_selector: None, field_selector: None, field_masks: Some({"metadata.name", "status.nodeInfo.kubeletVersion"}) } instead); the replayed session does not answer this call: the policy asks get_resource for the v1/Node a pod is pinned to (then list_resources_all only if it does not exist), else list_resources_all for v1/Node, with the field masks metadata.name and status.nodeInfo.kubeletVersion, once per request that needs the nodes'
}

@test "nodes: an answer that is not a node list: untouched, with a warning" {
  replay not-a-node-list "$REQUESTS/istio-pod-classic.json" --settings-json "$CHECK"
  assert_untouched_with "no native sidecar made: checkNodes is on and the cluster's nodes cannot be read (the host's answer is not a node list: expected value at line 1 column 1); the host answered something other than a NodeList: check its version and its logs, or set checkNodes: false"
}

@test "nodes: a pod with nothing to make native makes no host call" {
  # The session is empty: any call would fail and show as a warning.
  replay empty "$REQUESTS/istio-pod-native.json" --settings-json "$CHECK"
  [ "$(jq -c '[.allowed, has("patch"), .warnings]' <<<"$output")" = '[true,false,null]' ]
  replay empty "$REQUESTS/pod-opt-out.json" --settings-json "$CHECK"
  [ "$(jq -c '[.allowed, has("patch")]' <<<"$output")" = '[true,false]' ]
  [[ "$(jq -r '.warnings[0]' <<<"$output")" != *"cannot be read"* ]]
}

@test "nodes: validate mode on an old cluster accepts a classic proxy, with a warning" {
  replay one-old "$REQUESTS/istio-pod-classic.json" --settings-json '{"mode": "validate", "checkNodes": true}'
  assert_untouched_with "istio-proxy may stay a regular container: $ONE_OLD, $TOO_OLD. $RAISE"
}

@test "nodes: validate mode on an old cluster rejects a native proxy" {
  replay one-old "$REQUESTS/istio-pod-native.json" --settings-json '{"mode": "validate", "checkNodes": true}'
  [ "$(jq -c '[.allowed, has("patch")]' <<<"$output")" = '[false,false]' ]
  [ "$(jq -r .status.message <<<"$output")" = "spec: istio-proxy runs as a native sidecar, but $ONE_OLD, $TOO_OLD. Run the pod on nodes with kubelet 1.33 or later, or run the proxy as a regular container" ]
}

@test "nodes: validate mode on a new cluster rejects a classic proxy as without checkNodes" {
  replay all-new "$REQUESTS/istio-pod-classic.json" --settings-json '{"mode": "validate", "checkNodes": true}'
  [ "$(jq -r .allowed <<<"$output")" = false ]
  [[ "$(jq -r .status.message <<<"$output")" == "spec: istio-proxy must run as a native sidecar"* ]]
}

@test "nodes: the sessions in test_data/nodes are what policy-host records from the node files" {
  is_policy_host || skip "recording from a node file is policy-host's"
  # SESSION:NODE_FILE[:NODE_NAME]: the classic pod, pinned to NODE_NAME when given.
  for entry in all-new:all-new one-old:one-old one-old-pinned-new:one-old:worker-1 \
    one-old-pinned-old:one-old:worker-old one-old-pinned-missing:one-old:gone; do
    IFS=: read -r name nodes node <<<"$entry"
    local recorded="$BATS_TEST_TMPDIR/$name.session.yml"
    run --separate-stderr "$KWCTL" run --allow-context-aware --nodes "$NODES/$nodes.json" \
      --record-host-capabilities-interactions "$recorded" \
      --request-path "$(request istio-pod-classic "$node")" --settings-json "$CHECK" "$ANNOTATED_POLICY"
    [ "$status" -eq 0 ]
    diff -u "$NODES/$name.session.yml" "$recorded"
  done
}
