//! The core on any JSON: never panics, never edits what it rejects or reports unchanged, and its
//! output reviewed again is accepted unchanged. Input: a policy payload
//! `{"request": AdmissionRequest, "settings": {...}}` (the seed corpus), or any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use native_sidecar_core::{Mode, Outcome, Settings, review_manifest, review_request};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let raw_settings = payload.get("settings").cloned().unwrap_or(Value::Null);
    // Invalid settings are refused by the policy before any review; fuzz the parser, then go on
    // with the defaults so that the request is still reviewed.
    let settings = match Settings::from_json(&raw_settings) {
        Ok(settings) => {
            assert_eq!(
                Settings::from_json(&settings.to_json()),
                Ok(settings.clone())
            );
            settings
        }
        Err(message) => {
            assert!(!message.is_empty());
            Settings::default()
        }
    };
    let request = payload.get("request").cloned().unwrap_or(payload);

    let mut reviewed = request.clone();
    let outcome = review_request(&mut reviewed, &settings);
    check(&request, &reviewed, &outcome, &settings);
    if outcome.changed {
        let mut again = reviewed.clone();
        let second = review_request(&mut again, &settings);
        assert_eq!(second.rejection, None, "the output is rejected: {reviewed}");
        assert!(!second.changed, "a second review changed {reviewed}");
        assert_eq!(again, reviewed);
    }

    let Some(object) = request.get("object") else {
        return;
    };
    let mut manifest = object.clone();
    if let Some(outcome) = review_manifest(&mut manifest, &settings) {
        check(object, &manifest, &outcome, &settings);
        if outcome.changed {
            let mut again = manifest.clone();
            let second = review_manifest(&mut again, &settings);
            assert!(second.is_some_and(|s| s.rejection.is_none() && !s.changed));
            assert_eq!(again, manifest);
        }
    }
});

fn check(before: &Value, after: &Value, outcome: &Outcome, settings: &Settings) {
    if outcome.rejection.is_some() || !outcome.changed {
        assert_eq!(before, after, "rejected or unchanged, yet edited");
    } else {
        assert_ne!(before, after, "reported changed, yet identical");
    }
    if settings.mode == Mode::Validate {
        assert!(!outcome.changed, "validate mode changed the object");
    }
    if let Some(message) = &outcome.rejection {
        assert!(!message.is_empty());
    }
}
