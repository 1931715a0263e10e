#!/usr/bin/env bats
# End-to-end tests: the built module, run the way `kwctl run` runs it.
#
#   make e2e-tests                          # builds policy.wasm and policy-host, then runs this file
#   make e2e-kwctl KWCTL=path/to/kwctl      # every e2e file under the real kwctl (CI runs both)
#   KWCTL=kwctl bats tests/e2e.bats         # this file alone under the real kwctl
#
# KWCTL is the runner (default: this repository's policy-host), POLICY the module (default:
# policy.wasm), ANNOTATED_POLICY the module with its metadata (`make annotated-policy.wasm`), for
# tests that need what metadata.yml declares (context-aware resources). Requests are JSON
# AdmissionRequests generated from the YAML fixtures by crates/host/tests/sample_requests.rs;
# expected/NAME.json is the object the policy must produce.
#
# Every test runs under both runners, and passes under both: where their output differs, the test
# accepts what the real kwctl prints and policy-host is changed to print the same. The Makefile
# runs every tests/*.bats file except tests/policy-server*.bats under each runner, so a new e2e
# file only has to exist. KWCTL_RUN_FLAGS holds flags for every run of the runner (the Makefile
# points kwctl at no Sigstore trust root, so it never reaches the network). A flag that only
# one runner takes goes through kwctl_only or policy_host_only, unquoted so that it vanishes under
# the other runner:
#
#   POLICY="$ANNOTATED_POLICY" evaluate NAME $(kwctl_only --allow-context-aware) --settings-json '{}'

bats_require_minimum_version 1.5.0
load helpers

setup() {
  cd "$BATS_TEST_DIRNAME/.."
  KWCTL="${KWCTL:-target/debug/policy-host}"
  POLICY="${POLICY:-policy.wasm}"
  ANNOTATED_POLICY="${ANNOTATED_POLICY:-annotated-policy.wasm}"
  read -ra KWCTL_RUN_FLAGS <<<"${KWCTL_RUN_FLAGS:-}"
  REQUESTS=test_data/requests
}

# evaluate NAME [kwctl run options...]: runs the policy on test_data/requests/NAME.json.
# stdout (the response) lands in $output, stderr in $stderr.
evaluate() {
  local name="$1"
  shift
  run --separate-stderr "$KWCTL" run "${KWCTL_RUN_FLAGS[@]}" --request-path "$REQUESTS/$name.json" "$@" "$POLICY"
  # Shown by bats when a test fails.
  echo "status: $status"
  echo "stdout: $output"
  echo "stderr: $stderr"
}

# Prints its arguments under one runner only, for flags the other runner does not take (see the
# top of this file).
kwctl_only() {
  is_policy_host || echo "$@"
}
policy_host_only() {
  ! is_policy_host || echo "$@"
}

# The last line of stderr: kwctl's error, after the log lines kwctl prints before it.
last_stderr_line() {
  printf '%s\n' "${stderr##*$'\n'}"
}

# The response's JSON patch, decoded.
patch_ops() {
  jq -c '.patch | @base64d | fromjson' <<<"$output"
}

# The object of request NAME after the response's patch.
patched() {
  patched_object "$REQUESTS/$1.json"
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

# --- what a native sidecar costs (KEP-753 effective requests) ---------------------------------

# migrate (init, cpu 2) now runs beside the proxy (100m); the app and the proxy together ask 600m.
MIGRATE_RISE='converting istio-proxy raises the pod'"'"'s effective cpu request from 2 to 2100m: init container "migrate" (2) now runs beside istio-proxy (100m); ResourceQuota, LimitRange and scheduling count the new value'

@test "resources: a conversion that raises the pod's effective cpu request is made, with a warning saying why" {
  assert_converted pod-init-larger-than-app
  [ "$(names pod-init-larger-than-app .spec.initContainers)" = "istio-init,istio-proxy,migrate" ]
  [ "$(jq -c '.warnings' <<<"$output")" = "$(jq -cn --arg w "$MIGRATE_RISE" '[$w]')" ]
}

@test "resources: Istio's own injections convert without a resource warning" {
  for name in istio-pod-classic istio-hello-classic istio-job-classic article-job-pod case-cni; do
    evaluate "$name"
    [ "$(jq -c '[.allowed, .patchType, .warnings]' <<<"$output")" = '[true,"JSONPatch",null]' ]
  done
}

@test "resources: onResourceIncrease reject refuses the pod with the same message" {
  assert_rejected pod-init-larger-than-app "$MIGRATE_RISE. onResourceIncrease is \"reject\": lower the init container's resources, or set onResourceIncrease to \"warn\" to convert such pods" --settings-json '{"onResourceIncrease": "reject"}'
  # Nothing rises: converted as usual.
  assert_converted istio-pod-classic --settings-json '{"onResourceIncrease": "reject"}'
}

@test "resources: onResourceIncrease ignore converts without a word" {
  assert_converted pod-init-larger-than-app --settings-json '{"onResourceIncrease": "ignore"}'
  [ "$(jq -c '.warnings' <<<"$output")" = null ]
}

@test "resources: validate mode says what converting would cost" {
  assert_rejected pod-init-larger-than-app "spec: istio-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: istio-proxy (containers[1]) runs in containers, not as a native sidecar in initContainers. Expected initContainers order: istio-init, istio-proxy, migrate. C${MIGRATE_RISE:1}" --settings-json '{"mode": "validate"}'
}

@test "resources: pod-level requests with no room for the proxy are refused, as the API server would refuse them" {
  assert_rejected pod-init-larger-than-app-pod-level 'converting istio-proxy raises the containers'"'"' aggregate cpu request from 2 to 2100m, above spec.resources.requests[cpu] (2), which the API server refuses: init container "migrate" (2) now runs beside istio-proxy (100m); raise spec.resources.requests[cpu] to at least 2100m'
}

@test "resources: an invalid onResourceIncrease names the accepted values" {
  evaluate pod-init-larger-than-app --settings-json '{"onResourceIncrease": "error"}'
  [ "$status" -ne 0 ]
  # kwctl 1.36 prints the message as it is; policy-host (like earlier kwctl) as a JSON string.
  [[ "$stderr" == *'onResourceIncrease must be "warn", "reject" or "ignore", found the string "error"'* ||
     "$stderr" == *'onResourceIncrease must be \"warn\", \"reject\" or \"ignore\", found the string \"error\"'* ]]
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
  # kwctl 1.36 prints the policy's message as it is (older releases Debug-quoted it).
  [ "$(last_stderr_line)" = 'Error: Provided settings are not valid: unknown setting "dryRun": the settings are mode, requestNativeInjection, extraSidecars, meshes, onResourceIncrease, checkNodes, minKubeletVersion, kuma and consul (camelCase)' ]
  if is_policy_host; then
    [ "$stderr" = "$(last_stderr_line)" ]
  fi
}

@test "invalid settings: a wrong mode names the accepted values" {
  evaluate istio-pod-classic --settings-json '{"mode": "enforce"}'
  [ "$status" -ne 0 ]
  [ "$(last_stderr_line)" = 'Error: Provided settings are not valid: mode must be "mutate" or "validate", found the string "enforce"' ]
}

# --- Linkerd ------------------------------------------------------------------------------------

@test "Linkerd Pod: linkerd inject's classic output becomes its native output" {
  assert_converted linkerd-emojivoto-pod-classic
  # The proxy comes back after linkerd-init as a native sidecar whose linkerd-await hook became a
  # startup probe; every other field is carried over, and no annotation is added.
  [ "$(patched linkerd-emojivoto-pod-classic | jq -c '.spec.initContainers[1] | {restartPolicy, lifecycle, startupProbe}')" = '{"restartPolicy":"Always","lifecycle":null,"startupProbe":{"failureThreshold":120,"httpGet":{"path":"/ready","port":4191},"periodSeconds":1}}' ]
  [ "$(patched linkerd-emojivoto-pod-classic | jq -cS '.spec.initContainers[1] | del(.restartPolicy, .startupProbe)')" = "$(jq -cS '.object.spec.containers[0] | del(.lifecycle)' "$REQUESTS/linkerd-emojivoto-pod-classic.json")" ]
  [ "$(patch_ops | jq -c '[.[] | select(.path | startswith("/metadata"))]')" = '[]' ]
}

@test "Linkerd Deployment: the pod template is converted, on CREATE and on UPDATE" {
  assert_converted linkerd-emojivoto-deployment-classic
  assert_converted linkerd-emojivoto-deployment-classic-update
}

@test "Linkerd Job and ReplicationController: the pod template is converted" {
  assert_converted linkerd-job-classic
  assert_converted linkerd-replicationcontroller-classic
}

@test "Linkerd StatefulSet: the user's init container now starts after the proxy" {
  assert_converted case-linkerd-statefulset-init
  [ "$(names case-linkerd-statefulset-init .spec.template.spec.initContainers)" = "linkerd-init,linkerd-proxy,migrate" ]
}

@test "Linkerd DaemonSet with proxy-await disabled: no startup probe" {
  assert_converted case-linkerd-await-disabled
  [ "$(patched case-linkerd-await-disabled | jq -c '.spec.template.spec.initContainers[1] | has("startupProbe")')" = false ]
}

@test "Linkerd ReplicaSet: the wait-before-exit sleep goes" {
  assert_converted case-linkerd-wait-before-exit
}

@test "Linkerd CronJob and a Job's Pod: the proxy no longer keeps the Job running" {
  assert_converted case-linkerd-cronjob
  assert_converted case-linkerd-job-pod
  [ "$(names case-linkerd-job-pod .spec.containers)" = "pi" ]
}

@test "Linkerd CNI: linkerd-network-validator first, then the proxy" {
  assert_converted case-linkerd-cni
  [ "$(names case-linkerd-cni .spec.template.spec.initContainers)" = "linkerd-network-validator,linkerd-proxy,wait-db" ]
}

@test "Linkerd admin port: the startup probe uses the port linkerd-await polled" {
  assert_converted case-linkerd-admin-port
  [ "$(patched case-linkerd-admin-port | jq -c '.spec.initContainers[1].startupProbe.httpGet.port')" = 9995 ]
}

@test "Linkerd debug sidecar, tap, config overrides and ingress mode are carried over" {
  assert_converted case-linkerd-debug
  [ "$(names case-linkerd-debug .spec.containers)" = "web-svc,linkerd-debug" ]
  assert_converted case-linkerd-config-overrides
}

@test "Linkerd: a hook Linkerd does not render is kept, with a warning" {
  assert_converted case-linkerd-custom-lifecycle
  [ "$(jq -c '.warnings' <<<"$output")" = '["linkerd-proxy keeps its preStop hook, which Linkerd does not render: as a native sidecar a postStart hook holds back every later init container and a preStop hook runs before the proxy stops; check that the hook still does what it should"]' ]
}

@test "Linkerd's native output needs no change, and gets no other mesh's annotation" {
  assert_untouched linkerd-emojivoto-pod-native
  assert_untouched linkerd-emojivoto-deployment-native
}

@test "Linkerd opt-out: config.linkerd.io/proxy-enable-native-sidecar false keeps the pod classic, with a warning" {
  evaluate pod-linkerd-opt-out
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.allowed, has("patch")]' <<<"$output")" = '[true,false]' ]
  [ "$(jq -c '.warnings' <<<"$output")" = '["config.linkerd.io/proxy-enable-native-sidecar: \"false\" leaves linkerd-proxy as Linkerd renders it in classic mode; remove the annotation to run the proxy as a native sidecar"]' ]
}

@test "Linkerd: a Pod asking for Linkerd injection gets Linkerd's native switch under all three names" {
  evaluate pod-uninjected-linkerd
  [ "$status" -eq 0 ]
  # kwctl's policy-server sorts object keys before the diff, policy-host keeps them: compare as a set.
  [ "$(patch_ops | jq -c 'sort_by(.path)')" = '[{"op":"add","path":"/metadata/annotations/config.alpha.linkerd.io~1proxy-enable-native-sidecar","value":"true"},{"op":"add","path":"/metadata/annotations/config.beta.linkerd.io~1proxy-enable-native-sidecar","value":"true"},{"op":"add","path":"/metadata/annotations/config.linkerd.io~1proxy-enable-native-sidecar","value":"true"}]' ]
}

@test "Linkerd namespaces: with meshes [linkerd] an unannotated Pod gets Linkerd's switch" {
  evaluate pod-uninjected --settings-json '{"meshes": ["linkerd"]}'
  [ "$status" -eq 0 ]
  [ "$(patched pod-uninjected | jq -cS '.metadata.annotations')" = '{"config.alpha.linkerd.io/proxy-enable-native-sidecar":"true","config.beta.linkerd.io/proxy-enable-native-sidecar":"true","config.linkerd.io/proxy-enable-native-sidecar":"true"}' ]
}

@test "meshes [istio]: Linkerd's proxy is left alone" {
  assert_untouched linkerd-emojivoto-pod-classic --settings-json '{"meshes": ["istio"]}'
}

@test "rejected: Linkerd's refusals name the container and the opt-out annotation" {
  assert_rejected reject-linkerd-duplicate-name 'spec.initContainers already has a container named "linkerd-proxy", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar'
  assert_rejected reject-linkerd-two-proxies 'spec has 2 containers named "linkerd-proxy" (containers[0], containers[2]); keep a single proxy'
  assert_rejected reject-linkerd-restart-policy-rules 'spec.containers[0] "linkerd-proxy" sets restartPolicyRules, which a native sidecar cannot have; remove restartPolicyRules from it, or keep it classic with the pod annotation config.linkerd.io/proxy-enable-native-sidecar: "false"'
  assert_rejected reject-linkerd-only-container 'spec.containers[0] "linkerd-proxy" is the only container, and a pod needs a regular container besides its native sidecars; add the application container, or keep it classic with the pod annotation config.linkerd.io/proxy-enable-native-sidecar: "false"'
}

@test "validate mode: classic and misplaced Linkerd proxies are reported like Istio's" {
  assert_rejected linkerd-emojivoto-pod-classic 'spec: linkerd-proxy must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: linkerd-proxy (containers[0]) runs in containers, not as a native sidecar in initContainers. Expected initContainers order: linkerd-init, linkerd-proxy' --settings-json '{"mode": "validate"}'
  assert_untouched linkerd-emojivoto-pod-native --settings-json '{"mode": "validate"}'
}

# --- Kuma ---------------------------------------------------------------------------------------
# Kuma's native output depends on its control plane's startup probe timings, which the pods do not
# show: test_data/kuma/settings.yaml holds those of the configuration the shared pairs were
# rendered with.

KUMA_SETTINGS=test_data/kuma/settings.yaml

@test "Kuma Pod: Kuma's classic injection becomes Kuma's native injection, with the control plane's timings" {
  assert_converted kuma-pod-01-classic --settings-path "$KUMA_SETTINGS"
  # kwctl sorts object keys, policy-host keeps them: compare sorted.
  [ "$(patched kuma-pod-01-classic | jq -cS '.spec.initContainers[1] | {restartPolicy, lifecycle, startupProbe}')" = '{"lifecycle":{"preStop":{"exec":{"command":["killall","-USR2","kuma-dp"]}}},"restartPolicy":"Always","startupProbe":{"failureThreshold":213,"httpGet":{"path":"/ready","port":9901},"initialDelaySeconds":261,"periodSeconds":26,"successThreshold":1,"timeoutSeconds":24}}' ]
  # Every other field of the proxy is carried over, and no annotation is added.
  [ "$(patched kuma-pod-01-classic | jq -cS '.spec.initContainers[1] | del(.restartPolicy, .lifecycle, .startupProbe)')" = "$(jq -cS '.object.spec.containers[0]' "$REQUESTS/kuma-pod-01-classic.json")" ]
  [ "$(patch_ops | jq -c '[.[] | select(.path | startswith("/metadata"))]')" = '[]' ]
}

@test "Kuma Pod with an init container: it now starts after the proxy" {
  assert_converted kuma-pod-02-classic --settings-path "$KUMA_SETTINGS"
  [ "$(names kuma-pod-02-classic .spec.initContainers)" = "kuma-init,kuma-sidecar,init" ]
}

@test "Kuma without settings: the startup probe takes kuma-cp's default timings" {
  evaluate kuma-pod-01-classic
  [ "$status" -eq 0 ]
  [ "$(patched kuma-pod-01-classic | jq -cS '.spec.initContainers[1].startupProbe')" = '{"failureThreshold":12,"httpGet":{"path":"/ready","port":9901},"initialDelaySeconds":1,"periodSeconds":5,"successThreshold":1,"timeoutSeconds":3}' ]
}

@test "Kuma Deployment UPDATE, and a native proxy after the user's init container is put back in Kuma's order" {
  assert_converted kuma-deployment-classic-update --settings-path "$KUMA_SETTINGS"
  assert_converted kuma-pod-02-misplaced --settings-path "$KUMA_SETTINGS"
  [ "$(names kuma-pod-02-misplaced .spec.initContainers)" = "kuma-init,kuma-sidecar,init" ]
}

@test "Kuma: every workload kind, init-first, CNI, gateways and a custom admin port" {
  for name in deployment-init job cronjob init-first cni-validation gateway-init admin-port wait-for-dataplane-ready; do
    assert_converted "case-kuma-$name"
  done
  assert_converted case-kuma-cni-gateway
  [ "$(names case-kuma-cni-gateway .spec.initContainers)" = "kuma-sidecar" ]
  assert_converted case-kuma-statefulset
  [ "$(names case-kuma-statefulset .spec.template.spec.initContainers)" = "kuma-init,kuma-sidecar,migrate" ]
}

@test "Kuma: the timings come from the settings, a 0 is left out" {
  assert_converted case-kuma-startup-probe-zero --settings-json '{"kuma": {"startupProbe": {"initialDelaySeconds": 0, "timeoutSeconds": 2, "periodSeconds": 0, "failureThreshold": 30}}}'
  [ "$(patched case-kuma-startup-probe-zero | jq -cS '.spec.initContainers[1].startupProbe')" = '{"failureThreshold":30,"httpGet":{"path":"/ready","port":9901},"successThreshold":1,"timeoutSeconds":2}' ]
}

@test "Kuma: a user's native sidecar gets its probes routed through Kuma's probe proxy or virtual probes" {
  for name in probe-headers virtual-probes no-rewrite probe-proxy; do
    assert_converted "case-kuma-user-sidecar-$name"
  done
  # The last one evaluated: HTTP on a named port, TCP and gRPC through the probe proxy on 9001.
  [ "$(patched case-kuma-user-sidecar-probe-proxy | jq -c '.spec.initContainers[2] | [.livenessProbe.httpGet, .readinessProbe.httpGet, .startupProbe.httpGet]')" = '[{"path":"/2020/api/v1/health","port":9001},{"path":"/tcp/2020","port":9001},{"path":"/grpc/2021","port":9001}]' ]
}

@test "Kuma's native output needs no change, and gets no other mesh's annotation" {
  assert_untouched kuma-pod-01-native --settings-path "$KUMA_SETTINGS"
  assert_untouched kuma-pod-02-native
  assert_untouched kuma-pod-01-classic --settings-json '{"meshes": ["istio", "linkerd"]}'
}

@test "Kuma: a builtin gateway and a Pod asking for Kuma's injection get no annotation" {
  assert_untouched pod-kuma-builtin-gateway
  assert_untouched pod-uninjected-kuma
  assert_untouched pod-uninjected --settings-json '{"meshes": ["kuma"]}'
}

@test "rejected: Kuma's refusals name the container and the meshes setting" {
  assert_rejected reject-kuma-two-proxies 'spec has 2 containers named "kuma-sidecar" (containers[0], containers[2]); keep a single proxy'
  assert_rejected reject-kuma-only-container 'spec.containers[0] "kuma-sidecar" is the only container, and a pod needs a regular container besides its native sidecars; add the application container, or remove "kuma" from the policy'"'"'s meshes setting'
  assert_rejected reject-kuma-probe-on-probe-proxy-port 'spec.initContainers[0] "metrics-sidecar" has a readinessProbe on port 9001, which kuma.io/application-probe-proxy-port reserves for Kuma'"'"'s probes: Kuma refuses to run such a pod with native sidecars; probe another port, or give kuma.io/application-probe-proxy-port another port'
}

@test "validate mode: classic and misplaced Kuma proxies are reported like the others" {
  assert_rejected kuma-pod-02-classic 'spec: kuma-sidecar must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: kuma-sidecar (containers[0]) runs in containers, not as a native sidecar in initContainers. Expected initContainers order: kuma-init, kuma-sidecar, init' --settings-json '{"mode": "validate"}'
  assert_rejected kuma-pod-02-misplaced 'spec: kuma-sidecar must run as a native sidecar that starts after its setup containers and before every other init container. Wrong place: init (initContainers[1]) runs before kuma-sidecar has started, outside the mesh. Expected initContainers order: kuma-init, kuma-sidecar, init' --settings-json '{"mode": "validate"}'
  assert_untouched kuma-pod-02-native --settings-json '{"mode": "validate"}'
}

@test "invalid settings: Kuma's timings must be whole numbers" {
  evaluate kuma-pod-01-classic --settings-json '{"kuma": {"startupProbe": {"periodSeconds": "5s"}}}'
  [ "$status" -ne 0 ]
  [ "$(last_stderr_line)" = 'Error: Provided settings are not valid: kuma.startupProbe.periodSeconds must be a whole number from 0 to 2147483647 (0 leaves the field out, as Kuma does), found the string "5s"' ]
}

# --- Consul --------------------------------------------------------------------------------------
# consul-k8s renders its native dataplane right after its own init container, after the user's init
# containers, one pair per service; the startupProbe becomes consul-dataplane's own health check.

@test "Consul Pod: consul-k8s's classic injection becomes its native injection" {
  assert_converted consul-single-classic
  [ "$(names consul-single-classic .spec.initContainers)" = "consul-connect-inject-init,consul-dataplane" ]
  [ "$(names consul-single-classic .spec.containers)" = "web" ]
  [ "$(patched consul-single-classic | jq -cS '.spec.initContainers[1] | {restartPolicy, startupProbe}')" = '{"restartPolicy":"Always","startupProbe":{"exec":{"command":["/usr/local/bin/consul-dataplane","-check-proxy-health"]},"failureThreshold":10,"initialDelaySeconds":1,"periodSeconds":1,"timeoutSeconds":5}}' ]
  # No annotation is added or changed.
  [ "$(patch_ops | jq -c '[.[] | select(.path | startswith("/metadata"))]')" = '[]' ]
}

@test "Consul multi-port: each dataplane right after its own init container" {
  assert_converted consul-multiport-classic
  [ "$(names consul-multiport-classic .spec.initContainers)" = "consul-connect-inject-init-web,consul-dataplane-web,consul-connect-inject-init-web-admin,consul-dataplane-web-admin" ]
}

@test "Consul: every case rendered from consul-k8s's webhook rules converts exactly" {
  for file in test_data/requests/case-consul-*.json; do
    assert_converted "$(basename "$file" .json)"
  done
  # The last: user init containers stay before Consul's, a later webhook's after the dataplane.
  assert_converted case-consul-later-init
  [ "$(names case-consul-later-init .spec.initContainers)" = "consul-connect-inject-init,consul-dataplane,vault-agent-init" ]
  assert_converted case-consul-user-init
  [ "$(names case-consul-user-init .spec.initContainers | tr ',' '\n' | tail -2 | paste -sd,)" = "consul-connect-inject-init,consul-dataplane" ]
}

@test "Consul's native output, its gateways and the telemetry collector are left alone" {
  assert_untouched consul-single-native
  assert_untouched consul-multiport-native
  assert_untouched pod-consul-native-defaulted
  assert_untouched pod-consul-mesh-gateway
  assert_untouched pod-consul-telemetry-collector
  assert_untouched consul-single-native --settings-json '{"mode": "validate"}'
}

@test "Consul: an old or unreadable dataplane image stays classic with a warning, unless the settings vouch for it" {
  evaluate pod-consul-old-dataplane-1.6.8
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.allowed, has("patch")]' <<<"$output")" = '[true,false]' ]
  [ "$(jq -r '.warnings[0]' <<<"$output")" = 'spec.containers[0] "consul-dataplane" stays classic: its image "hashicorp/consul-dataplane:1.6.8" predates consul-dataplane'"'"'s -check-proxy-health, which Consul'"'"'s native startupProbe runs (1.6.x has it from 1.6.9), so the pod would never start; use a newer consul-dataplane image, or set the policy'"'"'s consul: {dataplaneSupportsNative: true} if this image has the check' ]
  evaluate pod-consul-digest
  [ "$(jq -r '.warnings[0]' <<<"$output")" = 'spec.containers[0] "consul-dataplane" stays classic: its image "hashicorp/consul-dataplane@sha256:6f1b3a9e0d4c2b7a8e5f9c1d3b6a2e4f7c8d9e0a1b2c3d4e5f6a7b8c9d0e1f2a" names no consul-dataplane version (a tag such as 1.9.0, v1.8.2 or 1.7.5-ent), and a dataplane older than 1.6.9, 1.7.5, 1.8.2 or 1.9.0 has no -check-proxy-health for Consul'"'"'s native startupProbe; use a newer consul-dataplane image, or set the policy'"'"'s consul: {dataplaneSupportsNative: true} if this image has the check' ]
  evaluate pod-consul-old-dataplane-1.6.8 --settings-json '{"consul": {"dataplaneSupportsNative": true}}'
  [ "$(patched pod-consul-old-dataplane-1.6.8 | jq -r '[.spec.initContainers[].name] | join(",")')" = "consul-connect-inject-init,consul-dataplane" ]
}

@test "Consul: a pod that opted out stays classic with the opt-out warning" {
  evaluate pod-consul-opt-out-false
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.allowed, has("patch"), .warnings]' <<<"$output")" = '[true,false,["consul.hashicorp.com/enable-consul-dataplane-as-sidecar: \"false\" leaves consul-dataplane as Consul renders it in classic mode; remove the annotation to run the proxy as a native sidecar"]]' ]
}

@test "Consul: a Pod that asks consul-k8s to inject it gets Consul's native switch" {
  evaluate pod-uninjected-consul
  [ "$status" -eq 0 ]
  [ "$(patch_ops | jq -c '[.[] | {op, path, value}]')" = '[{"op":"add","path":"/metadata/annotations/consul.hashicorp.com~1enable-consul-dataplane-as-sidecar","value":"true"}]' ]
  # Consul first in meshes, or alone: the same request.
  evaluate pod-uninjected-consul --settings-json '{"meshes": ["consul"]}'
  [ "$(patch_ops | jq -c '[.[] | .path]')" = '["/metadata/annotations/consul.hashicorp.com~1enable-consul-dataplane-as-sidecar"]' ]
}

@test "rejected: Consul's refusals name the dataplane and Consul's opt-out" {
  assert_rejected reject-consul-dataplane-only 'spec.containers[0] "consul-dataplane" is the only container, and a pod needs a regular container besides its native sidecars; add the application container, or keep it classic with the pod annotation consul.hashicorp.com/enable-consul-dataplane-as-sidecar: "false"'
  assert_rejected reject-consul-two-dataplanes 'spec.initContainers already has a container named "consul-dataplane", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar'
  assert_rejected reject-consul-restart-policy-rules 'spec.containers[0] "consul-dataplane" sets restartPolicyRules, which a native sidecar cannot have; remove restartPolicyRules from it, or keep it classic with the pod annotation consul.hashicorp.com/enable-consul-dataplane-as-sidecar: "false"'
}

@test "validate mode: a classic and a misplaced Consul dataplane are reported; Consul's own layout is accepted" {
  assert_rejected consul-single-classic 'spec: consul-dataplane must run as a native sidecar that starts after its setup containers, right after them. Wrong place: consul-dataplane (containers[0]) runs in containers, not as a native sidecar in initContainers. Expected initContainers order: consul-connect-inject-init, consul-dataplane' --settings-json '{"mode": "validate"}'
  assert_rejected case-consul-misplaced 'spec: consul-dataplane must run as a native sidecar that starts after its setup containers, right after them. Wrong place: consul-connect-inject-init (initContainers[2]) must run before consul-dataplane, which it sets up. Expected initContainers order: wait-db, consul-connect-inject-init, consul-dataplane' --settings-json '{"mode": "validate"}'
  assert_untouched consul-multiport-native --settings-json '{"mode": "validate"}'
}

@test "invalid settings: Consul's section says what it takes" {
  evaluate consul-single-classic --settings-json '{"consul": {"dataplaneSupportsNative": "yes"}}'
  [ "$status" -ne 0 ]
  [ "$(last_stderr_line)" = 'Error: Provided settings are not valid: consul.dataplaneSupportsNative must be true or false, found the string "yes"' ]
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
