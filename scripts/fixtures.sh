#!/usr/bin/env bash
# Makes the audio fixtures the tests use, into tests/fixtures/generated/ (git-ignored):
# speech generated with espeak-ng and sox, and the public JFK clip from the npm
# package nodejs-whisper@0.3.1 (checked by sha256). Existing files are kept.
#
# INSITE_TEST_FIXTURES_CACHE (set by .ci/run) keeps the generated set between runs, keyed by
# this script's own content: a changed script makes a new set, an unchanged one is
# copied in instead of being made again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/tests/fixtures/generated"
mkdir -p "$out"
cache=""
if [ -n "${INSITE_TEST_FIXTURES_CACHE:-}" ]; then
    cache="$INSITE_TEST_FIXTURES_CACHE/$(sha256sum "$0" | cut -c1-16)"
    if [ -f "$cache/.complete" ]; then
        cp -n "$cache"/* "$out"/ 2>/dev/null || true
    fi
fi
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

# A stereo call: the agent (American voice) on the left channel, the customer
# (British voice) on the right, taking turns.
if [ ! -f call-stereo.wav ]; then
    espeak-ng -v en-us -s 140 -w a1.wav "Thank you for calling Acme support. How can I help you today?"
    espeak-ng -v en-gb -s 140 -w c1.wav "Hello. I want to cancel my account. My email is john at example dot com and my phone number is 555 123 4567."
    espeak-ng -v en-us -s 140 -w a2.wav "I am sorry to hear that. Can you read me the card number on the account?"
    espeak-ng -v en-gb -s 140 -w c2.wav "Yes, it is 4111 1111 1111 1111."
    for f in a1 c1 a2 c2; do sox "$f.wav" -r 16000 -c 1 "$f.16k.wav"; done
    sil() { sox -n -r 16000 -c 1 "$1" trim 0 "$2"; }
    d() { soxi -D "$1.16k.wav"; }
    sil s_c1.wav "$(echo "$(d c1) + 1" | bc)"; sil s_c2.wav "$(echo "$(d c2) + 1" | bc)"
    sil s_a1.wav "$(echo "$(d a1) + 1" | bc)"; sil s_a2.wav "$(echo "$(d a2) + 1" | bc)"
    sil half.wav 0.5
    sox a1.16k.wav half.wav s_c1.wav a2.16k.wav half.wav s_c2.wav left.wav
    sox s_a1.wav c1.16k.wav half.wav s_a2.wav c2.16k.wav half.wav right.wav
    sox -M left.wav right.wav call-stereo.wav
    rm -f a1*.wav a2*.wav c1*.wav c2*.wav s_*.wav half.wav left.wav right.wav
fi
# Telephony mu-law at 8 kHz, and MP3.
[ -f speech-mulaw.wav ] || sox speech.wav -r 8000 -e mu-law speech-mulaw.wav
[ -f speech.mp3 ] || sox speech.wav -C 64 speech.mp3
# FLAC and OGG Vorbis (seeds of the decoder fuzzing).
[ -f speech.flac ] || sox speech.wav speech.flac
[ -f speech.ogg ] || sox speech.wav speech.ogg
[ -f garbage.bin ] || head -c 4096 /dev/urandom >garbage.bin

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
if [ -n "$cache" ] && [ ! -f "$cache/.complete" ]; then
    mkdir -p "$cache.partial" && cp "$out"/* "$cache.partial"/ && touch "$cache.partial/.complete"
    rm -rf "$cache" && mv "$cache.partial" "$cache"
fi
echo "fixtures ready: $out"
