//! `policy-host run`: `kwctl run` for a local module, without kwctl.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use clap::{Args, Parser, Subcommand};
use native_sidecar_host::kubernetes::{self, Cluster, Kubernetes, Nodes};
use native_sidecar_host::{AdmissionResponse, Host, Instance, read_request, read_settings};
use serde_json::Value;

#[derive(Parser)]
#[command(
    name = "policy-host",
    version,
    about = "Runs a Kubewarden waPC policy module locally, like `kwctl run`"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validates the settings, evaluates one request and prints kwctl's one-line JSON response.
    Run(RunArgs),
}

#[derive(Args)]
struct RunArgs {
    /// AdmissionRequest, or AdmissionReview whose `request` is taken; JSON or YAML.
    #[arg(short = 'r', long, value_name = "FILE")]
    request_path: PathBuf,
    /// Policy settings as a JSON object.
    #[arg(long, value_name = "JSON", conflicts_with = "settings_path")]
    settings_json: Option<String>,
    /// File holding the policy settings, JSON or YAML.
    #[arg(long, value_name = "FILE")]
    settings_path: Option<PathBuf>,
    /// Prints the response with its patch decoded, and the resulting object, as YAML.
    #[arg(long, visible_alias = "pretty")]
    show_result: bool,
    /// Grants the module access to the Kubernetes resources its metadata lists in
    /// `contextAwareResources` (an annotated module: a bare one gets none, as with kwctl).
    #[arg(long)]
    allow_context_aware: bool,
    /// Host capabilities the module may use (kwctl's flag): `*` (the default), `kubernetes/*`, or
    /// full names such as `kubernetes/list_resources_all`; may be repeated.
    #[arg(long, value_name = "PATTERN", num_args = 1.., default_value = "*")]
    allowed_host_capabilities: Vec<String>,
    /// Answers the module's Kubernetes host calls from this session, entry after entry (kwctl's
    /// format; kwctl replays the same files).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["nodes", "record_host_capabilities_interactions"])]
    replay_host_capabilities_interactions: Option<PathBuf>,
    /// Writes the module's Kubernetes host calls and their answers to this session file.
    #[arg(long, value_name = "FILE")]
    record_host_capabilities_interactions: Option<PathBuf>,
    /// This host has no cluster: it answers list_resources_all for v1/Node from this file, the
    /// output of `kubectl get nodes -o json` (or -o yaml), trimmed to the requested field masks.
    #[arg(long, value_name = "FILE")]
    nodes: Option<PathBuf>,
    /// Keeps compiled modules in this directory (wasmtime's cache), so that later runs of the same
    /// module start in milliseconds instead of compiling again.
    #[arg(long, value_name = "DIR", env = "POLICY_HOST_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// The policy module (.wasm).
    #[arg(value_name = "MODULE")]
    module: PathBuf,
}

fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Run(args) => run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // kwctl's shape ("Error: " and the message) with the causes on the same line and
            // without the backtrace anyhow appends when RUST_BACKTRACE is set.
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &RunArgs) -> Result<()> {
    let request = read_request(&args.request_path)?;
    let settings = read_settings(args.settings_json.as_deref(), args.settings_path.as_deref())?;
    let host = match &args.cache_dir {
        Some(cache_dir) => Host::load_cached(&args.module, cache_dir)?,
        None => Host::load(&args.module)?,
    };
    let kubernetes = Arc::new(context_aware(args, &host)?);
    let host = host.with_kubernetes(Arc::clone(&kubernetes));

    // Same order and wording as kwctl: settings first, evaluation only with valid settings.
    let instance = host.instantiate()?;
    let verdict = instance.validate_settings(&settings);
    print_logs(&instance);
    let verdict = verdict?;
    if !verdict.valid {
        // kwctl 1.36 prints the policy's message as it is (older releases Debug-quoted it).
        return Err(anyhow!(
            "Provided settings are not valid: {}",
            verdict.message.unwrap_or_default()
        ));
    }

    // A fresh instance for the request, as policy-server runs every request.
    let instance = host.instantiate()?;
    let response = instance.evaluate(&request, &settings);
    print_logs(&instance);
    let response = response?;
    finish_session(args, &kubernetes)?;

    let text = if args.show_result {
        readable(&request, &response)?
    } else {
        format!("{}\n", serde_json::to_string(&response)?)
    };
    emit(&text)
}

/// The Kubernetes access kwctl would give the module: the resources its metadata declares, and
/// only with --allow-context-aware.
fn context_aware(args: &RunArgs, host: &Host) -> Result<Kubernetes> {
    let declared = host.declared_resources();
    let allowed = match (args.allow_context_aware, declared) {
        (true, Some(declared)) => declared.clone(),
        (true, None) => {
            warn("the policy is not annotated, access to Kubernetes resources is not allowed");
            BTreeSet::new()
        }
        (false, Some(declared)) if !declared.is_empty() => {
            warn(
                "the policy requires access to Kubernetes resources at evaluation time, and access is denied in this run: review them (metadata contextAwareResources), then run with --allow-context-aware",
            );
            BTreeSet::new()
        }
        (false, _) => BTreeSet::new(),
    };
    let cluster = if let Some(path) = &args.replay_host_capabilities_interactions {
        let entries = kubernetes::read_session(&read_text(path)?)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        Cluster::Replay(entries.into())
    } else if let Some(path) = &args.nodes {
        let document = serde_yaml::from_str::<Value>(&read_text(path)?)
            .map_err(|e| anyhow!("{} is neither JSON nor YAML: {e}", path.display()))?;
        let nodes = Nodes::from_document(document)
            .map_err(|e| anyhow!("{} holds no nodes: {e}", path.display()))?;
        Cluster::Nodes(Arc::new(nodes))
    } else {
        Cluster::None
    };
    let record = args.record_host_capabilities_interactions.is_some();
    Ok(Kubernetes::new(allowed, cluster, record)
        .with_allowed_capabilities(args.allowed_host_capabilities.clone()))
}

/// Writes the recorded session, and says when a replayed one was not used up (kwctl warns too).
fn finish_session(args: &RunArgs, kubernetes: &Kubernetes) -> Result<()> {
    let leftovers = kubernetes.leftovers();
    if leftovers > 0 {
        warn(&format!(
            "{leftovers} recorded exchange(s) of the session have not been replayed"
        ));
    }
    if let Some(path) = &args.record_host_capabilities_interactions {
        let text = kubernetes::write_session(&kubernetes.recorded()).map_err(|e| anyhow!(e))?;
        std::fs::write(path, text)
            .with_context(|| format!("cannot write the session to {}", path.display()))?;
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn warn(message: &str) {
    // Nothing useful to do when stderr is gone.
    let _ = writeln!(std::io::stderr().lock(), "policy-host: warning: {message}");
}

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a message.
fn emit(text: &str) -> Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow!("cannot write the response: {e}"))
        }
        _ => Ok(()),
    }
}

/// kwctl shows the policy's log events on stderr, keeping stdout for the response.
fn print_logs(instance: &Instance) {
    let mut stderr = std::io::stderr().lock();
    for record in instance.take_logs() {
        // Nothing useful to do when stderr is gone.
        let _ = writeln!(stderr, "policy: {record}");
    }
}

fn readable(request: &Value, response: &AdmissionResponse) -> Result<String> {
    let mut shown = serde_json::to_value(response)?;
    if let (Some(patch), Value::Object(fields)) = (response.patch_operations()?, &mut shown) {
        fields.insert("patch".to_owned(), serde_json::to_value(patch)?);
    }
    let mut text = format!(
        "# response (patch decoded)\n{}",
        serde_yaml::to_string(&shown)?
    );
    match request.get("object").filter(|object| !object.is_null()) {
        Some(object) if response.allowed => {
            let result = response
                .apply_patch(object)
                .context("cannot apply the response's patch to the request's object")?;
            let title = if response.patch.is_some() {
                "the object after the patch"
            } else {
                "the object, unchanged"
            };
            text.push_str(&format!(
                "---\n# {title}\n{}",
                serde_yaml::to_string(&result)?
            ));
        }
        Some(_) => text.push_str("# rejected: the object is not admitted\n"),
        None => text.push_str("# the request has no object\n"),
    }
    Ok(text)
}
