//! The core on native code: pods reviewed per second for the requests `make bench` measures in the
//! module (the inputs come from crates/bench/src/inputs.rs, so both report on the same requests).
//! `cargo bench -p native-sidecar-core`.
//!
//! - `review`: the rules alone, on an already parsed request (the core's own work);
//! - `request`: bytes in, bytes out (parse the AdmissionRequest, review, write the object back),
//!   the work the module does per request without the WebAssembly and waPC around it.

// The harness reads fields this benchmark has no use for.
#[allow(dead_code)]
#[path = "../../bench/src/inputs.rs"]
mod inputs;

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use native_sidecar_core::{Settings, review_request};
use serde_json::Value;

fn benches(c: &mut Criterion) {
    // The checkNodes cases need the host's node list: policy-bench measures them in the module.
    let cases: Vec<inputs::Case> = inputs::cases()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|case| case.nodes.is_none())
        .collect();
    let mut review = c.benchmark_group("review");
    review.throughput(Throughput::Elements(1));
    for case in &cases {
        let settings = Settings::from_json(&case.settings).unwrap_or_else(|e| panic!("{e}"));
        review.bench_function(&case.name, |b| {
            b.iter_batched(
                || case.request.clone(),
                |mut request| {
                    let outcome = review_request(&mut request, &settings);
                    (request, outcome)
                },
                BatchSize::SmallInput,
            )
        });
    }
    review.finish();

    let mut request = c.benchmark_group("request");
    request.throughput(Throughput::Elements(1));
    for case in &cases {
        let settings = Settings::from_json(&case.settings).unwrap_or_else(|e| panic!("{e}"));
        let bytes = serde_json::to_vec(&case.request).unwrap_or_else(|e| panic!("{e}"));
        request.bench_function(&case.name, |b| {
            b.iter(|| {
                let mut parsed: Value =
                    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
                let outcome = review_request(&mut parsed, &settings);
                let written = outcome
                    .changed
                    .then(|| serde_json::to_vec(&parsed["object"]).unwrap_or_default());
                (outcome, written)
            })
        });
    }
    request.finish();
}

criterion_group! {
    name = core;
    // Short runs: eight inputs in two groups, on a shared two-core machine.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = benches
}
criterion_main!(core);
