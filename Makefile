# native-sidecar-policy: build, test and ship the Kubewarden policy.
SHELL := bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip1
WASM_OUT := target/$(WASM_TARGET)/release/native_sidecar_policy.wasm
SOURCES := $(shell find src crates/core/src -name '*.rs') Cargo.toml Cargo.lock crates/core/Cargo.toml

.PHONY: all test unit-tests e2e-tests e2e-kwctl kwctl-tests policy-server-tests soak e2e-tools host run fmt lint clean

all: policy.wasm

# The JSON reader and writer every request runs (serde_json, and the map it builds objects in) at
# opt-level 1 instead of the release profile's "s": at "s" the compiler keeps their small helpers
# out of line, a call per inserted key and per written string; at 1 the hello Deployment takes 8%
# fewer instructions per request, for 10 KB of module (README: Performance). Only the wasm modules
# are built so, the policy and its floor baselines alike: the CLI, the JavaScript package and the
# benchmark harness keep their profiles.
WASM_PROFILE := $(foreach package,serde_json indexmap hashbrown,--config=profile.release.package.$(package).opt-level=1)
export WASM_PROFILE

# Built with std from source for size (scripts/wasm-build.sh), then through wasm-opt -Oz when
# binaryen is installed (a sixth smaller), else as is.
policy.wasm: $(SOURCES) scripts/wasm-build.sh scripts/wasm-shrink.sh
	CARGO=$(CARGO) scripts/wasm-build.sh --release -p native-sidecar-policy
	scripts/wasm-shrink.sh $(WASM_OUT) policy.wasm

# Kubewarden's own binaries, for the tests that run the module in them (README: Kubewarden's
# binaries): kwctl runs the e2e files, policy-server serves the module to its integration test, the
# soak and make bench. make test runs those parts when KWCTL or POLICY_SERVER is set (in the
# environment or on the command line) and says it skipped them otherwise. Relative paths are taken
# from this directory.
POLICY_SERVER ?=
export POLICY_SERVER

# The whole suite: unit, golden and entry-point tests, then the e2e tests against the built module,
# under policy-host and, when set, the real kwctl; the module in the real policy-server when set.
test: unit-tests wasm-core-tests e2e-tests kwctl-tests policy-server-tests

# policy.wasm first: crates/host/tests/bad_input.rs runs the built module.
unit-tests: policy.wasm
	$(CARGO) test --workspace --locked

# The core's node reader as the policy module runs it: in wasm with SIMD (.cargo/config.toml), which
# the native unit tests cannot reach (they run its plain fallback). The core's node tests built for
# wasm32-wasip1 and run under Node's WASI; skipped, saying so, without Node.
.PHONY: wasm-core-tests
wasm-core-tests:
ifneq ($(shell command -v node 2>/dev/null),)
	CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $(CURDIR)/scripts/wasi-test-runner.mjs" \
	  $(CARGO) test --locked --target $(WASM_TARGET) -p native-sidecar-core --lib -- nodes:: kubelet:: output::
else
	@echo "skipped: the core's node tests in wasm with SIMD (install Node.js)"
endif

# The command-line tool (crates/cli, README: GitOps and migration): convert, check and report
# with the policy's core. `cargo install --path crates/cli` puts it in ~/.cargo/bin instead.
.PHONY: cli
CLI_BIN := target/release/native-sidecar

cli:
	$(CARGO) build --release --locked -p native-sidecar-cli
	@echo "built $(CLI_BIN)"

# The local kwctl-compatible host (crates/host). Compiling the module takes seconds in a debug
# build, so compiled code is cached under target/ (wasmtime's cache, keyed by the module's bytes).
POLICY_HOST := target/debug/policy-host
export POLICY_HOST_CACHE_DIR ?= $(CURDIR)/target/policy-host-cache
# A classic Istio-injected Pod whose proxy becomes a native sidecar.
SAMPLE_REQUEST ?= test_data/requests/case-hold-application.json

host:
	$(CARGO) build --locked -p native-sidecar-host --bin policy-host

# The e2e files: every tests/*.bats but tests/policy-server*.bats (those start policy-server
# themselves). Each runs the module through a `kwctl run`-like runner, $$KWCTL in the file.
E2E_FILES = $(filter-out tests/policy-server%.bats,$(sort $(wildcard tests/*.bats)))

# The e2e files under policy-host, this repository's imitation of `kwctl run`.
e2e-tests: policy.wasm annotated-policy.wasm host e2e-tools
	KWCTL=$(POLICY_HOST) bats $(E2E_FILES)

# The same files under the real kwctl (KWCTL=path; by default the kwctl on the PATH). Without a
# trust root kwctl skips Sigstore instead of fetching one: local modules need no signatures.
KWCTL_RUN_FLAGS ?= --sigstore-trust-config /nonexistent.json
e2e-kwctl: policy.wasm annotated-policy.wasm e2e-tools
	@[ -n "$(KWCTL)" ] || { echo "e2e-kwctl needs kwctl: install it or set KWCTL=path/to/kwctl"; exit 1; }
	KWCTL=$(KWCTL) KWCTL_RUN_FLAGS="$(KWCTL_RUN_FLAGS)" bats $(E2E_FILES)

# make test's pass under kwctl: only with a KWCTL given, not any kwctl on the PATH (another
# release may word its errors differently).
kwctl-tests:
ifneq ($(filter environment command,$(origin KWCTL)),)
	@$(MAKE) --no-print-directory e2e-kwctl
else
	@echo "skipped: the e2e files under the real kwctl (set KWCTL=path/to/kwctl)"
endif

# The module in Kubewarden's policy-server (crates/policy-server/tests): ignored by a plain
# cargo test, run here when POLICY_SERVER is set.
ifneq ($(POLICY_SERVER),)
policy-server-tests: annotated-policy.wasm
	$(CARGO) test --locked -p native-sidecar-policy-server --test policy_server --test cluster -- --ignored
else
policy-server-tests:
	@echo "skipped: the module served by Kubewarden's policy-server (set POLICY_SERVER=path/to/policy-server)"
endif

# A minute of mixed requests against policy-server (README: Reliability): no 5xx, no guest error
# in its log, resident memory steady. CI runs it.
SOAK_SECONDS ?= 60
soak: annotated-policy.wasm
	@[ -n "$(POLICY_SERVER)" ] || { echo "make soak needs POLICY_SERVER=path/to/policy-server"; exit 1; }
	$(CARGO) run --quiet --locked -p native-sidecar-policy-server --bin policy-server-soak -- \
		--module annotated-policy.wasm --seconds $(SOAK_SECONDS)

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
# For the tests that compare policy-publish with kwctl (crates/oci/tests/kwctl.rs).
export KWCTL
POLICY_PUBLISH := $(CARGO) run --quiet --locked -p native-sidecar-oci --bin policy-publish --
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
OCI_TARGET ?= ghcr.io/native-sidecar-policy/policies/native-sidecar-policy

.PHONY: push

# kwctl and policy-publish take the same annotate flags.
ANNOTATE = $(if $(KWCTL),$(KWCTL) annotate,$(POLICY_PUBLISH) annotate)

annotated-policy.wasm: policy.wasm metadata.yml README.md
	$(ANNOTATE) -m metadata.yml -u README.md -o annotated-policy.wasm policy.wasm

# createdAt: kwctl stamps the time; policy-publish keeps the checked-in file's. questions-ui.yml
# becomes the kubewarden/questions-ui annotation (the settings form of Kubewarden's catalog).
artifacthub-pkg.yml: metadata.yml Cargo.toml questions-ui.yml
ifneq ($(KWCTL),)
	$(KWCTL) scaffold artifacthub --metadata-path metadata.yml --version $(VERSION) \
		--questions-path questions-ui.yml --output artifacthub-pkg.yml
else
	$(POLICY_PUBLISH) scaffold-artifacthub -m metadata.yml --version $(VERSION) \
		--questions-path questions-ui.yml -o artifacthub-pkg.yml
endif

# make push [OCI_TARGET=registry/repo] [PUSH_FLAGS=--plain-http]: prints the immutable reference.
push: annotated-policy.wasm
ifneq ($(KWCTL),)
	$(KWCTL) push annotated-policy.wasm $(OCI_TARGET):v$(VERSION)
else
	$(POLICY_PUBLISH) push $(PUSH_FLAGS) annotated-policy.wasm $(OCI_TARGET):v$(VERSION)
endif

# Performance (BENCHMARKS.md): the policy as policy-server runs it, against three floor baselines
# on the same SDK (benches/baselines, their own workspace and target dir), and the module's size at
# each build stage. The harness is crates/bench, built with wasmtime optimised (profile bench-host).
# With POLICY_SERVER set, the annotated modules are also served by Kubewarden's policy-server and
# loaded over loopback by wrk.
BASELINES_DIR := target/baselines
BENCH_BIN := target/bench-host/policy-bench
# With two cores or more (and taskset), policy-server runs on CPU 0 and the harness, wrk and the stub
# Kubernetes API on the others: served requests per second then measure policy-server's work, not how
# the scheduler split two cores between it and its load (unpinned, the same module's ratio to the move
# floor moved from 0.85x to 1.38x between runs). PIN_CPUS= turns it off.
PIN_CPUS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); command -v taskset >/dev/null && [ $$n -ge 2 ] && echo 1-$$((n - 1)))
BENCH_RUN = $(if $(PIN_CPUS),POLICY_SERVER_CPUS=0 taskset -c $(PIN_CPUS) )$(BENCH_BIN)
BENCH_MODULES = --policy policy.wasm --policy-cargo $(WASM_OUT) \
	--accept $(BASELINES_DIR)/accept.wasm --echo $(BASELINES_DIR)/echo.wasm --move $(BASELINES_DIR)/move.wasm \
	--list $(BASELINES_DIR)/list.wasm
BENCH_SERVED = $(if $(POLICY_SERVER),--policy-server $(POLICY_SERVER) --served policy=annotated-policy.wasm \
	$(foreach baseline,move echo accept,--served '$(baseline) baseline=$(BASELINES_DIR)/annotated-$(baseline).wasm') \
	--list-floor $(BASELINES_DIR)/annotated-list.wasm --move-floor $(BASELINES_DIR)/annotated-move.wasm \
	--get-floor $(BASELINES_DIR)/annotated-get.wasm)
BENCH_SERVED_DEPS = $(if $(POLICY_SERVER),annotated-policy.wasm annotated-baselines bench-tools)

.PHONY: bench bench-nodes bench-served bench-smoke bench-host bench-tools baselines annotated-baselines sizes check-size

baselines:
	CARGO=$(CARGO) CARGO_TARGET_DIR=$(BASELINES_DIR) scripts/wasm-build.sh --release \
		--manifest-path benches/baselines/Cargo.toml
	for baseline in accept echo move list get; do \
	  scripts/wasm-shrink.sh $(BASELINES_DIR)/$(WASM_TARGET)/release/baseline_$$baseline.wasm $(BASELINES_DIR)/$$baseline.wasm; \
	done

# The baselines with Kubewarden metadata, which policy-server needs to serve them.
annotated-baselines: baselines
	for baseline in accept echo move list get; do \
	  $(ANNOTATE) -m benches/baselines/metadata.yml -o $(BASELINES_DIR)/annotated-$$baseline.wasm \
	    $(BASELINES_DIR)/$$baseline.wasm; \
	done

# wrk loads policy-server in make bench: installed from Debian's packages when missing.
bench-tools:
	@command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; } || \
	  { echo "make bench's policy-server run needs wrk: apt-get install wrk"; exit 1; }; }

sizes: policy.wasm baselines
	scripts/module-sizes.sh target/module-sizes.tsv

bench-host:
	$(CARGO) build --locked --profile bench-host -p native-sidecar-bench

# Prints the tables and writes BENCHMARKS.md (about a minute of measurement). With valgrind
# installed, also instructions per request (callgrind), which do not move with the machine's load.
bench: policy.wasm baselines sizes bench-host $(BENCH_SERVED_DEPS)
	$(BENCH_RUN) $(BENCH_MODULES) $(BENCH_SERVED) --sizes target/module-sizes.tsv --out BENCHMARKS.md --instructions \
		--extra 'policy, opt-level "z"=target/size-variants/release-z-shrunk.wasm' $(BENCH_ARGS)

# A few seconds: checks that the harness runs, figures not worth quoting.
bench-smoke: policy.wasm baselines bench-host $(BENCH_SERVED_DEPS)
	$(BENCH_RUN) $(BENCH_MODULES) $(BENCH_SERVED) --quick

# checkNodes alone, served by policy-server with 100, 1,000 and 5,000 nodes from the stub Kubernetes
# API (about five minutes), and the instructions per node of the node read (callgrind, when
# valgrind is installed): prints the BENCHMARKS.md sections without writing the file.
bench-nodes: annotated-policy.wasm annotated-baselines bench-host bench-tools
	@[ -n "$(POLICY_SERVER)" ] || { echo "make bench-nodes needs POLICY_SERVER=path/to/policy-server"; exit 1; }
	$(BENCH_RUN) $(BENCH_MODULES) $(BENCH_SERVED) --nodes-only --instructions $(BENCH_ARGS)

# The policy and the floors served by policy-server alone (about two minutes): prints the
# BENCHMARKS.md section "Served by policy-server" without writing the file. BENCH_ARGS passes more
# options to the harness, such as `--load-rounds 9` or, for bench-nodes, `--node-counts 1000`.
bench-served: annotated-policy.wasm annotated-baselines bench-host bench-tools
	@[ -n "$(POLICY_SERVER)" ] || { echo "make bench-served needs POLICY_SERVER=path/to/policy-server"; exit 1; }
	$(BENCH_RUN) $(BENCH_MODULES) $(BENCH_SERVED) --served-only $(BENCH_ARGS)

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
