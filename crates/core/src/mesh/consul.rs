//! Consul on Kubernetes: what consul-k8s's webhook renders differently with
//! `enable-consul-dataplane-as-sidecar` (`../shared/SPEC.md` section 13; hashicorp/consul-k8s
//! `control-plane/connect-inject/webhook/mesh_webhook.go`, `consul_dataplane_sidecar.go`,
//! `lifecycle/lifecycle_configuration.go`), and the `consul` settings section: the probe timings
//! of the injector's flags, which the pod does not show, and whether old-looking dataplane images
//! can run natively.
//!
//! Unlike the other meshes, Consul keeps the user's init containers before its own (they run
//! outside the mesh in both layouts), so no init container depends on the dataplane: each
//! dataplane goes right after its own init container, and a multi-port pod has one pair per
//! service.

use serde_json::{Map, Value, json};

use super::{
    Dependents, Injection, Instance, Mesh, MeshSettings, NativeEdit, PROBE_TIMINGS, Switch,
    Timings, parse_bool, section,
};
use crate::describe::describe;
use crate::pod::{PodView, name};

const PROXY: &str = "consul-dataplane";
const INIT: &str = "consul-connect-inject-init";
const NATIVE: &str = "consul.hashicorp.com/enable-consul-dataplane-as-sidecar";
const INJECT: &str = "consul.hashicorp.com/connect-inject";
const STATUS: &str = "consul.hashicorp.com/connect-inject-status";
const SERVICE: &str = "consul.hashicorp.com/connect-service";
const GATEWAY_KIND: &str = "consul.hashicorp.com/gateway-kind";
/// The pod annotations of the native startup probe's timings, in the order of [`PROBE_TIMINGS`].
const PROBE_ANNOTATIONS: [&str; 4] = [
    "consul.hashicorp.com/sidecar-initial-probe-check-delay-seconds",
    "consul.hashicorp.com/sidecar-probe-check-timeout-seconds",
    "consul.hashicorp.com/sidecar-probe-period-seconds",
    "consul.hashicorp.com/sidecar-probe-failure-threshold",
];
/// The injector flags' defaults for the probe timings (delay 1, timeout 5, period 1, failures
/// 10), in the order of [`PROBE_TIMINGS`].
const DEFAULT_TIMINGS: Timings = Timings([1, 5, 1, 10]);
/// The first consul-dataplane patch of each minor line that has `-check-proxy-health`, which the
/// native startup probe runs; every 1.9 and later release has it.
const FIRST_WITH_HEALTH_CHECK: [(u32, u32); 3] = [(6, 9), (7, 5), (8, 2)];

pub(crate) struct Consul;

impl Mesh for Consul {
    fn id(&self) -> &'static str {
        "consul"
    }
    fn title(&self) -> &'static str {
        "Consul"
    }
    fn proxy(&self) -> &'static str {
        PROXY
    }
    fn setup(&self) -> &'static [&'static str] {
        &[INIT]
    }
    fn dependents(&self) -> Dependents {
        Dependents::Nothing
    }

    /// One dataplane per service of `connect-service` (a single service or none: the names
    /// without suffix), for pods consul-k8s injected: not its gateways nor the Helm telemetry
    /// collector, which carries the injected status beside `connect-inject: "false"` and its own
    /// `consul-connect-init`. A pair whose init container is missing is not Consul's rendering
    /// and is left alone.
    fn instances(&self, pod: &PodView) -> Option<Vec<Instance>> {
        let annotations = pod.annotations;
        let injected = annotations.get(STATUS) == Some("injected")
            && annotations.get(GATEWAY_KIND).is_none()
            && annotations.get(INJECT).and_then(parse_bool) != Some(false);
        if !injected {
            return Some(Vec::new());
        }
        let services: Vec<&str> = annotations
            .get(SERVICE)
            .map(|s| s.split(',').collect())
            .unwrap_or_default();
        let pairs: Vec<Instance> = if services.len() > 1 {
            services
                .iter()
                .map(|service| Instance {
                    proxy: format!("{PROXY}-{service}"),
                    setup: format!("{INIT}-{service}"),
                })
                .collect()
        } else {
            vec![Instance {
                proxy: PROXY.to_owned(),
                setup: INIT.to_owned(),
            }]
        };
        let present = |setup: &str| pod.init.iter().any(|c| name(c) == Some(setup));
        Some(pairs.into_iter().filter(|i| present(&i.setup)).collect())
    }

    fn is_proxy(&self, name: &str) -> bool {
        name == PROXY || name.strip_prefix(PROXY).is_some_and(|s| s.starts_with('-'))
    }
    fn is_setup(&self, name: &str) -> bool {
        name == INIT || name.strip_prefix(INIT).is_some_and(|s| s.starts_with('-'))
    }

    /// Mesh, ingress, terminating and API gateways carry `gateway-kind`.
    fn is_gateway(&self, pod: &PodView) -> bool {
        pod.annotations.get(GATEWAY_KIND).is_some()
    }

    fn switch(&self) -> Option<&dyn Switch> {
        Some(self)
    }

    /// `connect-inject` read with Go's `ParseBool`; a value it cannot read fails the pod in
    /// Consul's webhook, so the policy adds nothing to such a pod. Pods consul-k8s skips: those
    /// it injected already, gateways, and its own (`app: consul`, the webhook's object selector).
    /// A pod without the annotation is injected only when Helm's `connectInject.default` is true,
    /// which the pod cannot show: the policy does not count it as Consul's, so that a
    /// cluster-wide policy does not annotate every Pod it sees.
    fn injection(&self, pod: &PodView) -> Injection {
        let annotations = pod.annotations;
        let own = pod
            .labels()
            .and_then(|labels| labels.get("app"))
            .and_then(Value::as_str)
            == Some("consul");
        if own
            || annotations.get(GATEWAY_KIND).is_some()
            || annotations.get(STATUS).is_some_and(|s| !s.is_empty())
        {
            return Injection::Refused;
        }
        match annotations.get(INJECT).and_then(parse_bool) {
            Some(true) => Injection::Requested,
            _ => Injection::Refused,
        }
    }

    /// `consulDataplaneSidecar` with the switch on: `restartPolicy: Always` and its own startup
    /// probe in place of any other; nothing else changes.
    fn native_edit(
        &self,
        pod: &PodView,
        _proxy: &Value,
        settings: &MeshSettings,
    ) -> Result<NativeEdit, String> {
        let timings = probe_timings(pod, settings.consul.startup_probe)
            .map_err(|(annotation, value)| out_of_range(annotation, value))?;
        Ok(NativeEdit {
            startup_probe: Some(startup_probe(timings)),
            replaces_startup_probe: true,
            ..NativeEdit::default()
        })
    }

    /// A dataplane without `-check-proxy-health` fails the native startup probe forever, so its
    /// version must be read from the image; a native switch consul-k8s cannot read means the pod
    /// was edited by hand, and converting it would not be Consul's rendering.
    fn keeps_classic(
        &self,
        pod: &PodView,
        at: usize,
        proxy: &Value,
        settings: &MeshSettings,
    ) -> Option<String> {
        let place = format!(
            "{path}.containers[{at}] \"{name}\"",
            path = pod.kind.spec_path(),
            name = name(proxy).unwrap_or(PROXY)
        );
        if let Some(value) = pod.annotations.get(NATIVE)
            && !value.is_empty()
            && parse_bool(value).is_none()
        {
            return Some(format!(
                "{place} stays classic: {NATIVE} is \"{value}\", which consul-k8s does not accept (it reads 1, t, T, TRUE, true, True, 0, f, F, FALSE, false or False); set it to \"true\" to run the dataplane as a native sidecar"
            ));
        }
        if let Err((annotation, value)) = probe_timings(pod, settings.consul.startup_probe) {
            return Some(format!(
                "{place} stays classic: {}",
                out_of_range(annotation, value)
            ));
        }
        if settings.consul.dataplane_supports_native {
            return None;
        }
        let image = proxy
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let why = match image_version(image) {
            Some(version) if supports_native(version) => return None,
            Some((major, minor, _)) => {
                let since = FIRST_WITH_HEALTH_CHECK
                    .iter()
                    .find(|(m, _)| major == 1 && *m == minor)
                    .map_or(
                        "no release of that line has it; 1.9.0 and later do".to_owned(),
                        |(m, p)| format!("{major}.{m}.x has it from {major}.{m}.{p}"),
                    );
                format!(
                    "its image \"{image}\" predates consul-dataplane's -check-proxy-health, which Consul's native startupProbe runs ({since}), so the pod would never start"
                )
            }
            None => format!(
                "its image \"{image}\" names no consul-dataplane version (a tag such as 1.9.0, v1.8.2 or 1.7.5-ent), and a dataplane older than 1.6.9, 1.7.5, 1.8.2 or 1.9.0 has no -check-proxy-health for Consul's native startupProbe"
            ),
        };
        Some(format!(
            "{place} stays classic: {why}; use a newer consul-dataplane image, or set the policy's consul: {{dataplaneSupportsNative: true}} if this image has the check"
        ))
    }
}

impl Switch for Consul {
    fn annotation(&self) -> &'static str {
        NATIVE
    }
    /// `lifecycle_configuration.go`: a false value of `ParseBool` keeps the dataplane classic;
    /// empty is unset (the cluster default).
    fn opt_out(&self, pod: &PodView) -> Option<&'static str> {
        (pod.annotations.get(NATIVE).and_then(parse_bool) == Some(false)).then_some(NATIVE)
    }
    /// Any value, empty included: the user wrote the key, and every other value than a
    /// `ParseBool` one fails the pod in Consul's webhook.
    fn states_mode(&self, pod: &PodView) -> bool {
        pod.annotations.get(NATIVE).is_some()
    }
    fn request_native(&self, annotations: &mut Map<String, Value>) {
        annotations.insert(NATIVE.to_owned(), Value::from("true"));
    }
}

/// The `consul` settings section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConsulSettings {
    /// The injector's `-default-sidecar-*` probe flags, which apply where the pod has no
    /// annotation.
    startup_probe: Timings,
    /// The dataplane images in use have `-check-proxy-health` whatever their tags say.
    dataplane_supports_native: bool,
}

impl Default for ConsulSettings {
    fn default() -> Self {
        ConsulSettings {
            startup_probe: DEFAULT_TIMINGS,
            dataplane_supports_native: false,
        }
    }
}

impl ConsulSettings {
    /// `{startupProbe: {initialDelaySeconds, timeoutSeconds, periodSeconds, failureThreshold},
    /// dataplaneSupportsNative: bool}`, each part optional; null is the defaults.
    pub fn parse(value: &Value) -> Result<ConsulSettings, String> {
        let mut settings = ConsulSettings::default();
        for (key, value) in section(
            value,
            "consul",
            "{\"startupProbe\": {\"failureThreshold\": 10}, \"dataplaneSupportsNative\": false}",
        )? {
            match key.as_str() {
                "startupProbe" => {
                    settings.startup_probe = settings.startup_probe.parse(
                        value,
                        "consul.startupProbe",
                        "consul-k8s's injector flags -default-sidecar-initial-probe-check-delay-seconds and the like",
                        "Consul",
                    )?;
                }
                "dataplaneSupportsNative" => match value {
                    Value::Bool(on) => settings.dataplane_supports_native = *on,
                    Value::Null => {}
                    other => {
                        return Err(format!(
                            "consul.dataplaneSupportsNative must be true or false, found {}",
                            describe(other)
                        ));
                    }
                },
                _ => {
                    return Err(format!(
                        "unknown key \"{key}\" in consul: the section has \"startupProbe\", the timings consul-k8s's injector gives the native dataplane's startup probe, and \"dataplaneSupportsNative\""
                    ));
                }
            }
        }
        Ok(settings)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "startupProbe": self.startup_probe.to_json(),
            "dataplaneSupportsNative": self.dataplane_supports_native,
        })
    }
}

/// The startup probe timings for this pod: each annotation read as Go's `strconv.Atoi` reads it,
/// else the settings'; 0 (also for a value Atoi cannot read, or a negative one) leaves the field
/// out. `Err` names an annotation whose number does not fit the probe's int32, which consul-k8s
/// would wrap into a value the API server refuses or that nobody meant.
fn probe_timings<'v>(
    pod: &PodView<'v>,
    defaults: Timings,
) -> Result<[i64; 4], (&'static str, &'v str)> {
    let mut timings = defaults.0.map(i64::from);
    for (at, annotation) in PROBE_ANNOTATIONS.iter().enumerate() {
        let Some(text) = pod.annotations.get(annotation) else {
            continue;
        };
        let digits = text
            .strip_prefix('-')
            .or_else(|| text.strip_prefix('+'))
            .unwrap_or(text);
        timings[at] = match text.parse::<i32>() {
            Ok(value) => value.into(),
            // A whole number that int32 cannot hold.
            Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                return Err((annotation, text));
            }
            Err(_) => 0,
        };
    }
    Ok(timings)
}

fn out_of_range(annotation: &str, value: &str) -> String {
    format!(
        "{annotation} is \"{value}\", beyond the probe's 2147483647, which consul-k8s would wrap into another number; give it a smaller value"
    )
}

/// `exec consul-dataplane -check-proxy-health` with the timings above 0.
fn startup_probe(timings: [i64; 4]) -> Value {
    let mut probe = Map::new();
    probe.insert(
        "exec".into(),
        json!({"command": ["/usr/local/bin/consul-dataplane", "-check-proxy-health"]}),
    );
    for (key, value) in PROBE_TIMINGS.iter().zip(timings) {
        if value > 0 {
            probe.insert((*key).into(), Value::from(value));
        }
    }
    Value::Object(probe)
}

/// The version in an image reference's tag: `[v]MAJOR.MINOR.PATCH`, then any `-` or `+` suffix
/// (`-ent`, `-ubi`, `-fips`, `-rc1`); a digest after the tag is ignored. `None` without a tag
/// (a digest alone, `latest`, `2.0-dev`).
fn image_version(image: &str) -> Option<(u32, u32, u32)> {
    let reference = image.split('@').next().unwrap_or_default();
    let (_, tag) = reference.rsplit_once(':')?;
    if tag.contains('/') {
        // A registry's port, not a tag.
        return None;
    }
    let tag = tag.strip_prefix('v').unwrap_or(tag);
    let end = tag.bytes().position(|b| b == b'-' || b == b'+');
    let release = &tag[..end.unwrap_or(tag.len())];
    let mut parts = release.split('.').map(|p| {
        p.parse::<u32>()
            .ok()
            .filter(|_| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(major)), Some(Some(minor)), Some(Some(patch)), None) => {
            Some((major, minor, patch))
        }
        _ => None,
    }
}

fn supports_native((major, minor, patch): (u32, u32, u32)) -> bool {
    match (major, minor) {
        (0, _) => false,
        (1, minor) if minor < 9 => FIRST_WITH_HEALTH_CHECK
            .iter()
            .any(|(m, first)| *m == minor && patch >= *first),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("hashicorp/consul-dataplane:1.9.0", Some((1, 9, 0)))]
    #[case("hashicorp/consul-dataplane:v1.8.2", Some((1, 8, 2)))]
    #[case("hashicorp/consul-dataplane-enterprise:1.7.5-ent-ubi", Some((1, 7, 5)))]
    #[case("registry.example.com:5000/consul-dataplane:1.6.9", Some((1, 6, 9)))]
    #[case("hashicorp/consul-dataplane:1.9.0@sha256:6f1b", Some((1, 9, 0)))]
    #[case("hashicorp/consul-dataplane:1.9.0-rc1", Some((1, 9, 0)))]
    #[case("hashicorp/consul-dataplane:1.9.0+ent", Some((1, 9, 0)))]
    #[case("hashicorp/consul-dataplane@sha256:6f1b", None)]
    #[case("registry.example.com:5000/consul-dataplane", None)]
    #[case("hashicorp/consul-dataplane:latest", None)]
    #[case("hashicorp/consul-dataplane", None)]
    #[case("hashicorppreview/consul-dataplane:2.0-dev", None)]
    #[case("hashicorp/consul-dataplane:1.9.0.1", None)]
    #[case("hashicorp/consul-dataplane:1.+9.0", None)]
    #[case("", None)]
    fn versions_come_from_the_tag(#[case] image: &str, #[case] expected: Option<(u32, u32, u32)>) {
        assert_eq!(image_version(image), expected);
    }

    #[rstest]
    #[case((1, 5, 9), false)]
    #[case((1, 6, 8), false)]
    #[case((1, 6, 9), true)]
    #[case((1, 7, 4), false)]
    #[case((1, 7, 5), true)]
    #[case((1, 8, 1), false)]
    #[case((1, 8, 2), true)]
    #[case((1, 9, 0), true)]
    #[case((1, 10, 0), true)]
    #[case((2, 0, 3), true)]
    #[case((0, 9, 9), false)]
    fn health_check_releases(#[case] version: (u32, u32, u32), #[case] expected: bool) {
        assert_eq!(supports_native(version), expected);
    }

    fn pod(annotations: Value) -> Value {
        json!({"metadata": {"annotations": annotations},
               "spec": {"initContainers": [{"name": INIT}], "containers": [{"name": PROXY}, {"name": "app"}]}})
    }

    fn probe(annotations: Value, settings: &MeshSettings) -> Result<Value, String> {
        let object = pod(annotations);
        let pod = PodView::of_pod(&object);
        Consul
            .native_edit(&pod, &pod.containers[0], settings)
            .map(|edit| edit.startup_probe.unwrap_or_default())
    }

    fn exec() -> Value {
        json!({"command": ["/usr/local/bin/consul-dataplane", "-check-proxy-health"]})
    }

    #[rstest]
    #[case::defaults(json!({}), json!({"exec": exec(), "initialDelaySeconds": 1, "timeoutSeconds": 5, "periodSeconds": 1, "failureThreshold": 10}))]
    #[case::annotations(
        json!({PROBE_ANNOTATIONS[0]: "5", PROBE_ANNOTATIONS[1]: "3", PROBE_ANNOTATIONS[2]: "2", PROBE_ANNOTATIONS[3]: "30"}),
        json!({"exec": exec(), "initialDelaySeconds": 5, "timeoutSeconds": 3, "periodSeconds": 2, "failureThreshold": 30})
    )]
    #[case::zero(json!({PROBE_ANNOTATIONS[2]: "0"}), json!({"exec": exec(), "initialDelaySeconds": 1, "timeoutSeconds": 5, "failureThreshold": 10}))]
    #[case::unparsable(json!({PROBE_ANNOTATIONS[3]: "ten"}), json!({"exec": exec(), "initialDelaySeconds": 1, "timeoutSeconds": 5, "periodSeconds": 1}))]
    #[case::empty(json!({PROBE_ANNOTATIONS[0]: ""}), json!({"exec": exec(), "timeoutSeconds": 5, "periodSeconds": 1, "failureThreshold": 10}))]
    #[case::negative(json!({PROBE_ANNOTATIONS[1]: "-4"}), json!({"exec": exec(), "initialDelaySeconds": 1, "periodSeconds": 1, "failureThreshold": 10}))]
    #[case::plus_sign(json!({PROBE_ANNOTATIONS[1]: "+4"}), json!({"exec": exec(), "initialDelaySeconds": 1, "timeoutSeconds": 4, "periodSeconds": 1, "failureThreshold": 10}))]
    fn startup_probe_timings(#[case] annotations: Value, #[case] expected: Value) {
        assert_eq!(probe(annotations, &MeshSettings::default()), Ok(expected));
    }

    #[test]
    fn settings_give_the_injectors_timings() {
        let mut settings = MeshSettings::default();
        settings
            .parse(
                "consul",
                &json!({"startupProbe": {"failureThreshold": 30, "timeoutSeconds": 0}}),
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            probe(json!({PROBE_ANNOTATIONS[0]: "7"}), &settings),
            Ok(
                json!({"exec": exec(), "initialDelaySeconds": 7, "periodSeconds": 1, "failureThreshold": 30})
            )
        );
        assert_eq!(
            settings.consul.to_json(),
            json!({"startupProbe": {"initialDelaySeconds": 1, "timeoutSeconds": 0, "periodSeconds": 1, "failureThreshold": 30}, "dataplaneSupportsNative": false})
        );
    }

    #[test]
    fn a_timing_beyond_int32_is_refused() {
        let message = format!(
            "{} is \"2147483648\", beyond the probe's 2147483647, which consul-k8s would wrap into another number; give it a smaller value",
            PROBE_ANNOTATIONS[3]
        );
        assert_eq!(
            probe(
                json!({PROBE_ANNOTATIONS[3]: "2147483648"}),
                &MeshSettings::default()
            ),
            Err(message)
        );
    }

    #[rstest]
    #[case::requested(json!({"metadata": {"annotations": {INJECT: "true"}}}), Injection::Requested)]
    #[case::requested_1(json!({"metadata": {"annotations": {INJECT: "1"}}}), Injection::Requested)]
    #[case::requested_upper(json!({"metadata": {"annotations": {INJECT: "TRUE"}}}), Injection::Requested)]
    #[case::refused(json!({"metadata": {"annotations": {INJECT: "false"}}}), Injection::Refused)]
    #[case::unreadable(json!({"metadata": {"annotations": {INJECT: "yes"}}}), Injection::Refused)]
    #[case::unstated(json!({"metadata": {}}), Injection::Refused)]
    #[case::empty(json!({"metadata": {"annotations": {INJECT: ""}}}), Injection::Refused)]
    #[case::gateway(json!({"metadata": {"annotations": {INJECT: "true", GATEWAY_KIND: "mesh-gateway"}}}), Injection::Refused)]
    #[case::injected(json!({"metadata": {"annotations": {INJECT: "true", STATUS: "injected"}}}), Injection::Refused)]
    #[case::consuls_own(json!({"metadata": {"labels": {"app": "consul"}, "annotations": {INJECT: "true"}}}), Injection::Refused)]
    fn injection(#[case] pod: Value, #[case] expected: Injection) {
        assert_eq!(Consul.injection(&PodView::of_pod(&pod)), expected);
    }

    #[rstest]
    #[case::single(json!({STATUS: "injected"}), vec![(PROXY, INIT)])]
    #[case::one_service(json!({STATUS: "injected", SERVICE: "web"}), vec![(PROXY, INIT)])]
    #[case::two_services(json!({STATUS: "injected", SERVICE: "web,admin"}), vec![("consul-dataplane-web", "consul-connect-inject-init-web")])]
    #[case::not_injected(json!({}), vec![])]
    #[case::gateway(json!({STATUS: "injected", GATEWAY_KIND: "api-gateway"}), vec![])]
    #[case::telemetry_collector(json!({STATUS: "injected", INJECT: "false"}), vec![])]
    fn instances(#[case] annotations: Value, #[case] expected: Vec<(&str, &str)>) {
        let object = json!({"metadata": {"annotations": annotations}, "spec": {"initContainers": [
            {"name": INIT}, {"name": "consul-connect-inject-init-web"}]}});
        let expected: Vec<Instance> = expected
            .into_iter()
            .map(|(proxy, setup)| Instance {
                proxy: proxy.into(),
                setup: setup.into(),
            })
            .collect();
        assert_eq!(Consul.instances(&PodView::of_pod(&object)), Some(expected));
    }

    #[rstest]
    #[case::type_(json!("1,1,10,5"), "consul must be an object such as {\"startupProbe\": {\"failureThreshold\": 10}, \"dataplaneSupportsNative\": false}, found the string \"1,1,10,5\"")]
    #[case::key(json!({"dataplaneSupportNative": true}), "unknown key \"dataplaneSupportNative\" in consul: the section has \"startupProbe\", the timings consul-k8s's injector gives the native dataplane's startup probe, and \"dataplaneSupportsNative\"")]
    #[case::flag(json!({"dataplaneSupportsNative": "yes"}), "consul.dataplaneSupportsNative must be true or false, found the string \"yes\"")]
    #[case::timing(json!({"startupProbe": {"periodSeconds": -1}}), "consul.startupProbe.periodSeconds must be a whole number from 0 to 2147483647 (0 leaves the field out, as Consul does), found the number -1")]
    #[case::timing_key(json!({"startupProbe": {"successThreshold": 1}}), "unknown key \"successThreshold\" in consul.startupProbe: the timings are initialDelaySeconds, timeoutSeconds, periodSeconds and failureThreshold, as in consul-k8s's injector flags -default-sidecar-initial-probe-check-delay-seconds and the like")]
    fn bad_settings(#[case] section: Value, #[case] message: &str) {
        assert_eq!(ConsulSettings::parse(&section), Err(message.to_owned()));
    }
}
