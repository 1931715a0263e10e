//! The host against small hand-written waPC guests (WAT): every way a module can misbehave comes
//! back as an [`Error`], and the SDK's logging host call is answered while others are refused.

use native_sidecar_host::{Error, Host, LogRecord};
use serde_json::json;

/// A waPC guest whose behaviour is picked by the first letter of the operation:
/// `validate`/`validate_settings`/`protocol_version` answer like a policy, `trap` executes
/// `unreachable` (what a Rust panic compiles to), `fail` reports a guest error, `garbage`
/// answers bytes that are not JSON, `log` logs through kubewarden/tracing/log, `capability`
/// asks for kubewarden/oci/verify and reports the host's error as its own.
const GUEST: &str = r#"
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "kubewarden")
  (data (i32.const 16) "tracing")
  (data (i32.const 32) "log")
  (data (i32.const 48) "{\"level\":\"info\",\"message\":\"hello from the guest\",\"line\":7}")
  (data (i32.const 160) "oci")
  (data (i32.const 176) "verify")
  (data (i32.const 192) "boom")
  (data (i32.const 208) "{\"valid\":true}")
  (data (i32.const 240) "{\"accepted\":false,\"message\":\"no\",\"code\":403}")
  (data (i32.const 304) "\"v1\"")
  (data (i32.const 320) "not json")
  (func (export "wapc_init"))
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (local $first i32)
    (call $guest_request (i32.const 1024) (i32.const 2048))
    (local.set $first (i32.load8_u (i32.const 1024)))
    ;; "validate_settings" and "validate" share a first letter: tell them apart by length.
    (if (i32.and (i32.eq (local.get $first) (i32.const 118)) (i32.eq (local.get $op_len) (i32.const 17)))
      (then (call $guest_response (i32.const 208) (i32.const 14)) (return (i32.const 1))))
    (if (i32.eq (local.get $first) (i32.const 118))
      (then (call $guest_response (i32.const 240) (i32.const 44)) (return (i32.const 1))))
    (if (i32.eq (local.get $first) (i32.const 112))
      (then (call $guest_response (i32.const 304) (i32.const 4)) (return (i32.const 1))))
    (if (i32.eq (local.get $first) (i32.const 116)) (then unreachable))
    (if (i32.eq (local.get $first) (i32.const 102))
      (then (call $guest_error (i32.const 192) (i32.const 4)) (return (i32.const 0))))
    (if (i32.eq (local.get $first) (i32.const 103))
      (then (call $guest_response (i32.const 320) (i32.const 8)) (return (i32.const 1))))
    (if (i32.eq (local.get $first) (i32.const 108))
      (then
        (drop (call $host_call (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 7)
                               (i32.const 32) (i32.const 3) (i32.const 48) (i32.const 58)))
        (call $guest_response (i32.const 208) (i32.const 14))
        (return (i32.const 1))))
    (if (i32.eq (local.get $first) (i32.const 99))
      (then
        (if (call $host_call (i32.const 0) (i32.const 10) (i32.const 160) (i32.const 3)
                             (i32.const 176) (i32.const 6) (i32.const 48) (i32.const 2))
          (then (call $guest_response (i32.const 208) (i32.const 14)) (return (i32.const 1))))
        (call $host_error (i32.const 4096))
        (call $guest_error (i32.const 4096) (call $host_error_len))
        (return (i32.const 0))))
    (i32.const 0))
)
"#;

fn host() -> Host {
    Host::from_bytes(GUEST.as_bytes()).unwrap()
}

#[test]
fn policy_operations_are_read_as_the_sdk_writes_them() {
    let host = host();
    assert_eq!(host.protocol_version().unwrap(), "v1");
    assert!(host.validate_settings(&json!({})).unwrap().valid);
    let request = json!({"uid": "abc", "operation": "CREATE", "object": {"a": 1}});
    let response = host.evaluate(&request, &json!({})).unwrap();
    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"{"uid":"abc","allowed":false,"status":{"message":"no","code":403},"auditAnnotations":null,"warnings":null}"#
    );
}

#[test]
fn a_trap_is_an_error_and_the_next_instance_is_fine() {
    let host = host();
    let instance = host.instantiate().unwrap();
    let error = instance.call("trap", b"").unwrap_err();
    let Error::Guest { operation, message } = &error else {
        panic!("expected a guest error, got {error:?}");
    };
    assert_eq!(operation, "trap");
    assert_eq!(
        message,
        "wasm trap: wasm `unreachable` instruction executed"
    );
    assert!(
        error
            .to_string()
            .starts_with("the policy failed while running `trap`: ")
    );
    assert_eq!(host.protocol_version().unwrap(), "v1");
}

#[test]
fn a_guest_error_keeps_the_guest_words() {
    let error = host().instantiate().unwrap().call("fail", b"").unwrap_err();
    assert_eq!(
        error.to_string(),
        "the policy failed while running `fail`: boom"
    );
}

#[test]
fn an_answer_that_is_not_json_is_a_response_error() {
    let instance = host().instantiate().unwrap();
    assert_eq!(instance.call("garbage", b"").unwrap(), b"not json");
    // The typed calls read JSON: the same bytes from `protocol_version` would be refused.
    let error = Error::Response {
        operation: "protocol_version".into(),
        message: "x".into(),
    };
    assert_eq!(
        error.to_string(),
        "the policy returned an invalid response to `protocol_version`: x"
    );
}

#[test]
fn the_sdk_log_call_is_answered_and_recorded() {
    let instance = host().instantiate().unwrap();
    instance.call("log", b"").unwrap();
    assert_eq!(
        instance.take_logs(),
        vec![LogRecord {
            level: "info".into(),
            message: "hello from the guest".into(),
            fields: json!({"line": 7}),
        }]
    );
    assert!(instance.take_logs().is_empty());
}

#[test]
fn other_host_capabilities_are_refused_with_a_clear_message() {
    let error = host()
        .instantiate()
        .unwrap()
        .call("capability", b"")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the policy failed while running `capability`: host capability not available in this host: kubewarden/oci/verify"
    );
}

#[test]
fn a_warm_instance_serves_many_calls() {
    let instance = host().instantiate().unwrap();
    for _ in 0..3 {
        assert!(instance.validate_settings(&json!({})).unwrap().valid);
    }
}

#[test]
fn precompiled_code_loads_without_compiling() {
    let compiled = host().precompile().unwrap();
    // SAFETY: the bytes come from precompile() of this very crate.
    let host = unsafe { Host::from_precompiled(&compiled) }.unwrap();
    assert_eq!(host.protocol_version().unwrap(), "v1");
}

#[test]
fn modules_that_are_not_policies_fail_to_load_or_instantiate() {
    let error = Host::from_bytes(b"not wasm").unwrap_err();
    assert!(
        matches!(error, Error::Load(_))
            && error
                .to_string()
                .starts_with("cannot load the policy module: "),
        "{error}"
    );
    // Valid WebAssembly, but no waPC entry point.
    let error = Host::from_bytes(b"(module)")
        .unwrap()
        .instantiate()
        .unwrap_err();
    assert!(matches!(error, Error::Instantiate(_)), "{error}");
    // A start function that traps.
    let error = Host::from_bytes(br#"(module (memory (export "memory") 1) (func (export "wapc_init") unreachable) (func (export "__guest_call") (param i32 i32) (result i32) i32.const 0))"#)
        .unwrap()
        .instantiate()
        .unwrap_err();
    assert!(matches!(error, Error::Instantiate(_)), "{error}");
    let error = Host::load("/nonexistent/policy.wasm").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cannot load the policy module: cannot read /nonexistent/policy.wasm: "),
        "{error}"
    );
}
