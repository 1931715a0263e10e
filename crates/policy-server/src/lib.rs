//! Kubewarden's real policy-server on loopback, serving annotated modules: its integration test
//! (`tests/policy_server.rs`), the soak (`policy-server-soak`, `make soak`) and the load run of
//! `make bench` start it through [`Server`].
//!
//! The binary is Kubewarden's own (`POLICY_SERVER=path`). It runs here without the network: a
//! Sigstore trust root that does not exist, which makes it skip Sigstore instead of fetching one,
//! and either no cluster (a kubeconfig that does not exist) or the stub Kubernetes API of
//! [`KubeApi`] on loopback ([`Server::start_in`]), whose nodes context-aware policies read.

mod kube_api;

pub use kube_api::{Counts, KubeApi};

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// The environment variable that names the policy-server binary.
pub const POLICY_SERVER_ENV: &str = "POLICY_SERVER";

/// policy-server compiles every policy before it reports ready: seconds, more on a busy machine.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// Loopback answers take milliseconds; a 3,000-container pod under load takes far less than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The policy-server binary named by `POLICY_SERVER`, if that is set and not empty.
pub fn binary_from_env() -> Option<PathBuf> {
    std::env::var_os(POLICY_SERVER_ENV)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// The first line of `policy-server --version`.
pub fn version(binary: &Path) -> Result<String> {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("{} --version printed nothing", binary.display()))
}

/// The ids policy-server serves policy.yaml's policies under (see [`manifest_policies`]).
pub const REQUEST_INJECTION_ID: &str = "clusterwide-native-sidecar-request-injection";
pub const REQUEST_INJECTION_LINKERD_ID: &str =
    "clusterwide-native-sidecar-request-injection-linkerd";
pub const REQUEST_INJECTION_CONSUL_ID: &str = "clusterwide-native-sidecar-request-injection-consul";
pub const CONVERT_ID: &str = "namespaced-my-app-native-sidecar-convert";
pub const AUDIT_ID: &str = "clusterwide-native-sidecar-audit";

/// One entry of policies.yml.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    /// An annotated module: policy-server refuses one without Kubewarden metadata.
    pub module: PathBuf,
    pub settings: Value,
    /// Without it policy-server rejects every request the policy mutates.
    pub allowed_to_mutate: bool,
    /// `policyMode: monitor`: `/validate` lets every request through and only logs the verdict;
    /// `/audit` (the audit scanner's endpoint) still answers with it.
    pub monitor: bool,
    /// `contextAwareResources` of the policy's spec: what it may read from the cluster.
    pub context_aware_resources: Value,
}

impl Policy {
    /// A protect-mode policy with `{}` settings that may not mutate.
    pub fn new(id: &str, module: &Path) -> Policy {
        Policy {
            id: id.to_owned(),
            module: module.to_owned(),
            settings: json!({}),
            allowed_to_mutate: false,
            monitor: false,
            context_aware_resources: json!([]),
        }
    }

    pub fn settings(mut self, settings: Value) -> Policy {
        self.settings = settings;
        self
    }

    pub fn allowed_to_mutate(mut self) -> Policy {
        self.allowed_to_mutate = true;
        self
    }

    /// The policy as a cluster whose nodes all run native sidecars sees it: `checkNodes` off.
    /// These policy-servers have no cluster to read nodes from, and with the check on every
    /// conversion would be held back (which `without_a_cluster_nothing_native_is_made` tests).
    pub fn on_new_nodes(mut self) -> Policy {
        self.settings["checkNodes"] = json!(false);
        self
    }
}

/// The policies of a file of Kubewarden manifests (`policy.yaml`), as the Kubewarden controller
/// hands them to policy-server: the ids it gives them (`clusterwide-NAME`,
/// `namespaced-NAMESPACE-NAME`), their settings, `mode` as policyMode, `mutating` as
/// allowedToMutate and their contextAwareResources, every one served from `module`. Documents of
/// other API groups (the RBAC that lets policy-server read nodes) are not policies.
pub fn manifest_policies(manifests: &Path, module: &Path) -> Result<Vec<Policy>> {
    native_sidecar_testdata::documents(manifests)
        .iter()
        .filter(|document| {
            document["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("policies.kubewarden.io/"))
        })
        .map(|document| {
            let name = document["metadata"]["name"]
                .as_str()
                .ok_or_else(|| anyhow!("{}: a document has no name", manifests.display()))?;
            let id = match document["kind"].as_str() {
                Some("ClusterAdmissionPolicy") => format!("clusterwide-{name}"),
                Some("AdmissionPolicy") => format!(
                    "namespaced-{}-{name}",
                    document["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("default")
                ),
                other => bail!(
                    "{}: {name} is a {other:?}, not a Kubewarden policy",
                    manifests.display()
                ),
            };
            let spec = &document["spec"];
            Ok(Policy {
                id,
                module: module.to_owned(),
                settings: spec.get("settings").cloned().unwrap_or_else(|| json!({})),
                allowed_to_mutate: spec["mutating"].as_bool().unwrap_or(false),
                monitor: spec["mode"] == "monitor",
                context_aware_resources: spec
                    .get("contextAwareResources")
                    .cloned()
                    .unwrap_or_else(|| json!([])),
            })
        })
        .collect()
}

/// policies.yml for `policies`: modules as absolute `file://` URLs.
pub fn policies_yml(policies: &[Policy]) -> Result<String> {
    let mut entries = serde_json::Map::new();
    for policy in policies {
        let module = std::path::absolute(&policy.module)
            .with_context(|| format!("cannot resolve {}", policy.module.display()))?;
        if !module.is_file() {
            bail!("{} does not exist", module.display());
        }
        entries.insert(
            policy.id.clone(),
            json!({
                "module": format!("file://{}", module.display()),
                "policyMode": if policy.monitor { "monitor" } else { "protect" },
                "allowedToMutate": policy.allowed_to_mutate,
                "contextAwareResources": policy.context_aware_resources,
                // policy-server 1.36 lets a policy call only the host capabilities its entry
                // lists; a context-aware one needs the Kubernetes calls metadata.yml declares.
                "hostCapabilities": if policy.context_aware_resources.as_array().is_some_and(|r| !r.is_empty()) {
                    json!(["kubernetes/list_resources_all", "kubernetes/get_resource"])
                } else {
                    json!([])
                },
                "settings": policy.settings,
            }),
        );
    }
    Ok(serde_yaml::to_string(&Value::Object(entries))?)
}

/// A policy-server process with its own directory (policies.yml, downloads, log). Dropping it
/// kills the process, so a failing test or an error never leaves one behind.
struct Process {
    child: Child,
    port: u16,
    readiness_port: u16,
    log_path: PathBuf,
    // Declared last: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl Process {
    fn spawn(
        binary: &Path,
        policies: &[Policy],
        workers: usize,
        cluster: Option<&KubeApi>,
    ) -> Result<Process> {
        let dir = tempfile::Builder::new()
            .prefix("policy-server-")
            .tempdir()
            .context("cannot create a directory for policy-server")?;
        let policies_path = dir.path().join("policies.yml");
        std::fs::write(&policies_path, policies_yml(policies)?)?;
        let downloads = dir.path().join("downloads");
        std::fs::create_dir(&downloads)?;
        let log_path = dir.path().join("policy-server.log");
        let log = File::create(&log_path)?;
        let (port, readiness_port) = (free_port()?, free_port()?);
        // Never the cluster of whoever runs the tests: the stub's, or none.
        let kubeconfig = dir.path().join("kubeconfig");
        if let Some(api) = cluster {
            api.write_kubeconfig(&kubeconfig)?;
        }
        let child = launcher(binary)
            .args(["--addr", "127.0.0.1", "--port", &port.to_string()])
            .args(["--readiness-probe-port", &readiness_port.to_string()])
            .arg("--policies")
            .arg(&policies_path)
            .arg("--policies-download-dir")
            .arg(&downloads)
            .arg("--sigstore-cache-dir")
            .arg(dir.path().join("sigstore"))
            .arg("--sigstore-trust-config")
            .arg(dir.path().join("no-sigstore-trust-config.json"))
            .arg("--ignore-kubernetes-connection-failure")
            .args(["--workers", &workers.to_string()])
            .env("RUST_BACKTRACE", "0")
            .env("NO_COLOR", "true")
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        Ok(Process {
            child,
            port,
            readiness_port,
            log_path,
            dir,
        })
    }

    fn log(&self) -> Result<String> {
        let raw = std::fs::read(&self.log_path)
            .with_context(|| format!("cannot read {}", self.log_path.display()))?;
        Ok(strip_ansi(&String::from_utf8_lossy(&raw)))
    }

    /// The end of the log, for error messages.
    fn log_tail(&self) -> String {
        let log = self.log().unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Polls the readiness endpoint until policy-server answers it (`Ok`) or exits (`Err` with
    /// how); fails when it does neither within [`READY_TIMEOUT`].
    fn wait_ready(&mut self) -> Result<std::result::Result<(), ExitStatus>> {
        let readiness = format!("http://127.0.0.1:{}/readiness", self.readiness_port);
        let probe = agent();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Err(status));
            }
            if let Ok(response) = probe.get(&readiness).call()
                && response.status() == 200
            {
                return Ok(Ok(()));
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!(
                    "policy-server neither became ready nor exited in {READY_TIMEOUT:?}:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Already gone when it exited by itself; nothing more to do if the kill fails.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on now. Another process can take it before policy-server binds it:
/// [`Server::start`] tries again with new ports when that happens.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .build()
        .into()
}

/// A policy-server that answered its readiness probe: every policy loaded.
pub struct Server {
    process: Process,
    client: Client,
}

impl Server {
    /// Starts policy-server with `policies` and `workers` worker threads on free loopback ports
    /// and waits for its readiness endpoint.
    pub fn start(binary: &Path, policies: &[Policy], workers: usize) -> Result<Server> {
        Server::start_in(binary, policies, workers, None)
    }

    /// [`Server::start`] with the stub Kubernetes API as its cluster: context-aware policies
    /// read its nodes through policy-server's own client.
    pub fn start_in(
        binary: &Path,
        policies: &[Policy],
        workers: usize,
        cluster: Option<&KubeApi>,
    ) -> Result<Server> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Server::try_start(binary, policies, workers, cluster) {
                Err(Startup::PortTaken(_)) if attempt < 3 => continue,
                Err(Startup::PortTaken(error) | Startup::Failed(error)) => return Err(error),
                Ok(server) => return Ok(server),
            }
        }
    }

    fn try_start(
        binary: &Path,
        policies: &[Policy],
        workers: usize,
        cluster: Option<&KubeApi>,
    ) -> std::result::Result<Server, Startup> {
        let mut process =
            Process::spawn(binary, policies, workers, cluster).map_err(Startup::Failed)?;
        match process.wait_ready().map_err(Startup::Failed)? {
            Ok(()) => {
                let client = Client::new(process.port);
                Ok(Server { process, client })
            }
            Err(status) => {
                let log = process.log_tail();
                let error = anyhow!("policy-server exited ({status}) before it was ready:\n{log}");
                Err(if log.contains("Address already in use") {
                    Startup::PortTaken(error)
                } else {
                    Startup::Failed(error)
                })
            }
        }
    }

    /// Starts policy-server with policies it must refuse, and returns how it exited and its log.
    /// Fails when it becomes ready instead.
    pub fn expect_exit(binary: &Path, policies: &[Policy]) -> Result<(ExitStatus, String)> {
        let mut process = Process::spawn(binary, policies, 1, None)?;
        match process.wait_ready()? {
            Ok(()) => bail!("policy-server became ready:\n{}", process.log_tail()),
            Err(status) => Ok((status, process.log()?)),
        }
    }

    /// A client for this server; each client keeps its own connection.
    pub fn client(&self) -> Client {
        Client::new(self.process.port)
    }

    /// Sends `request` (an AdmissionRequest or AdmissionReview) to `/ENDPOINT/POLICY`.
    pub fn review(&self, endpoint: &str, policy: &str, request: &Value) -> Result<Reply> {
        self.client.review(endpoint, policy, request)
    }

    pub fn url(&self, endpoint: &str, policy: &str) -> String {
        self.client.url(endpoint, policy)
    }

    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// Resident memory of the process (VmRSS), in KiB.
    pub fn resident_kib(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| anyhow!("{path} has no VmRSS"))
    }

    /// The log so far (stdout and stderr), without colour codes.
    pub fn log(&self) -> Result<String> {
        self.process.log()
    }

    /// Where the log is, while the server runs.
    pub fn log_path(&self) -> &Path {
        &self.process.log_path
    }

    /// The server's directory (policies.yml, log), removed when the server is dropped.
    pub fn dir(&self) -> &Path {
        self.process.dir.path()
    }

    /// Stops the server and returns its whole log.
    pub fn stop(mut self) -> Result<String> {
        let _ = self.process.child.kill();
        self.process.child.wait()?;
        self.process.log()
    }
}

enum Startup {
    PortTaken(anyhow::Error),
    Failed(anyhow::Error),
}

/// Sends AdmissionReviews to one policy-server over a kept-alive connection.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    port: u16,
}

impl Client {
    fn new(port: u16) -> Client {
        Client {
            agent: agent(),
            port,
        }
    }

    pub fn url(&self, endpoint: &str, policy: &str) -> String {
        format!("http://127.0.0.1:{}/{endpoint}/{policy}", self.port)
    }

    /// POSTs `body` as JSON to `/ENDPOINT/POLICY`. Any HTTP status is a reply; only a failed
    /// exchange is an error.
    pub fn post(&self, endpoint: &str, policy: &str, body: &[u8]) -> Result<Reply> {
        let url = self.url(endpoint, policy);
        let mut response = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body)
            .with_context(|| format!("POST {url}"))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .with_context(|| format!("cannot read the reply to POST {url}"))?;
        Ok(Reply { status, body })
    }

    /// Sends `request` (an AdmissionRequest, or an AdmissionReview as it is) to `/ENDPOINT/POLICY`.
    pub fn review(&self, endpoint: &str, policy: &str, request: &Value) -> Result<Reply> {
        self.post(
            endpoint,
            policy,
            &serde_json::to_vec(&admission_review(request))?,
        )
    }
}

/// An HTTP reply: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// The AdmissionResponse of a 200 reply.
    pub fn response(&self) -> Result<Value> {
        if self.status != 200 {
            bail!("HTTP {}: {}", self.status, self.body);
        }
        let review: Value = serde_json::from_str(&self.body)
            .with_context(|| format!("the reply is not JSON: {}", self.body))?;
        match review.get("response") {
            Some(response) if response.is_object() => Ok(response.clone()),
            _ => bail!(
                "the reply is not an AdmissionReview with a response: {}",
                self.body
            ),
        }
    }
}

/// `request` as the API server sends it: an AdmissionReview (kept as it is when it is one).
pub fn admission_review(request: &Value) -> Value {
    if request.get("request").is_some() {
        return request.clone();
    }
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": request,
    })
}

/// The AdmissionRequest of `request`, which is one or an AdmissionReview holding one.
pub fn admission_request(request: &Value) -> &Value {
    request.get("request").unwrap_or(request)
}

/// The JSONPatch of an AdmissionResponse, decoded; `None` when it carries none.
pub fn patch_of(response: &Value) -> Result<Option<json_patch::Patch>> {
    let Some(encoded) = response.get("patch").filter(|patch| !patch.is_null()) else {
        return Ok(None);
    };
    if response["patchType"] != "JSONPatch" {
        bail!("a patch with patchType {}", response["patchType"]);
    }
    let encoded = encoded
        .as_str()
        .ok_or_else(|| anyhow!("the patch is not a string"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .context("the patch is not base64")?;
    Ok(Some(
        serde_json::from_slice(&bytes).context("the patch is not an RFC 6902 JSON patch")?,
    ))
}

/// The object of `request` (AdmissionRequest or AdmissionReview) with the response's patch applied.
pub fn patched_object(request: &Value, response: &Value) -> Result<Value> {
    let mut object = admission_request(request)["object"].clone();
    if let Some(patch) = patch_of(response)? {
        json_patch::patch(&mut object, &patch).context("the patch does not apply")?;
    }
    Ok(object)
}

/// Lines of a policy-server log that report a failure of the policy: ERROR events and every
/// mention of the guest (wasmtime's and waPC's words for the module), such as "Guest call
/// failure" when a module returns an error or traps.
pub fn guest_errors(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| {
            line.split_whitespace().nth(1) == Some("ERROR")
                || line.to_ascii_lowercase().contains("guest")
        })
        .map(str::to_owned)
        .collect()
}

/// `text` without ANSI escape sequences: policy-server colours its log even when told not to.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC '[' parameters, ending with a letter.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The CPUs policy-server is confined to (`taskset -c` syntax), from `POLICY_SERVER_CPUS`, when set.
pub fn pinned_cpus() -> Option<String> {
    std::env::var("POLICY_SERVER_CPUS")
        .ok()
        .filter(|cpus| !cpus.trim().is_empty())
}

/// The command that starts policy-server: under `taskset` with [`pinned_cpus`]. On a two-core
/// machine the benchmarks give policy-server one core and wrk, the stub API and the harness the
/// other, so that requests per second measure policy-server's work rather than how the scheduler
/// shared the cores with the load generator.
fn launcher(binary: &Path) -> Command {
    match pinned_cpus() {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.args(["-c", &cpus]).arg(binary);
            command
        }
        None => Command::new(binary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colour_codes() {
        assert_eq!(
            strip_ansi("\u{1b}[2m2026-11-30T06:23:22Z\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m text"),
            "2026-11-30T06:23:22Z  WARN text"
        );
    }

    #[test]
    fn guest_errors_are_error_events_and_guest_failures() {
        let log = "2026-11-30T06:23:22Z  INFO policy_server: ready\n\
                   2026-11-30T06:23:23Z  ERROR policy_server: evaluation failed\n\
                   2026-11-30T06:23:24Z  WARN x: Guest call failure: boom\n\
                   Cannot connect to Kubernetes, context aware policies will not work properly\n";
        assert_eq!(
            guest_errors(log),
            vec![
                "2026-11-30T06:23:23Z  ERROR policy_server: evaluation failed",
                "2026-11-30T06:23:24Z  WARN x: Guest call failure: boom",
            ]
        );
    }

    #[test]
    fn policy_yaml_becomes_the_policies_the_controller_would_serve() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let module = Path::new("annotated-policy.wasm");
        let policies = manifest_policies(&root.join("policy.yaml"), module).unwrap();
        let nodes = json!([{"apiVersion": "v1", "kind": "Node"}]);
        for policy in &policies {
            let expected = if policy.id.starts_with("clusterwide-") {
                &nodes
            } else {
                &json!([])
            };
            assert_eq!(&policy.context_aware_resources, expected, "{}", policy.id);
        }
        let summary: Vec<(String, Value, bool, bool)> = policies
            .into_iter()
            .map(|p| (p.id, p.settings, p.allowed_to_mutate, p.monitor))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    REQUEST_INJECTION_ID.to_owned(),
                    json!({"mode": "mutate", "requestNativeInjection": true, "meshes": ["istio"], "checkNodes": true}),
                    true,
                    false
                ),
                (
                    "clusterwide-native-sidecar-request-injection-rev".to_owned(),
                    json!({"mode": "mutate", "requestNativeInjection": true, "meshes": ["istio"], "checkNodes": true}),
                    true,
                    false
                ),
                (
                    REQUEST_INJECTION_LINKERD_ID.to_owned(),
                    json!({"mode": "mutate", "requestNativeInjection": true, "meshes": ["linkerd"], "checkNodes": true}),
                    true,
                    false
                ),
                (
                    REQUEST_INJECTION_CONSUL_ID.to_owned(),
                    json!({"mode": "mutate", "requestNativeInjection": true, "meshes": ["consul"], "checkNodes": true}),
                    true,
                    false
                ),
                (
                    CONVERT_ID.to_owned(),
                    json!({"mode": "mutate", "requestNativeInjection": false, "meshes": ["istio", "linkerd", "kuma", "consul"], "extraSidecars": [],
                           "kuma": {"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 3, "periodSeconds": 5, "failureThreshold": 12}},
                           "consul": {"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 5, "periodSeconds": 1, "failureThreshold": 10}, "dataplaneSupportsNative": false},
                           "checkNodes": false}),
                    true,
                    false
                ),
                (
                    AUDIT_ID.to_owned(),
                    json!({"mode": "validate", "checkNodes": true}),
                    false,
                    true
                ),
            ]
        );
    }

    #[test]
    fn admission_reviews_are_kept_and_requests_wrapped() {
        let request = json!({"uid": "1", "object": {"kind": "Pod"}});
        let review = admission_review(&request);
        assert_eq!(review["request"], request);
        assert_eq!(review["kind"], "AdmissionReview");
        assert_eq!(admission_review(&review), review);
    }

    #[test]
    fn patched_object_applies_the_decoded_patch() {
        let request =
            json!({"object": {"metadata": {"name": "a"}, "spec": {"containers": [1, 2]}}});
        let patch = json!([{"op": "remove", "path": "/spec/containers/0"},
                           {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}]);
        let response = json!({
            "allowed": true,
            "patchType": "JSONPatch",
            "patch": base64::engine::general_purpose::STANDARD.encode(patch.to_string()),
        });
        assert_eq!(
            patched_object(&request, &response).unwrap(),
            json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"containers": [2]}})
        );
        assert_eq!(
            patched_object(&request, &json!({"allowed": true})).unwrap(),
            request["object"]
        );
    }
}
