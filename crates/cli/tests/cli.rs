//! The `native-sidecar` binary on the repository's fixtures: what it prints, what it writes and
//! how it exits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use native_sidecar_core::Quantity;
use native_sidecar_testdata::{ClusterObject, cluster_list, cluster_nodes, istio_pairs, root};
use predicates::prelude::*;
use rstest::rstest;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    root()
        .parent()
        .expect("test_data has a parent")
        .canonicalize()
        .expect("the repository exists")
}

/// The binary, run from the repository root so that paths in messages are the ones given.
fn cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_native-sidecar"));
    command.current_dir(repo());
    command
}

/// Every non-empty document of a YAML stream, read as YAML 1.2 (serde_yaml), independently of
/// the tool's own reader.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("the output is YAML"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// A file of the repository, such as `test_data/istio/pod.classic.yaml`.
fn fixture(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap()
}

/// Istio's own native output for `name`: what converting its classic output gives.
fn istio_native(name: &str) -> Value {
    istio_pairs()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap()
        .after
}

/// Writes `text` to `dir/name`, making the directories on the way.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 output")
}

#[test]
fn convert_gives_istios_native_files() {
    for pair in istio_pairs() {
        let file = format!("test_data/istio/{}.classic.yaml", pair.name);
        let output = cli().args(["convert", &file]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{file}: {}", stderr(&output));
        assert_eq!(
            documents(&stdout(&output)),
            std::slice::from_ref(&pair.after),
            "{file}"
        );
        assert_eq!(
            stderr(&output),
            "native-sidecar: 1 of 1 documents changed\n"
        );
    }
}

#[test]
fn convert_gives_the_cases_expected_objects() {
    let dir = tempfile::tempdir().unwrap();
    for pair in native_sidecar_testdata::cases() {
        let file = format!("test_data/cases/{}.yaml", pair.name);
        let settings = dir.path().join(format!("{}.json", pair.name));
        std::fs::write(&settings, pair.settings.to_string()).unwrap();
        let output = cli()
            .args(["convert", &file, "--settings"])
            .arg(&settings)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{file}: {}", stderr(&output));
        // The file holds the input and the expected output; both convert to the expected one.
        assert_eq!(
            documents(&stdout(&output)),
            [pair.after.clone(), pair.after.clone()],
            "{file}"
        );
    }
}

/// `linkerd inject`'s classic output converts to its native output, with no other mesh's annotation.
#[rstest]
#[case::deployment("emojivoto-deployment")]
#[case::pod("emojivoto-pod")]
fn convert_gives_linkerds_native_files(#[case] name: &str) {
    let classic = format!("test_data/linkerd/{name}.classic.yaml");
    let native = fixture(&format!("test_data/linkerd/{name}.native.yaml"));
    let output = cli().args(["convert", &classic]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(documents(&stdout(&output)), documents(&native));
}

/// Kuma's own classic output converts to its native output with the timings of the control plane
/// it was rendered with, given as a flag or in the settings file.
#[rstest]
#[case::pod_01("pod-01")]
#[case::pod_02("pod-02")]
fn convert_gives_kumas_native_files(#[case] name: &str) {
    let classic = format!("test_data/kuma/{name}.classic.yaml");
    let native = documents(&fixture(&format!("test_data/kuma/{name}.native.yaml")));
    let timings = "initialDelaySeconds=261,timeoutSeconds=24,periodSeconds=26,failureThreshold=213";
    let output = cli()
        .args(["convert", &classic, "--kuma-startup-probe", timings])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(documents(&stdout(&output)), native);
    let output = cli()
        .args([
            "convert",
            &classic,
            "--settings",
            "test_data/kuma/settings.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(documents(&stdout(&output)), native);
    // kuma-cp's defaults are not the timings these files were rendered with.
    let output = cli().args(["convert", &classic]).output().unwrap();
    assert_ne!(documents(&stdout(&output)), native);
}

/// consul-k8s's classic output converts to its native output; a dataplane image too old for the
/// native startup probe stays classic with a warning on stderr, unless the flag vouches for it.
#[rstest]
#[case::single("single")]
#[case::multiport("multiport")]
fn convert_gives_consuls_native_files(#[case] name: &str) {
    let classic = format!("test_data/consul/{name}.classic.yaml");
    let native = documents(&fixture(&format!("test_data/consul/{name}.native.yaml")));
    let output = cli().args(["convert", &classic]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(documents(&stdout(&output)), native);
}

#[test]
fn consul_dataplane_images_too_old_stay_classic_unless_vouched_for() {
    let old = "test_data/consul/inputs/consul-old-dataplane-1.6.8.yaml";
    let output = cli().args(["convert", old]).output().unwrap();
    assert_eq!(documents(&stdout(&output)), documents(&fixture(old)));
    assert!(
        stderr(&output).contains("(1.6.x has it from 1.6.9)"),
        "{}",
        stderr(&output)
    );
    let output = cli()
        .args(["convert", old, "--consul-dataplane-supports-native"])
        .output()
        .unwrap();
    let converted = documents(&stdout(&output));
    assert_eq!(
        converted[0]["spec"]["initContainers"][1]["name"],
        "consul-dataplane"
    );
}

#[test]
fn unchanged_documents_come_back_byte_for_byte() {
    for pair in istio_pairs() {
        let file = format!("test_data/istio/{}.native.yaml", pair.name);
        let text = fixture(&file);
        cli()
            .args(["convert", &file])
            .assert()
            .success()
            .stdout(text)
            .stderr("native-sidecar: 0 of 1 documents changed\n");
    }
}

#[test]
fn stdin_is_read_when_no_file_is_given() {
    let classic = fixture("test_data/istio/pod.classic.yaml");
    let expected = istio_native("pod");
    for args in [vec!["convert"], vec!["convert", "-"]] {
        let output = cli()
            .args(&args)
            .write_stdin(classic.clone())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(documents(&stdout(&output)), std::slice::from_ref(&expected));
    }
}

#[test]
fn a_directory_is_read_in_name_order_with_other_kinds_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| write(dir.path(), name, text);
    write("b/job.yaml", &fixture("test_data/istio/job.classic.yaml"));
    write(
        "a-service.yaml",
        "# the service\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
    );
    write("notes.txt", "not a manifest");
    write(".hidden/pod.yaml", "not: [read");
    let output = cli()
        .args(["convert", "-R"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with(
        "# the service\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\n"
    ));
    assert_eq!(
        documents(&text),
        [
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}),
            istio_native("job")
        ]
    );
    assert_eq!(
        stderr(&output),
        "native-sidecar: 1 of 2 documents changed\n"
    );
}

/// kubectl's `-f`: a directory is its own .json, .yaml and .yml files, its subdirectories only with
/// `-R`; a file named on the command line is read whatever its extension.
#[test]
fn directories_are_read_as_kubectl_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| write(dir.path(), name, text);
    write("pod.yaml", &fixture("test_data/istio/pod.classic.yaml"));
    write("pod.json", &fixture("test_data/istio/pod.classic.yaml"));
    write("pod.yml", &fixture("test_data/istio/pod.classic.yaml"));
    write("pod.YAML", &fixture("test_data/istio/pod.classic.yaml"));
    write("pod.txt", &fixture("test_data/istio/pod.classic.yaml"));
    write(
        "apps/job.yaml",
        &fixture("test_data/istio/job.classic.yaml"),
    );
    write(
        "apps/deep/hello.yaml",
        &fixture("test_data/istio/hello.classic.yaml"),
    );
    write(
        ".hidden.yaml",
        &fixture("test_data/istio/hello.classic.yaml"),
    );
    let files = |args: &[&str]| -> Vec<String> {
        let output = cli()
            .arg("check")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        stdout(&output)
            .lines()
            .map(|line| line.split(':').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(files(&["."]), ["./pod.json", "./pod.yaml", "./pod.yml"]);
    assert_eq!(
        files(&["-R", "."]),
        [
            "./apps/deep/hello.yaml",
            "./apps/job.yaml",
            "./pod.json",
            "./pod.yaml",
            "./pod.yml"
        ]
    );
    assert_eq!(
        files(&["--recursive", "-f", "apps"]),
        ["apps/deep/hello.yaml", "apps/job.yaml"]
    );
    assert_eq!(
        files(&["pod.txt", "-f", "pod.YAML"]),
        ["pod.txt", "pod.YAML"]
    );
    // --help says which files a directory read takes.
    for command in ["convert", "check", "report"] {
        cli()
            .args([command, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains(
                "directories (the .json, .yaml and .yml files in them, hidden ones skipped; with -R in their subdirectories too)",
            ));
    }
}

/// `-f` as often as needed and file arguments, in any mix: the same inputs in the order given,
/// the same output and exit code, for every command.
#[rstest]
#[case::convert("convert", 0)]
#[case::check("check", 1)]
#[case::report("report", 0)]
fn files_come_with_or_without_f(#[case] command: &str, #[case] code: i32) {
    let pod = "test_data/istio/pod.classic.yaml";
    let job = "test_data/istio/job.native.yaml";
    let run_with = |args: &[&str], stdin: &str| {
        let output = cli()
            .arg(command)
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            stderr(&output)
        );
        (stdout(&output), stderr(&output))
    };
    let run = |args: &[&str]| run_with(args, "");
    let plain = run(&[pod, job]);
    assert_eq!(run(&["-f", pod, "-f", job]), plain);
    assert_eq!(run(&["--filename", pod, job]), plain);
    assert_eq!(run(&[pod, "-f", job]), plain);
    // Standard input is `-`, with or without -f, and read in its place.
    let from_stdin = |args: &[&str]| run_with(args, &fixture(pod));
    let with_dash = from_stdin(&["-f", "-", job]);
    assert_eq!(from_stdin(&["-", "-f", job]), with_dash);
    if command != "report" {
        assert_eq!(
            with_dash,
            (
                plain.0.replace(pod, "<stdin>"),
                plain.1.replace(pod, "<stdin>")
            )
        );
    }
    // The order is the command line's: the job's documents first.
    let reversed = run(&["-f", job, pod]);
    if command == "convert" {
        assert_eq!(
            documents(&reversed.0),
            [istio_native("job"), istio_native("pod")]
        );
    } else {
        assert_eq!(reversed.1, plain.1);
    }
}

/// `report -f a -f b` counts what `report` of one file holding both counts.
#[test]
fn report_adds_up_several_files() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, expected) = write_cluster(dir.path(), 200);
    let list: Value = serde_json::from_str(&std::fs::read_to_string(&whole).unwrap()).unwrap();
    let items = list["items"].as_array().unwrap();
    let (first, second) = items.split_at(items.len() / 3);
    let mut parts = Vec::new();
    for (name, items) in [("a.json", first), ("b.yaml", second)] {
        let mut part = list.clone();
        part["items"] = json!(items);
        parts.push(write(
            dir.path(),
            name,
            &serde_json::to_string(&part).unwrap(),
        ));
    }
    let report = report_json(&[
        "-f".as_ref(),
        parts[0].as_ref(),
        "-f".as_ref(),
        parts[1].as_ref(),
    ]);
    assert_counts(&report, &expected, None);
    assert_eq!(report, report_json(&[whole.as_ref()]));
}

/// A Git repository's layout: a converted workload beside files that must not change at all.
#[test]
fn in_place_rewrites_only_what_changes() {
    let dir = tempfile::tempdir().unwrap();
    let native_pod = fixture("test_data/istio/pod.native.yaml");
    let classic_job = fixture("test_data/istio/job.classic.yaml");
    let config = "# settings for the app\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app   # trailing comment\ndata:\n  mode: on\n  port: 0644\n";
    // A Helm render: the ConfigMap must stay as it is while the Job next to it converts.
    let helm = format!(
        "---\n# Source: chart/templates/configmap.yaml\n{config}---\n# Source: chart/templates/job.yaml\n{classic_job}"
    );
    let pod_json = serde_json::to_string_pretty(&documents(&native_pod)[0]).unwrap();
    let files = [
        ("pod.native.yaml", native_pod.as_str()),
        ("config.yaml", config),
        ("render.yaml", helm.as_str()),
        ("pod.json", pod_json.as_str()),
    ];
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    let output = cli()
        .args(["convert", "--in-place"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        "native-sidecar: 1 of 5 documents changed, 1 of 4 files rewritten\n"
    );
    for (name, text) in files {
        let after = std::fs::read_to_string(dir.path().join(name)).unwrap();
        if name == "render.yaml" {
            let prefix = format!(
                "---\n# Source: chart/templates/configmap.yaml\n{config}---\n# Source: chart/templates/job.yaml\n"
            );
            assert!(after.starts_with(&prefix), "{after}");
            assert_eq!(documents(&after[prefix.len()..]), [istio_native("job")]);
        } else {
            assert_eq!(after, text, "{name} changed");
        }
    }
    // A second run finds nothing to do.
    cli()
        .args(["convert", "--in-place"])
        .arg(dir.path())
        .assert()
        .success()
        .stderr("native-sidecar: 0 of 5 documents changed, 0 of 4 files rewritten\n");
}

#[test]
fn in_place_writes_nothing_when_a_document_fails() {
    let dir = tempfile::tempdir().unwrap();
    let classic = fixture("test_data/istio/pod.classic.yaml");
    write(dir.path(), "a.yaml", &classic);
    write(
        dir.path(),
        "b.yaml",
        "kind: ConfigMap\ndata:\n  a: b\n   c: d\n",
    );
    let output = cli()
        .args(["convert", "-i", "a.yaml", "b.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: b.yaml:1: YAML syntax error at line 4, column 5: mapping values are not allowed in this context\nnative-sidecar: nothing written: 1 error\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.yaml")).unwrap(),
        classic
    );
}

#[test]
fn a_refused_object_fails_the_conversion() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "only-proxy"},
        "spec": {"containers": [{"name": "istio-proxy", "image": "proxyv2", "args": ["proxy", "sidecar"]}]}
    });
    cli()
        .arg("convert")
        .write_stdin(pod.to_string())
        .assert()
        .code(1)
        .stdout("")
        .stderr("error: <stdin>:1: Pod/only-proxy: spec.containers[0] \"istio-proxy\" is the only container, and a pod needs a regular container besides its native sidecars; add the application container, or keep it classic with the pod annotation sidecar.istio.io/nativeSidecar: \"false\"\nnative-sidecar: nothing written: 1 error\n");
}

#[rstest]
#[case::not_an_object(
    "- a\n- b\n",
    "error: <stdin>:1: the document is not a Kubernetes object: found a list"
)]
#[case::list_item(
    "apiVersion: v1\nkind: List\nitems:\n- 3\n",
    "error: <stdin>:1: items[0] is not a Kubernetes object: found a number"
)]
#[case::json_syntax(
    "{\"kind\": \"Pod\",\n \"spec\": [}\n",
    "error: <stdin>:1: JSON syntax error at line 2, column 11: expected value"
)]
#[case::yaml_syntax(
    "kind: Pod\n---\nmetadata: {name: [}\n",
    "error: <stdin>:2: YAML syntax error at line 3, column 19: while parsing a flow node, did not find expected node content"
)]
#[case::unknown_kind(
    "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers: []\n",
    "error: <stdin>:1: Rollout/web: Rollout (argoproj.io/v1alpha1) has a pod spec at spec.template.spec, but native-sidecar does not know this kind, so its proxies were not checked; it knows Pod (v1), Deployment (apps/v1), ReplicaSet (apps/v1), StatefulSet (apps/v1), DaemonSet (apps/v1), Job (batch/v1), CronJob (batch/v1), ReplicationController (v1); convert it by hand, or pass --skip-unknown-kinds to leave it untouched"
)]
fn unreadable_documents_are_named(#[case] input: &str, #[case] message: &str) {
    cli()
        .arg("convert")
        .write_stdin(input)
        .assert()
        .code(2)
        .stdout("")
        .stderr(format!(
            "{message}\nnative-sidecar: nothing written: 1 error\n"
        ));
}

/// Flow sequences closed at their key's indentation, with trailing commas, as Istio's SPIRE
/// sample writes them: kubectl reads them, and so does the tool.
#[test]
fn flow_sequences_closed_at_the_keys_indentation_are_read() {
    let file = "test_data/kubectl/flow-args.yaml";
    cli()
        .args(["convert", file])
        .assert()
        .success()
        .stdout(fixture(file))
        .stderr("native-sidecar: 0 of 2 documents changed\n");
    cli()
        .args(["check", file])
        .assert()
        .success()
        .stdout("")
        .stderr("native-sidecar: clean (2 documents, 1 objects reviewed)\n");
    // A classic proxy among such containers converts, and the output converts to itself.
    let file = "test_data/kubectl/istio-flow-args.yaml";
    let output = cli().args(["convert", file]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let job = documents(&text).remove(0);
    let spec = &job["spec"]["template"]["spec"];
    let names = |list: &str| -> Vec<Value> {
        spec[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].clone())
            .collect()
    };
    assert_eq!(
        names("initContainers"),
        [json!("istio-init"), json!("istio-proxy")]
    );
    assert_eq!(names("containers"), [json!("migrate")]);
    assert_eq!(spec["initContainers"][1]["restartPolicy"], "Always");
    assert_eq!(
        spec["initContainers"][1]["args"],
        json!([
            "proxy",
            "sidecar",
            "--domain",
            "$(POD_NAMESPACE).svc.cluster.local"
        ])
    );
    assert_eq!(spec["containers"][0]["args"], json!(["--wait", "db:5432"]));
    cli()
        .arg("convert")
        .write_stdin(text.clone())
        .assert()
        .success()
        .stdout(text)
        .stderr("native-sidecar: 0 of 1 documents changed\n");
}

/// A List with null items, as in `linkerd inject`'s test data: the nulls pass through untouched
/// with a note, the objects beside them are converted, checked and counted.
#[test]
fn null_list_items_pass_through_with_a_note() {
    let file = "test_data/kubectl/list-with-null-items.yaml";
    let notes = [1, 2].map(|n| {
        format!("{file}:1.items[{n}]: the item is null, not an object: passed through untouched")
    });
    let output = cli().args(["convert", file]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "warning: {}\nwarning: {}\nnative-sidecar: 1 of 1 documents changed\n",
            notes[0], notes[1]
        )
    );
    let list = documents(&stdout(&output)).remove(0);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items[1..], [Value::Null, Value::Null]);
    assert_eq!(
        items[0]["spec"]["template"]["spec"]["initContainers"][0]["name"],
        "istio-proxy"
    );
    cli()
        .args(["check", file])
        .assert()
        .code(1)
        .stdout(format!(
            "{file}:1.items[0]: Deployment/web: istio-proxy (containers[1]) runs in containers, not as a native sidecar in initContainers\n{file}:1.items[1]: warning: the item is null, not an object: passed through untouched\n{file}:1.items[2]: warning: the item is null, not an object: passed through untouched\n"
        ));
    let report = report_json(&[file.as_ref()]);
    assert_eq!(report["totals"]["classic"], json!(1));
    assert_eq!(report["totals"]["total"], json!(1));
    assert_eq!(report["errors"], json!([]));
    assert_eq!(
        report["passedOver"],
        json!([1, 2].map(|n| json!({"file": file, "document": format!("1.items[{n}]"), "object": null, "message": "the item is null, not an object: passed through untouched"})))
    );
    // A null document, which kubectl skips, comes back as it was.
    let stream = "---\nnull\n---\n~\n";
    cli()
        .arg("convert")
        .write_stdin(stream)
        .assert()
        .success()
        .stdout(stream)
        .stderr("warning: <stdin>:1: the document is null, not an object: passed through untouched\nwarning: <stdin>:2: the document is null, not an object: passed through untouched\nnative-sidecar: 0 of 2 documents changed\n");
}

#[test]
fn unknown_kinds_can_be_skipped() {
    let rollout = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers: []\n";
    cli()
        .args(["convert", "--skip-unknown-kinds"])
        .write_stdin(rollout)
        .assert()
        .success()
        .stdout(rollout)
        .stderr(predicate::str::starts_with(
            "warning: <stdin>:1: Rollout/web: Rollout (argoproj.io/v1alpha1) has a pod spec at spec.template.spec, but native-sidecar does not know this kind",
        ));
}

#[test]
fn check_names_unknown_kinds() {
    let rollout = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers: []\n";
    cli()
        .arg("check")
        .write_stdin(rollout)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::starts_with("error: <stdin>:1: Rollout/web: Rollout (argoproj.io/v1alpha1) has a pod spec at spec.template.spec, but native-sidecar does not know this kind").and(predicate::str::contains("; pass --skip-unknown-kinds to leave it unchecked\n")));
    cli()
        .args(["check", "--skip-unknown-kinds"])
        .write_stdin(rollout)
        .assert()
        .code(0)
        .stdout(predicate::str::ends_with("; left unchecked\n"));
}

#[test]
fn unreadable_files_are_named() {
    cli()
        .args(["convert", "test_data/missing.yaml"])
        .assert()
        .code(2)
        .stderr("error: test_data/missing.yaml: cannot read: No such file or directory\nnative-sidecar: nothing written: 1 error\n");
    cli()
        .args(["convert", "--in-place", "-"])
        .assert()
        .code(2)
        .stderr("native-sidecar: --in-place writes files back, so it needs files or directories, not standard input\n");
}

#[test]
fn settings_come_from_a_file_and_flags_with_the_policys_messages() {
    let dir = tempfile::tempdir().unwrap();
    let settings = write(
        dir.path(),
        "settings.yaml",
        "requestNativeInjection: maybe\n",
    );
    cli()
        .arg("convert")
        .arg("--settings")
        .arg(&settings)
        .write_stdin("{}")
        .assert()
        .code(2)
        .stderr(format!(
            "native-sidecar: {}: invalid policy settings: requestNativeInjection must be true or false, found the string \"maybe\"\n",
            settings.display()
        ));
    // A Pod without a proxy is asked for native injection unless the flag says not to.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"}, "spec": {"containers": [{"name": "app", "image": "app"}]}});
    let converted = cli()
        .arg("convert")
        .write_stdin(pod.to_string())
        .output()
        .unwrap();
    assert_eq!(
        documents(&stdout(&converted))[0]["metadata"]["annotations"],
        json!({"sidecar.istio.io/nativeSidecar": "true"})
    );
    cli()
        .args(["convert", "--no-request-native-injection"])
        .write_stdin(pod.to_string())
        .assert()
        .success()
        .stdout(pod.to_string());
    // A declared sidecar and its setup container.
    let vault = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vault"},
        "spec": {
            "initContainers": [{"name": "vault-agent-init", "image": "vault"}],
            "containers": [{"name": "app", "image": "app"}, {"name": "vault-agent", "image": "vault"}]
        }
    });
    let output = cli()
        .args([
            "convert",
            "--no-request-native-injection",
            "--extra-sidecar",
            "vault-agent:vault-agent-init",
        ])
        .write_stdin(vault.to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&output)).unwrap()["spec"],
        json!({
            "initContainers": [
                {"name": "vault-agent-init", "image": "vault"},
                {"name": "vault-agent", "image": "vault", "restartPolicy": "Always"}
            ],
            "containers": [{"name": "app", "image": "app"}]
        })
    );
}

#[test]
fn lists_and_json_stay_in_their_format() {
    let classic = documents(&fixture("test_data/istio/pod.classic.yaml")).remove(0);
    let native = istio_native("pod");
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [config, classic]});
    let output = cli()
        .arg("convert")
        .write_stdin(serde_json::to_string_pretty(&list).unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.starts_with("{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\""),
        "{text}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"apiVersion": "v1", "kind": "List", "items": [config, native]})
    );
}

#[test]
fn check_exits_by_what_it_finds() {
    cli()
        .args([
            "check",
            "test_data/istio/pod.native.yaml",
            "test_data/istio/hello.native.yaml",
        ])
        .assert()
        .code(0)
        .stdout("")
        .stderr("native-sidecar: clean (2 documents, 2 objects reviewed)\n");
    cli()
        .args(["check", "test_data/istio/pod.classic.yaml", "test_data/cases/check-traffic.yaml"])
        .assert()
        .code(1)
        .stdout(concat!(
            "test_data/istio/pod.classic.yaml:1: Pod/hellopod: istio-proxy (containers[1]) runs in containers, not as a native sidecar in initContainers\n",
            "test_data/cases/check-traffic.yaml:1: Pod/sleep: check-traffic (initContainers[0]) runs before istio-proxy has started, outside the mesh\n",
        ))
        .stderr("native-sidecar: 2 findings, 0 refused (3 documents, 3 objects reviewed)\n");
    cli()
        .args(["check", "test_data/istio/pod.native.yaml", "test_data/nothing-here.yaml"])
        .assert()
        .code(2)
        .stderr("error: test_data/nothing-here.yaml: cannot read: No such file or directory\nnative-sidecar: 0 findings, 0 refused (1 documents, 1 objects reviewed)\n");
}

#[test]
fn check_a_directory() {
    let output = cli().args(["check", "test_data/istio"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    // One finding per classic file, none for the native ones.
    let files: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        files,
        [
            "test_data/istio/daemonset.classic.yaml",
            "test_data/istio/hello.classic.yaml",
            "test_data/istio/job.classic.yaml",
            "test_data/istio/pod.classic.yaml",
            "test_data/istio/replicaset.classic.yaml",
        ]
    );
}

#[test]
fn check_reports_refusals_and_warnings() {
    let opted_out = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "legacy", "namespace": "shop", "annotations": {"sidecar.istio.io/nativeSidecar": "false"}},
        "spec": {"containers": [{"name": "app", "image": "app"}, {"name": "istio-proxy", "image": "proxyv2", "args": ["proxy", "sidecar"]}]}
    });
    cli()
        .arg("check")
        .write_stdin(opted_out.to_string())
        .assert()
        .code(0)
        .stdout("<stdin>:1: Pod/legacy: warning: sidecar.istio.io/nativeSidecar: \"false\" leaves istio-proxy as Istio renders it in classic mode; remove the annotation to run the proxy as a native sidecar\n");
    let two_proxies = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "twice"},
        "spec": {"template": {"spec": {
            "initContainers": [{"name": "istio-proxy", "image": "proxyv2", "restartPolicy": "Always"}],
            "containers": [{"name": "app", "image": "app"}, {"name": "istio-proxy", "image": "proxyv2"}]
        }}}
    });
    cli()
        .arg("check")
        .write_stdin(two_proxies.to_string())
        .assert()
        .code(1)
        .stdout("<stdin>:1: Deployment/twice: refused: spec.template.spec.initContainers already has a container named \"istio-proxy\", the name of the proxy in spec.template.spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar\n");
}

#[test]
fn check_speaks_json() {
    let output = cli()
        .args([
            "check",
            "--output",
            "json",
            "test_data/cases/check-traffic.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["clean"], json!(false));
    assert_eq!(report["documents"], json!(2));
    assert_eq!(
        report["entries"][0],
        json!({
            "severity": "finding",
            "file": "test_data/cases/check-traffic.yaml",
            "document": "1",
            "kind": "Pod",
            "namespace": null,
            "name": "sleep",
            "problem": "beforeProxy",
            "container": "check-traffic",
            "list": "initContainers",
            "position": 0,
            "proxy": "istio-proxy",
            "expectedInitOrder": ["istio-init", "istio-proxy", "check-traffic"],
            "message": "check-traffic (initContainers[0]) runs before istio-proxy has started, outside the mesh"
        })
    );
    assert_eq!(report["entries"].as_array().unwrap().len(), 1);
}

fn write_cluster(dir: &Path, pods: usize) -> (PathBuf, Vec<ClusterObject>) {
    let (list, expected) = cluster_list(pods);
    let text = serde_json::to_string_pretty(&list).unwrap();
    (write(dir, "cluster.json", &text), expected)
}

/// The generated cluster's nodes, every one new, or `node-{old}` at kubelet 1.32.
fn write_nodes(dir: &Path, old: Option<usize>) -> PathBuf {
    let name = match old {
        Some(_) => "nodes-one-old.json",
        None => "nodes.json",
    };
    write(
        dir,
        name,
        &serde_json::to_string_pretty(&cluster_nodes(old)).unwrap(),
    )
}

const CATEGORIES: [&str; 7] = [
    "classic",
    "native",
    "misplaced",
    "heldBack",
    "optedOut",
    "refused",
    "untouched",
];

/// Per (namespace, kind), what the generator says the report must count, and what converting
/// adds to the Pods' requests: with `old_node`, classic and misplaced objects on it, and those
/// without a node (any node may run them), are held back and add nothing.
#[allow(clippy::type_complexity)]
fn tally(
    expected: &[ClusterObject],
    old_node: Option<&str>,
) -> BTreeMap<(String, String), (BTreeMap<String, u64>, BTreeMap<String, Quantity>)> {
    let mut tally: BTreeMap<_, (BTreeMap<String, u64>, BTreeMap<String, Quantity>)> =
        BTreeMap::new();
    for object in expected {
        let changes = matches!(object.category, "classic" | "misplaced");
        let held_back = changes
            && old_node.is_some()
            && (object.node.is_none() || object.node.as_deref() == old_node);
        let category = if held_back {
            "heldBack"
        } else {
            object.category
        };
        let (counts, added) = tally
            .entry((object.namespace.clone(), object.kind.to_owned()))
            .or_default();
        *counts.entry(category.to_owned()).or_default() += 1;
        if !held_back {
            for (resource, quantity) in object.added_requests {
                let sum = added
                    .entry((*resource).to_owned())
                    .or_insert(Quantity::ZERO);
                *sum = sum
                    .checked_add(&Quantity::parse(quantity).unwrap())
                    .unwrap();
            }
        }
    }
    tally
}

fn as_json(added: &BTreeMap<String, Quantity>) -> Value {
    Value::Object(
        added
            .iter()
            .map(|(r, q)| (r.clone(), json!(q.to_string())))
            .collect(),
    )
}

/// The report's rows and totals against the generator's own tally.
fn assert_counts(report: &Value, expected: &[ClusterObject], old_node: Option<&str>) {
    let tally = tally(expected, old_node);
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), tally.len());
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut added_in_all: BTreeMap<String, Quantity> = BTreeMap::new();
    for row in rows {
        let key = (
            row["namespace"].as_str().unwrap().to_owned(),
            row["kind"].as_str().unwrap().to_owned(),
        );
        let (counts, added) = &tally[&key];
        for category in CATEGORIES {
            let count = counts.get(category).copied().unwrap_or(0);
            match row.get(category) {
                Some(found) => assert_eq!(found.as_u64(), Some(count), "{key:?} {category}"),
                None => assert_eq!(
                    (category, old_node, count),
                    ("heldBack", None, 0),
                    "{key:?}: no {category} column"
                ),
            }
            *totals.entry(category.to_owned()).or_default() += count;
        }
        if key.1 == "Pod" {
            assert_eq!(row["addedRequests"], as_json(added), "{key:?}");
            for (resource, quantity) in added {
                let sum = added_in_all
                    .entry(resource.clone())
                    .or_insert(Quantity::ZERO);
                *sum = sum.checked_add(quantity).unwrap();
            }
        } else {
            assert_eq!(row["addedRequests"], Value::Null, "{key:?}");
        }
    }
    for (category, count) in totals {
        if report["totals"].get(&category).is_some() || count > 0 {
            assert_eq!(report["totals"][&category], json!(count), "{category}");
        }
    }
    assert_eq!(report["totals"]["total"], json!(expected.len()));
    assert_eq!(report["totals"]["addedRequests"], as_json(&added_in_all));
}

fn report_json(args: &[&std::ffi::OsStr]) -> Value {
    let output = cli()
        .args(["report", "--output", "json"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // No progress bar when stderr is not a terminal.
    assert_eq!(stderr(&output), "");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn report_counts_a_5000_pod_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = write_cluster(dir.path(), 5000);
    let report = report_json(&["-f".as_ref(), path.as_ref()]);
    // Blocks of 20 Pods: 8 classic, 4 native, 2 misplaced, 2 opted out, 1 refused, 3 untouched;
    // 100 Deployments, classic and native in turn. In every block, converting raises 2 Istio
    // Pods' requests by 100m and 128Mi and 1 Linkerd Pod's by 100m and 64Mi.
    assert_eq!(
        report["totals"],
        json!({"classic": 2050, "native": 1050, "misplaced": 500, "optedOut": 500, "refused": 250, "untouched": 750, "total": 5100,
               "addedRequests": {"cpu": "75", "memory": "80000Mi"}})
    );
    assert_eq!(report["podsWithAddedRequests"], json!(750));
    assert_eq!(report["nodes"], Value::Null);
    assert_counts(&report, &expected, None);
    assert_eq!(report["refused"].as_array().unwrap().len(), 250);
    assert_eq!(
        report["refused"][0],
        json!({"namespace": "shop", "object": "Pod/pod-16", "message": "spec.initContainers already has a container named \"istio-proxy\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar"})
    );
}

#[test]
fn report_with_new_nodes_counts_as_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = write_cluster(dir.path(), 1000);
    let nodes = write_nodes(dir.path(), None);
    let without = report_json(&["-f".as_ref(), path.as_ref()]);
    let mut with = report_json(&[
        "-f".as_ref(),
        path.as_ref(),
        "--nodes".as_ref(),
        nodes.as_ref(),
    ]);
    assert_counts(&with, &expected, None);
    assert_eq!(
        with["nodes"],
        json!({"file": nodes.display().to_string(), "count": 7, "minKubeletVersion": "1.33", "belowMinimum": 0,
               "oldest": {"name": "node-0", "kubeletVersion": "v1.33.5"}, "newPodsGetNativeSidecars": true})
    );
    // The same report, with a held-back column of zeros.
    with["nodes"] = Value::Null;
    let mut counts: Vec<&mut Value> = Vec::new();
    let Value::Object(report) = &mut with else {
        panic!("the report is an object")
    };
    for (key, value) in report.iter_mut() {
        match (key.as_str(), value) {
            ("rows", Value::Array(rows)) => counts.extend(rows.iter_mut()),
            ("totals", totals) => counts.push(totals),
            _ => {}
        }
    }
    for counts in counts {
        assert_eq!(counts["heldBack"], json!(0));
        counts.as_object_mut().unwrap().remove("heldBack");
    }
    assert_eq!(with, without);
}

#[test]
fn report_with_one_old_node_holds_back_what_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = write_cluster(dir.path(), 5000);
    let nodes = write_nodes(dir.path(), Some(6));
    let report = report_json(&[
        "-f".as_ref(),
        path.as_ref(),
        "--nodes".as_ref(),
        nodes.as_ref(),
    ]);
    assert_counts(&report, &expected, Some("node-6"));
    // Every Deployment's pods may land on node-6; of the 2,500 classic or misplaced Pods, those
    // with i % 7 == 6 run on it.
    let on_node_6 = (0..5000)
        .filter(|i| i % 7 == 6 && matches!(i % 20, 0..8 | 12..14))
        .count();
    assert_eq!(report["totals"]["heldBack"], json!(50 + on_node_6));
    assert_eq!(
        report["nodes"],
        json!({"file": nodes.display().to_string(), "count": 7, "minKubeletVersion": "1.33", "belowMinimum": 1,
               "oldest": {"name": "node-6", "kubeletVersion": "v1.32.9"}, "newPodsGetNativeSidecars": false})
    );
    // A lower minimum lets node-6 run native sidecars.
    let lenient = report_json(&[
        "-f".as_ref(),
        path.as_ref(),
        "--nodes".as_ref(),
        nodes.as_ref(),
        "--min-kubelet-version".as_ref(),
        "1.32".as_ref(),
    ]);
    assert_counts(&lenient, &expected, None);
    assert_eq!(lenient["nodes"]["belowMinimum"], json!(0));
}

/// A directory of node files is one cluster: a node in any of them counts.
#[test]
fn report_reads_every_nodes_file_of_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = write_cluster(dir.path(), 1000);
    let nodes = dir.path().join("nodes");
    std::fs::create_dir(&nodes).unwrap();
    let new = write_nodes(&nodes, None);
    let old = write(
        &nodes,
        "spare.yaml",
        "kind: Node\nmetadata: {name: spare}\nstatus:\n  nodeInfo: {kubeletVersion: v1.31.4}\n",
    );
    let report = report_json(&[
        "-f".as_ref(),
        path.as_ref(),
        "--nodes".as_ref(),
        nodes.as_ref(),
    ]);
    assert_eq!(
        report["nodes"],
        json!({"file": format!("{}, {}", new.display(), old.display()), "count": 8, "minKubeletVersion": "1.33",
               "belowMinimum": 1, "oldest": {"name": "spare", "kubeletVersion": "v1.31.4"},
               "newPodsGetNativeSidecars": false})
    );
    // No Pod runs on the spare node, so only the Deployments are held back.
    assert_eq!(report["totals"]["heldBack"], json!(10));
    assert_eq!(report["totals"]["total"], json!(expected.len()));
}

#[test]
fn report_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_cluster(dir.path(), 100);
    let output = cli().args(["report", "-f"]).arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // One block of 20 Pods per namespace; Deployments after Pods 49 (classic) and 99 (native).
    assert_eq!(
        stdout(&output),
        concat!(
            "NAMESPACE    KIND         CLASSIC   NATIVE   MISPLACED   OPTED OUT   REFUSED   UNTOUCHED   TOTAL   ADDED REQUESTS\n",
            "batch        Pod          8         4        2           2           1         3           20      cpu +300m, memory +320Mi\n",
            "monitoring   Pod          8         4        2           2           1         3           20      cpu +300m, memory +320Mi\n",
            "payments     Deployment   0         1        0           0           0         0           1       n/a\n",
            "payments     Pod          8         4        2           2           1         3           20      cpu +300m, memory +320Mi\n",
            "search       Pod          8         4        2           2           1         3           20      cpu +300m, memory +320Mi\n",
            "shop         Deployment   1         0        0           0           0         0           1       n/a\n",
            "shop         Pod          8         4        2           2           1         3           20      cpu +300m, memory +320Mi\n",
            "TOTAL                     41        21       10          10          5         15          102     cpu +1500m, memory +1600Mi\n",
            "\n",
            "Converting changes 51 of 102 objects: 41 get native sidecars in place of classic proxies, 10 have their init containers reordered; 5 would be refused on create.\n",
            "Converting changes the effective requests of 15 Pods: cpu +1500m, memory +1600Mi in all (ADDED REQUESTS counts Pods only: ResourceQuota counts pods, not the templates of workloads).\n",
            "\n",
            "Refused on create (5):\n",
            "  5 objects: spec.initContainers already has a container named \"istio-proxy\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar\n",
            "    shop/Pod/pod-16, payments/Pod/pod-36, search/Pod/pod-56 and 2 more\n",
        )
    );
    let nodes = write_nodes(dir.path(), Some(6));
    let output = cli()
        .args(["report", "-f"])
        .arg(&path)
        .arg("--nodes")
        .arg(&nodes)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    // Pods i with i % 7 == 6 run on node-6: in shop 6 (Linkerd classic) and 13 (misplaced), in
    // payments 20 and 27 (classic, each with a migrate init container), in search 41 (classic,
    // migrate), in batch 62 and in monitoring 83 (classic); 34, 48, 55, 69, 76, 90 and 97 have
    // nothing to hold back. The classic Deployment in shop has no node: node-6 may run its pods.
    let table: Vec<&str> = text.lines().take(9).collect();
    assert_eq!(
        table,
        [
            "NAMESPACE    KIND         CLASSIC   NATIVE   MISPLACED   HELD BACK   OPTED OUT   REFUSED   UNTOUCHED   TOTAL   ADDED REQUESTS",
            "batch        Pod          7         4        2           1           2           1         3           20      cpu +300m, memory +320Mi",
            "monitoring   Pod          7         4        2           1           2           1         3           20      cpu +300m, memory +320Mi",
            "payments     Deployment   0         1        0           0           0           0         0           1       n/a",
            "payments     Pod          6         4        2           2           2           1         3           20      cpu +100m, memory +128Mi",
            "search       Pod          7         4        2           1           2           1         3           20      cpu +200m, memory +192Mi",
            "shop         Deployment   0         0        0           1           0           0         0           1       n/a",
            "shop         Pod          7         4        1           2           2           1         3           20      cpu +300m, memory +320Mi",
            "TOTAL                     34        21       9           8           10          5         15          102     cpu +1200m, memory +1280Mi",
        ]
    );
    assert!(
        text.contains(&format!(
            "\nConverting changes 43 of 102 objects: 34 get native sidecars in place of classic proxies, 9 have their init containers reordered; 8 are held back by old nodes; 5 would be refused on create.\nConverting changes the effective requests of 12 Pods: cpu +1200m, memory +1280Mi in all (ADDED REQUESTS counts Pods only: ResourceQuota counts pods, not the templates of workloads).\n\nNodes: 7 nodes in {}, 1 older than minKubeletVersion 1.33; the oldest is node-6 (kubelet v1.32.9).\nNew pods without spec.nodeName (every pod a workload creates) get no native sidecars until every node runs kubelet 1.33 or later; a Pod whose spec.nodeName names a newer node gets them.\n\nRefused on create (5):\n",
            nodes.display()
        )),
        "{text}"
    );
}

/// A classic Istio Pod with `migrate`, an init container that asks for more than the app.
fn istio_pod(name: &str, namespace: &str, node: Option<&str>, migrate: Value) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "initContainers": [
                {"name": "istio-init", "image": "proxyv2", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                {"name": "migrate", "image": "migrate", "resources": {"requests": migrate}}
            ],
            "containers": [
                {"name": "app", "image": "app", "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}},
                {"name": "istio-proxy", "image": "proxyv2", "args": ["proxy", "sidecar"],
                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "1Gi"}}}
            ]
        }
    });
    if let Some(node) = node {
        pod["spec"]["nodeName"] = json!(node);
    }
    pod
}

fn hand_made_list() -> Value {
    // shop/a: migrate 2 cpu, 1Gi, 10Gi of ephemeral storage. Classic, cpu is max(100m, 2, 500m +
    //   100m) = 2; native, migrate runs beside the proxy: 2 + 100m = 2100m, so +100m; memory
    //   max(64Mi, 1Gi, 384Mi) = 1Gi becomes 1Gi + 128Mi, +128Mi; ephemeral storage 10Gi becomes
    //   11Gi, +1Gi.
    // shop/b: migrate 100m and 64Mi, below the app: 600m and 384Mi either way, nothing added.
    // search/c: migrate 200m and 512Mi: cpu stays 600m, memory 512Mi becomes 640Mi, +128Mi.
    // The Deployment has a's template: ResourceQuota counts its pods, not it.
    let a = istio_pod(
        "a",
        "shop",
        None,
        json!({"cpu": "2", "memory": "1Gi", "ephemeral-storage": "10Gi"}),
    );
    let mut deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}}}
    });
    deployment["spec"]["template"]["spec"] = a["spec"].clone();
    json!({"apiVersion": "v1", "kind": "List", "items": [
        a,
        istio_pod("b", "shop", None, json!({"cpu": "100m", "memory": "64Mi"})),
        istio_pod("c", "search", None, json!({"cpu": "200m", "memory": "512Mi"})),
        deployment,
    ]})
}

#[test]
fn report_adds_up_what_converting_adds_to_pods_requests() {
    let list = hand_made_list().to_string();
    cli()
        .args(["report", "-f", "-"])
        .write_stdin(list.clone())
        .assert()
        .success()
        .stdout(concat!(
            "NAMESPACE   KIND         CLASSIC   NATIVE   MISPLACED   OPTED OUT   REFUSED   UNTOUCHED   TOTAL   ADDED REQUESTS\n",
            "search      Pod          1         0        0           0           0         0           1       memory +128Mi\n",
            "shop        Deployment   1         0        0           0           0         0           1       n/a\n",
            "shop        Pod          2         0        0           0           0         0           2       cpu +100m, memory +128Mi, ephemeral-storage +1Gi\n",
            "TOTAL                    4         0        0           0           0         0           4       cpu +100m, memory +256Mi, ephemeral-storage +1Gi\n",
            "\n",
            "Converting changes 4 of 4 objects: 4 get native sidecars in place of classic proxies, 0 have their init containers reordered; 0 would be refused on create.\n",
            "Converting changes the effective requests of 2 Pods: cpu +100m, memory +256Mi, ephemeral-storage +1Gi in all (ADDED REQUESTS counts Pods only: ResourceQuota counts pods, not the templates of workloads).\n",
        ));
    let output = cli()
        .args(["report", "-o", "json", "-f", "-"])
        .write_stdin(list.clone())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (
                r["namespace"].clone(),
                r["kind"].clone(),
                r["addedRequests"].clone()
            ))
            .collect::<Vec<_>>(),
        [
            (json!("search"), json!("Pod"), json!({"memory": "128Mi"})),
            (json!("shop"), json!("Deployment"), Value::Null),
            (
                json!("shop"),
                json!("Pod"),
                json!({"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "1Gi"})
            ),
        ]
    );
    assert_eq!(
        report["totals"]["addedRequests"],
        json!({"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "1Gi"})
    );
    assert_eq!(report["podsWithAddedRequests"], json!(2));

    // The policy computes nothing with `ignore`; the report still does, and counts the same.
    let ignored = cli()
        .args([
            "report",
            "-o",
            "json",
            "--on-resource-increase",
            "ignore",
            "-f",
            "-",
        ])
        .write_stdin(list.clone())
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&ignored.stdout).unwrap(),
        report
    );

    // With `reject`, the Pods whose requests rise are refused, and add nothing.
    let output = cli()
        .args([
            "report",
            "-o",
            "json",
            "--on-resource-increase",
            "reject",
            "-f",
            "-",
        ])
        .write_stdin(list)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["totals"],
        json!({"classic": 1, "native": 0, "misplaced": 0, "optedOut": 0, "refused": 3, "untouched": 0, "total": 4, "addedRequests": {}})
    );
    assert_eq!(
        report["refused"][0],
        json!({"namespace": "shop", "object": "Pod/a", "message": "converting istio-proxy raises the pod's effective cpu request from 2 to 2100m: init container \"migrate\" (2) now runs beside istio-proxy (100m); ResourceQuota, LimitRange and scheduling count the new value. converting istio-proxy raises the pod's effective ephemeral-storage request from 10Gi to 11Gi: init container \"migrate\" (10Gi) now runs beside istio-proxy (1Gi); ResourceQuota, LimitRange and scheduling count the new value. converting istio-proxy raises the pod's effective memory request from 1Gi to 1152Mi: init container \"migrate\" (1Gi) now runs beside istio-proxy (128Mi); ResourceQuota, LimitRange and scheduling count the new value. onResourceIncrease is \"reject\": lower the init container's resources, or set onResourceIncrease to \"warn\" to convert such pods"})
    );
}

#[test]
fn report_decides_by_the_pods_own_node() {
    let dir = tempfile::tempdir().unwrap();
    // YAML, as `kubectl get nodes -o yaml` prints it.
    let nodes = write(
        dir.path(),
        "nodes.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata:\n    name: old-1\n  status:\n    nodeInfo:\n      kubeletVersion: v1.32.9+k3s1\n- apiVersion: v1\n  kind: Node\n  metadata:\n    name: new-1\n  status:\n    nodeInfo:\n      kubeletVersion: v1.34.1\n",
    );
    let small = json!({"cpu": "100m"});
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        istio_pod("on-new", "shop", Some("new-1"), small.clone()),
        istio_pod("on-old", "shop", Some("old-1"), small.clone()),
        istio_pod("on-a-gone-node", "shop", Some("gone"), small.clone()),
        istio_pod("unscheduled", "shop", None, small),
    ]});
    let output = cli()
        .args(["report", "-o", "json", "-f", "-", "--nodes"])
        .arg(&nodes)
        .write_stdin(list.to_string())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    // Only the Pod on the new node converts: the others may run on old-1.
    assert_eq!(
        report["totals"],
        json!({"classic": 1, "native": 0, "misplaced": 0, "heldBack": 3, "optedOut": 0, "refused": 0, "untouched": 0, "total": 4, "addedRequests": {}})
    );
    assert_eq!(
        report["nodes"],
        json!({"file": nodes.display().to_string(), "count": 2, "minKubeletVersion": "1.33", "belowMinimum": 1,
               "oldest": {"name": "old-1", "kubeletVersion": "v1.32.9+k3s1"}, "newPodsGetNativeSidecars": false})
    );
}

#[rstest]
#[case::meshes(&["--meshes", "istio,cilium"], "invalid policy settings: meshes[1] must be one of \"istio\", \"linkerd\", \"kuma\" and \"consul\", found the string \"cilium\"")]
#[case::on_resource_increase(&["--on-resource-increase", "error"], "invalid policy settings: onResourceIncrease must be \"warn\", \"reject\" or \"ignore\", found the string \"error\"")]
#[case::kuma_startup_probe(&["--kuma-startup-probe", "failureThreshold=-1"], "invalid policy settings: kuma.startupProbe.failureThreshold must be a whole number from 0 to 2147483647 (0 leaves the field out, as Kuma does), found the number -1")]
#[case::min_kubelet_version(&["--nodes", "test_data/missing-nodes.json", "--min-kubelet-version", "v1.33"], "invalid policy settings: minKubeletVersion must be a Kubernetes version MAJOR.MINOR such as \"1.33\", found the string \"v1.33\"")]
#[case::min_too_low(&["--nodes", "test_data/missing-nodes.json", "--min-kubelet-version", "1.28"], "invalid policy settings: minKubeletVersion 1.28 is below 1.29, the first Kubernetes release that runs sidecar containers by default; set \"1.29\" or later")]
fn bad_setting_flags_get_the_policys_messages(#[case] flags: &[&str], #[case] message: &str) {
    cli()
        .args(["report", "-f", "-"])
        .args(flags)
        .write_stdin("{}")
        .assert()
        .code(2)
        .stdout("")
        .stderr(format!("native-sidecar: {message}\n"));
}

#[test]
fn setting_flags() {
    // A Linkerd Pod is left alone when only Istio is handled.
    let linkerd = fixture("test_data/linkerd/emojivoto-pod.classic.yaml");
    cli()
        .args(["check", "--meshes", "istio", "-"])
        .write_stdin(linkerd.clone())
        .assert()
        .code(0);
    cli()
        .args(["check", "--meshes", "linkerd,istio", "-"])
        .write_stdin(linkerd)
        .assert()
        .code(1)
        .stdout("<stdin>:1: Pod/vote-bot: linkerd-proxy (containers[0]) runs in containers, not as a native sidecar in initContainers\n");
    // `reject` refuses a conversion that raises the requests.
    let pod = istio_pod("a", "shop", None, json!({"cpu": "2"}));
    cli()
        .args(["convert", "--on-resource-increase", "reject"])
        .write_stdin(pod.to_string())
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: <stdin>:1: Pod/a: converting istio-proxy raises the pod's effective cpu request from 2 to 2100m"));
    // The minimum kubelet version only means something with nodes.
    cli()
        .args(["report", "-f", "-", "--min-kubelet-version", "1.33"])
        .write_stdin("{}")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--nodes <FILE>"));
}

#[test]
fn report_names_a_nodes_file_that_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_cluster(dir.path(), 20);
    cli()
        .args(["report", "-f", "-", "--nodes"])
        .arg(&path)
        .write_stdin("{}")
        .assert()
        .code(2)
        .stdout("")
        .stderr(format!(
            "error: {}:1: items[0] is a Pod, not a Node: --nodes reads what `kubectl get nodes -o json` prints\n",
            path.display()
        ));
}

#[test]
fn report_names_unreadable_input() {
    cli()
        .args(["report", "-f", "-"])
        .write_stdin("{\"kind\": \"List\", \"items\": [}")
        .assert()
        .code(2)
        .stdout("")
        .stderr("error: <stdin>:1: JSON syntax error at line 1, column 28: expected value\n");
}
