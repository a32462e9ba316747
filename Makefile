# insite: the two commands are `make run` and `make test` (see README.md).

CARGO ?= cargo
# A target dir outside the clone may be reused between CI runs; the binary is
# always also placed at target/release/insite.
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
BIN := $(CARGO_TARGET_DIR)/release/insite

.PHONY: run test build deps deps-test dev-config clean

## make run: install what is missing, build, and serve https://127.0.0.1:8443 on SQLite.
run: build dev-config
	@echo
	@echo "insite is starting on https://127.0.0.1:8443 (self-signed certificate)."
	@echo "  check it:   curl -k https://127.0.0.1:8443/healthz"
	@echo "  config:     var/insite.toml   data: var/data/   stop: Ctrl-C"
	@echo
	exec target/release/insite --config var/insite.toml serve

## make test: the same set-up plus PostgreSQL, then fmt, clippy and every test.
test: deps-test build
	scripts/run-tests.sh

## make build: the release binary at target/release/insite.
build: deps
	$(CARGO) build --release --locked
	@if [ "$(BIN)" != "$(CURDIR)/target/release/insite" ]; then \
		mkdir -p target/release && cp -f "$(BIN)" target/release/insite; fi

deps:
	scripts/install-deps.sh build

deps-test:
	scripts/install-deps.sh test

dev-config:
	scripts/dev-config.sh

clean:
	$(CARGO) clean
