# insite: the two commands are `make run` and `make test` (see README.md).

CARGO ?= cargo
# A target dir outside the clone may be reused between CI runs; the binary is
# always also placed at target/release/insite.
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
BIN := $(CARGO_TARGET_DIR)/release/insite

# One ggml for both engines (see scripts/build-ggml.sh and README "Build notes").
GGML_PREFIX := $(CARGO_TARGET_DIR)/ggml
# whisper-rs-sys bundles the static ggml into its rlib, so the path must reach every
# rustc call, as an absolute path.
export RUSTFLAGS := -L native=$(GGML_PREFIX)/lib
export CMAKE_PREFIX_PATH := $(GGML_PREFIX)
export WHISPER_USE_SYSTEM_GGML := ON
export GGML_NATIVE := OFF

ifndef FUZZ_ITERATIONS
FUZZ_ITERATIONS := 20000
endif

.PHONY: run test fuzz build bench package deps deps-test deps-package dev-config ggml models models-test clean

## make run: install what is missing, build, and serve https://127.0.0.1:8443 on SQLite.
run: build models dev-config
	@echo
	@echo "insite is starting on https://127.0.0.1:8443 (self-signed certificate)."
	@echo "  check it:   curl -k https://127.0.0.1:8443/healthz"
	@echo "  config:     var/insite.toml   data: var/data/   stop: Ctrl-C"
	@echo "  first owner (another terminal, once):"
	@echo "    target/release/insite --config var/insite.toml admin bootstrap --org \"Your Org\" --email you@example.com"
	@echo "  then open the link it prints, set a password, and sign in at https://127.0.0.1:8443/console/"
	@echo
	exec target/release/insite --config var/insite.toml serve

## make test: the same set-up plus PostgreSQL, then fmt, clippy and every test.
## clippy is the compiler of insite's own crate here (the build is the lint, and the
## tests reuse it), so `make test` compiles each crate once; `make run` builds plainly.
test: export RUSTC_WORKSPACE_WRAPPER := clippy-driver
test: export CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
test: export INSITE_TEST_STARTED := $(shell date +%s)
test: deps-test build models-test
	scripts/run-tests.sh

## make fuzz: the fuzzing targets of the test suite (tests/it/fuzz.rs: recordings,
## sidecars, tickets, uploads) for FUZZ_ITERATIONS mutations each (default 20000;
## `make test` runs 1000).
fuzz: export RUSTC_WORKSPACE_WRAPPER := clippy-driver
fuzz: export CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
fuzz: deps-test build models-test
	scripts/fixtures.sh
	INSITE_TEST_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) INSITE_TEST_SKIP_PG=1 \
		$(CARGO) nextest run --release --locked --no-fail-fast -E 'test(/^fuzz::/)'

## make build: the release binary at target/release/insite.
build: deps ggml
	$(CARGO) build --release --locked
	@if [ "$(BIN)" != "$(CURDIR)/target/release/insite" ]; then \
		mkdir -p target/release && cp -f "$(BIN)" target/release/insite; fi

## make package: dist/insite_VERSION-1_amd64.deb and dist/insite-VERSION-1.x86_64.rpm from
## one stripped release binary, plus insite-model-* packages of the fetched models.
package: deps-package build models models-test
	scripts/package.sh

## make bench: engine speed and memory versus faster-whisper, and the accuracy of the
## analysis on the labelled set (bench/eval; not a test).
bench: deps-test build
	python3 models/fetch.py --set bench --insite target/release/insite
	scripts/bench.sh
	scripts/bench-pipeline.sh
	scripts/bench-analysis.sh
	scripts/bench-eval.sh

ggml:
	scripts/build-ggml.sh $(GGML_PREFIX)

## make models: fetch, convert and verify the production models (make run uses them).
models: build
	python3 models/fetch.py --set run --insite target/release/insite

## the small models the tests use
models-test: build
	python3 models/fetch.py --set test --insite target/release/insite

deps:
	scripts/install-deps.sh build

deps-package:
	scripts/install-deps.sh package

deps-test:
	scripts/install-deps.sh test

dev-config:
	scripts/dev-config.sh

clean:
	$(CARGO) clean
