//! `native-sidecar` (crates/cli) on the generated cluster of 5,000 Pods and 100 Deployments the
//! CLI tests use: documents per second for `convert` and `report`, each next to a floor measured
//! in the same rounds: reading and writing the same text with the same readers and writers, with
//! no policy in between. The library functions the binary calls are timed in this process, so
//! the figures leave out only the binary's start and its file reads and writes.

use std::fmt::Write as _;
use std::time::Instant;

use indicatif::ProgressBar;
use native_sidecar_cli::convert::{self, Options};
use native_sidecar_cli::documents::{self, Source};
use native_sidecar_cli::{report, yaml};
use native_sidecar_core::Settings;
use serde_json::Value;

const PODS: usize = 5000;

pub struct Line {
    pub label: &'static str,
    pub documents: usize,
    pub bytes: usize,
    pub seconds: f64,
    pub floor_label: &'static str,
    pub floor_seconds: f64,
}

type Work<'a> = Box<dyn Fn() -> usize + 'a>;

/// Median seconds of `rounds` runs of each job, the jobs interleaved in every round.
fn medians(jobs: &[&Work], rounds: usize) -> Vec<f64> {
    let mut samples = vec![Vec::new(); jobs.len()];
    for _ in 0..rounds {
        for (job, series) in jobs.iter().zip(&mut samples) {
            let start = Instant::now();
            std::hint::black_box(job());
            series.push(start.elapsed().as_secs_f64());
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

pub fn measure(quick: bool) -> Result<Vec<Line>, String> {
    let (list, _) = native_sidecar_testdata::cluster_list(PODS);
    let items = list["items"].as_array().ok_or("the cluster has no items")?;
    let objects = items.len();
    let json_list = Source::new(
        "cluster.json",
        serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?,
    );
    let yaml_stream = Source::new(
        "cluster.yaml",
        items
            .iter()
            .map(yaml::to_string)
            .collect::<Vec<_>>()
            .join("---\n"),
    );
    let settings = Settings::default();
    let convert_list: Work = Box::new(|| {
        convert::convert(&json_list, &settings, Options::default())
            .text
            .len()
    });
    let convert_yaml: Work = Box::new(|| {
        convert::convert(&yaml_stream, &settings, Options::default())
            .text
            .len()
    });
    let report_list: Work = Box::new(|| {
        report::build(
            std::slice::from_ref(&json_list),
            &settings,
            None,
            &ProgressBar::hidden(),
        )
        .reviewed()
    });
    let json_floor: Work = Box::new(|| {
        serde_json::from_str::<Value>(&json_list.text)
            .map(|v| serde_json::to_string_pretty(&v).map_or(0, |t| t.len()))
            .unwrap_or(0)
    });
    let yaml_floor: Work = Box::new(|| {
        documents::split(&yaml_stream.text)
            .iter()
            .filter_map(|chunk| documents::parse(&yaml_stream.text, chunk).ok())
            .map(|(_, value)| yaml::to_string(&value).len())
            .sum()
    });
    let read_floor: Work = Box::new(|| {
        serde_json::from_str::<Value>(&json_list.text)
            .map(|v| v["items"].as_array().map_or(0, Vec::len))
            .unwrap_or(0)
    });
    let converted = convert::convert(&yaml_stream, &settings, Options::default());
    if converted.documents != objects || converted.changed == 0 {
        return Err(format!(
            "convert read {} of {objects} documents and changed {}",
            converted.documents, converted.changed
        ));
    }
    let rounds = if quick { 1 } else { 7 };
    let t = medians(
        &[
            &convert_list,
            &json_floor,
            &convert_yaml,
            &yaml_floor,
            &report_list,
            &read_floor,
        ],
        rounds,
    );
    Ok(vec![
        Line {
            label: "`convert`, one JSON List",
            documents: objects,
            bytes: json_list.text.len(),
            seconds: t[0],
            floor_label: "serde_json read and write",
            floor_seconds: t[1],
        },
        Line {
            label: "`convert`, YAML stream of one document per object",
            documents: objects,
            bytes: yaml_stream.text.len(),
            seconds: t[2],
            floor_label: "the CLI's YAML read and write",
            floor_seconds: t[3],
        },
        Line {
            label: "`report`, one JSON List",
            documents: objects,
            bytes: json_list.text.len(),
            seconds: t[4],
            floor_label: "serde_json read",
            floor_seconds: t[5],
        },
    ])
}

pub fn write_section(w: &mut String, lines: &[Line]) {
    let _ = writeln!(
        w,
        "## Command-line tool (`native-sidecar`)\n\n\
         The generated cluster of the CLI tests ({PODS} Pods and {} Deployments, half of them to \
         convert) through the library functions the binary runs, in this process (the binary adds \
         its start and the file reads and writes). Each is measured in the same rounds as a floor \
         that reads and writes the same text with no policy in between. Objects per second of the \
         median round.\n",
        lines.first().map_or(0, |l| l.documents - PODS)
    );
    let _ = writeln!(
        w,
        "| run | objects | MB | objects per second | floor | floor objects per second | **run / floor (time)** |\n|---|---:|---:|---:|---|---:|---:|"
    );
    for line in lines {
        let _ = writeln!(
            w,
            "| {} | {} | {:.1} | {:.0} | {} | {:.0} | **{:.2}x** |",
            line.label,
            line.documents,
            line.bytes as f64 / 1e6,
            line.documents as f64 / line.seconds,
            line.floor_label,
            line.documents as f64 / line.floor_seconds,
            line.seconds / line.floor_seconds
        );
    }
    let _ = writeln!(w);
}
