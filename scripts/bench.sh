#!/usr/bin/env bash
# `make bench`: speed and memory of the engines on this machine (not a test).
#  - Whisper tiny.en and base: real-time factor, WER and peak memory on a fixed
#    generated recording of more than 2 minutes, side by side with faster-whisper
#    (CPU, int8 and float32) on the SAME CTranslate2 weights and audio.
#  - LLM: prompt and generation tokens/s and peak memory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=target/release/insite
work=target/bench
mkdir -p "$work"
threads=$(nproc)

# The fixed recording: 12 sentences from espeak-ng, about 2.5 minutes at 16 kHz.
ref="$work/reference.txt"
audio="$work/bench.wav"
if [ ! -f "$audio" ]; then
    : >"$ref"
    parts=()
    for i in $(seq 1 12); do
        line="Call number $i. The customer asked about the invoice for order $((i * 37)), the agent checked the account history, explained the late fee, and offered to waive it if the payment arrives before the end of the month."
        echo "$line" >>"$ref"
        espeak-ng -v en-us -s 150 -w "$work/p$i.wav" "$line"
        parts+=("$work/p$i.wav")
    done
    sox "${parts[@]}" -r 16000 -c 1 "$audio"
    rm -f "$work"/p*.wav
fi
duration=$(soxi -D "$audio")
echo "recording: $audio, ${duration}s, $threads threads"

# faster-whisper in its own virtualenv (from PyPI), run on the same CT2 directories.
venv="$work/venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check faster-whisper
fi

config="$work/insite.toml"
cat >"$config" <<TOML
data_dir = "$root/$work/data"
[engines]
models_dir = "$root/models"
whisper_model = "whisper-tiny.en"
llm_model = "qwen2.5-coder-0.5b-instruct"
threads = $threads
TOML

peak() { # peak RSS in MB of a command (includes its worker children)
    if ! /usr/bin/time -f "%M" -o "$work/rss" "$@" >"$work/out" 2>"$work/err"; then
        echo "benchmark command failed: $*" >&2
        tail -5 "$work/err" >&2
        exit 1
    fi
    echo $(( $(tail -1 "$work/rss") / 1024 ))
}

printf "\n%-10s %-22s %9s %7s %7s %10s\n" model engine "transcr.s" RTF WER "peak MB"
for model in whisper-tiny.en whisper-base; do
    ct2="models/ct2/$model"
    "$venv/bin/python" bench/complete_ct2_dir.py "$ct2"
    mb=$(peak "$bin" --config "$config" transcribe "$audio" --model "$model" --language en)
    secs=$(grep -o 'transcribed in [0-9.]*' "$work/err" | awk '{print $3}')
    cp "$work/out" "$work/insite-$model.txt"
    w=$(python3 bench/wer.py "$ref" "$work/insite-$model.txt")
    printf "%-10s %-22s %9.2f %7.3f %7s %10s\n" "${model#whisper-}" "insite (whisper.cpp)" "$secs" \
        "$(echo "$secs / $duration" | bc -l)" "$w" "$mb"
    insite_secs=$secs
    for ct in int8 float32; do
        mb=$(peak "$venv/bin/python" bench/faster_whisper_run.py "$ct2" "$audio" "$ct" "$threads")
        secs=$(python3 -c "import json;print(json.load(open('$work/out'))['seconds'])")
        python3 -c "import json;print(json.load(open('$work/out'))['text'])" >"$work/fw-$model-$ct.txt"
        w=$(python3 bench/wer.py "$ref" "$work/fw-$model-$ct.txt")
        printf "%-10s %-22s %9.2f %7.3f %7s %10s   insite is %.2fx its speed\n" "${model#whisper-}" \
            "faster-whisper $ct" "$secs" "$(echo "$secs / $duration" | bc -l)" "$w" "$mb" \
            "$(echo "$secs / $insite_secs" | bc -l)"
    done
done

printf "\nLLM (qwen2.5-coder-0.5b-instruct, %s threads)\n" "$threads"
head -c 6000 "$work/insite-whisper-base.txt" >"$work/transcript.txt"
mb=$(peak "$bin" --config "$config" analyze "$work/transcript.txt")
python3 - "$work/out" "$mb" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timings"]
print(f"prompt: {t['prompt_tokens']} tokens in {t['prompt_ms']:.0f} ms = {t['prompt_tokens'] / t['prompt_ms'] * 1000:.1f} tok/s")
print(f"generation: {t['generated_tokens']} tokens in {t['generate_ms']:.0f} ms = {t['generated_tokens'] / t['generate_ms'] * 1000:.1f} tok/s")
print(f"peak memory: {sys.argv[2]} MB")
PY
