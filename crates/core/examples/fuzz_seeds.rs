//! Writes the fuzzers' seed corpus: policy payloads `{"request": AdmissionRequest, "settings": ...}`
//! built from test_data (each fixture before and after conversion, under several operations and
//! settings; Consul's behaviour inputs) and from the property tests' generator, one JSON file each;
//! and node answers as policy-server sends them (compact), for the node reader's target.
//!
//! `cargo run -p native-sidecar-core --example fuzz_seeds -- fuzz/seeds`

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;

use native_sidecar_testdata::{
    admission_request, all_pairs, awkward_node_list, documents, eks_node, root,
};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

const GENERATED: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: fuzz_seeds DIR")?);
    std::fs::create_dir_all(&dir)?;
    let settings = [
        json!({}),
        json!({"mode": "validate"}),
        json!({"requestNativeInjection": false, "extraSidecars": [{"name": "vault-agent", "setupContainers": ["vault-agent-init"]}]}),
    ];
    let mut written = 0;
    let mut write = |name: String, payload: Value| -> std::io::Result<()> {
        written += 1;
        std::fs::write(dir.join(format!("{name}.json")), payload.to_string())
    };
    for pair in all_pairs() {
        for (side, object) in [("before", &pair.before), ("after", &pair.after)] {
            for (at, settings) in settings.iter().enumerate() {
                let operation = ["CREATE", "UPDATE", "DELETE"][at];
                let request = admission_request(object, operation);
                // The pair's own settings first (Kuma's control plane timings).
                let settings = if at == 0 && !pair.settings.is_null() {
                    &pair.settings
                } else {
                    settings
                };
                write(
                    format!("{}-{side}-{at}", pair.name),
                    json!({"request": request, "settings": settings}),
                )?;
            }
        }
    }
    // Consul's pods that stay classic, are left alone or refused, with and without the setting
    // that vouches for old dataplane images.
    let inputs = root().join("consul/inputs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&inputs)?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("input")
            .to_owned();
        for (at, object) in documents(&path).iter().enumerate() {
            let request = admission_request(object, "CREATE");
            write(
                format!("{name}-{at}"),
                json!({"request": request, "settings": {}}),
            )?;
            write(
                format!("{name}-{at}-vouched"),
                json!({"request": request, "settings": {"consul": {"dataplaneSupportsNative": true}}}),
            )?;
        }
    }
    let mut runner = TestRunner::deterministic();
    let strategy = support::sample(support::ANY);
    for at in 0..GENERATED {
        let sample = strategy
            .new_tree(&mut runner)
            .map_err(|e| format!("generator: {e}"))?
            .current();
        let request = admission_request(&sample.object, "CREATE");
        write(
            format!("generated-{at}"),
            json!({"request": request, "settings": sample.settings.to_json()}),
        )?;
    }
    for seed in 0..GENERATED as u64 {
        write(format!("nodes-awkward-{seed}"), awkward_node_list(seed))?;
    }
    let eks: Vec<Value> = (0..8).map(eks_node).collect();
    write("node-eks".to_owned(), eks[0].clone())?;
    write(
        "nodes-eks".to_owned(),
        json!({"apiVersion": "v1", "kind": "NodeList", "items": eks}),
    )?;
    eprintln!("wrote {written} seeds to {}", dir.display());
    Ok(())
}
