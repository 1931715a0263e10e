//! Asks a waPC policy module for its protocol version, as kwctl does before it annotates: the
//! version goes into the metadata, and policy-server refuses a module whose version it does not
//! know.

use anyhow::{Context, Result, anyhow};
use wapc::WapcHost;
use wasmtime_provider::WasmtimeEngineProviderBuilder;

pub fn protocol_version(module: &[u8]) -> Result<String> {
    let engine = WasmtimeEngineProviderBuilder::new()
        .module_bytes(module)
        .build()
        .context("cannot load the module in wasmtime")?;
    // protocol_version never calls the host; a callback that refuses keeps a misbehaving module
    // from doing anything here.
    let host = WapcHost::new(
        Box::new(engine),
        Some(Box::new(|_, binding, namespace, operation, _| {
            Err(format!(
                "host call {binding}/{namespace}/{operation} is not available while annotating"
            )
            .into())
        })),
    )
    .context("cannot start the module as a waPC guest")?;
    let answer = host
        .call("protocol_version", b"")
        .map_err(|e| anyhow!("the module's protocol_version call failed: {e}"))?;
    serde_json::from_slice::<String>(&answer).with_context(|| {
        format!(
            "protocol_version returned {:?}, not a JSON string such as \"v1\"",
            String::from_utf8_lossy(&answer)
        )
    })
}
