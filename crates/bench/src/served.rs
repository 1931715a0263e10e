//! The modules served by Kubewarden's real policy-server, under a bounded load from `wrk` on
//! loopback: a fixed number of connections for a fixed time, the same request for every module.
//! What policy-server adds (HTTP, decoding the AdmissionReview, a fresh instance, turning the
//! returned object into a JSONPatch, the request log) is part of every module's figures, so the
//! floor baselines carry it too; `move` makes the same structural change as a conversion, so its
//! JSONPatch is as big as the policy's.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use native_sidecar_policy_server::{Policy, Server, admission_review, patch_of, version};
use serde_json::Value;

/// POSTs the AdmissionReview in $WRK_BODY with every request; prints wrk's figures as JSON.
pub(crate) const WRK_SCRIPT: &str = r#"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.body = file:read("*a")
file:close()

-- With WRK_NODES=N, each request names one of the N EKS-like nodes (at random) where the body
-- says __NODE__: DaemonSet-style pods, each pinned to its own node.
local nodes = tonumber(os.getenv("WRK_NODES") or "0")
if nodes > 0 then
  request = function()
    local at = math.random(0, nodes - 1)
    local name = string.format("ip-10-0-%d-%d.eu-west-1.compute.internal", math.floor(at / 250), at % 250)
    return wrk.format(nil, nil, nil, (string.gsub(wrk.body, "__NODE__", name, 1)))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "errors": %d, "non_2xx": %d, ' ..
    '"p50_us": %.0f, "p99_us": %.0f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"#;

pub struct LoadOptions {
    pub policy_server: PathBuf,
    pub wrk: PathBuf,
    pub seconds: u64,
    pub rounds: usize,
    pub connections: usize,
    pub threads: usize,
    pub workers: usize,
}

/// One wrk run.
pub(crate) struct Run {
    pub(crate) requests_per_second: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

/// A module's figures: medians over the rounds.
pub struct Served {
    pub label: String,
    pub module: PathBuf,
    pub answer: String,
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Requests per second in each round, in round order.
    pub rounds: Vec<f64>,
}

pub struct Report {
    pub server_version: String,
    pub wrk_version: String,
    pub request_name: String,
    pub workers: usize,
    /// How wrk loads each module.
    pub load_line: String,
    pub served: Vec<Served>,
}

/// The throughput ratio of `a` to `b` measured in the same rounds: the median of each round's
/// ratio. Rounds interleave the modules, so the two runs of a round are next to each other in
/// time: a machine that slows down between rounds (the load of a shared machine drifts) moves both,
/// where the ratio of the two medians takes each median from whichever rounds fell in the middle.
pub(crate) fn paired_ratio(a: &[f64], b: &[f64]) -> f64 {
    median(a.iter().zip(b).map(|(a, b)| a / b).collect())
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// policy-server's answer to one request, in a few words, so the table shows the work done.
pub(crate) fn answer(server: &Server, id: &str, review: &Value) -> Result<String, String> {
    let response = server
        .review("validate", id, review)
        .and_then(|reply| reply.response())
        .map_err(|e| format!("{id}: {e:#}"))?;
    let patched = patch_of(&response)
        .map_err(|e| format!("{id}: {e:#}"))?
        .is_some();
    Ok(match (response["allowed"] == true, patched) {
        (true, true) => "allowed, patched",
        (true, false) => "allowed",
        (false, _) => "rejected",
    }
    .to_owned())
}

fn wrk(
    options: &LoadOptions,
    script: &Path,
    body: &Path,
    url: &str,
    seconds: u64,
) -> Result<(u64, Run), String> {
    wrk_naming(options, script, body, url, seconds, 0)
}

/// [`wrk`], each request naming one of `nodes` nodes where the body says `__NODE__` (none: 0).
pub(crate) fn wrk_naming(
    options: &LoadOptions,
    script: &Path,
    body: &Path,
    url: &str,
    seconds: u64,
    nodes: usize,
) -> Result<(u64, Run), String> {
    let output = Command::new(&options.wrk)
        .env("WRK_NODES", nodes.to_string())
        .arg(format!("-t{}", options.threads))
        .arg(format!("-c{}", options.connections))
        .arg(format!("-d{seconds}s"))
        .args(["--timeout", "10s", "-s"])
        .arg(script)
        .arg(url)
        .env("WRK_BODY", body)
        .output()
        .map_err(|e| {
            format!(
                "cannot run {} ({e}): install wrk (Debian: apt-get install wrk)",
                options.wrk.display()
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("WRK_RESULT "))
        .ok_or_else(|| {
            format!(
                "wrk printed no result for {url}:\n{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let result: Value =
        serde_json::from_str(line).map_err(|e| format!("wrk's result is not JSON: {e}: {line}"))?;
    let number = |key: &str| result[key].as_f64().unwrap_or(f64::NAN);
    if number("errors") != 0.0 || number("non_2xx") != 0.0 {
        return Err(format!(
            "{url}: {} socket errors and {} answers other than 2xx under load",
            number("errors"),
            number("non_2xx")
        ));
    }
    let requests = number("requests");
    Ok((
        requests as u64,
        Run {
            requests_per_second: requests / (number("duration_us") / 1e6),
            p50_ms: number("p50_us") / 1000.0,
            p99_ms: number("p99_us") / 1000.0,
        },
    ))
}

/// Serves `modules` (label, annotated module) from one policy-server and loads each in turn with
/// `request`, `rounds` times, rotating which goes first.
pub fn measure(
    options: &LoadOptions,
    modules: &[(String, PathBuf)],
    request_name: &str,
    request: &Value,
) -> Result<Report, String> {
    let ids: Vec<String> = (0..modules.len()).map(|i| format!("module-{i}")).collect();
    let policies: Vec<Policy> = modules
        .iter()
        .zip(&ids)
        .map(|((_, module), id)| Policy::new(id, module).allowed_to_mutate())
        .collect();
    let server = Server::start(&options.policy_server, &policies, options.workers)
        .map_err(|e| format!("{e:#}"))?;
    let review = admission_review(request);
    let answers = ids
        .iter()
        .map(|id| answer(&server, id, &review))
        .collect::<Result<Vec<_>, _>>()?;

    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let script = scratch.path().join("post.lua");
    let body = scratch.path().join("review.json");
    std::fs::write(&script, WRK_SCRIPT).map_err(|e| e.to_string())?;
    std::fs::write(
        &body,
        serde_json::to_vec(&review).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;

    // Warm-up: every worker thread has compiled code and a grown heap before measuring.
    for id in &ids {
        eprintln!("policy-server: warming up {id}");
        wrk(options, &script, &body, &server.url("validate", id), 2)?;
    }
    let mut runs: Vec<Vec<Run>> = modules.iter().map(|_| Vec::new()).collect();
    let mut requests = vec![0u64; modules.len()];
    for round in 0..options.rounds {
        for turn in 0..modules.len() {
            let m = (turn + round) % modules.len();
            eprintln!(
                "policy-server: round {}/{}, {} for {} s",
                round + 1,
                options.rounds,
                modules[m].0,
                options.seconds
            );
            let (count, run) = wrk(
                options,
                &script,
                &body,
                &server.url("validate", &ids[m]),
                options.seconds,
            )?;
            requests[m] += count;
            runs[m].push(run);
        }
    }
    let log = server.stop().map_err(|e| format!("{e:#}"))?;
    let errors = native_sidecar_policy_server::guest_errors(&log);
    if !errors.is_empty() {
        return Err(format!(
            "policy-server logged errors under load:\n{}",
            errors.join("\n")
        ));
    }

    let served = modules
        .iter()
        .zip(answers)
        .zip(runs)
        .zip(requests)
        .map(|((((label, module), answer), runs), requests)| Served {
            label: label.clone(),
            module: module.clone(),
            answer,
            requests,
            requests_per_second: median(runs.iter().map(|r| r.requests_per_second).collect()),
            p50_ms: median(runs.iter().map(|r| r.p50_ms).collect()),
            p99_ms: median(runs.iter().map(|r| r.p99_ms).collect()),
            rounds: runs.iter().map(|r| r.requests_per_second).collect(),
        })
        .collect();
    let wrk_version = Command::new(&options.wrk)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| {
            // wrk prints its version (to stdout or stderr) followed by usage.
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            text.lines()
                .next()
                .map(|line| line.split(" [").next().unwrap_or(line).trim().to_owned())
        })
        .unwrap_or_else(|| "wrk".to_owned());
    Ok(Report {
        server_version: version(&options.policy_server).map_err(|e| format!("{e:#}"))?,
        wrk_version,
        request_name: request_name.to_owned(),
        workers: options.workers,
        load_line: format!(
            "from {} threads over {} connections, {} s per run, {} round{} interleaved after a \
             2 s warm-up each",
            options.threads,
            options.connections,
            options.seconds,
            options.rounds,
            if options.rounds == 1 { "" } else { "s" }
        ) + &pinning("wrk and the harness"),
        served,
    })
}

/// Where the load ran, for a section's load line: policy-server's CPUs when `make bench` pins it,
/// `others` (what shares the remaining CPUs) on the rest; empty when nothing is pinned.
pub(crate) fn pinning(others: &str) -> String {
    native_sidecar_policy_server::pinned_cpus()
        .map(|cpus| format!(" (policy-server confined to CPU {cpus}, {others} on the others)"))
        .unwrap_or_default()
}

/// Writes a BENCHMARKS.md section's heading, and the reason in its place when the run was
/// skipped (`Err`); the report to write the rest from otherwise.
pub(crate) fn section<'r, T>(
    w: &mut String,
    heading: &str,
    report: &'r Result<T, String>,
) -> Option<&'r T> {
    let _ = writeln!(w, "## {heading}\n");
    if let Err(reason) = report {
        let _ = writeln!(w, "Not measured in this run: {reason}.\n");
    }
    report.as_ref().ok()
}

/// Issue 20: the policy served at least this share of the move floor's throughput.
const MOVE_FLOOR_GOAL: f64 = 0.95;

/// The BENCHMARKS.md section; `report` is `Err` with the reason when the run was skipped.
pub fn write_section(w: &mut String, report: &Result<Report, String>) {
    let Some(report) = section(w, "Served by policy-server (HTTP)", report) else {
        return;
    };
    let _ = writeln!(
        w,
        "`{}` ({} workers) serves every module on loopback (annotated, `allowedToMutate: true`, \
         settings `{{}}`); `{}` POSTs the {} as an AdmissionReview to `/validate/<module>` {}. \
         Requests per second and latency percentiles are medians over the rounds. policy-server's \
         own work per request (HTTP, decoding the review, a fresh instance, the JSONPatch from \
         the returned object, its request log) is in every row, so the floors carry it too: \
         **move** makes the same structural change as a conversion (the proxy into \
         `initContainers` with `restartPolicy: Always`) and nothing else, so its JSONPatch is as \
         big as the policy's.\n",
        report.server_version,
        report.workers,
        report.wrk_version,
        report.request_name,
        report.load_line
    );
    let _ = writeln!(
        w,
        "| module | answers | requests | requests/s | p50 ms | p99 ms | **time per request, policy / module** |\n|---|---|---:|---:|---:|---:|---:|"
    );
    let policy_rate = report
        .served
        .first()
        .map_or(f64::NAN, |s| s.requests_per_second);
    for served in &report.served {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | **{:.2}x** |",
            served.label,
            served.answer,
            served.requests,
            served.requests_per_second,
            served.p50_ms,
            served.p99_ms,
            served.requests_per_second / policy_rate
        );
    }
    let _ = writeln!(w);
    if let (Some(policy), Some(moved)) = (
        report.served.first(),
        report.served.iter().find(|s| s.label.starts_with("move")),
    ) {
        let ratio = paired_ratio(&policy.rounds, &moved.rounds);
        let _ = writeln!(
            w,
            "The policy's throughput is **{ratio:.3}x** the move floor's, the median of the {} \
             rounds' ratios (the ratio of the medians above: {:.3}x; issue 20's goal: at least \
             {MOVE_FLOOR_GOAL}x): {}.\n",
            policy.rounds.len(),
            policy.requests_per_second / moved.requests_per_second,
            if ratio >= MOVE_FLOOR_GOAL {
                "reached"
            } else {
                "**not reached**"
            }
        );
    }
    let _ = writeln!(
        w,
        "Modules: {}.\n",
        report
            .served
            .iter()
            .map(|s| format!("{} `{}`", s.label, s.module.display()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_on_a_slower_machine_moves_the_ratio_of_medians_not_the_paired_ratio() {
        // The third round ran while the machine was busy for the floor's run alone.
        let (policy, floor) = ([90.0, 45.0, 80.0], [100.0, 50.0, 60.0]);
        assert_eq!(
            median(policy.to_vec()) / median(floor.to_vec()),
            80.0 / 60.0
        );
        assert_eq!(paired_ratio(&policy, &floor), 0.9);
    }

    #[test]
    fn medians() {
        assert!(median(Vec::new()).is_nan());
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
