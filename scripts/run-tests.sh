#!/usr/bin/env bash
# The test run behind `make test`: a throwaway PostgreSQL, lints, then every test
# from one release build (the same profile as `make build`, so nothing compiles twice).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

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

echo "== cargo clippy"
cargo clippy --release --locked --all-targets -- -D warnings

echo "== ring only: no aws-lc in the dependency tree"
if cargo tree --locked -e normal,build -i aws-lc-sys >/dev/null 2>&1; then
    echo "aws-lc-sys is in the dependency tree; use rustls with the ring provider" >&2
    exit 1
fi

echo "== tests (SQLite and PostgreSQL)"
RUST_BACKTRACE=0 cargo test --release --locked

echo "== packages: build, install into a clean Debian root, upgrade, remove, purge"
scripts/test-packages.sh
