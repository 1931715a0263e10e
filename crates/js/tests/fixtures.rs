//! `wasm.rs` embeds the test data with `include_str!`, because a wasm module cannot list or read
//! files: this host test fails when a fixture is added to `test_data/` but not to that list.

use std::path::Path;

#[test]
fn the_wasm_tests_embed_every_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let embedded = std::fs::read_to_string(root.join("tests/wasm.rs")).unwrap();
    let mut checked = 0;
    for dir in ["istio", "linkerd", "kuma", "consul", "cases"] {
        let entries = std::fs::read_dir(root.join("../../test_data").join(dir)).unwrap();
        for entry in entries {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.ends_with(".yaml") {
                continue;
            }
            let reference = format!("fixture!(\"{dir}/{name}\")");
            assert!(
                embedded.contains(&reference),
                "tests/wasm.rs does not embed test_data/{dir}/{name}: add {reference}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 84, "only {checked} fixtures found");
}
