#!/usr/bin/env python3
"""Transcribe one file with faster-whisper (CPU) from a local CTranslate2 directory and
print one JSON line: transcription seconds, text. Peak memory is measured from outside."""
import json
import sys
import time

from faster_whisper import WhisperModel

model_dir, audio, compute_type, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
model = WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=threads)
start = time.perf_counter()
segments, info = model.transcribe(audio, beam_size=1, language="en", vad_filter=False,
                                  condition_on_previous_text=False)
text = " ".join(s.text.strip() for s in segments)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "text": text}))
