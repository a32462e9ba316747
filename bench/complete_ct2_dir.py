#!/usr/bin/env python3
"""Completes a CTranslate2 Whisper directory that ships only model.bin and
vocabulary.txt, so faster-whisper can run offline (it would otherwise fetch files
from a model hub):
- tokenizer.json: byte-level BPE over the same vocabulary (faster-whisper only decodes
  with it and looks special tokens up by name, which needs no merges);
- config.json: the language token ids of a multilingual vocabulary and NO token
  suppression list (the package does not ship OpenAI's), which can make
  faster-whisper's output differ slightly from the reference configuration."""
import json
import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers

model_dir = sys.argv[1]
with open(os.path.join(model_dir, "vocabulary.txt"), encoding="utf-8") as f:
    tokens = f.read().split("\n")
if tokens and tokens[-1] == "":
    tokens.pop()
vocab = {tok: i for i, tok in enumerate(tokens)}

tok_path = os.path.join(model_dir, "tokenizer.json")
if not os.path.exists(tok_path):
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.save(tok_path)
    print(f"wrote tokenizer.json with {len(vocab)} tokens")

cfg_path = os.path.join(model_dir, "config.json")
if not os.path.exists(cfg_path):
    lang_ids = [i for t, i in vocab.items() if t.startswith("<|") and t.endswith("|>") and 2 <= len(t) - 4 <= 3 and t[2:-2].isalpha() and t[2:-2].islower()]
    config = {"alignment_heads": [], "lang_ids": sorted(lang_ids), "suppress_ids": [],
              "suppress_ids_begin": [220, vocab.get("<|endoftext|>", 50257)]}
    with open(cfg_path, "w") as f:
        json.dump(config, f)
    print(f"wrote config.json with {len(lang_ids)} language ids")
