//! Publishing against a real registry: Debian's docker-registry (CNCF Distribution) started on
//! 127.0.0.1 for the test and stopped after, even when an assertion fails.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use native_sidecar_oci::registry::{
    self, CONFIG_DATA, Connection, OCI_SOURCE_ANNOTATION, manifest_annotations, sha256_digest,
};
use native_sidecar_oci::{AnnotateRequest, Metadata, annotate, read_metadata};
use serde_json::Value;

const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// A registry process; dropping it stops it and removes its storage.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// None (after saying why) when docker-registry is not installed and CI is not set.
    fn start(read_only: bool) -> Option<Registry> {
        if !Path::new(REGISTRY_BINARY).is_file() {
            common::missing(
                "docker-registry",
                "apt-get install -y docker-registry (.ci/run installs it)",
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  maintenance:\n    uploadpurging:\n      enabled: false\n    readonly:\n      enabled: {read_only}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut registry = Registry {
            child,
            port,
            _dir: dir,
        };
        registry.wait_ready();
        Some(registry)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("docker-registry exited at start: {status}");
            }
            if http_get(self.port, "/v2/").is_some_and(|(status, _)| status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "docker-registry did not answer on 127.0.0.1:{} within 20s",
            self.port
        );
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bare HTTP/1.0 GET: the test checks what the registry stores without going through the
/// client under test.
fn http_get(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response[split + 4..].to_vec()))
}

/// The module to publish: the built policy annotated with metadata.yml, or, without a build, an
/// empty module with the same metadata (the registry does not care what the layer runs).
fn annotated_module() -> Vec<u8> {
    // Running protocol_version compiles the module in wasmtime: once for all the tests.
    static MODULE: OnceLock<Vec<u8>> = OnceLock::new();
    MODULE.get_or_init(build_annotated_module).clone()
}

fn build_annotated_module() -> Vec<u8> {
    let root = common::root();
    let (module, protocol) = match common::policy_module() {
        Some(path) => {
            let module = std::fs::read(path).unwrap();
            let protocol = native_sidecar_oci::protocol::protocol_version(&module).unwrap();
            (module, protocol)
        }
        None => (b"\0asm\x01\0\0\0".to_vec(), "v1".to_owned()),
    };
    let metadata = Metadata::from_yaml(&common::read("metadata.yml")).unwrap();
    annotate(
        &module,
        AnnotateRequest {
            metadata,
            usage: Some(std::fs::read_to_string(root.join("README.md")).unwrap()),
            protocol_version: &protocol,
            force: false,
        },
    )
    .unwrap()
    .0
}

fn plain_http() -> Connection {
    Connection {
        plain_http: true,
        ..Default::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn publish(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_policy-publish"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn push_then_pull_gives_back_the_same_artifact() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let module = annotated_module();
    let destination = format!(
        "{}/policies/native-sidecar-policy:v0.1.0",
        registry.address()
    );
    let runtime = runtime();
    let immutable = runtime
        .block_on(registry::push(&module, &destination, &plain_http()))
        .unwrap();
    let (prefix, digest) = immutable.split_once('@').unwrap();
    assert_eq!(
        prefix,
        format!("{}/policies/native-sidecar-policy", registry.address())
    );

    // What the registry stores under the tag: the manifest whose digest push printed.
    let (status, manifest_bytes) = http_get(
        registry.port,
        "/v2/policies/native-sidecar-policy/manifests/v0.1.0",
    )
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(sha256_digest(&manifest_bytes), digest);
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    // policy-fetcher builds the manifest with oci-client's OciImageManifest::build, which leaves
    // mediaType out of the body (the Content-Type header carries it); so does this push.
    assert!(manifest.get("mediaType").is_none());
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v1+json"
    );
    assert_eq!(
        manifest["config"]["digest"],
        sha256_digest(CONFIG_DATA).as_str()
    );
    assert_eq!(manifest["config"]["size"], 2);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.wasm.content.layer.v1+wasm"
    );
    assert_eq!(layers[0]["digest"], sha256_digest(&module).as_str());
    assert_eq!(layers[0]["size"], module.len());
    let metadata = read_metadata(&module).unwrap().unwrap();
    let expected = manifest_annotations(metadata.annotations.as_ref().unwrap());
    assert_eq!(
        manifest["annotations"],
        serde_json::to_value(&expected).unwrap()
    );
    assert_eq!(
        manifest["annotations"][OCI_SOURCE_ANNOTATION],
        "https://github.com/native-sidecar-policy/native-sidecar-policy"
    );
    assert!(
        manifest["annotations"]
            .get("io.kubewarden.policy.usage")
            .is_none()
    );
    let (status, config) = http_get(
        registry.port,
        &format!(
            "/v2/policies/native-sidecar-policy/blobs/{}",
            sha256_digest(CONFIG_DATA)
        ),
    )
    .unwrap();
    assert_eq!((status, config.as_slice()), (200, CONFIG_DATA));

    // Pulled by tag and by the immutable reference: same bytes, same digest.
    for source in [destination.as_str(), immutable.as_str()] {
        let pulled = runtime
            .block_on(registry::pull(source, &plain_http()))
            .unwrap();
        assert_eq!(pulled.manifest_digest, digest, "{source}");
        assert!(pulled.module == module, "{source}: pulled bytes differ");
        assert_eq!(
            read_metadata(&pulled.module).unwrap(),
            Some(metadata.clone())
        );
    }
}

#[test]
fn policy_publish_push_and_pull_commands() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let module_path: PathBuf = dir.path().join("annotated-policy.wasm");
    let module = annotated_module();
    std::fs::write(&module_path, &module).unwrap();
    let destination = format!("registry://{}/policies/cli:latest", registry.address());
    let pushed = publish(&[
        "push",
        "--plain-http",
        module_path.to_str().unwrap(),
        &destination,
    ]);
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let immutable = String::from_utf8(pushed.stdout).unwrap();
    let immutable = immutable.trim_end();
    let digest = immutable
        .strip_prefix(&format!("{}/policies/cli@", registry.address()))
        .unwrap_or_else(|| panic!("unexpected reference {immutable}"));
    assert!(digest.starts_with("sha256:") && digest.len() == 71);

    let output = dir.path().join("pulled.wasm");
    let pulled = publish(&[
        "pull",
        "--plain-http",
        "-o",
        output.to_str().unwrap(),
        immutable,
    ]);
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    assert_eq!(
        String::from_utf8(pulled.stdout).unwrap(),
        format!("{digest}\n")
    );
    assert!(std::fs::read(&output).unwrap() == module);
}

#[test]
fn push_to_an_unreachable_registry_says_so() {
    let port = free_port();
    let destination = format!("127.0.0.1:{port}/policies/x:v1");
    let error = runtime()
        .block_on(registry::push(
            &annotated_module(),
            &destination,
            &plain_http(),
        ))
        .unwrap_err()
        .to_string();
    let prefix = format!(
        "push to 127.0.0.1:{port}/policies/x:v1 failed: cannot reach the registry at http://127.0.0.1:{port} ("
    );
    assert!(error.starts_with(&prefix), "{error}");
    assert!(
        error.ends_with("); check that it runs and listens there"),
        "{error}"
    );
}

#[test]
fn push_to_a_read_only_registry_is_refused_with_the_reason() {
    let Some(registry) = Registry::start(true) else {
        return;
    };
    let destination = format!("{}/policies/x:v1", registry.address());
    let error = runtime()
        .block_on(registry::push(
            &annotated_module(),
            &destination,
            &plain_http(),
        ))
        .unwrap_err()
        .to_string();
    let address = registry.address();
    assert_eq!(
        error,
        format!(
            "push to {destination} failed: the registry at http://{address} refused it: Server error: url http://{address}/v2/policies/x/blobs/uploads/, code: 405, message: Method not allowed"
        )
    );
}

#[test]
fn push_over_https_to_a_plain_http_registry_points_at_the_flag() {
    let Some(registry) = Registry::start(false) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let module_path = dir.path().join("annotated-policy.wasm");
    std::fs::write(&module_path, annotated_module()).unwrap();
    let destination = format!("{}/policies/x:v1", registry.address());
    let pushed = publish(&["push", module_path.to_str().unwrap(), &destination]);
    assert!(!pushed.status.success());
    let stderr = String::from_utf8_lossy(&pushed.stderr);
    let prefix = format!(
        "policy-publish: push to {destination} failed: no valid answer from https://{} (",
        registry.address()
    );
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert!(
        stderr.ends_with("); a registry without TLS needs --plain-http\n"),
        "{stderr}"
    );
}

#[test]
fn pushing_an_unannotated_module_is_refused_before_any_network() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("policy.wasm");
    std::fs::write(&bare, b"\0asm\x01\0\0\0").unwrap();
    let pushed = publish(&[
        "push",
        "--plain-http",
        bare.to_str().unwrap(),
        "127.0.0.1:9/policies/x:v1",
    ]);
    assert!(!pushed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&pushed.stderr),
        "policy-publish: cannot push a policy that is not annotated; run `policy-publish annotate` (or `make annotated-policy.wasm`) first\n"
    );
}
