#!/usr/bin/env bash
# The test run behind `make test`: a throwaway PostgreSQL, lints, then every test
# from one release build (the same profile as `make build`, so nothing compiles twice:
# `make test` builds with clippy as the compiler of insite's own crate, so the build is
# also the lint; see the Makefile), run by cargo-nextest in parallel. Per-test times go
# to target/test-times.txt; the test phase fails past INSITE_TEST_PHASE_LIMIT seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
started=${INSITE_TEST_STARTED:-$(date +%s)}
phase_limit=${INSITE_TEST_PHASE_LIMIT:-2400}

pg_dir=${INSITE_TEST_PG_DIR:-/tmp/insite-test-pg-$$}
# A free loopback port, so a PostgreSQL already running here is never in the way.
pg_port=${INSITE_TEST_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
cleanup() { scripts/test-pg.sh stop "$pg_dir" || true; rm -rf "$pg_dir"; }
trap cleanup EXIT

echo "== starting PostgreSQL on 127.0.0.1:$pg_port"
INSITE_TEST_PG_URL=$(scripts/test-pg.sh start "$pg_dir" "$pg_port")
export INSITE_TEST_PG_URL

echo "== fixtures (espeak-ng, sox, npm)"
scripts/fixtures.sh

echo "== test services (moto from PyPI)"
INSITE_TEST_VENV=${INSITE_TEST_VENV:-/var/tmp/insite-test-venv}
export INSITE_TEST_VENV
scripts/test-venv.sh "$INSITE_TEST_VENV"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== ring only: no aws-lc in the dependency tree"
if cargo tree --locked -e normal,build -i aws-lc-sys >/dev/null 2>&1; then
    echo "aws-lc-sys is in the dependency tree; use rustls with the ring provider" >&2
    exit 1
fi

echo "== clippy and the tests (SQLite and PostgreSQL), cargo-nextest on every core"
if [ "${RUSTC_WORKSPACE_WRAPPER:-}" != clippy-driver ]; then
    # Called by hand, outside `make test`: lint the same way the Makefile does.
    export RUSTC_WORKSPACE_WRAPPER=clippy-driver
    export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
fi
junit="$root/target/nextest/ci/junit.xml"
rm -f "$junit" # a report from an earlier run must never pass for this one's
phase_start=$(date +%s)
rc=0
RUST_BACKTRACE=0 cargo nextest run --release --locked --profile ci --no-fail-fast || rc=$?
phase=$(( $(date +%s) - phase_start ))
python3 scripts/test-times.py "$junit" "$root/target/test-times.txt" --top 15 || true
echo "== test phase: ${phase} s (limit ${phase_limit} s)"
if [ "$rc" != 0 ]; then
    echo "tests FAILED (exit $rc); the failures are listed above, times in target/test-times.txt" >&2
    exit "$rc"
fi
if [ "$phase" -gt "$phase_limit" ]; then
    echo "the test phase took $((phase / 60)) min, over the $((phase_limit / 60))-minute limit:" \
        "the suite has become too slow; see the slowest tests above and target/test-times.txt" >&2
    exit 1
fi

echo "== packages: build, install into a clean Debian root, upgrade, remove, purge"
scripts/test-packages.sh

echo "== make test passed in $(( $(date +%s) - started )) s (test phase ${phase} s)"
