#!/usr/bin/env bash
# Prints the environment the engine crates need, for calling cargo by hand:
#   eval "$(scripts/engine-env.sh)"
# It builds the shared ggml first if it is missing (about 1-2 minutes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
prefix="$target/ggml"
"$root/scripts/build-ggml.sh" "$prefix" >&2
cat <<ENV
export CMAKE_PREFIX_PATH="$prefix"
export WHISPER_USE_SYSTEM_GGML=ON
export GGML_NATIVE=OFF
export RUSTFLAGS="-L native=$prefix/lib"
ENV
