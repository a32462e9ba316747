#!/usr/bin/env bash
# `make bench`, accuracy part: `insite eval` on the labelled set (bench/eval) with the
# production model and the server's prompt version, the table printed and kept in
# target/bench/eval.txt (every answer in target/bench/eval.json). Not a test.
#   BENCH_EVAL_MODEL    model (default qwen2.5-coder-1.5b-instruct)
#   BENCH_EVAL_COMPARE  a second prompt version or model beside it (e.g. analysis.v1)
#   BENCH_EVAL_ARGS     more arguments, e.g. "--scorecard service_qa" for a shorter run
# The whole set with every scorecard takes about 1 to 2 hours per run on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=target/release/insite
work=target/bench
mkdir -p "$work"
model=${BENCH_EVAL_MODEL:-qwen2.5-coder-1.5b-instruct}
cfg="$work/eval.toml"
cat >"$cfg" <<TOML
data_dir = "$root/$work/eval-data"
[engines]
models_dir = "$root/models"
llm_model = "$model"
TOML
args=(eval bench/eval --json "$work/eval.json")
if [ -n "${BENCH_EVAL_COMPARE:-}" ]; then args+=(--compare "$BENCH_EVAL_COMPARE"); fi
# shellcheck disable=SC2206
args+=(${BENCH_EVAL_ARGS:-})
echo "accuracy benchmark: $model on bench/eval ($(ls bench/eval/*.json | wc -l) conversations)"
"$bin" --config "$cfg" "${args[@]}" | tee "$work/eval.txt"
