//! `make bench`: measures the policy module the way policy-server runs it, next to two floor
//! baselines on the same SDK (`benches/baselines`), prints a table and writes `BENCHMARKS.md`.
//!
//! Two costs per request:
//! - **fresh instance**: what policy-server pays per request: a new instance of the precompiled
//!   module (`wapc_init` included), one `validate`, the instance dropped;
//! - **warm**: `validate` alone on an instance kept between calls, as `kwctl bench` reports.
//!
//! Absolute times move with whatever else runs on the machine, so every module is measured in
//! the same rounds, interleaved, and the figures to quote are the ratios between modules.
//!
//! With `--policy-server`, the annotated modules are also served by Kubewarden's real
//! policy-server and loaded over HTTP with wrk (`served.rs`).

mod cli;
mod inputs;
mod instructions;
mod served;
mod served_nodes;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use native_sidecar_host::kubernetes::{Cluster, Nodes};
use native_sidecar_host::{ContextAwareResource, Host, Kubernetes};
use serde_json::{Value, json};

use inputs::Case;

const USAGE: &str = "usage: policy-bench --policy FILE --accept FILE --echo FILE [--move FILE] \
[--policy-cargo FILE] [--extra LABEL=FILE]... [--sizes FILE] [--out FILE] [--command TEXT] [--quick] [--instructions] \
[--policy-server FILE --served LABEL=FILE... [--wrk FILE] [--load-seconds N] [--load-rounds N] \
[--served-only] [--list-floor FILE --move-floor FILE [--get-floor FILE] [--node-counts N,N,...] [--nodes-only]]]";

/// The goals of issue 20 (issue 6 asked for 1.3x echo and 350 KB).
const ECHO_RATIO_GOAL: f64 = 1.2;
const SIZE_GOAL: u64 = 280_000;
const GOAL_CASE: &str = "hello Deployment (classic to native)";

struct Options {
    policy: PathBuf,
    policy_cargo: Option<PathBuf>,
    /// More builds of the policy to compare (other profiles), measured like the shipped one.
    extra: Vec<(String, PathBuf)>,
    accept: PathBuf,
    echo: PathBuf,
    /// The third floor: a conversion's structural change without its checks.
    moved: Option<PathBuf>,
    sizes: Option<PathBuf>,
    out: Option<PathBuf>,
    command: String,
    quick: bool,
    /// Also count instructions per request under callgrind (valgrind).
    instructions: bool,
    count_child: bool,
    count_node_child: bool,
    /// The list floor (plain module), for the instructions per node of the node read.
    list: Option<PathBuf>,
    /// Kubewarden's policy-server, to serve the annotated modules under load.
    policy_server: Option<PathBuf>,
    /// The annotated modules policy-server serves, the policy first.
    served: Vec<(String, PathBuf)>,
    wrk: PathBuf,
    load_seconds: Option<u64>,
    load_rounds: Option<usize>,
    /// The annotated list, move and get floors, for checkNodes served with nodes from the stub.
    list_floor: Option<PathBuf>,
    move_floor: Option<PathBuf>,
    get_floor: Option<PathBuf>,
    node_counts: Vec<usize>,
    /// Only checkNodes served by policy-server (`make bench-nodes`).
    nodes_only: bool,
    /// Only the modules served by policy-server (`make bench-served`).
    served_only: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let (mut policy, mut policy_cargo, mut accept, mut echo) = (None, None, None, None);
    let (mut sizes, mut out, mut command, mut quick) = (None, None, None, false);
    let (mut instructions, mut count_child, mut count_node_child) = (false, false, false);
    let mut list = None;
    let mut extra = Vec::new();
    let (mut moved, mut policy_server, mut served) = (None, None, Vec::new());
    let (mut wrk, mut load_seconds, mut load_rounds) = (PathBuf::from("wrk"), None, None);
    let (mut list_floor, mut move_floor, mut nodes_only) = (None, None, false);
    let mut served_only = false;
    let mut get_floor = None;
    let mut node_counts = served_nodes::NODE_COUNTS.to_vec();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--policy" => policy = Some(PathBuf::from(value()?)),
            "--policy-cargo" => policy_cargo = Some(PathBuf::from(value()?)),
            "--extra" => extra.push(labelled(&arg, value()?)?),
            "--accept" => accept = Some(PathBuf::from(value()?)),
            "--move" => moved = Some(PathBuf::from(value()?)),
            "--policy-server" => policy_server = Some(PathBuf::from(value()?)),
            "--served" => served.push(labelled(&arg, value()?)?),
            "--wrk" => wrk = PathBuf::from(value()?),
            "--load-seconds" => load_seconds = Some(number(&arg, value()?)?),
            "--load-rounds" => load_rounds = Some(number(&arg, value()?)?),
            "--list-floor" => list_floor = Some(PathBuf::from(value()?)),
            "--move-floor" => move_floor = Some(PathBuf::from(value()?)),
            "--get-floor" => get_floor = Some(PathBuf::from(value()?)),
            "--node-counts" => {
                node_counts = value()?
                    .split(',')
                    .map(|n| number(&arg, n.to_owned()))
                    .collect::<Result<_, _>>()?
            }
            "--nodes-only" => nodes_only = true,
            "--served-only" => served_only = true,
            "--echo" => echo = Some(PathBuf::from(value()?)),
            "--sizes" => sizes = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--command" => command = Some(value()?),
            "--quick" => quick = true,
            "--instructions" => instructions = true,
            instructions::CHILD_FLAG => count_child = true,
            instructions::NODE_CHILD_FLAG => count_node_child = true,
            "--list" => list = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let need = |v: Option<PathBuf>, name: &str| v.ok_or(format!("{name} is required\n{USAGE}"));
    Ok(Options {
        policy: need(policy, "--policy")?,
        policy_cargo,
        extra,
        accept: need(accept, "--accept")?,
        echo: need(echo, "--echo")?,
        sizes,
        out,
        command: command.unwrap_or_else(|| "make bench".to_owned()),
        quick,
        instructions,
        count_child,
        count_node_child,
        list,
        moved,
        policy_server,
        served,
        wrk,
        load_seconds,
        load_rounds,
        list_floor,
        move_floor,
        get_floor,
        node_counts,
        nodes_only,
        served_only,
    })
}

/// The value of a LABEL=FILE flag (`--extra`, `--served`).
fn labelled(flag: &str, spec: String) -> Result<(String, PathBuf), String> {
    let (label, path) = spec
        .split_once('=')
        .ok_or(format!("{flag} takes LABEL=FILE, not {spec}"))?;
    Ok((label.to_owned(), PathBuf::from(path)))
}

fn number<T: std::str::FromStr<Err: std::fmt::Display>>(
    flag: &str,
    text: String,
) -> Result<T, String> {
    text.parse().map_err(|e| format!("{flag}: {e}"))
}

/// The Kubernetes host capabilities every module is run with: the nodes of the case being
/// measured (see [`serve`]), as policy-server answers `list_resources_all` for `v1/Node`.
static KUBERNETES: LazyLock<Arc<Kubernetes>> = LazyLock::new(|| {
    Arc::new(Kubernetes::new(
        BTreeSet::from([ContextAwareResource::new("v1", "Node")]),
        Cluster::None,
        false,
    ))
});

/// The node list of each case (`None` for the cases without `checkNodes`). The host builds its
/// answer once per list, on the first call (the verdicts, before any measurement).
fn node_lists(cases: &[Case]) -> Vec<Option<Arc<Nodes>>> {
    cases
        .iter()
        .map(|case| {
            case.nodes
                .map(|count| Arc::new(Nodes::new((0..count).map(inputs::node).collect())))
        })
        .collect()
}

/// Makes the host answer with the nodes of the case about to run; outside every measurement.
fn answer_with(nodes: &Option<Arc<Nodes>>) {
    KUBERNETES.set_cluster(
        nodes
            .as_ref()
            .map_or(Cluster::None, |nodes| Cluster::Nodes(Arc::clone(nodes))),
    );
}

/// A module under test: compiled once, then loaded from its precompiled code as policy-server
/// does, so compilation is never part of a measurement.
struct Module {
    label: String,
    path: PathBuf,
    bytes: u64,
    host: Host,
}

fn load(label: &str, path: PathBuf) -> Result<Module, String> {
    let bytes = std::fs::metadata(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    let compiled = Host::load(&path)
        .and_then(|host| host.precompile())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: `compiled` was made just above by this crate's own wasmtime.
    let host = unsafe { Host::from_precompiled(&compiled) }
        .map_err(|e| format!("{}: {e}", path.display()))?
        .with_kubernetes(Arc::clone(&KUBERNETES));
    Ok(Module {
        label: label.to_owned(),
        path,
        bytes,
        host,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fresh,
    Warm,
}

/// Nanoseconds per request, one entry per sample.
#[derive(Default)]
struct Series(Vec<f64>);

impl Series {
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    fn quantile(&self, q: f64) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return f64::NAN;
        }
        let index = ((v.len() - 1) as f64 * q).round() as usize;
        v[index.min(v.len() - 1)]
    }
    fn median(&self) -> f64 {
        self.quantile(0.5)
    }
}

struct Measured {
    case: usize,
    module: usize,
    mode: Mode,
    series: Series,
}

fn payload(case: &Case) -> Result<Vec<u8>, String> {
    serde_json::to_vec(&json!({"request": case.request, "settings": case.settings}))
        .map_err(|e| format!("{}: cannot serialize the request: {e}", case.name))
}

/// What a module answered, in a few words, so the table shows the runs did the expected work.
fn verdict(module: &Module, payload: &[u8]) -> Result<String, String> {
    let instance = module.host.instantiate().map_err(|e| e.to_string())?;
    let answer = instance
        .call("validate", payload)
        .map_err(|e| format!("{}: {e}", module.label))?;
    let response: Value = serde_json::from_slice(&answer)
        .map_err(|e| format!("{}: the response is not JSON: {e}", module.label))?;
    let accepted = response["accepted"].as_bool().unwrap_or(false);
    let mutated = !response["mutated_object"].is_null();
    Ok(match (accepted, mutated) {
        (true, true) => "accepted, mutated",
        (true, false) => "accepted",
        (false, _) => "rejected",
    }
    .to_owned())
}

fn time_one(
    module: &Module,
    warm: &native_sidecar_host::Instance,
    mode: Mode,
    payload: &[u8],
) -> Result<f64, String> {
    let start = Instant::now();
    match mode {
        Mode::Fresh => {
            let instance = module.host.instantiate().map_err(|e| e.to_string())?;
            instance
                .call("validate", payload)
                .map_err(|e| format!("{}: {e}", module.label))?;
            drop(instance);
        }
        Mode::Warm => {
            warm.call("validate", payload)
                .map_err(|e| format!("{}: {e}", module.label))?;
        }
    }
    Ok(start.elapsed().as_nanos() as f64)
}

/// The modules counted under callgrind: the shipped policy and the two baselines.
fn counted_modules(options: &Options) -> Result<Vec<Module>, String> {
    Ok(vec![
        load("policy", options.policy.clone())?,
        load("accept baseline", options.accept.clone())?,
        load("echo baseline", options.echo.clone())?,
    ])
}

/// The hello Deployment with `checkNodes: true` (the case the node counts of `inputs` add).
fn node_case_payload() -> Result<Vec<u8>, String> {
    let case = inputs::cases()?
        .into_iter()
        .find(|case| case.nodes.is_some())
        .ok_or("the checkNodes cases are missing")?;
    payload(&case)
}

fn run_count_node_child(options: &Options) -> Result<(), String> {
    let list = options.list.clone().ok_or("--list names the list floor")?;
    let modules = vec![
        load("policy", options.policy.clone())?,
        load("list floor", list)?,
    ];
    instructions::node_child(&modules, &node_case_payload()?)
}

/// Instructions per node of the node read, for the policy and the list floor (which receives the
/// same answer and leaves it unread): the policy's own share is the difference. `Err` says why
/// they were not counted.
fn node_instructions(options: &Options) -> Result<(f64, f64), String> {
    let list = options.list.as_ref().ok_or("--list names the list floor")?;
    let args: Vec<String> = [
        ("--policy", &options.policy),
        ("--accept", &options.accept),
        ("--echo", &options.echo),
        ("--list", list),
    ]
    .iter()
    .flat_map(|(flag, path)| [flag.to_string(), path.display().to_string()])
    .collect();
    eprintln!("counting the node read's instructions under callgrind");
    let counts = instructions::count_with(&args, instructions::NODE_CHILD_FLAG, 4)?;
    let added = (instructions::NODE_SIZES[1] - instructions::NODE_SIZES[0]) as f64;
    // Order: size 1 (policy, floor), size 2 (policy, floor).
    let per_node = |module: usize| (counts[2 + module] as f64 - counts[module] as f64) / added;
    Ok((per_node(0), per_node(1)))
}

/// The BENCHMARKS.md lines on instructions per node, or why there are none.
fn write_node_instructions(w: &mut String, counted: &Result<(f64, f64), String>) {
    let _ = writeln!(
        w,
        "### Instructions per node (callgrind)
"
    );
    match counted {
        Ok((policy, floor)) => {
            let _ = writeln!(
                w,
                "The hello Deployment with `checkNodes: true`, a fresh instance, the host \
                 answering with {} and {} EKS-like nodes (each trimmed to the masks, metadata \
                 whole: about 1 KB): instructions (wasmtime's and the module's) per added node.\n\n\
                 | module | instructions per node |\n|---|---:|\n\
                 | policy | {policy:.0} |\n\
                 | list floor (receives the answer, reads nothing) | {floor:.0} |\n\
                 | **the policy's own share** | **{:.0}** |\n",
                instructions::NODE_SIZES[0],
                instructions::NODE_SIZES[1],
                policy - floor
            );
        }
        Err(message) => {
            let _ = writeln!(
                w,
                "Not counted in this run: {message}.
"
            );
        }
    }
}

fn run_count_child(options: &Options) -> Result<(), String> {
    let modules = counted_modules(options)?;
    let cases = inputs::cases()?;
    let payloads = cases.iter().map(payload).collect::<Result<Vec<_>, _>>()?;
    instructions::child(&modules, &payloads, &node_lists(&cases))
}

fn run(options: &Options) -> Result<(), String> {
    let mut modules = vec![load("policy", options.policy.clone())?];
    if let Some(path) = &options.policy_cargo {
        modules.push(load(
            "policy (cargo output, before wasm-opt)",
            path.clone(),
        )?);
    }
    for (label, path) in &options.extra {
        modules.push(load(label, path.clone())?);
    }
    if let Some(path) = &options.moved {
        modules.push(load("move baseline", path.clone())?);
    }
    modules.push(load("accept baseline", options.accept.clone())?);
    modules.push(load("echo baseline", options.echo.clone())?);
    let (policy, accept, echo) = (0, modules.len() - 2, modules.len() - 1);
    let moved = options.moved.as_ref().map(|_| modules.len() - 3);

    let cases = inputs::cases()?;
    let payloads = cases.iter().map(payload).collect::<Result<Vec<_>, _>>()?;
    let nodes = node_lists(&cases);
    let verdicts = modules
        .iter()
        .map(|m| {
            payloads
                .iter()
                .zip(&nodes)
                .map(|(p, n)| {
                    answer_with(n);
                    verdict(m, p)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;

    let (rounds, batch_target) = if options.quick {
        (2, Duration::from_millis(2))
    } else {
        (40, Duration::from_millis(20))
    };
    let load_before = load_average();
    let started = Instant::now();
    let warm = modules
        .iter()
        .map(|m| m.host.instantiate().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut measured = Vec::new();
    for (c, payload) in payloads.iter().enumerate() {
        for m in 0..modules.len() {
            for mode in [Mode::Fresh, Mode::Warm] {
                measured.push(Measured {
                    case: c,
                    module: m,
                    mode,
                    series: Series::default(),
                });
            }
            // Warm-up: the first calls fault in memory and grow the warm instance's heap.
            answer_with(&nodes[c]);
            for _ in 0..3 {
                time_one(&modules[m], &warm[m], Mode::Warm, payload)?;
            }
        }
    }
    // The same number of samples for every module in a batch, sized on the policy's fresh cost.
    let batches = payloads
        .iter()
        .zip(&nodes)
        .map(|(p, n)| {
            answer_with(n);
            let one = time_one(&modules[policy], &warm[policy], Mode::Fresh, p)?;
            Ok((batch_target.as_nanos() as f64 / one.max(1.0)).clamp(1.0, 2000.0) as usize)
        })
        .collect::<Result<Vec<_>, String>>()?;
    for round in 0..rounds {
        eprint!("\rround {}/{rounds}", round + 1);
        for entry in 0..measured.len() {
            // Rotate which module goes first, so none always runs on the coldest cache.
            let index = (entry + round * 2) % measured.len();
            let Measured {
                case, module, mode, ..
            } = measured[index];
            answer_with(&nodes[case]);
            for _ in 0..batches[case] {
                let ns = time_one(&modules[module], &warm[module], mode, &payloads[case])?;
                measured[index].series.0.push(ns);
            }
        }
    }
    eprintln!();
    let elapsed = started.elapsed();
    let load_after = load_average();

    let find = |case: usize, module: usize, mode: Mode| -> &Series {
        measured
            .iter()
            .find(|m| m.case == case && m.module == module && m.mode == mode)
            .map(|m| &m.series)
            .unwrap_or_else(|| unreachable!("every case, module and mode is measured"))
    };
    let ratio = |case: usize, base: usize, mode: Mode| {
        find(case, policy, mode).median() / find(case, base, mode).median()
    };

    let mut report = String::new();
    let w = &mut report;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(
        w,
        "Written by `{}` ({}). Reproduce with `{}` on a clone of the repository.\n",
        options.command,
        if options.quick {
            "quick run: too few samples to quote"
        } else {
            "full run"
        },
        options.command
    );
    let _ = writeln!(w, "## Machine\n");
    let _ = writeln!(w, "| | |\n|---|---|");
    let _ = writeln!(w, "| CPU | {} |", cpu_model());
    // The machine's cores, and those the harness may use (fewer when `make bench` pins it).
    let all = command_line("nproc", &["--all"]);
    let usable = std::thread::available_parallelism().map_or(0, |n| n.get());
    let pinned = native_sidecar_policy_server::pinned_cpus()
        .map(|cpus| format!("; policy-server on CPU {cpus}"))
        .unwrap_or_default();
    let _ = writeln!(
        w,
        "| cores | {all} (the harness, wrk and the stub API on {usable}{pinned}) |"
    );
    let _ = writeln!(w, "| rustc | {} |", command_line("rustc", &["--version"]));
    let _ = writeln!(
        w,
        "| date | {} |",
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    );
    let _ = writeln!(
        w,
        "| load average (1 min) | {load_before} before, {load_after} after the {:.0} s of measurement |",
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        w,
        "\nThe machine is shared: other builds may run during the measurement and move absolute \
         times by tens of percent. Every module is measured in the same {rounds} rounds, \
         interleaved, so the **ratios** between modules measured in one run are the figures to \
         quote; absolute times are indications only.\n"
    );
    let _ = writeln!(w, "## Modules\n");
    let _ = writeln!(w, "| module | file | bytes |\n|---|---|---:|");
    for m in &modules {
        let _ = writeln!(w, "| {} | `{}` | {} |", m.label, m.path.display(), m.bytes);
    }
    let _ = writeln!(
        w,
        "\nWhen nothing changes the policy returns no object, so on those requests it can cost \
         less than echo, which always writes the object back.\n\
         \n- **accept**: parses the request with the same SDK (`ValidationRequest<serde_json::Value>`) \
         and accepts.\n- **echo**: the same, and returns the object unchanged as `mutated_object`: \
         the floor for a mutating policy (parse the request, write the object back).\n\
         - **move**: the same, after moving `istio-proxy` from `containers` into `initContainers` \
         with `restartPolicy: Always`, with no checks: the structural change of a conversion, \
         and nothing else.\n\
         The baselines are built as the shipped module is (scripts/wasm-build.sh: its serde_json \
         features, release profile and std built for size), and go through the same `wasm-opt` step \
         when it runs.\n"
    );

    for mode in [Mode::Fresh, Mode::Warm] {
        let _ = match mode {
            Mode::Fresh => writeln!(
                w,
                "## Per request, fresh instance (as policy-server pays it)\n\n\
                 A new instance of the precompiled module (`wapc_init` included), one `validate`, \
                 the instance dropped. Times in µs: median (p10–p90).\n"
            ),
            Mode::Warm => writeln!(
                w,
                "## Warm `validate` (as `kwctl bench` reports)\n\n\
                 `validate` alone on an instance kept between calls. Times in µs: median (p10–p90).\n"
            ),
        };
        let _ = write!(w, "| request | policy answers |");
        for m in &modules {
            let _ = write!(w, " {} |", m.label);
        }
        if moved.is_some() {
            let _ = write!(w, " **policy / move** |");
        }
        let _ = writeln!(w, " **policy / accept** | **policy / echo** |");
        let _ = writeln!(
            w,
            "|---|---|{}{}---:|---:|",
            "---:|".repeat(modules.len()),
            if moved.is_some() { "---:|" } else { "" }
        );
        for (c, case) in cases.iter().enumerate() {
            let _ = write!(w, "| {} | {} |", case.name, verdicts[policy][c]);
            for m in 0..modules.len() {
                let s = find(c, m, mode);
                let _ = write!(
                    w,
                    " {} ({}–{}) |",
                    micros(s.median()),
                    micros(s.quantile(0.1)),
                    micros(s.quantile(0.9))
                );
            }
            if let Some(moved) = moved {
                let _ = write!(w, " **{:.2}x** |", ratio(c, moved, mode));
            }
            let _ = writeln!(
                w,
                " **{:.2}x** | **{:.2}x** |",
                ratio(c, accept, mode),
                ratio(c, echo, mode)
            );
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(
        w,
        "## Growth with containers\n\n\
         Fresh-instance medians of the synthetic Pods (the classic Istio Pod with its app container \
         repeated). Linear growth shows as a constant cost per added container and a constant \
         ratio to echo, whose work (parse, write back) is linear in the request.\n"
    );
    let _ = writeln!(
        w,
        "| app containers | request bytes | policy µs | echo µs | policy / echo | policy µs per added container |\n|---:|---:|---:|---:|---:|---:|"
    );
    let synthetic: Vec<(usize, usize)> = cases
        .iter()
        .enumerate()
        .filter_map(|(c, case)| case.containers.map(|n| (c, n)))
        .collect();
    let mut previous: Option<(usize, f64)> = None;
    let mut marginals = Vec::new();
    for &(c, n) in &synthetic {
        let ours = find(c, policy, Mode::Fresh).median();
        let marginal = previous.map(|(pn, pt)| (ours - pt) / (n - pn) as f64);
        if let Some(m) = marginal {
            marginals.push((n, m));
        }
        let _ = writeln!(
            w,
            "| {n} | {} | {} | {} | {:.2}x | {} |",
            payloads[c].len(),
            micros(ours),
            micros(find(c, echo, Mode::Fresh).median()),
            ratio(c, echo, Mode::Fresh),
            marginal.map_or("".to_owned(), |m| format!("{:.2}", m / 1000.0)),
        );
        previous = Some((n, ours));
    }
    let _ = writeln!(w);

    let counts = if options.instructions {
        let args: Vec<String> = [
            ("--policy", &options.policy),
            ("--accept", &options.accept),
            ("--echo", &options.echo),
        ]
        .iter()
        .flat_map(|(flag, path)| [flag.to_string(), path.display().to_string()])
        .collect();
        eprintln!("counting instructions under callgrind");
        Some(instructions::count(&args, cases.len() * 3 * 2))
    } else {
        None
    };
    // Index of (case, counted module 0..3, mode) in the child's order.
    let counted = |case: usize, module: usize, mode: Mode| -> f64 {
        let at = instructions::order(cases.len(), 3)
            .iter()
            .position(|&(c, m, md)| c == case && m == module && md == mode);
        match (&counts, at) {
            (Some(Ok(counts)), Some(at)) => counts.get(at).map_or(f64::NAN, |&n| n as f64),
            _ => f64::NAN,
        }
    };
    match &counts {
        Some(Ok(_)) => {
            let _ = writeln!(
                w,
                "## Instructions per request (callgrind)\n\n\
                 Counted by `valgrind --tool=callgrind` in the same run: machine instructions \
                 executed (wasmtime's and the module's), thousands. They do not move with the \
                 machine's load, so these ratios are the steadiest figures here. They leave out \
                 the kernel's share of a fresh instance (mapping and faulting in its memory), \
                 which is most of the gap between fresh and warm times.\n"
            );
            let _ = writeln!(
                w,
                "| request | fresh: policy | accept | echo | **policy / accept** | **policy / echo** | warm: policy | accept | echo | **policy / accept** | **policy / echo** |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
            for (c, case) in cases.iter().enumerate() {
                let _ = write!(w, "| {} |", case.name);
                for mode in [Mode::Fresh, Mode::Warm] {
                    let (p, a, e) = (
                        counted(c, 0, mode),
                        counted(c, 1, mode),
                        counted(c, 2, mode),
                    );
                    let _ = write!(
                        w,
                        " {:.0} | {:.0} | {:.0} | **{:.2}x** | **{:.2}x** |",
                        p / 1000.0,
                        a / 1000.0,
                        e / 1000.0,
                        p / a,
                        p / e
                    );
                }
                let _ = writeln!(w);
            }
            let _ = writeln!(w);
        }
        Some(Err(message)) => {
            eprintln!("instruction counts skipped: {message}");
            let _ = writeln!(
                w,
                "## Instructions per request (callgrind)\n\nNot counted in this run: {message}.\n"
            );
        }
        None => {}
    }

    eprintln!("measuring native-sidecar (crates/cli) on the generated cluster");
    match cli::measure(options.quick) {
        Ok(lines) => cli::write_section(w, &lines),
        Err(message) => {
            let _ = writeln!(
                w,
                "## Command-line tool (`native-sidecar`)\n\nNot measured: {message}.\n"
            );
        }
    }
    let served = serve(options, &cases);
    if let Err(reason) = &served {
        eprintln!("policy-server run skipped: {reason}");
    }
    served::write_section(w, &served);
    served_nodes::write_section(w, &serve_nodes(options, &cases));
    let base = cases
        .iter()
        .position(|c| c.name == inputs::NODE_BASE_CASE)
        .ok_or("the case without checkNodes is missing")?;
    let _ = writeln!(
        w,
        "## checkNodes: reading the nodes\n\n\
         The hello Deployment with `checkNodes: true`: the host answers `list_resources_all` for \
         `v1/Node` with N nodes, each trimmed to the policy's field masks but with its whole \
         `metadata`, as policy-server sends them (`crates/bench/src/inputs.rs`: an EKS-like node, \
         13 labels, 3 annotations; every kubelet new enough, so the policy converts). Beside it \
         the same request without the check, and echo. Fresh instance, medians; instructions \
         when counted.\n"
    );
    let _ = writeln!(
        w,
        "| nodes | answer bytes | policy µs | / without check | / echo | instructions / without check | instructions / echo |\n|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (c, case) in cases.iter().enumerate() {
        let Some(count) = case.nodes else { continue };
        let answer = nodes[c]
            .as_ref()
            .and_then(|n| n.answer_len())
            .map_or("?".to_owned(), |n| n.to_string());
        let ours = find(c, policy, Mode::Fresh).median();
        let _ = writeln!(
            w,
            "| {count} | {answer} | {} | {:.2}x | {:.2}x | {} | {} |",
            micros(ours),
            ours / find(base, policy, Mode::Fresh).median(),
            ratio(c, echo, Mode::Fresh),
            times(counted(c, 0, Mode::Fresh) / counted(base, 0, Mode::Fresh)),
            times(counted(c, 0, Mode::Fresh) / counted(c, 2, Mode::Fresh)),
        );
    }
    let _ = writeln!(
        w,
        "\nWithout the check: {} µs, {:.2}x echo. The node list is read once per request, and \
         only when something native is pending.\n",
        micros(find(base, policy, Mode::Fresh).median()),
        ratio(base, echo, Mode::Fresh)
    );
    if options.instructions {
        write_node_instructions(w, &node_instructions(options));
    }

    let sizes = match &options.sizes {
        Some(path) => read_sizes(path)?,
        None => Vec::new(),
    };
    if !sizes.is_empty() {
        let _ = writeln!(
            w,
            "## Module size\n\n| build | bytes | KB |\n|---|---:|---:|"
        );
        for (label, bytes) in &sizes {
            let _ = writeln!(w, "| {label} | {bytes} | {:.1} |", *bytes as f64 / 1000.0);
        }
        let _ = writeln!(w);
    }

    let hello = cases
        .iter()
        .position(|c| c.name == GOAL_CASE)
        .ok_or("the hello Deployment case is missing")?;
    let echo_ratio = ratio(hello, echo, Mode::Fresh);
    let shipped = modules[policy].bytes;
    let last_ratio = synthetic
        .last()
        .map_or(f64::NAN, |&(c, _)| ratio(c, echo, Mode::Fresh));
    let (first_marginal, last_marginal) = (
        marginals.first().map_or(f64::NAN, |m| m.1),
        marginals.last().map_or(f64::NAN, |m| m.1),
    );
    // Linear: a container costs about the same at 1,000 as at 10. Quadratic work would make the
    // last step ~100x the first; 2x (plus 1 µs for timer noise on small pods) leaves room for
    // cache effects on a 140 KB request without hiding anything worse than linear.
    let linear = last_marginal <= 2.0 * first_marginal.max(0.0) + 1000.0;
    let _ = writeln!(
        w,
        "## Goals\n\n| goal | measured | reached |\n|---|---|---|"
    );
    // Instructions count too when they were counted: they do not move with the machine's load.
    let echo_instructions = counted(hello, 0, Mode::Fresh) / counted(hello, 2, Mode::Fresh);
    let _ = writeln!(
        w,
        "| per request at most {ECHO_RATIO_GOAL}x echo on the hello Deployment (fresh instance), in time and instructions | {echo_ratio:.3}x in time, {} in instructions (warm: {:.2}x, {}) | {} |",
        times(echo_instructions),
        ratio(hello, echo, Mode::Warm),
        times(counted(hello, 0, Mode::Warm) / counted(hello, 2, Mode::Warm)),
        yes_no(
            echo_ratio <= ECHO_RATIO_GOAL
                && (echo_instructions.is_nan() || echo_instructions <= ECHO_RATIO_GOAL)
        )
    );
    let _ = writeln!(
        w,
        "| shipped module at most {SIZE_GOAL} bytes | {shipped} bytes | {} |",
        yes_no(shipped <= SIZE_GOAL)
    );
    let _ = writeln!(
        w,
        "| linear growth with containers | {:.2} µs per container from 1 to 10, {:.2} µs from 100 to 1,000; {last_ratio:.2}x echo at 1,000 | {} |",
        first_marginal / 1000.0,
        last_marginal / 1000.0,
        yes_no(linear)
    );

    print!("{report}");
    if let Some(out) = &options.out {
        std::fs::write(out, &report).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// checkNodes served by policy-server with nodes from the stub Kubernetes API, or why not.
fn serve_nodes(options: &Options, cases: &[Case]) -> Result<served_nodes::NodeReport, String> {
    // Ten modules and requests per cluster size: shorter runs than the section above, as many
    // rounds (the goals take the median of the rounds' ratios).
    let mut load = load_options(options)?;
    load.seconds = options
        .load_seconds
        .unwrap_or(if options.quick { 1 } else { 3 });
    if options.nodes_only && options.policy_server.is_none() {
        return Err("no policy-server (POLICY_SERVER)".to_owned());
    }
    let (Some(list_floor), Some(move_floor)) = (&options.list_floor, &options.move_floor) else {
        return Err("--list-floor and --move-floor name the annotated floors".to_owned());
    };
    let policy = options
        .served
        .first()
        .map(|(_, path)| path.clone())
        .ok_or("--policy-server needs the annotated modules (--served LABEL=FILE)")?;
    let hello = cases
        .iter()
        .find(|c| c.name == GOAL_CASE)
        .ok_or("the hello Deployment case is missing")?;
    let pod = inputs::load("istio-pod-classic.json")?;
    let modules = served_nodes::NodeModules {
        policy,
        list_floor: list_floor.clone(),
        move_floor: move_floor.clone(),
        get_floor: options.get_floor.clone(),
    };
    let result = served_nodes::measure(&load, &modules, &options.node_counts, &hello.request, &pod);
    if let Err(reason) = &result {
        eprintln!("checkNodes served run skipped: {reason}");
    }
    result
}

/// How wrk loads policy-server: `--load-seconds` and `--load-rounds`, shorter with `--quick`.
fn load_options(options: &Options) -> Result<served::LoadOptions, String> {
    let Some(policy_server) = &options.policy_server else {
        return Err(
            "set POLICY_SERVER to Kubewarden's policy-server binary (and install wrk)".to_owned(),
        );
    };
    Ok(served::LoadOptions {
        policy_server: policy_server.clone(),
        wrk: options.wrk.clone(),
        seconds: options
            .load_seconds
            .unwrap_or(if options.quick { 2 } else { 6 }),
        rounds: options
            .load_rounds
            .unwrap_or(if options.quick { 1 } else { 5 }),
        connections: 4,
        threads: 2,
        workers: 2,
    })
}

/// `--nodes-only`: the checkNodes section alone, printed and written to `--out`.
fn run_nodes_only(options: &Options) -> Result<(), String> {
    let cases = inputs::cases()?;
    let mut section = String::new();
    if options.instructions {
        write_node_instructions(&mut section, &node_instructions(options));
    }
    let report = serve_nodes(options, &cases);
    served_nodes::write_section(&mut section, &report);
    print!("{section}");
    if let Some(out) = &options.out {
        std::fs::write(out, &section)
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    match report {
        Err(_) if options.policy_server.is_none() => Ok(()),
        report => report.map(drop),
    }
}

/// The section served by policy-server alone, printed (and written to `--out`).
fn run_served_only(options: &Options) -> Result<(), String> {
    let report = serve(options, &inputs::cases()?);
    let mut section = String::new();
    served::write_section(&mut section, &report);
    print!("{section}");
    if let Some(out) = &options.out {
        std::fs::write(out, &section)
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    report.map(drop)
}

/// The annotated modules served by policy-server under load, or why they were not.
fn serve(options: &Options, cases: &[Case]) -> Result<served::Report, String> {
    let load = load_options(options)?;
    if options.served.is_empty() {
        return Err("--policy-server needs the annotated modules (--served LABEL=FILE)".to_owned());
    }
    let hello = cases
        .iter()
        .find(|c| c.name == GOAL_CASE)
        .ok_or("the hello Deployment case is missing")?;
    served::measure(&load, &options.served, hello.name.as_str(), &hello.request)
}

/// A ratio, or "not counted" when callgrind did not run.
fn times(ratio: f64) -> String {
    if ratio.is_finite() {
        format!("{ratio:.2}x")
    } else {
        "not counted".to_owned()
    }
}

fn yes_no(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

fn micros(ns: f64) -> String {
    let us = ns / 1000.0;
    if us >= 100.0 {
        format!("{us:.0}")
    } else {
        format!("{us:.1}")
    }
}

/// `label<TAB>bytes` lines, written by scripts/module-sizes.sh.
fn read_sizes(path: &PathBuf) -> Result<Vec<(String, u64)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (label, bytes) = line
                .rsplit_once('\t')
                .ok_or(format!("{}: not `label<TAB>bytes`: {line}", path.display()))?;
            let bytes = bytes
                .trim()
                .parse()
                .map_err(|e| format!("{}: {line}: {e}", path.display()))?;
            Ok((label.to_owned(), bytes))
        })
        .collect()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn main() -> ExitCode {
    let outcome = parse_args().and_then(|options| {
        if options.count_child {
            run_count_child(&options)
        } else if options.count_node_child {
            run_count_node_child(&options)
        } else if options.nodes_only {
            run_nodes_only(&options)
        } else if options.served_only {
            run_served_only(&options)
        } else {
            run(&options)
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("policy-bench: {message}");
            ExitCode::FAILURE
        }
    }
}
