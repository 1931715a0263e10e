//! `native-sidecar`: the command line (arguments, files, terminal); the work is in the library.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgAction, Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use native_sidecar_cli::check::{self, Checked};
use native_sidecar_cli::convert::{self, Converted};
use native_sidecar_cli::documents::Source;
use native_sidecar_cli::report;
use native_sidecar_cli::settings::SettingsArgs;
use native_sidecar_cli::{Message, Severity, inputs, worst};
use native_sidecar_core::Mode;

/// Service-mesh proxies as Kubernetes native sidecars, with the Kubewarden policy's own rules.
///
/// Converts manifests, checks them in CI and reports what a cluster's migration would change.
#[derive(Parser)]
#[command(name = "native-sidecar", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes manifests as the policy would admit them on CREATE.
    ///
    /// Classic proxies become native sidecars, misplaced ones are moved. Other documents, and
    /// documents that do not change, are written exactly as they came. Exits 1 when the policy
    /// would refuse an object, 2 when an input cannot be read; nothing is written then.
    Convert(ConvertArgs),
    /// Checks manifests as validate mode does, for CI.
    ///
    /// One line per container out of place (`file:document: Kind/name: message`). Exits 0 when
    /// clean, 1 when anything is classic, misplaced or refused, 2 when an input cannot be read.
    Check(CheckArgs),
    /// Summarises what the policy would do to a cluster, per namespace and kind.
    ///
    /// Reads what `kubectl get pods,deployments,statefulsets,daemonsets,jobs,cronjobs -A -o json`
    /// prints. Exits 2 when the input cannot be read.
    Report(ReportArgs),
}

/// The inputs of every command, given as kubectl takes them: `-f`/`--filename` (repeatable) or
/// plain arguments, in the order given, with `-R` for directories' subdirectories.
struct Inputs {
    paths: Vec<PathBuf>,
    recursive: bool,
}

impl Inputs {
    const FILENAME: &str = "filename";
    const FILES: &str = "files";
    const RECURSIVE: &str = "recursive";

    fn stdin_only(&self) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| p == Path::new("-"))
    }

    /// The sources of the inputs, and what cannot be read.
    fn read(&self) -> (Vec<Source>, Vec<Message>) {
        inputs::read(&self.paths, self.recursive, &mut std::io::stdin().lock())
    }

    /// The sources of the inputs, all of them readable.
    fn read_all(&self) -> Result<Vec<Source>, u8> {
        let (sources, unreadable) = self.read();
        stop_if_unreadable(&unreadable)?;
        Ok(sources)
    }
}

/// By hand rather than derived: `-f` and plain arguments are two arguments to clap, and the files
/// are read in the order they were given across both.
impl clap::FromArgMatches for Inputs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut given: Vec<(usize, PathBuf)> = Vec::new();
        for id in [Self::FILENAME, Self::FILES] {
            if let (Some(indices), Some(values)) =
                (matches.indices_of(id), matches.get_many::<PathBuf>(id))
            {
                given.extend(indices.zip(values.cloned()));
            }
        }
        given.sort_by_key(|(index, _)| *index);
        Ok(Inputs {
            paths: given.into_iter().map(|(_, path)| path).collect(),
            recursive: matches.get_flag(Self::RECURSIVE),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for Inputs {
    fn augment_args(command: clap::Command) -> clap::Command {
        let extensions = inputs::EXTENSIONS.map(|e| format!(".{e}"));
        let files = format!(
            "Manifest files, directories (the {} and {} files in them, hidden ones skipped; with \
             -R in their subdirectories too) or - for standard input (the default), as many as \
             needed, read in the order given",
            extensions[..extensions.len() - 1].join(", "),
            extensions[extensions.len() - 1],
        );
        command
            .arg(
                Arg::new(Self::FILES)
                    .value_name("FILE|DIR|-")
                    .num_args(0..)
                    .action(ArgAction::Append)
                    .value_parser(clap::value_parser!(PathBuf))
                    .help(files),
            )
            .arg(
                Arg::new(Self::FILENAME)
                    .short('f')
                    .long("filename")
                    .value_name("FILE|DIR|-")
                    .action(ArgAction::Append)
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("The same as a file argument, as kubectl takes it; repeatable"),
            )
            .arg(
                Arg::new(Self::RECURSIVE)
                    .short('R')
                    .long("recursive")
                    .action(ArgAction::SetTrue)
                    .help("Read directories with their subdirectories, as kubectl -R does"),
            )
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

#[derive(Args)]
struct ConvertArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Rewrite the files that change instead of printing everything. Nothing is written unless
    /// every document converts.
    #[arg(short = 'i', long)]
    in_place: bool,
    /// Leave objects of kinds this tool does not know (with a pod template, such as an Argo
    /// Rollout) untouched with a warning, instead of failing.
    #[arg(long)]
    skip_unknown_kinds: bool,
    #[command(flatten)]
    settings: SettingsArgs,
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    inputs: Inputs,
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Leave objects of kinds this tool does not know (with a pod template, such as an Argo
    /// Rollout) unchecked with a warning, instead of failing.
    #[arg(long)]
    skip_unknown_kinds: bool,
    #[command(flatten)]
    settings: SettingsArgs,
}

#[derive(Args)]
struct ReportArgs {
    /// The objects: Lists from `kubectl get ... -A -o json` (or YAML), or manifests.
    #[command(flatten)]
    inputs: Inputs,
    /// The nodes, from `kubectl get nodes -o json` (or YAML); a directory's files are one
    /// cluster. The objects are then reviewed with node checking on, as the policy with
    /// `checkNodes: true` would on this cluster; without, every node is taken to run native
    /// sidecars.
    #[arg(long, value_name = "FILE")]
    nodes: Option<PathBuf>,
    /// The lowest kubelet version that runs native sidecars, MAJOR.MINOR (the `minKubeletVersion`
    /// setting; 1.33 by default).
    #[arg(long, value_name = "VERSION", requires = "nodes")]
    min_kubelet_version: Option<String>,
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    settings: SettingsArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `Err` stops a command early with its exit code, the reason already printed.
    let code = match cli.command {
        Command::Convert(args) => run_convert(args),
        Command::Check(args) => run_check(args),
        Command::Report(args) => run_report(args),
    };
    ExitCode::from(code.unwrap_or_else(|code| code))
}

fn fail(message: &str) -> u8 {
    eprintln!("native-sidecar: {message}");
    2
}

/// Stops with 2 when there is anything that cannot be read, after printing it.
fn stop_if_unreadable(unreadable: &[Message]) -> Result<(), u8> {
    if unreadable.is_empty() {
        return Ok(());
    }
    print_messages(unreadable);
    Err(2)
}

fn print_messages<'m>(messages: impl IntoIterator<Item = &'m Message>) {
    for message in messages {
        match message.severity {
            Severity::Warning => eprintln!("warning: {message}"),
            _ => eprintln!("error: {message}"),
        }
    }
}

fn run_convert(args: ConvertArgs) -> Result<u8, u8> {
    let settings = args.settings.resolve(Mode::Mutate).map_err(|e| fail(&e))?;
    if args.in_place && args.inputs.stdin_only() {
        return Err(fail(
            "--in-place writes files back, so it needs files or directories, not standard input",
        ));
    }
    let (sources, mut messages) = args.inputs.read();
    let options = convert::Options {
        skip_unknown_kinds: args.skip_unknown_kinds,
    };
    let results: Vec<(Source, Converted)> = sources
        .into_iter()
        .map(|source| {
            let converted = convert::convert(&source, &settings, options);
            (source, converted)
        })
        .collect();
    messages.extend(results.iter().flat_map(|(_, c)| c.messages.iter().cloned()));
    print_messages(&messages);
    let worst = worst(&messages);
    if worst > Some(Severity::Warning) {
        let failed = messages
            .iter()
            .filter(|m| m.severity > Severity::Warning)
            .count();
        eprintln!(
            "native-sidecar: nothing written: {failed} {}",
            if failed == 1 { "error" } else { "errors" }
        );
        return Err(Severity::exit_code(worst));
    }
    let documents: usize = results.iter().map(|(_, c)| c.documents).sum();
    let changed: usize = results.iter().map(|(_, c)| c.changed).sum();
    if args.in_place {
        let mut files = 0;
        for (source, converted) in &results {
            let Some(path) = &source.path else { continue };
            if converted.changed == 0 {
                continue;
            }
            write_atomically(path, &converted.text)
                .map_err(|e| fail(&format!("{}: cannot write: {e}", source.name)))?;
            files += 1;
        }
        eprintln!(
            "native-sidecar: {changed} of {documents} documents changed, {files} of {} files rewritten",
            results.len()
        );
    } else {
        let text = convert::join(results.iter().map(|(_, c)| c.text.as_str()));
        print_out(&text)?;
        eprintln!("native-sidecar: {changed} of {documents} documents changed");
    }
    Ok(0)
}

/// A temporary file beside the target, then a rename: readers never see half a file, and an
/// interrupted run leaves the original.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    if let Ok(metadata) = std::fs::metadata(path) {
        file.as_file().set_permissions(metadata.permissions())?;
    }
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn run_check(args: CheckArgs) -> Result<u8, u8> {
    let settings = args
        .settings
        .resolve(Mode::Validate)
        .map_err(|e| fail(&e))?;
    let (sources, unreadable) = args.inputs.read();
    let mut checked = Checked::default();
    checked
        .entries
        .extend(unreadable.into_iter().map(Into::into));
    for source in &sources {
        check::check(source, &settings, args.skip_unknown_kinds, &mut checked);
    }
    let worst = checked.worst();
    match args.output {
        Output::Json => {
            let text = serde_json::to_string_pretty(&checked.to_json()).unwrap_or_default();
            // A reader that went away still gets the exit code of what was found.
            if let Err(code @ 1..) = print_out(&format!("{text}\n")) {
                return Err(code);
            }
        }
        Output::Text => {
            let mut lines = String::new();
            for entry in &checked.entries {
                let m = &entry.message;
                match m.severity {
                    Severity::Finding => lines.push_str(&format!("{m}\n")),
                    Severity::Refused => lines.push_str(&format!("{}\n", labelled(m, "refused"))),
                    Severity::Warning => lines.push_str(&format!("{}\n", labelled(m, "warning"))),
                    Severity::Unreadable => eprintln!("error: {m}"),
                }
            }
            if let Err(code @ 1..) = print_out(&lines) {
                return Err(code);
            }
            let count = |s: Severity| {
                checked
                    .entries
                    .iter()
                    .filter(|e| e.message.severity == s)
                    .count()
            };
            let summary = match (count(Severity::Finding), count(Severity::Refused)) {
                (0, 0) if worst < Some(Severity::Unreadable) => "clean".to_owned(),
                (findings, refused) => format!(
                    "{findings} {}, {refused} refused",
                    if findings == 1 { "finding" } else { "findings" }
                ),
            };
            eprintln!(
                "native-sidecar: {summary} ({} documents, {} objects reviewed)",
                checked.documents, checked.reviewed
            );
        }
    }
    Ok(Severity::exit_code(worst))
}

fn labelled(message: &Message, label: &str) -> Message {
    Message {
        text: format!("{label}: {}", message.text),
        ..message.clone()
    }
}

/// Inputs this large take long enough to parse and review that a progress bar helps.
const PROGRESS_BYTES: usize = 4 << 20;

fn run_report(args: ReportArgs) -> Result<u8, u8> {
    let mut flags = serde_json::Map::new();
    if let Some(version) = &args.min_kubelet_version {
        flags.insert("minKubeletVersion".into(), version.clone().into());
    }
    let settings = args
        .settings
        .resolve_with(Mode::Mutate, flags)
        .map_err(|e| fail(&e))?;
    let sources = args.inputs.read_all()?;
    let nodes = match &args.nodes {
        Some(path) => Inputs {
            paths: vec![path.clone()],
            recursive: args.inputs.recursive,
        }
        .read_all()?
        .iter()
        .map(report::read_nodes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| {
            print_messages([&message]);
            2
        })?
        .into_iter()
        // A directory of node files is one cluster: every file's nodes count.
        .reduce(|mut all, more| {
            all.file = format!("{}, {}", all.file, more.file);
            all.list.extend(more.list);
            all
        }),
        None => None,
    };
    let bytes: usize = sources.iter().map(|s| s.text.len()).sum();
    let progress = if bytes >= PROGRESS_BYTES {
        // indicatif draws nothing when stderr is not a terminal.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} objects reviewed, {elapsed}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let built = report::build(&sources, &settings, nodes, &progress);
    stop_if_unreadable(&built.errors)?;
    let text = match args.output {
        Output::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&built.to_json()).unwrap_or_default()
        ),
        Output::Text => built.to_text(),
    };
    print_out(&text)?;
    Ok(0)
}

/// Writes to standard output. A reader that went away (`| head`) is not an error worth a
/// message (`Err(0)`: stop, the exit code is the command's); any other failure is (`Err(2)`).
fn print_out(text: &str) -> Result<(), u8> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(0),
        Err(e) => Err(fail(&format!("cannot write the output: {e}"))),
    }
}
