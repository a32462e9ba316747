#!/usr/bin/env bash
# Builds ONE ggml, as static position-independent libraries, from the tree vendored
# in llama-cpp-sys-2, and installs it into PREFIX. Both engines (whisper-rs-sys with
# WHISPER_USE_SYSTEM_GGML=ON, llama-cpp-2 with system-ggml-static) then link this
# single copy: two vendored copies differ and must never be linked together.
#   scripts/build-ggml.sh PREFIX
set -euo pipefail
prefix=${1:?usage: build-ggml.sh PREFIX}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Portable baseline (x86-64-v3: Haswell, 2013, and later): never -march=native,
# which emits instructions (e.g. AVX-512) that crash on customers' older CPUs.
flags=(-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON
       -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_OPENMP=ON)

# The engine crate's sources, from the locked dependency tree (a lock file that needs a
# refresh is said in words, not as a parse error further down).
meta_err=$(mktemp)
if ! meta=$(cargo metadata --format-version 1 --locked 2>"$meta_err"); then
    echo "cannot read the dependency tree (cargo metadata --locked):" >&2
    sed 's/^/  /' "$meta_err" >&2
    echo "if Cargo.lock needs updating, run 'cargo update -w' and commit Cargo.lock" >&2
    rm -f "$meta_err"
    exit 1
fi
rm -f "$meta_err"
manifest=$(printf '%s' "$meta" | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(next(p["manifest_path"] for p in m["packages"] if p["name"] == "llama-cpp-sys-2"))')
src="$(dirname "$manifest")/llama.cpp/ggml"
version=$(basename "$(dirname "$manifest")")
stamp="$version ${flags[*]}"

if [ -f "$prefix/.stamp" ] && [ "$(cat "$prefix/.stamp")" = "$stamp" ] && [ -f "$prefix/lib/libggml.a" ]; then
    echo "ggml prefix up to date: $prefix ($version)"
    exit 0
fi
if [ -d "$prefix" ]; then
    # Another ggml source: the engine crates compiled against the old one must rebuild.
    echo "ggml prefix is stale; rebuilding and cleaning the engine crates"
    cargo clean --release -p whisper-rs-sys -p llama-cpp-sys-2 2>/dev/null || true
fi

work="$prefix.build"
rm -rf "$work" "$prefix"
mkdir -p "$work"
cp -r "$src" "$work/ggml"
# The copy inside llama.cpp lacks ggml.pc.in, which a standalone ggml build configures.
cat >"$work/ggml/ggml.pc.in" <<'PC'
prefix=@CMAKE_INSTALL_PREFIX@
libdir=${prefix}/lib
includedir=${prefix}/include

Name: ggml
Description: tensor library (built once for insite's engines)
Version: @GGML_VERSION@
Libs: -L${libdir} -lggml -lggml-base -lggml-cpu
Cflags: -I${includedir}
PC

echo "building ggml from $version into $prefix"
cmake -S "$work/ggml" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib "${flags[@]}" >"$work/configure.log" \
    || { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$work/build" -j "$(nproc)" >"$work/build.log" 2>&1 \
    || { tail -50 "$work/build.log" >&2; exit 1; }
cmake --install "$work/build" >/dev/null
echo "$stamp" >"$prefix/.stamp"
rm -rf "$work"
echo "ggml installed: $prefix"
