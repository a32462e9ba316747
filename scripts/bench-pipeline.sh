#!/usr/bin/env bash
# `make bench`, pipeline part (not a test): end-to-end processing through the real
# server. N generated stereo calls of about 3 minutes are uploaded at once; prints
# audio time / wall time and the share of wall time spent outside the engines (goal:
# under 5%). Then one 1-hour recording: peak memory of the server and its worker
# against the worker's memory with the model loaded (goal: model + 200 MB at most).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin="$root/target/release/insite"
work="$root/target/bench/pipeline"
model=${BENCH_WHISPER_MODEL:-whisper-base}
calls=${BENCH_CALLS:-4}
mkdir -p "$work"

# --- fixtures: stereo calls of alternating turns, and a 1-hour recording ---------
make_call() { # make_call N OUT
    local n=$1 out=$2 tmp
    tmp=$(mktemp -d)
    local left=() right=() i=0
    while [ "$i" -lt 18 ]; do
        espeak-ng -v en-us -s 150 -w "$tmp/a$i.raw.wav" "Turn $i of call $n. Thank you, I can see the order from last week, and the refund was approved on Monday."
        espeak-ng -v en-gb -s 150 -w "$tmp/c$i.raw.wav" "I understand. Can you tell me when the money arrives on my account, and whether the fee is waived?"
        for s in a c; do sox "$tmp/$s$i.raw.wav" -r 16000 -c 1 "$tmp/$s$i.wav"; done
        sox -n -r 16000 -c 1 "$tmp/sa$i.wav" trim 0 "$(soxi -D "$tmp/a$i.wav")"
        sox -n -r 16000 -c 1 "$tmp/sc$i.wav" trim 0 "$(soxi -D "$tmp/c$i.wav")"
        left+=("$tmp/a$i.wav" "$tmp/sc$i.wav"); right+=("$tmp/sa$i.wav" "$tmp/c$i.wav")
        i=$((i + 1))
    done
    sox "${left[@]}" "$tmp/left.wav"; sox "${right[@]}" "$tmp/right.wav"
    sox -M "$tmp/left.wav" "$tmp/right.wav" "$out"
    rm -rf "$tmp"
}
for n in $(seq 1 "$calls"); do
    [ -f "$work/call$n.wav" ] || make_call "$n" "$work/call$n.wav"
done
if [ ! -f "$work/hour.wav" ]; then
    parts=()
    for _ in $(seq 1 20); do parts+=("$work/call1.wav"); done
    sox "${parts[@]}" "$work/hour.wav" trim 0 3600
fi

# --- a server of our own on a free port ------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="https://127.0.0.1:$port"
run_server() { # run_server DATA_DIR
    rm -rf "$1"
    cat >"$work/insite.toml" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$1"
[engines]
models_dir = "$root/models"
whisper_model = "$model"
llm_model = "qwen2.5-coder-0.5b-instruct"
TOML
    "$bin" --config "$work/insite.toml" serve 2>"$work/server.log" &
    server=$!
    for _ in $(seq 1 100); do curl -ksf "$base/readyz" >/dev/null && break; sleep 0.2; done
    python3 -c 'import secrets; print(secrets.token_urlsafe(18))' | "$bin" --config "$work/insite.toml" admin bootstrap --org Bench --email bench@bench.test --password-stdin >/dev/null
    token=$("$bin" --config "$work/insite.toml" admin token create --org Bench --role admin)
}
stop_server() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
trap stop_server EXIT
upload() { curl -ksf -H "Authorization: Bearer $token" -F "audio=@$1" -F 'metadata={"language":"en"}' "$base/api/v1/conversations"; }
wait_jobs() { # until no job is queued or running
    while :; do
        busy=$(curl -ksf -H "Authorization: Bearer $token" "$base/api/v1/jobs?limit=500" |
            python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"]; print(sum(x["state"] in ("queued","running") for x in j))')
        [ "$busy" = 0 ] && break
        sleep 0.5
    done
}
rss_mb() { # RSS of the server and its children, MB
    local total=0
    for p in "$server" $(pgrep -P "$server" || true); do
        total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
    done
    echo $((total / 1024))
}

# --- N calls ---------------------------------------------------------------------
run_server "$work/data-calls"
audio=0
for n in $(seq 1 "$calls"); do audio=$(echo "$audio + $(soxi -D "$work/call$n.wav")" | bc -l); done
start=$(date +%s.%N)
for n in $(seq 1 "$calls"); do upload "$work/call$n.wav" >/dev/null; done
wait_jobs
wall=$(echo "$(date +%s.%N) - $start" | bc -l)
engine=$(curl -ksf "$base/metrics" | awk '/^insite_engine_seconds_total/ {print $2}')
failed=$(curl -ksf -H "Authorization: Bearer $token" "$base/api/v1/jobs?state=failed" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')
stop_server
printf "\nPipeline (%s, %s calls, %.0f s of stereo audio, %s failed)\n" "$model" "$calls" "$audio" "$failed"
printf "audio time / wall time: %.2f  (wall %.1f s)\n" "$(echo "$audio / $wall" | bc -l)" "$wall"
printf "wall time outside the engines: %.1f%%  (goal: under 5%%)\n" "$(echo "100 * ($wall - $engine) / $wall" | bc -l)"

# --- one hour ----------------------------------------------------------------------
run_server "$work/data-hour"
idle=$(rss_mb)
upload "$work/hour.wav" >/dev/null
peak=0
while :; do
    r=$(rss_mb); [ "$r" -gt "$peak" ] && peak=$r
    busy=$(curl -ksf -H "Authorization: Bearer $token" "$base/api/v1/jobs" |
        python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"]; print(sum(x["state"] in ("queued","running") for x in j))')
    [ "$busy" = 0 ] && break
    sleep 0.5
done
stop_server
# Model memory: the peak of transcribing 10 seconds (the model, little audio).
sox "$work/call1.wav" -c 1 "$work/ten.wav" trim 0 10 remix 1
/usr/bin/time -f "%M" -o "$work/model.rss" "$bin" --config "$work/insite.toml" transcribe "$work/ten.wav" --model "$model" >/dev/null 2>&1
model_mb=$(( $(tail -1 "$work/model.rss") / 1024 ))
printf "\n1-hour recording: peak %s MB (server idle %s MB); model memory %s MB; goal: model + 200 MB = %s MB\n" \
    "$peak" "$idle" "$model_mb" "$(( model_mb + 200 ))"
