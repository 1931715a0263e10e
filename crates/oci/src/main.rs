//! `policy-publish`: kwctl's annotate, push, pull and scaffold artifacthub for machines without
//! kwctl, writing what kwctl writes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use native_sidecar_oci::registry::{self, Auth, Connection};
use native_sidecar_oci::{annotate_files, read_metadata, scaffold_artifacthub};

#[derive(Parser)]
#[command(name = "policy-publish", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed the metadata (and the usage text) in the module, as `kwctl annotate`.
    Annotate {
        #[arg(short = 'm', long = "metadata-path")]
        metadata: PathBuf,
        /// Markdown shown as the policy's usage (io.kubewarden.policy.usage), usually README.md.
        #[arg(short = 'u', long = "usage-path")]
        usage: Option<PathBuf>,
        #[arg(short = 'o', long = "output-path")]
        output: PathBuf,
        /// Replace the metadata of a module that is already annotated.
        #[arg(long)]
        force: bool,
        module: PathBuf,
    },
    /// Print the metadata embedded in an annotated module, as JSON.
    Inspect { module: PathBuf },
    /// Push an annotated module, as `kwctl push`; prints the immutable reference.
    Push {
        #[command(flatten)]
        connection: ConnectionArgs,
        module: PathBuf,
        /// REGISTRY/REPOSITORY:TAG, with or without registry://
        destination: String,
    },
    /// Fetch a pushed module; prints the manifest digest.
    Pull {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[arg(short = 'o', long = "output-path")]
        output: PathBuf,
        source: String,
    },
    /// Write artifacthub-pkg.yml from the metadata, as `kwctl scaffold artifacthub`.
    ScaffoldArtifacthub {
        #[arg(short = 'm', long = "metadata-path")]
        metadata: PathBuf,
        /// Policy version without the v; defaults to io.kubewarden.policy.version.
        #[arg(long)]
        version: Option<String>,
        #[arg(short = 'q', long = "questions-path")]
        questions: Option<PathBuf>,
        /// Write here instead of standard output; an existing file's createdAt is kept.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
}

#[derive(Args)]
struct ConnectionArgs {
    /// Talk plain HTTP (a local registry such as 127.0.0.1:5000 without TLS).
    #[arg(long)]
    plain_http: bool,
    /// Registry user; the password is read from POLICY_PUBLISH_PASSWORD. Anonymous without it.
    #[arg(long)]
    username: Option<String>,
}

impl ConnectionArgs {
    fn connection(&self) -> Result<Connection> {
        let auth = match &self.username {
            None => Auth::Anonymous,
            Some(username) => Auth::Basic {
                username: username.clone(),
                password: std::env::var("POLICY_PUBLISH_PASSWORD")
                    .context("--username needs the password in POLICY_PUBLISH_PASSWORD")?,
            },
        };
        Ok(Connection {
            plain_http: self.plain_http,
            auth,
        })
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Annotate {
            metadata,
            usage,
            output,
            force,
            module,
        } => {
            let (annotated, _) = annotate_files(&module, &metadata, usage.as_deref(), force)?;
            std::fs::write(&output, annotated)
                .with_context(|| format!("cannot write {}", output.display()))?;
        }
        Command::Inspect { module } => {
            let bytes = std::fs::read(&module)
                .with_context(|| format!("cannot read {}", module.display()))?;
            let metadata = read_metadata(&bytes)?
                .with_context(|| format!("{} carries no Kubewarden metadata", module.display()))?;
            println!("{}", serde_json::to_string_pretty(&metadata)?);
        }
        Command::Push {
            connection,
            module,
            destination,
        } => {
            let bytes = std::fs::read(&module)
                .with_context(|| format!("cannot read {}", module.display()))?;
            let immutable = runtime()?.block_on(registry::push(
                &bytes,
                &destination,
                &connection.connection()?,
            ))?;
            println!("{immutable}");
        }
        Command::Pull {
            connection,
            output,
            source,
        } => {
            let pulled = runtime()?.block_on(registry::pull(&source, &connection.connection()?))?;
            std::fs::write(&output, &pulled.module)
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!("{}", pulled.manifest_digest);
        }
        Command::ScaffoldArtifacthub {
            metadata,
            version,
            questions,
            output,
        } => {
            let existing = output
                .as_ref()
                .and_then(|path| std::fs::read_to_string(path).ok());
            let text = scaffold_artifacthub(
                &metadata,
                version.as_deref(),
                questions.as_deref(),
                existing.as_deref(),
            )?;
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("policy-publish: {error:#}");
            ExitCode::FAILURE
        }
    }
}
