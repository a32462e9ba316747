#!/usr/bin/env python3
"""Writes tokenizer.json for a CTranslate2 Whisper directory that has only vocabulary.txt,
so faster-whisper can run offline (it would otherwise fetch one from a model hub).
faster-whisper only decodes with it and looks up special tokens by name, which a
byte-level BPE over the same vocabulary (no merges needed) provides exactly."""
import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers

model_dir = sys.argv[1]
with open(os.path.join(model_dir, "vocabulary.txt"), encoding="utf-8") as f:
    tokens = f.read().split("\n")
if tokens and tokens[-1] == "":
    tokens.pop()
vocab = {tok: i for i, tok in enumerate(tokens)}
tk = Tokenizer(models.BPE(vocab=vocab, merges=[]))
tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tk.decoder = decoders.ByteLevel()
tk.save(os.path.join(model_dir, "tokenizer.json"))
print(f"wrote tokenizer.json with {len(vocab)} tokens")
