//! The sample AdmissionRequests in `test_data/requests/` (used by `tests/e2e.bats` and `make run`)
//! are built here from the YAML in `test_data/{istio,linkerd,kuma,consul,cases}`, so that they cannot
//! drift from the fixtures. `expected/NAME.json` holds the object the policy must produce, with
//! the settings of `expected/settings.json` when it names the request, else the defaults.
//!
//! Regenerate after changing a fixture: `REGENERATE_REQUESTS=1 cargo test -p native-sidecar-host
//! --test sample_requests`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use native_sidecar_testdata::{
    admission_request, cases, consul_pairs, documents, istio_pairs, kuma_pairs, linkerd_pairs, root,
};
use serde_json::{Value, json};

/// Requests by file name, and for conversions the object expected after the patch.
fn samples() -> BTreeMap<String, (Value, Option<Value>)> {
    let mut samples = BTreeMap::new();
    let mut add = |name: &str, request: Value, expected: Option<Value>| {
        samples.insert(name.to_owned(), (request, expected));
    };

    for (mesh, pairs) in [
        ("istio", istio_pairs()),
        ("linkerd", linkerd_pairs()),
        ("kuma", kuma_pairs()),
        ("consul", consul_pairs()),
    ] {
        for pair in pairs {
            add(
                &format!("{mesh}-{}-classic", pair.name),
                admission_request(&pair.before, "CREATE"),
                Some(pair.after.clone()),
            );
            add(
                &format!("{mesh}-{}-native", pair.name),
                admission_request(&pair.after, "CREATE"),
                None,
            );
        }
    }
    for pair in cases() {
        add(
            &format!("case-{}", pair.name),
            admission_request(&pair.before, "CREATE"),
            Some(pair.after.clone()),
        );
    }

    let istio = |name: &str| single(&root().join("istio").join(name));
    let pod = istio("pod.classic.yaml");
    let deployment = istio("hello.classic.yaml");

    // The article's second scenario: the Pod a Job creates, `restartPolicy: Never`.
    let job = istio("job.classic.yaml");
    let job_native = istio("job.native.yaml");
    add(
        "article-job-pod",
        admission_request(&pod_of(&job, "pi-7x2kq"), "CREATE"),
        Some(pod_of(&job_native, "pi-7x2kq")),
    );

    // Istio's goldens have no ReplicationController: the Deployment's template in one.
    let rc = |template: &Value| {
        json!({
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "hello"},
            "spec": {"replicas": 1, "selector": {"app": "hello"}, "template": template},
        })
    };
    add(
        "replicationcontroller-classic",
        admission_request(&rc(&deployment["spec"]["template"]), "CREATE"),
        Some(rc(&istio("hello.native.yaml")["spec"]["template"])),
    );

    add(
        "istio-hello-classic-update",
        admission_request(&deployment, "UPDATE"),
        Some(istio("hello.native.yaml")),
    );
    add(
        "pod-classic-update",
        admission_request(&pod, "UPDATE"),
        None,
    );
    add(
        "pod-classic-delete",
        admission_request(&pod, "DELETE"),
        None,
    );
    let mut status = admission_request(&pod, "UPDATE");
    status["subResource"] = json!("status");
    add("pod-classic-status-subresource", status, None);
    add(
        "admission-review-pod-classic",
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": admission_request(&pod, "CREATE"),
        }),
        None,
    );

    add(
        "pod-opt-out",
        admission_request(
            &with(
                &pod,
                "/metadata/annotations/sidecar.istio.io~1nativeSidecar",
                json!("false"),
            ),
            "CREATE",
        ),
        None,
    );

    // Pods as a ClusterAdmissionPolicy sees them: before Istio's injector.
    let plain = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sleep", "namespace": "default", "labels": {"app": "sleep"}},
        "spec": {"containers": [{"name": "sleep", "image": "curlimages/curl", "command": ["/bin/sleep", "infinity"]}]},
    });
    add("pod-uninjected", admission_request(&plain, "CREATE"), None);
    add(
        "pod-uninjected-inject-false",
        admission_request(
            &with(
                &plain,
                "/metadata/labels/sidecar.istio.io~1inject",
                json!("false"),
            ),
            "CREATE",
        ),
        None,
    );
    add(
        "pod-uninjected-host-network",
        admission_request(&with(&plain, "/spec/hostNetwork", json!(true)), "CREATE"),
        None,
    );
    let mut uninjected_deployment = deployment.clone();
    if let Some(template) = uninjected_deployment.pointer_mut("/spec/template") {
        *template = json!({
            "metadata": {"labels": {"app": "hello"}},
            "spec": {"containers": [{"name": "hello", "image": "hello"}]},
        });
    }
    add(
        "deployment-uninjected",
        admission_request(&uninjected_deployment, "CREATE"),
        None,
    );

    let gateway = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ingressgateway", "annotations": {"inject.istio.io/templates": "gateway"}},
        "spec": {"containers": [{"name": "istio-proxy", "image": "auto", "args": ["proxy", "router"]}]},
    });
    add("pod-gateway", admission_request(&gateway, "CREATE"), None);

    let configmap =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    add("configmap", admission_request(&configmap, "CREATE"), None);

    // What the policy refuses rather than break: small Pods, one problem each.
    let proxy = json!({"name": "istio-proxy", "image": "proxyv2", "args": ["proxy", "sidecar"]});
    let app = json!({"name": "app", "image": "app"});
    let istio_init = json!({"name": "istio-init", "image": "proxyv2", "args": ["istio-iptables"]});
    let small = |init: Vec<Value>, containers: Vec<Value>| {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "small"},
            "spec": {"initContainers": init, "containers": containers},
        })
    };
    let mut never = proxy.clone();
    never["restartPolicy"] = json!("Never");
    let rejections = [
        (
            "reject-duplicate-name",
            small(
                vec![istio_init.clone(), proxy.clone()],
                vec![app.clone(), proxy.clone()],
            ),
        ),
        (
            "reject-two-proxies",
            small(
                vec![istio_init.clone()],
                vec![app.clone(), proxy.clone(), proxy.clone()],
            ),
        ),
        (
            "reject-restart-policy-never",
            small(vec![istio_init.clone()], vec![app.clone(), never]),
        ),
        (
            "reject-only-container",
            small(vec![istio_init.clone()], vec![proxy.clone()]),
        ),
        (
            "reject-init-proxy-without-restart-policy",
            small(vec![istio_init.clone(), proxy.clone()], vec![app.clone()]),
        ),
    ];
    for (name, object) in rejections {
        add(name, admission_request(&object, "CREATE"), None);
    }

    // A sidecar declared in the settings (`extraSidecars`), no mesh at all.
    let vault = small(
        vec![
            json!({"name": "vault-agent-init", "image": "vault"}),
            json!({"name": "migrate", "image": "app"}),
        ],
        vec![
            app.clone(),
            json!({"name": "vault-agent", "image": "vault"}),
        ],
    );
    add("pod-vault-agent", admission_request(&vault, "CREATE"), None);

    // Linkerd: a Pod that asks Linkerd to inject it, as a ClusterAdmissionPolicy sees it; the
    // shared emojivoto Pod opting out of native mode; and what the policy refuses.
    let meshed = with(
        &plain,
        "/metadata/annotations/linkerd.io~1inject",
        json!("enabled"),
    );
    add(
        "pod-uninjected-linkerd",
        admission_request(&meshed, "CREATE"),
        None,
    );
    let linkerd = |name: &str| single(&root().join("linkerd").join(name));
    let emojivoto = linkerd("emojivoto-pod.classic.yaml");
    add(
        "pod-linkerd-opt-out",
        admission_request(
            &with(
                &emojivoto,
                "/metadata/annotations/config.linkerd.io~1proxy-enable-native-sidecar",
                json!("false"),
            ),
            "CREATE",
        ),
        None,
    );
    // Kinds and operations the two Linkerd goldens do not cover: UPDATE, a Job and a
    // ReplicationController around the emojivoto Deployment's template.
    let web = linkerd("emojivoto-deployment.classic.yaml");
    let web_native = linkerd("emojivoto-deployment.native.yaml");
    add(
        "linkerd-emojivoto-deployment-classic-update",
        admission_request(&web, "UPDATE"),
        Some(web_native.clone()),
    );
    add(
        "linkerd-replicationcontroller-classic",
        admission_request(&rc(&web["spec"]["template"]), "CREATE"),
        Some(rc(&web_native["spec"]["template"])),
    );
    let job = |template: &Value| {
        let mut template = template.clone();
        template["spec"]["restartPolicy"] = json!("Never");
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "web-smoke", "namespace": "emojivoto"},
            "spec": {"backoffLimit": 0, "template": template},
        })
    };
    add(
        "linkerd-job-classic",
        admission_request(&job(&web["spec"]["template"]), "CREATE"),
        Some(job(&web_native["spec"]["template"])),
    );
    let l5d_proxy = json!({"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:edge-25.4.4",
        "lifecycle": {"postStart": {"exec": {"command": ["/usr/lib/linkerd/linkerd-await", "--timeout=2m", "--port=4191"]}}}});
    let l5d_init = json!({"name": "linkerd-init", "image": "cr.l5d.io/linkerd/proxy:edge-25.4.4", "args": ["--incoming-proxy-port", "4143"]});
    let mut rules = l5d_proxy.clone();
    rules["restartPolicyRules"] =
        json!([{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]);
    let linkerd_rejections = [
        (
            "reject-linkerd-duplicate-name",
            small(
                vec![
                    l5d_init.clone(),
                    json!({"name": "linkerd-proxy", "image": "x"}),
                ],
                vec![l5d_proxy.clone(), app.clone()],
            ),
        ),
        (
            "reject-linkerd-two-proxies",
            small(
                vec![l5d_init.clone()],
                vec![l5d_proxy.clone(), app.clone(), l5d_proxy.clone()],
            ),
        ),
        (
            "reject-linkerd-restart-policy-rules",
            small(vec![l5d_init.clone()], vec![rules, app.clone()]),
        ),
        (
            "reject-linkerd-only-container",
            small(vec![l5d_init.clone()], vec![l5d_proxy.clone()]),
        ),
    ];
    for (name, object) in linkerd_rejections {
        add(name, admission_request(&object, "CREATE"), None);
    }

    // Kuma (converted with test_data/kuma/settings.yaml): a native proxy that another webhook or a
    // hand edit put after the user's init container, the same pod as a Deployment updated, the
    // builtin gateway and a Pod that asks Kuma to inject it, neither of which gets another mesh's
    // annotation, and what the policy refuses.
    let kuma = |name: &str| single(&root().join("kuma").join(name));
    let kuma_native = kuma("pod-02.native.yaml");
    let mut misplaced = kuma_native.clone();
    if let Some(init) = misplaced["spec"]["initContainers"].as_array_mut() {
        // [kuma-init, kuma-sidecar, init] -> [kuma-init, init, kuma-sidecar]
        init.swap(1, 2);
    }
    add(
        "kuma-pod-02-misplaced",
        admission_request(&misplaced, "CREATE"),
        Some(kuma_native.clone()),
    );
    let kuma_deployment = |pod: &Value| {
        let mut metadata = pod["metadata"].clone();
        if let Value::Object(fields) = &mut metadata {
            fields.shift_remove("name");
        }
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "busybox"},
            "spec": {"selector": {"matchLabels": {"run": "busybox"}},
                     "template": {"metadata": metadata, "spec": pod["spec"]}},
        })
    };
    add(
        "kuma-deployment-classic-update",
        admission_request(&kuma_deployment(&kuma("pod-02.classic.yaml")), "UPDATE"),
        Some(kuma_deployment(&kuma_native)),
    );
    let builtin_gateway = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "edge-gateway-7d9c", "namespace": "kuma-demo",
                     "labels": {"app": "edge-gateway"},
                     "annotations": {"kuma.io/gateway": "builtin", "kuma.io/mesh": "default",
                                     "kuma.io/sidecar-injection": "disabled"}},
        "spec": {"containers": [{"name": "kuma-gateway", "image": "docker.io/kumahq/kuma-dp:2.14.0",
                                  "args": ["run", "--log-level=info"]}]},
    });
    add(
        "pod-kuma-builtin-gateway",
        admission_request(&builtin_gateway, "CREATE"),
        None,
    );
    add(
        "pod-uninjected-kuma",
        admission_request(
            &with(
                &plain,
                "/metadata/labels/kuma.io~1sidecar-injection",
                json!("enabled"),
            ),
            "CREATE",
        ),
        None,
    );
    let kuma_proxy = json!({"name": "kuma-sidecar", "image": "docker.io/kumahq/kuma-dp:2.14.0",
        "livenessProbe": {"httpGet": {"path": "/ready", "port": 9901}}});
    let kuma_init = json!({"name": "kuma-init", "image": "docker.io/kumahq/kuma-init:2.14.0",
        "command": ["/usr/bin/kumactl", "install", "transparent-proxy"]});
    let mut probe_clash = small(
        vec![
            json!({"name": "metrics-sidecar", "image": "metrics", "restartPolicy": "Always",
                   "readinessProbe": {"httpGet": {"path": "/ready", "port": 9001}}}),
            kuma_init.clone(),
        ],
        vec![kuma_proxy.clone(), app.clone()],
    );
    probe_clash["metadata"]["annotations"] =
        json!({"kuma.io/application-probe-proxy-port": "9001"});
    let kuma_rejections = [
        (
            "reject-kuma-two-proxies",
            small(
                vec![kuma_init.clone()],
                vec![kuma_proxy.clone(), app.clone(), kuma_proxy.clone()],
            ),
        ),
        (
            "reject-kuma-only-container",
            small(vec![kuma_init.clone()], vec![kuma_proxy.clone()]),
        ),
        ("reject-kuma-probe-on-probe-proxy-port", probe_clash),
    ];
    for (name, object) in kuma_rejections {
        add(name, admission_request(&object, "CREATE"), None);
    }

    // Consul (`test_data/consul/inputs`): pods whose dataplane stays classic (an image too old for
    // the native startup probe, one whose tag names no version, an opt-out), pods left alone (a
    // mesh gateway, the Helm telemetry collector, native output read back from the API server), a
    // Pod that asks Consul to inject it, and what the policy refuses.
    let consul = |name: &str| single(&root().join("consul/inputs").join(format!("{name}.yaml")));
    for name in [
        "old-dataplane-1.6.8",
        "digest",
        "opt-out-false",
        "mesh-gateway",
        "telemetry-collector",
        "native-defaulted",
    ] {
        add(
            &format!("pod-consul-{name}"),
            admission_request(&consul(&format!("consul-{name}")), "CREATE"),
            None,
        );
    }
    let asks_consul = documents(&root().join("consul/inputs/consul-request-native.yaml"));
    add(
        "pod-uninjected-consul",
        admission_request(&asks_consul[0], "CREATE"),
        None,
    );
    for name in ["dataplane-only", "two-dataplanes", "restart-policy-rules"] {
        add(
            &format!("reject-consul-{name}"),
            admission_request(&consul(&format!("consul-{name}")), "CREATE"),
            None,
        );
    }

    // An init container that asks for more than the app and the proxy together (issue 13): as a
    // native sidecar the proxy runs beside it, so the pod's effective cpu request rises.
    let migrate = |object: &Value, init: &[usize]| -> Value {
        let mut object = object.clone();
        object["spec"]["containers"][0]["resources"] =
            json!({"requests": {"cpu": "500m", "memory": "256Mi"}});
        let list = object["spec"]["initContainers"]
            .as_array_mut()
            .expect("init containers");
        let migrate = json!({"name": "migrate", "image": "app", "command": ["/migrate"],
            "resources": {"requests": {"cpu": "2", "memory": "256Mi"}}});
        for &at in init {
            list.insert(at, migrate.clone());
        }
        object
    };
    let native_pod = istio("pod.native.yaml");
    // Classic injection puts the user's init containers before istio-init; native after the proxy.
    let pod_migrate = migrate(&pod, &[0]);
    add(
        "pod-init-larger-than-app",
        admission_request(&pod_migrate, "CREATE"),
        Some(migrate(&native_pod, &[2])),
    );
    // Pod-level requests that leave no room for the proxy: the API server would refuse the pod.
    add(
        "pod-init-larger-than-app-pod-level",
        admission_request(
            &with(
                &pod_migrate,
                "/spec/resources",
                json!({"requests": {"cpu": "2"}}),
            ),
            "CREATE",
        ),
        None,
    );
    samples
}

/// The settings that give `expected/NAME.json` when they are not the defaults (Kuma's control
/// plane timings), written as `expected/settings.json` for the runners that pick settings by name.
fn conversion_settings() -> BTreeMap<String, Value> {
    let mut settings = BTreeMap::new();
    for pair in kuma_pairs() {
        settings.insert(format!("kuma-{}-classic", pair.name), pair.settings.clone());
        if pair.name == "pod-02" {
            settings.insert("kuma-deployment-classic-update".to_owned(), pair.settings);
        }
    }
    for pair in cases().into_iter().filter(|p| !p.settings.is_null()) {
        settings.insert(format!("case-{}", pair.name), pair.settings);
    }
    settings
}

fn single(path: &Path) -> Value {
    let mut docs = documents(path);
    assert_eq!(docs.len(), 1, "{} must hold one document", path.display());
    docs.remove(0)
}

/// The Pod a Job's controller creates from the Job's template.
fn pod_of(job: &Value, name: &str) -> Value {
    let template = &job["spec"]["template"];
    let mut metadata = template["metadata"].clone();
    if let Value::Object(fields) = &mut metadata {
        fields.insert("name".into(), json!(name));
        fields.insert(
            "ownerReferences".into(),
            json!([{"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"], "uid": "8d9a4c8e-2f4b-4f0e-9d47-6f1b1c2d3e4f", "controller": true, "blockOwnerDeletion": true}]),
        );
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]})
}

fn with(object: &Value, pointer: &str, value: Value) -> Value {
    let mut object = object.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let key = key.replace("~1", "/").replace("~0", "~");
    if object.pointer(parent).is_none() {
        let (grand, field) = parent.rsplit_once('/').expect("parent has a parent");
        object.pointer_mut(grand).expect("grandparent exists")[field] = json!({});
    }
    object.pointer_mut(parent).expect("parent exists")[key] = value;
    object
}

fn dir() -> PathBuf {
    root().join("requests")
}

fn text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    text.push('\n');
    text
}

#[test]
fn sample_requests_match_the_fixtures() {
    let regenerate = std::env::var_os("REGENERATE_REQUESTS").is_some();
    let mut stale = Vec::new();
    let mut files = BTreeMap::new();
    files.insert(
        dir().join("expected").join("settings.json"),
        text(&json!(conversion_settings())),
    );
    for (name, (request, expected)) in samples() {
        files.insert(dir().join(format!("{name}.json")), text(&request));
        if let Some(expected) = expected {
            files.insert(
                dir().join("expected").join(format!("{name}.json")),
                text(&expected),
            );
        }
    }
    for (path, content) in &files {
        if std::fs::read_to_string(path).ok().as_deref() != Some(content.as_str()) {
            if regenerate {
                std::fs::create_dir_all(path.parent().expect("files live in a directory"))
                    .expect("can create test_data/requests");
                std::fs::write(path, content).expect("can write test_data/requests");
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale or missing sample requests (run REGENERATE_REQUESTS=1 cargo test -p native-sidecar-host --test sample_requests): {stale:#?}"
    );

    // Files nobody generates any more would be tested by nothing.
    for sub in [dir(), dir().join("expected")] {
        for entry in std::fs::read_dir(&sub).expect("test_data/requests exists") {
            let path = entry.expect("readable directory").path();
            if path.extension().is_some_and(|ext| ext == "json") {
                assert!(
                    files.contains_key(&path),
                    "{} is not generated by this test",
                    path.display()
                );
            }
        }
    }
}
