#!/usr/bin/env python3
"""Word error rate of a hypothesis file against a reference file (case and punctuation ignored)."""
import re
import sys


def words(s):
    return [w for w in (re.sub(r"[^0-9a-z]", "", t) for t in s.lower().split()) if w]


ref, hyp = words(open(sys.argv[1]).read()), words(open(sys.argv[2]).read())
prev = list(range(len(hyp) + 1))
for i in range(1, len(ref) + 1):
    cur = [i] + [0] * len(hyp)
    for j in range(1, len(hyp) + 1):
        cur[j] = min(prev[j - 1] + (ref[i - 1] != hyp[j - 1]), prev[j] + 1, cur[j - 1] + 1)
    prev = cur
print(f"{prev[len(hyp)] / max(1, len(ref)):.3f}")
