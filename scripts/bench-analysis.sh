#!/usr/bin/env bash
# `make bench`, analysis part: time per conversation for a 10-question scorecard plus
# summary and sentiment, with the transcript evaluated once and shared by every
# question (prefix reuse) versus one full prompt per question, on the same model and
# transcript. Goal: reuse at least 3x faster. Not a test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=target/release/insite
work=target/bench
mkdir -p "$work"
model=${BENCH_LLM_MODEL:-qwen2.5-coder-0.5b-instruct}
cfg="$work/analysis.toml"
cat >"$cfg" <<TOML
data_dir = "$root/$work/analysis-data"
[engines]
models_dir = "$root/models"
llm_model = "$model"
TOML
# A service call of about 40 turns (generated, fixed).
call="$work/analysis-call.txt"
: >"$call"
for i in $(seq 1 10); do
    cat >>"$call" <<TXT
Agent: Thank you for holding, Mrs Patel. I am looking at your account for order $((i * 37)) now.
Customer: I was charged a late fee of $((i * 3)) pounds although I paid on time, and BrightSpark offered me a cheaper tariff.
Agent: I understand how annoying that is. I have removed the fee and I can match the BrightSpark price on our fixed saver plan.
Customer: Thank you, please email me the new contract so I can check it.
TXT
done
run() {
    local out="$work/analysis-$1.json"
    /usr/bin/time -f "%e s wall, %M KB peak" "$bin" --config "$cfg" score "$call" \
        --scorecard bench/analysis-scorecard.json $2 >"$out" 2>"$work/analysis-$1.err"
    tail -1 "$work/analysis-$1.err" >&2
    python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["timings"]; print(t["total_ms"], t["evaluated_tokens"], t["generated_tokens"])' "$out"
}
echo "analysis benchmark: $model, $(wc -l <"$call") turns, 10 questions + summary + 3 sentiment questions"
read -r reuse_ms reuse_tok reuse_gen < <(run reuse "")
read -r plain_ms plain_tok plain_gen < <(run plain --no-reuse)
python3 - "$reuse_ms" "$reuse_tok" "$reuse_gen" "$plain_ms" "$plain_tok" "$plain_gen" <<'PY'
import sys
r_ms, r_tok, r_gen, p_ms, p_tok, p_gen = map(float, sys.argv[1:])
ratio = p_ms / r_ms
print(f"  prefix reuse:          {r_ms/1000:7.1f} s  ({r_tok:.0f} tokens evaluated, {r_gen:.0f} generated)")
print(f"  one prompt / question: {p_ms/1000:7.1f} s  ({p_tok:.0f} tokens evaluated, {p_gen:.0f} generated)")
print(f"  speed-up with reuse:   {ratio:.1f}x (goal: at least 3x) -> {'MET' if ratio >= 3 else 'NOT MET'}")
PY
