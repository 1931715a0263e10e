# native-sidecar-policy: build, test and ship the Kubewarden policy.
SHELL := bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip1
WASM_OUT := target/$(WASM_TARGET)/release/native_sidecar_policy.wasm
SOURCES := $(shell find src crates/core/src -name '*.rs') Cargo.toml Cargo.lock crates/core/Cargo.toml

.PHONY: all test unit-tests e2e-tests e2e-tools host run fmt lint clean

all: policy.wasm

# The cargo output through wasm-opt -Oz when binaryen is installed (a sixth smaller), else as is.
policy.wasm: $(SOURCES) scripts/wasm-shrink.sh
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	$(CARGO) build --release --locked --target $(WASM_TARGET) -p native-sidecar-policy
	scripts/wasm-shrink.sh $(WASM_OUT) policy.wasm

# The whole suite: unit, golden and entry-point tests, then the e2e tests against the built module.
test: unit-tests e2e-tests

# policy.wasm first: crates/host/tests/bad_input.rs runs the built module.
unit-tests: policy.wasm
	$(CARGO) test --workspace --locked

# The local kwctl-compatible host (crates/host). Compiling the module takes seconds in a debug
# build, so compiled code is cached under target/ (wasmtime's cache, keyed by the module's bytes).
POLICY_HOST := target/debug/policy-host
export POLICY_HOST_CACHE_DIR ?= $(CURDIR)/target/policy-host-cache
# A classic Istio-injected Pod whose proxy becomes a native sidecar.
SAMPLE_REQUEST ?= test_data/requests/case-hold-application.json

host:
	$(CARGO) build --locked -p native-sidecar-host --bin policy-host

# tests/e2e.bats against policy.wasm, run by policy-host; `KWCTL=kwctl bats tests/e2e.bats` runs
# the same file under the real kwctl. tests/nodes.bats (checkNodes, replay sessions) needs the
# annotated module: context-aware access follows its contextAwareResources.
e2e-tests: policy.wasm annotated-policy.wasm host e2e-tools
	bats tests/e2e.bats tests/nodes.bats

# bats and jq run the e2e tests: installed from Debian's packages when missing, so that `make test`
# works on a fresh machine.
e2e-tools:
	@missing=; for tool in bats jq; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian packages)"; \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || \
	  { echo "the e2e tests need$$missing: install them (Debian/Ubuntu: apt-get install$$missing)"; exit 1; }; \
	fi

# Quick start: the response to a sample request and the resulting object, as YAML.
run: policy.wasm host
	$(POLICY_HOST) run --show-result --request-path $(SAMPLE_REQUEST) policy.wasm

# The core for JavaScript (crates/js, README: Playground and JavaScript package): pkg/web and
# pkg/node, the core's tests in wasm under Node, the playground in web/ and its browser test.
.PHONY: js-package js-tests playground browser-tests
JS_TARGET := wasm32-unknown-unknown

js-package:
	@rustup target list --installed 2>/dev/null | grep -qx $(JS_TARGET) || rustup target add $(JS_TARGET)
	scripts/js-package.sh

js-tests:
	@rustup target list --installed 2>/dev/null | grep -qx $(JS_TARGET) || rustup target add $(JS_TARGET)
	scripts/wasm-bindgen-cli.sh >/dev/null
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  $(CARGO) test --locked --target $(JS_TARGET) -p native-sidecar-js --test wasm

tests/browser/node_modules: tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund
	touch $@

playground: js-package tests/browser/node_modules
	node scripts/playground.mjs

# Needs chromium (Debian: apt-get install chromium; CHROMIUM=path for another build).
browser-tests: playground
	cd tests/browser && npm test

# Shipping (README: Publish). kwctl when installed, else crates/oci's policy-publish, which writes
# the same metadata section, OCI layout and ArtifactHub package.
KWCTL ?= $(shell command -v kwctl 2>/dev/null)
POLICY_PUBLISH := $(CARGO) run --quiet --locked -p native-sidecar-oci --bin policy-publish --
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
OCI_TARGET ?= ghcr.io/native-sidecar-policy/policies/native-sidecar-policy

.PHONY: push

annotated-policy.wasm: policy.wasm metadata.yml README.md
ifneq ($(KWCTL),)
	$(KWCTL) annotate -m metadata.yml -u README.md -o annotated-policy.wasm policy.wasm
else
	$(POLICY_PUBLISH) annotate -m metadata.yml -u README.md -o annotated-policy.wasm policy.wasm
endif

# createdAt: kwctl stamps the time; policy-publish keeps the checked-in file's.
artifacthub-pkg.yml: metadata.yml Cargo.toml
ifneq ($(KWCTL),)
	$(KWCTL) scaffold artifacthub --metadata-path metadata.yml --version $(VERSION) --output artifacthub-pkg.yml
else
	$(POLICY_PUBLISH) scaffold-artifacthub -m metadata.yml --version $(VERSION) -o artifacthub-pkg.yml
endif

# make push [OCI_TARGET=registry/repo] [PUSH_FLAGS=--plain-http]: prints the immutable reference.
push: annotated-policy.wasm
ifneq ($(KWCTL),)
	$(KWCTL) push annotated-policy.wasm $(OCI_TARGET):v$(VERSION)
else
	$(POLICY_PUBLISH) push $(PUSH_FLAGS) annotated-policy.wasm $(OCI_TARGET):v$(VERSION)
endif

# Performance (BENCHMARKS.md): the policy as policy-server runs it, against two floor baselines on
# the same SDK (benches/baselines, their own workspace and target dir), and the module's size at
# each build stage. The harness is crates/bench, built with wasmtime optimised (profile bench-host).
BASELINES_DIR := target/baselines
BENCH_BIN := target/bench-host/policy-bench
BENCH_MODULES = --policy policy.wasm --policy-cargo $(WASM_OUT) \
	--accept $(BASELINES_DIR)/accept.wasm --echo $(BASELINES_DIR)/echo.wasm

.PHONY: bench bench-smoke bench-host baselines sizes check-size

baselines:
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	CARGO_TARGET_DIR=$(BASELINES_DIR) $(CARGO) build --release --locked --target $(WASM_TARGET) \
		--manifest-path benches/baselines/Cargo.toml
	scripts/wasm-shrink.sh $(BASELINES_DIR)/$(WASM_TARGET)/release/baseline_accept.wasm $(BASELINES_DIR)/accept.wasm
	scripts/wasm-shrink.sh $(BASELINES_DIR)/$(WASM_TARGET)/release/baseline_echo.wasm $(BASELINES_DIR)/echo.wasm

sizes: policy.wasm baselines
	scripts/module-sizes.sh target/module-sizes.tsv

bench-host:
	$(CARGO) build --locked --profile bench-host -p native-sidecar-bench

# Prints the tables and writes BENCHMARKS.md (about a minute of measurement). With valgrind
# installed, also instructions per request (callgrind), which do not move with the machine's load.
bench: policy.wasm baselines sizes bench-host
	$(BENCH_BIN) $(BENCH_MODULES) --sizes target/module-sizes.tsv --out BENCHMARKS.md --instructions \
		--extra 'policy, opt-level "z"=target/size-variants/release-z-shrunk.wasm'

# A few seconds: checks that the harness runs, figures not worth quoting.
bench-smoke: policy.wasm baselines bench-host
	$(BENCH_BIN) $(BENCH_MODULES) --quick

# Fails when the shipped module grows past the budget in policy.wasm.budget.
check-size: policy.wasm
	scripts/check-size.sh policy.wasm

# Reliability (README: Reliability). The property tests run with the unit tests (PROPTEST_CASES
# sets the cases per property); these need cargo-fuzz and kubernetes-validate.
FUZZ_SECONDS ?= 60
.PHONY: fuzz schema-check

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

schema-check:
	scripts/k8s-schema-check.sh

fmt:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
