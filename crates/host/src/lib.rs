//! Runs a Kubewarden waPC policy module locally, the way `kwctl run` and policy-server do: the
//! same waPC stack (`wapc` + `wasmtime-provider`), the same payloads, the same response.
//!
//! A [`Host`] compiles a module once; every [`Host::evaluate`] then runs on a fresh instance, as
//! policy-server does, so no state leaks from one request to the next. [`Host::instantiate`] gives
//! an [`Instance`] that can be called many times, for measuring warm calls.
//!
//! ```no_run
//! use native_sidecar_host::Host;
//! use serde_json::json;
//!
//! let host = Host::load("policy.wasm")?;
//! let request = json!({"uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
//!                      "operation": "CREATE", "object": {"spec": {"containers": []}}});
//! let settings = json!({});
//! assert!(host.validate_settings(&settings)?.valid);
//! let response = host.evaluate(&request, &settings)?;
//! println!("{}", serde_json::to_string(&response)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod kubernetes;
mod request;
mod response;

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wapc::WapcHost;
use wasmtime_provider::wasmtime::{self, Engine, Module};
use wasmtime_provider::{WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

pub use kubernetes::{ContextAwareResource, Kubernetes};
pub use request::{read_request, read_settings};
pub use response::{AdmissionResponse, AdmissionResponseStatus, PatchType, ValidationResponse};

/// Everything that can go wrong between loading a module and reading its answer. A policy that
/// rejects a request is not an error: that is an [`AdmissionResponse`] with `allowed: false`.
#[derive(Debug)]
pub enum Error {
    /// The module file cannot be read or compiled, or misses waPC's imports and exports.
    Load(String),
    /// Instantiating the module or running its start functions (`_start`, `wapc_init`) failed.
    Instantiate(String),
    /// The guest returned an error or trapped (a Rust panic is a trap) while running `operation`.
    Guest { operation: String, message: String },
    /// The guest answered `operation` with bytes that are not the expected JSON document.
    Response { operation: String, message: String },
    /// The request, the settings or the patch cannot be read or applied.
    Input(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Load(message) => write!(f, "cannot load the policy module: {message}"),
            Error::Instantiate(message) => {
                write!(f, "cannot instantiate the policy module: {message}")
            }
            Error::Guest { operation, message } => {
                write!(
                    f,
                    "the policy failed while running `{operation}`: {message}"
                )
            }
            Error::Response { operation, message } => write!(
                f,
                "the policy returned an invalid response to `{operation}`: {message}"
            ),
            Error::Input(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// The answer to `validate_settings`, as the SDK writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsValidation {
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One message the guest logged through the SDK's `kubewarden/tracing/log` host call: the
/// payload as the SDK sent it (`level`, `message` and the event's fields).
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub level: String,
    pub message: String,
    pub fields: Value,
}

impl fmt::Display for LogRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.level.to_uppercase(), self.message)?;
        if let Value::Object(fields) = &self.fields
            && !fields.is_empty()
        {
            write!(f, " {}", self.fields)?;
        }
        Ok(())
    }
}

/// A compiled policy module. Cheap to instantiate; cloning shares the compiled code.
#[derive(Clone)]
pub struct Host {
    engine: Engine,
    module: Module,
    pre: WasmtimeEngineProviderPre,
    /// The module's `contextAwareResources`; `None` when it carries no metadata.
    declared: Option<BTreeSet<ContextAwareResource>>,
    /// Answers `kubewarden/kubernetes/*`; by default every resource is denied, as kwctl does
    /// without `--allow-context-aware`.
    kubernetes: Arc<Kubernetes>,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host").finish_non_exhaustive()
    }
}

impl Host {
    /// Reads and compiles the module at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Host> {
        Host::from_bytes(&read_module(path.as_ref())?)
    }

    /// Like [`Host::load`], keeping compiled code in wasmtime's cache under `cache_dir`: compiling
    /// takes seconds in debug builds, loading from the cache milliseconds.
    pub fn load_cached(path: impl AsRef<Path>, cache_dir: impl AsRef<Path>) -> Result<Host> {
        let cache_dir = cache_dir.as_ref();
        // wasmtime wants an absolute directory; a relative one is relative to where we run.
        let absolute = std::path::absolute(cache_dir)
            .map_err(|e| Error::Load(format!("cannot resolve {}: {e}", cache_dir.display())))?;
        let mut cache_config = wasmtime::CacheConfig::new();
        cache_config.with_directory(absolute);
        let cache = wasmtime::Cache::new(cache_config).map_err(|e| {
            Error::Load(format!(
                "cannot use {} as a compilation cache: {e}",
                cache_dir.display()
            ))
        })?;
        let mut config = engine_config();
        config.cache(Some(cache));
        Host::compile(new_engine(&config)?, &read_module(path.as_ref())?)
    }

    /// The module's `contextAwareResources` (its `io.kubewarden.metadata` section); `None` for a
    /// module that is not annotated, or one loaded from precompiled code.
    pub fn declared_resources(&self) -> Option<&BTreeSet<ContextAwareResource>> {
        self.declared.as_ref()
    }

    /// The same module, answering its Kubernetes host calls with `kubernetes`.
    pub fn with_kubernetes(&self, kubernetes: Arc<Kubernetes>) -> Host {
        Host {
            kubernetes,
            ..self.clone()
        }
    }

    /// Compiles a module (binary or WAT text) held in memory.
    pub fn from_bytes(module: &[u8]) -> Result<Host> {
        Host::compile(new_engine(&engine_config())?, module)
    }

    /// The compiled code, for [`Host::from_precompiled`]: policy-server compiles each module
    /// once and shares the result between its workers the same way.
    pub fn precompile(&self) -> Result<Vec<u8>> {
        self.module
            .serialize()
            .map_err(|e| Error::Load(error_chain(e.as_ref())))
    }

    /// A host for code made by [`Host::precompile`], without compiling again.
    ///
    /// # Safety
    ///
    /// `compiled` must come from [`Host::precompile`] of this crate's wasmtime: it is machine
    /// code that runs as is (wasmtime checks its version and settings, not its contents).
    pub unsafe fn from_precompiled(compiled: &[u8]) -> Result<Host> {
        let engine = new_engine(&engine_config())?;
        // SAFETY: the caller vouches that the bytes are wasmtime's own serialized module.
        let module = unsafe { Module::deserialize(&engine, compiled) }
            .map_err(|e| Error::Load(error_chain(e.as_ref())))?;
        Host::with_module(engine, module, None)
    }

    fn compile(engine: Engine, bytes: &[u8]) -> Result<Host> {
        let module =
            Module::new(&engine, bytes).map_err(|e| Error::Load(error_chain(e.as_ref())))?;
        let declared = kubernetes::declared_resources(bytes).map_err(Error::Load)?;
        Host::with_module(engine, module, declared)
    }

    fn with_module(
        engine: Engine,
        module: Module,
        declared: Option<BTreeSet<ContextAwareResource>>,
    ) -> Result<Host> {
        let pre = WasmtimeEngineProviderBuilder::new()
            .engine(engine.clone())
            .module(module.clone())
            .build_pre()
            .map_err(|e| Error::Load(error_chain(&e)))?;
        Ok(Host {
            engine,
            module,
            pre,
            declared,
            kubernetes: Arc::new(Kubernetes::default()),
        })
    }

    /// The wasmtime engine the module was compiled with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A fresh instance, its start functions already run. Reuse it for warm calls; a new one per
    /// request is what policy-server does.
    pub fn instantiate(&self) -> Result<Instance> {
        let engine = self
            .pre
            .rehydrate(None)
            .map_err(|e| Error::Instantiate(error_chain(&e)))?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let kubernetes = Arc::clone(&self.kubernetes);
        let callback = move |_id: u64,
                             binding: &str,
                             namespace: &str,
                             operation: &str,
                             payload: &[u8]|
              -> std::result::Result<
            Vec<u8>,
            Box<dyn std::error::Error + Send + Sync>,
        > {
            match (binding, namespace, operation) {
                ("kubewarden", "tracing", "log") => {
                    let record = log_record(payload)?;
                    sink.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(record);
                    Ok(Vec::new())
                }
                ("kubewarden", "kubernetes", operation) => Ok(kubernetes.call(operation, payload)?),
                // Sigstore, DNS, crypto, OCI: this policy needs none of them, and a module that
                // asks must learn it got nothing rather than read an empty answer.
                _ => Err(format!(
                    "host capability not available in this host: {binding}/{namespace}/{operation}"
                )
                .into()),
            }
        };
        let wapc = WapcHost::new(Box::new(engine), Some(Box::new(callback)))
            .map_err(|e| Error::Instantiate(error_chain(&e)))?;
        Ok(Instance { wapc, logs })
    }

    /// Evaluates one AdmissionRequest with `settings` on a fresh instance and builds the response
    /// kwctl prints. The settings are not checked here: call [`Host::validate_settings`] first, as
    /// kwctl and policy-server do.
    pub fn evaluate(&self, request: &Value, settings: &Value) -> Result<AdmissionResponse> {
        self.instantiate()?.evaluate(request, settings)
    }

    /// Runs the module's `validate_settings` on a fresh instance.
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsValidation> {
        self.instantiate()?.validate_settings(settings)
    }

    /// Runs the module's `protocol_version` on a fresh instance (`"v1"` for SDK policies).
    pub fn protocol_version(&self) -> Result<String> {
        self.instantiate()?.protocol_version()
    }
}

/// One live instance of a module. Calls run one after the other on the same memory: after an
/// error or a trap, drop it and instantiate a new one.
pub struct Instance {
    wapc: WapcHost,
    logs: Arc<Mutex<Vec<LogRecord>>>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance").finish_non_exhaustive()
    }
}

impl Instance {
    /// Calls a waPC operation with a raw payload and returns the guest's raw answer.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        self.wapc
            .call(operation, payload)
            .map_err(|e| Error::Guest {
                operation: operation.to_owned(),
                message: guest_message(e),
            })
    }

    /// The guest's own answer to `validate` for `{"request": request, "settings": settings}`.
    pub fn validate(&self, request: &Value, settings: &Value) -> Result<ValidationResponse> {
        let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))
            .map_err(|e| Error::Input(format!("cannot serialize the validation request: {e}")))?;
        self.call_json("validate", &payload)
    }

    /// `validate`, turned into the AdmissionResponse kwctl prints (patch computed by the host).
    pub fn evaluate(&self, request: &Value, settings: &Value) -> Result<AdmissionResponse> {
        let verdict = self.validate(request, settings)?;
        let uid = request
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let object = request.get("object").filter(|object| !object.is_null());
        AdmissionResponse::from_validation(uid, object, &verdict)
    }

    /// The module's `validate_settings`; the payload is the settings object itself.
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsValidation> {
        let payload = serde_json::to_vec(settings)
            .map_err(|e| Error::Input(format!("cannot serialize the settings: {e}")))?;
        self.call_json("validate_settings", &payload)
    }

    /// The module's `protocol_version`.
    pub fn protocol_version(&self) -> Result<String> {
        self.call_json("protocol_version", b"")
    }

    /// Takes the messages the guest logged since the last call to this method.
    pub fn take_logs(&self) -> Vec<LogRecord> {
        std::mem::take(&mut *self.logs.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn call_json<T: for<'de> Deserialize<'de>>(
        &self,
        operation: &str,
        payload: &[u8],
    ) -> Result<T> {
        let answer = self.call(operation, payload)?;
        serde_json::from_slice(&answer).map_err(|e| Error::Response {
            operation: operation.to_owned(),
            message: format!("{e}: {}", String::from_utf8_lossy(&answer)),
        })
    }
}

/// wasmtime's defaults, as Kubewarden runs modules, but without wasm backtraces: wapc keeps only
/// the top message of a failure, and with a backtrace that message is "error while executing at
/// wasm backtrace" (frames of a stripped module) instead of the trap itself ("wasm trap: wasm
/// `unreachable` instruction executed", which is how a Rust policy's panic shows).
fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::default();
    config.wasm_backtrace_max_frames(None);
    config
}

fn new_engine(config: &wasmtime::Config) -> Result<Engine> {
    Engine::new(config).map_err(|e| Error::Load(error_chain(e.as_ref())))
}

fn read_module(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Load(format!("cannot read {}: {e}", path.display())))
}

fn log_record(payload: &[u8]) -> std::result::Result<LogRecord, String> {
    let mut fields: serde_json::Map<String, Value> =
        serde_json::from_slice(payload).map_err(|e| format!("cannot read the log event: {e}"))?;
    let mut text = |key: &str| match fields.remove(key) {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let level = text("level");
    let message = text("message");
    Ok(LogRecord {
        level,
        message,
        fields: Value::Object(fields),
    })
}

/// wapc wraps guest failures as "Guest call failure: <message>"; the operation is named by
/// [`Error::Guest`] already, so only the guest's own words are kept.
fn guest_message(error: wapc::errors::Error) -> String {
    match error {
        wapc::errors::Error::GuestCallFailure(message) => message,
        other => other.to_string(),
    }
}

/// wasmtime puts the useful part of a failure (a missing import, a bad section) in the source
/// chain; one line with every cause reads better than the top message alone.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
