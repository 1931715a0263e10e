//! The `native-sidecar` binary on the repository's fixtures: what it prints, what it writes and
//! how it exits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use native_sidecar_testdata::{ClusterObject, cluster_list, istio_pairs, root};
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
    for pair in native_sidecar_testdata::cases() {
        let file = format!("test_data/cases/{}.yaml", pair.name);
        let output = cli().args(["convert", &file]).output().unwrap();
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
    let fixtures = repo().join("test_data/linkerd");
    let classic = fixtures.join(format!("{name}.classic.yaml"));
    let native = std::fs::read_to_string(fixtures.join(format!("{name}.native.yaml"))).unwrap();
    let output = cli().arg("convert").arg(&classic).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(documents(&stdout(&output)), documents(&native));
}

#[test]
fn unchanged_documents_come_back_byte_for_byte() {
    for pair in istio_pairs() {
        let file = format!("test_data/istio/{}.native.yaml", pair.name);
        let text = std::fs::read_to_string(repo().join(&file)).unwrap();
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
    let classic = std::fs::read_to_string(repo().join("test_data/istio/pod.classic.yaml")).unwrap();
    let expected = &istio_pairs()
        .into_iter()
        .find(|p| p.name == "pod")
        .unwrap()
        .after;
    for args in [vec!["convert"], vec!["convert", "-"]] {
        let output = cli()
            .args(&args)
            .write_stdin(classic.clone())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(documents(&stdout(&output)), std::slice::from_ref(expected));
    }
}

#[test]
fn a_directory_is_read_in_name_order_with_other_kinds_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let classic = std::fs::read_to_string(repo().join("test_data/istio/job.classic.yaml")).unwrap();
    write("b/job.yaml", &classic);
    write(
        "a-service.yaml",
        "# the service\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
    );
    write("notes.txt", "not a manifest");
    write(".hidden/pod.yaml", "not: [read");
    let output = cli().arg("convert").arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with(
        "# the service\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\n"
    ));
    let expected = istio_pairs()
        .into_iter()
        .find(|p| p.name == "job")
        .unwrap()
        .after;
    assert_eq!(
        documents(&text),
        [
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}),
            expected
        ]
    );
    assert_eq!(
        stderr(&output),
        "native-sidecar: 1 of 2 documents changed\n"
    );
}

/// A Git repository's layout: a converted workload beside files that must not change at all.
#[test]
fn in_place_rewrites_only_what_changes() {
    let dir = tempfile::tempdir().unwrap();
    let istio = repo().join("test_data/istio");
    let native_pod = std::fs::read_to_string(istio.join("pod.native.yaml")).unwrap();
    let classic_job = std::fs::read_to_string(istio.join("job.classic.yaml")).unwrap();
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
        std::fs::write(dir.path().join(name), text).unwrap();
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
            let expected = istio_pairs()
                .into_iter()
                .find(|p| p.name == "job")
                .unwrap()
                .after;
            assert_eq!(documents(&after[prefix.len()..]), [expected]);
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
    let classic = std::fs::read_to_string(repo().join("test_data/istio/pod.classic.yaml")).unwrap();
    std::fs::write(dir.path().join("a.yaml"), &classic).unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "kind: ConfigMap\ndata:\n  a: b\n   c: d\n",
    )
    .unwrap();
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
    "error: <stdin>:2: YAML syntax error at line 3, column 19: while parsing a node, did not find expected node content"
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
    let settings = dir.path().join("settings.yaml");
    std::fs::write(&settings, "requestNativeInjection: maybe\n").unwrap();
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
    let classic = documents(
        &std::fs::read_to_string(repo().join("test_data/istio/pod.classic.yaml")).unwrap(),
    )
    .remove(0);
    let native = istio_pairs()
        .into_iter()
        .find(|p| p.name == "pod")
        .unwrap()
        .after;
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
    let path = dir.join("cluster.json");
    std::fs::write(&path, serde_json::to_string_pretty(&list).unwrap()).unwrap();
    (path, expected)
}

#[test]
fn report_counts_a_5000_pod_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = write_cluster(dir.path(), 5000);
    let output = cli()
        .args(["report", "--output", "json", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // No progress bar when stderr is not a terminal.
    assert_eq!(stderr(&output), "");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["totals"],
        json!({"classic": 2050, "native": 1050, "misplaced": 500, "optedOut": 500, "refused": 250, "untouched": 750, "total": 5100})
    );
    let mut tally: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    for object in &expected {
        *tally
            .entry((object.namespace.clone(), object.kind.to_owned()))
            .or_default()
            .entry(object.category.to_owned())
            .or_default() += 1;
    }
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), tally.len());
    for row in rows {
        let key = (
            row["namespace"].as_str().unwrap().to_owned(),
            row["kind"].as_str().unwrap().to_owned(),
        );
        let counts = &tally[&key];
        for category in [
            "classic",
            "native",
            "misplaced",
            "optedOut",
            "refused",
            "untouched",
        ] {
            assert_eq!(
                row[category].as_u64().unwrap(),
                counts.get(category).copied().unwrap_or(0),
                "{key:?} {category}"
            );
        }
    }
    assert_eq!(report["refused"].as_array().unwrap().len(), 250);
    assert_eq!(
        report["refused"][0],
        json!({"namespace": "shop", "object": "Pod/pod-16", "message": "spec.initContainers already has a container named \"istio-proxy\", the name of the proxy in spec.containers; remove one of the two copies so that a single proxy runs as a native sidecar"})
    );
}

#[test]
fn report_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_cluster(dir.path(), 100);
    let nodes = dir.path().join("nodes.json");
    std::fs::write(
        &nodes,
        json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "b"}}
        ]})
        .to_string(),
    )
    .unwrap();
    let output = cli()
        .args(["report", "-f"])
        .arg(&path)
        .arg("--nodes")
        .arg(&nodes)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let table: Vec<&str> = text.lines().take(8).collect();
    assert_eq!(
        table,
        [
            "NAMESPACE    KIND         CLASSIC   NATIVE   MISPLACED   OPTED OUT   REFUSED   UNTOUCHED   TOTAL",
            "batch        Pod          8         4        2           2           1         3           20",
            "monitoring   Pod          8         4        2           2           1         3           20",
            "payments     Deployment   0         1        0           0           0         0           1",
            "payments     Pod          8         4        2           2           1         3           20",
            "search       Pod          8         4        2           2           1         3           20",
            "shop         Deployment   1         0        0           0           0         0           1",
            "shop         Pod          8         4        2           2           1         3           20",
        ]
    );
    assert!(text.contains("\nConverting changes 51 of 102 objects: 41 get native sidecars in place of classic proxies, 10 have their init containers reordered; 5 would be refused on create.\n"), "{text}");
    assert!(
        text.contains(&format!("\nNodes: 2 read from {}; ", nodes.display())),
        "{text}"
    );
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
