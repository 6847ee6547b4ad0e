#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make_corpus.py - writes seed inputs into tests/fuzz/corpus/<target>/ (a handful of small
inputs per libFuzzer target: valid small shapes, a zero dim, an overflowing dim, specials).
Deterministic. The committed corpus grows from these through `make fuzz-campaign`, which merges
what it finds (libFuzzer -merge=1) and drops what adds no coverage; rerun this only after
changing the input format of fuzz_common.h (then empty the corpus first: old inputs would decode
differently)."""
import os, random

HERE = os.path.dirname(os.path.abspath(__file__))

def seed(rng, dims, extra):
    b = bytearray()
    for mode, v in dims:  # fz_dim: mode byte, value byte
        b += bytes([mode, v])
    b += bytes(rng.randrange(256) for _ in range(extra))
    return bytes(b)

for target in ("bce", "bce_logits", "ce"):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    rng = random.Random(hash(target) & 0xFFFF if False else len(target))
    seeds = [
        seed(rng, [(0, 1), (0, 1), (0, 2), (5, 20)], 600),   # 2 x 2 x 3 x 21
        seed(rng, [(0, 0), (0, 2), (0, 3), (0, 4)], 900),    # 1 x 3 x 4 x 5
        seed(rng, [(6, 0), (0, 1), (0, 1), (0, 1)], 64),     # N = 0
        seed(rng, [(7, 7), (7, 7), (0, 1), (0, 1)], 64),     # INT64_MAX x INT64_MAX
        seed(rng, [(7, 1), (7, 1), (7, 3), (0, 1)], 64),     # 2^31 x 2^31 x 2^32
        seed(rng, [(0, 5), (0, 0), (5, 39), (5, 39)], 3000), # 6 x 1 x 40 x 40
    ]
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed%d" % i), "wb") as f:
            f.write(s)

# ---- the Dice targets (fuzz_dice_common.h's input format: four dimension bytes, then data) ----
for target in ("dice", "dice_mc"):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    rng = random.Random(len(target) + 1000)
    seeds = [
        bytes([1, 2, 3, 20]) + bytes(rng.randrange(256) for _ in range(2000)),  # 2 x 3 x 4 x 21
        bytes([0, 0, 0, 0]) + bytes(rng.randrange(256) for _ in range(64)),     # 1 x 1 x 1 x 1
        bytes([2, 5, 8, 69]) + bytes(rng.randrange(256) for _ in range(4000)),  # 3 x 6 x 9 x 70
        bytes([0, 3, 5, 40]) + bytes(rng.randrange(24) for _ in range(1500)),   # specials
    ]
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed%d" % i), "wb") as f:
            f.write(s)
