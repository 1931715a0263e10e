//! The native-sidecar injection core for JavaScript: the functions the Kubewarden policy runs,
//! compiled to `wasm32-unknown-unknown` with wasm-bindgen for browsers and Node.
//!
//! Values cross the boundary as JSON (`JSON.stringify` in, `JSON.parse` out), so callers pass and
//! get plain objects, and numbers and key order come back as the policy would write them. Every
//! failure is a JavaScript `Error` whose message is the one the policy gives.

pub mod patch;
pub mod report;

use serde_json::Value;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** The policy's settings; `{}`, `null` or `undefined` mean the defaults. */
export interface Settings {
  /** `mutate` (default) converts and reorders; `validate` never changes anything and rejects misplaced proxies. */
  mode?: "mutate" | "validate";
  /** Ask the mesh's injector for native mode on Pods that have no proxy yet (default true). */
  requestNativeInjection?: boolean;
  /** More sidecars to run as native sidecars, after the meshes' proxies, in this order. */
  extraSidecars?: { name: string; setupContainers?: string[] }[];
  /** The meshes whose proxies are handled (default all, `["istio", "linkerd", "kuma", "consul"]`); the
   *  first is asked for native injection when a Pod does not name its mesh (Kuma has no per-pod switch). */
  meshes?: ("istio" | "linkerd" | "kuma" | "consul")[];
  /** What a conversion that raises the pod's effective requests or limits does: `warn` (default) converts
   *  and says so, `reject` refuses the pod with that message, `ignore` converts without computing anything. */
  onResourceIncrease?: "warn" | "reject" | "ignore";
  /** Make native sidecars only where the nodes' kubelets run them (default false). The package has no cluster to ask: with `true`, nothing native is made and a warning says so. */
  checkNodes?: boolean;
  /** The lowest kubelet version, `"MAJOR.MINOR"` and at least `"1.29"`, that runs native sidecars when `checkNodes` is on (default `"1.33"`). */
  minKubeletVersion?: string;
  /** Kuma's control plane settings that a pod does not show: the timings of the startup probe it gives a
   *  native `kuma-sidecar` (`runtime.kubernetes.injector.sidecarContainer.startupProbe`; kuma-cp's
   *  defaults 1, 3, 5 and 12; a 0 leaves the field out). */
  kuma?: {
    startupProbe?: {
      initialDelaySeconds?: number;
      timeoutSeconds?: number;
      periodSeconds?: number;
      failureThreshold?: number;
    };
  };
  /** Consul's injector settings that a pod does not show: the startup probe timings consul-k8s gives a
   *  native `consul-dataplane` where the pod has no probe annotation (its `-default-sidecar-*` flags;
   *  defaults 1, 5, 1 and 10; a 0 leaves the field out), and `dataplaneSupportsNative: true` to convert
   *  dataplanes whose image tag does not show a release with `-check-proxy-health` (default false). */
  consul?: {
    startupProbe?: {
      initialDelaySeconds?: number;
      timeoutSeconds?: number;
      periodSeconds?: number;
      failureThreshold?: number;
    };
    dataplaneSupportsNative?: boolean;
  };
}

/** A mesh the policy knows (see `meshes()`). */
export interface MeshInfo {
  /** Its name in the `meshes` setting. */
  id: string;
  title: string;
  proxy: string;
  setupContainers: string[];
  trailingContainers: string[];
  /** The pod annotation that keeps the proxy classic when "false"; null for Kuma, whose control plane
   *  alone decides. */
  nativeAnnotation: string | null;
}

/** A Kubernetes object: Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob or ReplicationController. */
export type Manifest = { apiVersion: string; kind: string; [field: string]: unknown };

/** A container out of place in the manifest as it came in. */
export interface Finding {
  container: string;
  list: "containers" | "initContainers";
  /** Index in `list`. */
  position: number;
  /** `notNative`: the proxy is a regular container; `beforeProxy`: an init container starts before the proxy,
   *  outside the mesh; `setupAfterProxy`: a setup container (iptables) runs after the proxy it prepares. */
  problem: "notNative" | "beforeProxy" | "setupAfterProxy";
  /** The proxy the finding is about. */
  proxy: string;
  /** The sentence the policy uses in its rejection. */
  message: string;
}

/** One RFC 6902 operation. */
export interface PatchOperation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  from?: string;
  value?: unknown;
}

/** The containers of the pod spec in start order. */
export interface PodLayout {
  /** Where the pod spec is, e.g. `spec.template.spec`. */
  specPath: string;
  /** `sidecar`: the init container restarts Always (a native sidecar). */
  initContainers: { name: string | null; sidecar: boolean }[];
  containers: (string | null)[];
}

/** Quantities by resource name, in Kubernetes' canonical form (`"2100m"`, `"1152Mi"`). */
export type ResourceList = Record<string, string>;

/** A pod's effective requests and limits, as the scheduler, ResourceQuota and LimitRange count them
 *  (KEP-753: an init container counts with the native sidecars started before it). */
export interface PodResources {
  requests: ResourceList;
  limits: ResourceList;
}

/** A resource whose effective value the conversion raises. */
export interface ResourceRise {
  resource: string;
  bound: "request" | "limit";
  before: string;
  after: string;
  /** The policy's warning: which init container now runs beside which sidecars. */
  message: string;
}

/** The effective resources of the manifest as it came in and as the policy returns it (for `check`:
 *  as converting would make it). */
export interface ResourceChange {
  before: PodResources;
  after: PodResources;
  rises: ResourceRise[];
  /** Rises the API server refuses: the containers' aggregate passes the pod-level `spec.resources`. */
  refusals: string[];
  /** Values that are not Kubernetes quantities, left out of the sums. */
  problems: string[];
}

export interface ConvertResult {
  /** The manifest as the policy returns it (a copy; the argument is not changed). */
  manifest: Manifest;
  changed: boolean;
  /** Turns the input into `manifest` and reads as what the policy did: a `move` for each container
   *  that changes list or place (`containers/1` to `initContainers/1`), then the fields that changed
   *  (`restartPolicy`, probes, annotations). Empty when nothing changed. */
  patch: PatchOperation[];
  /** The same change as policy-server sends it to the API server: `json_patch::diff` of the input and
   *  `manifest`, index by index, so every container after a moved one is rewritten field by field. */
  admissionPatch: PatchOperation[];
  warnings: string[];
  /** What was out of place in the input, and so was fixed. */
  findings: Finding[];
  /** The init container order the sidecars need; empty when there is no sidecar to place. */
  expectedInitOrder: string[];
  before: PodLayout;
  after: PodLayout;
  resources: ResourceChange;
}

export interface CheckResult {
  /** Whether validate mode accepts the manifest. */
  valid: boolean;
  /** Validate mode's rejection message, or null. */
  message: string | null;
  warnings: string[];
  findings: Finding[];
  expectedInitOrder: string[];
  layout: PodLayout;
  /** Before: the manifest; after: what converting it would give. */
  resources: ResourceChange;
}
"#;

/// Runs the policy on `manifest` as if it were being created, with `settings`. Throws an `Error`
/// with the policy's message when the policy rejects the manifest (in validate mode: a misplaced
/// proxy), when the settings are invalid, or when the kind has no pod spec.
#[wasm_bindgen(unchecked_return_type = "ConvertResult")]
pub fn convert(
    #[wasm_bindgen(unchecked_param_type = "Manifest | string")] manifest: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Settings | null")] settings: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let manifest = manifest_from(&manifest)?;
    let settings = settings_from(settings)?;
    to_js(&report::convert(&manifest, &settings).map_err(fail)?)
}

/// Checks `manifest` the way validate mode and the audit scanner do, whatever mode `settings`
/// names; never changes it. Misplaced proxies are reported in the result; throws for invalid
/// settings, kinds without a pod spec and manifests the policy refuses in every mode.
#[wasm_bindgen(unchecked_return_type = "CheckResult")]
pub fn check(
    #[wasm_bindgen(unchecked_param_type = "Manifest | string")] manifest: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Settings | null")] settings: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let manifest = manifest_from(&manifest)?;
    let settings = settings_from(settings)?;
    to_js(&report::check(&manifest, &settings).map_err(fail)?)
}

/// Returns `settings` with every default filled in; throws with the policy's message when they
/// are invalid.
#[wasm_bindgen(js_name = normalizeSettings, unchecked_return_type = "Required<Settings>")]
pub fn normalize_settings(
    #[wasm_bindgen(unchecked_optional_param_type = "Settings | null")] settings: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let settings = settings_from(settings)?;
    to_js(&report::normalized_settings(&settings).map_err(fail)?)
}

/// The kinds whose pod spec the policy reviews.
#[wasm_bindgen(unchecked_return_type = "{ apiVersion: string; kind: string }[]")]
pub fn kinds() -> Result<JsValue, JsError> {
    to_js(&report::kinds())
}

/// The meshes the policy knows, with their containers and native switch.
#[wasm_bindgen(unchecked_return_type = "MeshInfo[]")]
pub fn meshes() -> Result<JsValue, JsError> {
    to_js(&report::meshes())
}

fn fail(message: String) -> JsError {
    JsError::new(&message)
}

/// A manifest is an object, or JSON text (YAML is left to the caller: the package stays small).
fn manifest_from(value: &JsValue) -> Result<Value, JsError> {
    if let Some(text) = value.as_string() {
        return serde_json::from_str(&text)
            .map_err(|e| fail(format!("the manifest is not valid JSON: {e}")));
    }
    from_js(value).map_err(|e| fail(format!("cannot read the manifest: {e}")))
}

/// Left out, `undefined` and `null` all mean the defaults, as `{}` does.
fn settings_from(value: Option<JsValue>) -> Result<Value, JsError> {
    match value {
        None => Ok(Value::Null),
        Some(value) => from_js(&value).map_err(|e| fail(format!("invalid policy settings: {e}"))),
    }
}

fn from_js(value: &JsValue) -> Result<Value, String> {
    if value.is_undefined() || value.is_null() {
        return Ok(Value::Null);
    }
    let text = js_sys::JSON::stringify(value)
        .map_err(|e| describe_js_error(&e))?
        .as_string()
        .ok_or_else(|| "it has no JSON form".to_owned())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

fn to_js(value: &Value) -> Result<JsValue, JsError> {
    let text = serde_json::to_string(value).map_err(|e| fail(e.to_string()))?;
    js_sys::JSON::parse(&text).map_err(|e| fail(describe_js_error(&e)))
}

/// `JSON.stringify` throws on cycles and BigInts; pass its reason on.
fn describe_js_error(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "it cannot be written as JSON".to_owned())
}
