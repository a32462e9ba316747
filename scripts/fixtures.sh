#!/usr/bin/env bash
# Makes the audio fixtures the tests use, into tests/fixtures/generated/ (git-ignored):
# speech generated with espeak-ng and sox, and the public JFK clip from the npm
# package nodejs-whisper@0.3.1 (checked by sha256). Existing files are kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/tests/fixtures/generated"
mkdir -p "$out"
cd "$out"

say() { # say FILE RATE VOICE TEXT
    [ -f "$1" ] || { espeak-ng -v "$3" -s 140 -w "$1.tmp.wav" "$4" && sox "$1.tmp.wav" -r "$2" -c 1 "$1" && rm "$1.tmp.wav"; }
}

# 22.05 kHz so decoding also resamples.
say speech.wav 22050 en-us "Please send the quarterly invoice to the customer before Friday."

if [ ! -f speech-long.wav ]; then
    parts=()
    for i in 1 2 3 4 5 6 7 8; do
        espeak-ng -v en-us -s 140 -w "long$i.wav" \
            "Part $i. The support team answered the customer, checked the account, and promised a refund within five business days."
        parts+=("long$i.wav")
    done
    sox "${parts[@]}" -r 16000 -c 1 speech-long.wav
    rm -f long*.wav
fi

[ -f empty.wav ] || : >empty.wav
[ -f zero-length.wav ] || sox -n -r 16000 -c 1 -b 16 zero-length.wav trim 0 0
[ -f corrupt.wav ] || { printf 'RIFF\x24\x00\x00\x00WAVEfmt ' >corrupt.wav; head -c 200 /dev/urandom >>corrupt.wav; }

if [ ! -f jfk.wav ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent nodejs-whisper@0.3.1 >/dev/null 2>&1 &&
        tar xzf nodejs-whisper-0.3.1.tgz package/cpp/whisper.cpp/bindings/go/samples/jfk.wav)
    mv "$tmp/package/cpp/whisper.cpp/bindings/go/samples/jfk.wav" jfk.wav
    rm -rf "$tmp"
fi
echo "59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e  jfk.wav" | sha256sum -c --quiet
echo "fixtures ready: $out"
