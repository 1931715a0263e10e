#!/usr/bin/env bats
# End-to-end tests: the built module, run the way `kwctl run` runs it.
#
#   make e2e-tests                          # builds policy.wasm and policy-host, then runs this file
#   KWCTL=kwctl bats tests/e2e.bats         # the same tests under the real kwctl
#
# KWCTL is the runner (default: this repository's policy-host), POLICY the module (default:
# policy.wasm). Requests are JSON AdmissionRequests generated from the YAML fixtures by
# crates/host/tests/sample_requests.rs; expected/NAME.json is the object the policy must produce.

bats_require_minimum_version 1.5.0

setup() {
  cd "$BATS_TEST_DIRNAME/.."
  KWCTL="${KWCTL:-target/debug/policy-host}"
  POLICY="${POLICY:-policy.wasm}"
  REQUESTS=test_data/requests
}

# evaluate NAME [kwctl run options...]: runs the policy on test_data/requests/NAME.json.
# stdout (the response) lands in $output, stderr in $stderr.
evaluate() {
  local name="$1"
  shift
  run --separate-stderr "$KWCTL" run --request-path "$REQUESTS/$name.json" "$@" "$POLICY"
  # Shown by bats when a test fails.
  echo "status: $status"
  echo "stdout: $output"
  echo "stderr: $stderr"
}

# True when the runner is this repository's policy-host rather than kwctl.
is_policy_host() {
  [[ "$("$KWCTL" --version 2>/dev/null)" == policy-host* ]]
}

# The response's JSON patch, decoded.
patch_ops() {
  jq -c '.patch | @base64d | fromjson' <<<"$output"
}

# jq program: the request's object with the response's patch applied. Covers the operations
# json_patch::diff emits (add, remove, replace), with RFC 6902 array insertion.
APPLY_PATCH='
def resolve($doc; $segments):
  reduce $segments[] as $segment ([];
    . as $done
    | ($doc | getpath($done)) as $parent
    | if ($parent | type) == "array"
      then $done + [if $segment == "-" then ($parent | length) else ($segment | tonumber) end]
      else $done + [$segment] end);
def apply($op):
  resolve(.; $op.path | split("/") | .[1:] | map(gsub("~1"; "/") | gsub("~0"; "~"))) as $path
  | if $op.op == "replace" then setpath($path; $op.value)
    elif $op.op == "remove" then delpaths([$path])
    elif $op.op == "add" and ($path | length) > 0 and (getpath($path[:-1]) | type) == "array"
    then getpath($path[:-1]) as $list
      | setpath($path[:-1]; $list[:$path[-1]] + [$op.value] + $list[$path[-1]:])
    elif $op.op == "add" then setpath($path; $op.value)
    else error("unexpected patch operation \($op.op)") end;
($request[0] | if has("request") then .request else . end | .object) as $object
| (if .patch then .patch | @base64d | fromjson else [] end) as $ops
| reduce $ops[] as $op ($object; apply($op))
'

# The object of request NAME after the response's patch.
patched() {
  jq -c --slurpfile request "$REQUESTS/$1.json" "$APPLY_PATCH" <<<"$output"
}

# Names of a container list of the patched object, comma-separated: names NAME JQ_PATH
names() {
  patched "$1" | jq -r "[$2[].name] | join(\",\")"
}

# Accepted with a patch that turns the request's object into expected/NAME.json exactly.
assert_converted() {
  local name="$1"
  shift
  evaluate "$name" "$@"
  [ "$status" -eq 0 ]
  [ "$(jq -r '.allowed' <<<"$output")" = true ]
  [ "$(jq -r '.patchType' <<<"$output")" = JSONPatch ]
  [ "$(patched "$name" | jq -S .)" = "$(jq -S . "$REQUESTS/expected/$name.json")" ]
}

# Accepted, no patch, no warnings.
assert_untouched() {
  local name="$1"
  shift
  evaluate "$name" "$@"
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.allowed, has("patch"), has("patchType"), has("status"), .warnings]' <<<"$output")" = '[true,false,false,false,null]' ]
}

# Rejected with exactly MESSAGE and no patch: assert_rejected NAME MESSAGE [options...]
assert_rejected() {
  local name="$1" message="$2"
  shift 2
  evaluate "$name" "$@"
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.allowed, has("patch")]' <<<"$output")" = '[false,false]' ]
  [ "$(jq -r '.status.message' <<<"$output")" = "$message" ]
}

# --- the article's two scenarios ---------------------------------------------------------------

@test "article: the proxy starts before check-traffic, the init container that needs the network" {
  assert_converted case-check-traffic
  [ "$(names case-check-traffic .spec.initContainers)" = "istio-init,istio-proxy,check-traffic" ]
}

@test "article: a Job pod with restartPolicy Never gets a native proxy, so the Job can complete" {
  assert_converted article-job-pod
  [ "$(patched article-job-pod | jq -r '.spec.restartPolicy')" = Never ]
  [ "$(names article-job-pod .spec.containers)" = "pi" ]
  [ "$(names article-job-pod .spec.initContainers)" = "istio-init,istio-proxy" ]
  [ "$(patched article-job-pod | jq -r '.spec.initContainers[1].restartPolicy')" = Always ]
}

# --- every workload kind, from Istio's own classic injection ---------------------------------

@test "Pod: Istio's classic injection becomes Istio's native injection, with the exact patch" {
  assert_converted istio-pod-classic
  # Three operations: the status annotation lists the proxy under initContainers, the proxy
  # leaves containers and comes back as the second init container, as a native sidecar.
  [ "$(patch_ops | jq -c '[.[] | [.op, .path]]')" = '[["replace","/metadata/annotations/sidecar.istio.io~1status"],["remove","/spec/containers/1"],["add","/spec/initContainers/1"]]' ]
  [ "$(patch_ops | jq -r '.[0].value')" = '{"initContainers":["istio-init","istio-proxy"],"containers":null,"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert","istio-ca-crl"],"imagePullSecrets":null,"revision":"default"}' ]
  [ "$(patch_ops | jq -c '.[2].value | {restartPolicy, lifecycle}')" = '{"restartPolicy":"Always","lifecycle":{"preStop":{"exec":{"command":["pilot-agent","request","--debug-port=15020","POST","drain"]}}}}' ]
  # Every other field of the proxy is carried over as it was.
  [ "$(patch_ops | jq -cS '.[2].value | del(.restartPolicy, .lifecycle)')" = "$(jq -cS '.object.spec.containers[1]' "$REQUESTS/istio-pod-classic.json")" ]
}

@test "Deployment: the pod template is converted" {
  assert_converted istio-hello-classic
}

@test "ReplicaSet: the pod template is converted" {
  assert_converted istio-replicaset-classic
}

@test "StatefulSet: the pod template is converted, enable-core-dump after the proxy" {
  assert_converted case-enable-core-dump
}

@test "DaemonSet: the pod template is converted" {
  assert_converted istio-daemonset-classic
}

@test "Job: the pod template is converted" {
  assert_converted istio-job-classic
}

@test "CronJob: the job template's pod template is converted (istioctl kube-inject)" {
  assert_converted case-cronjob-kube-inject
}

@test "ReplicationController: the pod template is converted" {
  assert_converted replicationcontroller-classic
}

@test "Deployment UPDATE: workload templates are converted on update too" {
  assert_converted istio-hello-classic-update
}

# --- Istio's native rendering rules ------------------------------------------------------------

@test "Istio CNI: istio-validation stays before the proxy" {
  assert_converted case-cni
}

@test "holdApplicationUntilProxyStarts: the postStart wait hook becomes the preStop drain hook" {
  assert_converted case-hold-application
}

@test "a custom proxy lifecycle is kept" {
  assert_converted case-custom-lifecycle
}

@test "the status port comes from status.sidecar.istio.io/port" {
  assert_converted case-status-port-annotation
}

@test "status port 0: the drain hook follows the iptables exclusions" {
  assert_converted case-status-port-zero
}

@test "proxy.istio.io/overrides moves istio-proxy to initContainers" {
  assert_converted case-proxy-overrides
}

@test "interception mode NONE: converted without a setup container" {
  assert_converted case-interception-none
}

@test "Istio's native output needs no change: no patch for any fixture" {
  for name in pod hello replicaset daemonset job; do
    assert_untouched "istio-$name-native"
  done
}

# --- requests left alone -----------------------------------------------------------------------

@test "opt-out: sidecar.istio.io/nativeSidecar false is accepted with a warning and no patch" {
  evaluate pod-opt-out
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.allowed, has("patch"), has("status")]' <<<"$output")" = '[true,false,false]' ]
  [ "$(jq -c '.warnings' <<<"$output")" = '["sidecar.istio.io/nativeSidecar: \"false\" leaves istio-proxy as Istio renders it in classic mode; remove the annotation to run the proxy as a native sidecar"]' ]
}

@test "Pod UPDATE: containers are immutable, the pod is accepted untouched" {
  assert_untouched pod-classic-update
}

@test "Pod DELETE: accepted untouched" {
  assert_untouched pod-classic-delete
}

@test "subresource requests are accepted untouched" {
  assert_untouched pod-classic-status-subresource
}

@test "kinds without a pod spec are accepted untouched" {
  assert_untouched configmap
}

@test "gateways are never converted" {
  assert_untouched pod-gateway
}

# --- before Istio's injector: asking for native injection --------------------------------------

@test "a Pod without a proxy gets sidecar.istio.io/nativeSidecar: true, and nothing else" {
  evaluate pod-uninjected
  [ "$status" -eq 0 ]
  [ "$(jq -r '.allowed' <<<"$output")" = true ]
  [ "$(patch_ops)" = '[{"op":"add","path":"/metadata/annotations","value":{"sidecar.istio.io/nativeSidecar":"true"}}]' ]
}

@test "requestNativeInjection false: a Pod without a proxy is left alone" {
  assert_untouched pod-uninjected --settings-json '{"requestNativeInjection": false}'
}

@test "a Pod that opts out of injection is left alone" {
  assert_untouched pod-uninjected-inject-false
}

@test "a hostNetwork Pod is left alone" {
  assert_untouched pod-uninjected-host-network
}

@test "workload templates without a proxy are left alone (no rollout, no GitOps drift)" {
  assert_untouched deployment-uninjected
}

# --- refusing rather than breaking -------------------------------------------------------------

@test "rejected: an init container already named istio-proxy" {
  assert_rejected reject-duplicate-name 'spec.initContainers already has a container named "istio-proxy", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar'
}

@test "rejected: two proxies" {
  assert_rejected reject-two-proxies 'spec has 2 containers named "istio-proxy" (containers[1], containers[2]); keep a single proxy'
}

@test "rejected: a proxy with restartPolicy Never" {
  assert_rejected reject-restart-policy-never 'spec.containers[1] "istio-proxy" sets restartPolicy "Never", but a native sidecar restarts Always; remove restartPolicy from it, or keep it classic with the pod annotation sidecar.istio.io/nativeSidecar: "false"'
}

@test "rejected: a proxy that is the pod's only container" {
  assert_rejected reject-only-container 'spec.containers[0] "istio-proxy" is the only container, and a pod needs a regular container besides its native sidecars; add the application container, or keep it classic with the pod annotation sidecar.istio.io/nativeSidecar: "false"'
}

@test "rejected: a proxy in initContainers without restartPolicy" {
  assert_rejected reject-init-proxy-without-restart-policy 'spec.initContainers[1] "istio-proxy" has no restartPolicy, so it would have to exit before the next container starts; set restartPolicy: Always to run it as a native sidecar'
}

# --- validate mode (audit scanner) -------------------------------------------------------------

@test "validate mode: a classic proxy is rejected, naming where it is and the order expected" {
  assert_rejected istio-pod-classic 'spec: istio-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: istio-proxy (containers[1]) runs in containers, not as a native sidecar in initContainers. Expected initContainers order: istio-init, istio-proxy' --settings-json '{"mode": "validate"}'
}

@test "validate mode: check-traffic before the proxy is rejected" {
  assert_rejected case-check-traffic 'spec: istio-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: check-traffic (initContainers[0]) runs before istio-proxy has started, outside the mesh. Expected initContainers order: istio-init, istio-proxy, check-traffic' --settings-json '{"mode": "validate"}'
}

@test "validate mode: Istio's native injection is accepted" {
  assert_untouched istio-pod-native --settings-json '{"mode": "validate"}'
}

@test "validate mode never mutates: no annotation on a Pod without a proxy" {
  assert_untouched pod-uninjected --settings-json '{"mode": "validate"}'
}

# --- settings ----------------------------------------------------------------------------------

@test "settings from a YAML file: extraSidecars makes vault-agent a native sidecar" {
  settings="$BATS_TEST_TMPDIR/settings.yaml"
  printf 'extraSidecars:\n  - name: vault-agent\n    setupContainers: [vault-agent-init]\n' >"$settings"
  evaluate pod-vault-agent --settings-path "$settings"
  [ "$status" -eq 0 ]
  [ "$(names pod-vault-agent .spec.initContainers)" = "vault-agent-init,vault-agent,migrate" ]
  [ "$(names pod-vault-agent .spec.containers)" = "app" ]
}

@test "invalid settings: an unknown key fails before any evaluation" {
  evaluate istio-pod-classic --settings-json '{"mode": "mutate", "dryRun": true}'
  [ "$status" -ne 0 ]
  [ -z "$output" ] || [ "$(jq -r .valid <<<"$output")" = false ]
  # kwctl prints the policy's message Debug-quoted (older releases wrap it in Some(...)).
  [[ "$stderr" == *'Provided settings are not valid: '*'"unknown setting \"dryRun\": the settings are mode, requestNativeInjection, extraSidecars, checkNodes and minKubeletVersion (camelCase)"'* ]]
  if is_policy_host; then
    [ "$stderr" = 'Error: Provided settings are not valid: "unknown setting \"dryRun\": the settings are mode, requestNativeInjection, extraSidecars, checkNodes and minKubeletVersion (camelCase)"' ]
  fi
}

@test "invalid settings: a wrong mode names the accepted values" {
  evaluate istio-pod-classic --settings-json '{"mode": "enforce"}'
  [ "$status" -ne 0 ]
  [[ "$stderr" == *'Provided settings are not valid: '*'"mode must be \"mutate\" or \"validate\", found the string \"enforce\""'* ]]
}

# --- the response --------------------------------------------------------------------------------

@test "the response carries kwctl's fields: uid copied, patchType with patch, null warnings" {
  evaluate istio-pod-classic
  [ "$status" -eq 0 ]
  [ "$(jq -c 'keys' <<<"$output")" = '["allowed","auditAnnotations","patch","patchType","uid","warnings"]' ]
  [ "$(jq -r .uid <<<"$output")" = "$(jq -r .uid "$REQUESTS/istio-pod-classic.json")" ]
}

@test "an AdmissionReview is evaluated like its request" {
  evaluate admission-review-pod-classic
  [ "$status" -eq 0 ]
  review="$output"
  evaluate istio-pod-classic
  [ "$review" = "$output" ]
}

# --- policy-host only ----------------------------------------------------------------------------

@test "policy-host --show-result: the decoded patch and the resulting Pod, as YAML" {
  is_policy_host || skip "--show-result is policy-host's"
  evaluate case-hold-application --show-result
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "# response (patch decoded)" ]
  [[ "$output" == *$'\n- op: remove\n  path: /spec/containers/1\n'* ]]
  [[ "$output" == *$'\n---\n# the object after the patch\napiVersion: v1\nkind: Pod\n'* ]]
}

@test "a file that is not a WebAssembly module fails with an error, not a response" {
  POLICY="$REQUESTS/configmap.json"
  evaluate configmap
  [ "$status" -ne 0 ]
  [ -z "$output" ]
  if is_policy_host; then
    [[ "$stderr" == "Error: cannot load the policy module: "* ]]
  fi
}
