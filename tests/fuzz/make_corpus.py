#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make_corpus.py - writes seed inputs into tests/fuzz/corpus/<target>/ (a handful of small
inputs per libFuzzer target: valid small shapes, a zero dim, an overflowing dim, specials).
Deterministic. The committed corpus grows from these through `make fuzz-campaign`, which merges
what it finds (libFuzzer -merge=1) and drops what adds no coverage; rerun this only after
changing the input format of fuzz_common.h (then empty the corpus first: old inputs would decode
differently), or to add seeds (the files it wrote before come out byte for byte the same).
The dtype* seeds are laid out field by field (dtype_seed, fuzz_common.h's order) so that they
reach the element-type bytes read last: bfloat16 and float16 tensors, grad_f32, an in-place
gradient, an invalid element type, with and without weights, OHEM and the focal losses."""
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

# ---- element types (fuzz_common.h: the four bytes after OHEM's) ----------------------------------
# fz_dtype: byte % 16 < 6 bfloat16, < 12 float16, < 15 float32, 15 not an sl_dtype; the first
# byte in [176, 232) turns the call with element types on (fz_dt_on). grad byte: % 2 grad_f32,
# / 2 % 4 == 0 in place.
BF16, F16, F32, BAD = 176, 182, 188, 191


def f32_field(rng, specials):
    """one fz_float field (5 bytes): an ordinary value (m >= 100), or a special (m in [40, 100))
    with probability specials"""
    if rng.random() < specials:
        return bytes([40 + rng.randrange(60)]) + rng.getrandbits(32).to_bytes(4, "big")
    return bytes([100 + rng.randrange(156)]) + rng.getrandbits(32).to_bytes(4, "big")


def dtype_seed(rng, op, sfocal, n, c, h, w, red, weight, dtypes, grad, pos_weight=False,
               focal=False, pixw=False, ohem=False):
    """fuzz_common.h's fields in order: dims (mode 0 / 5), options, outputs (loss and grad),
    a region without boxes or mask, data, no aliasing, then focal, OHEM and the element types"""
    def dim(v):  # fz_dim: 1 + v % 6; 1 + v % 40; 64 + 2 (v - 200)
        assert v <= 40 or (v >= 64 and v % 2 == 0)
        return bytes([0, v - 1]) if v <= 6 else bytes([5, v - 1 if v <= 40 else 200 + (v - 64) // 2])
    b = bytearray(dim(n) + dim(c) + dim(h) + dim(w))
    if op == 2:
        b += bytes([1])  # not the one-class CE
    none = red == 2
    b += bytes([1, red, 0, 0, 0, 0, 0])  # options, reduction, I64 labels, no smoothing, ...
    b += bytes([0 if weight else 1, 1 if pos_weight else 2, 1, 0])  # weight, pos_weight, gmap, stats
    b += bytes([5, 1, 0, 1, 1, 0])  # loss + grad; a region, no box, no mask; x and t present
    ne, npx = n * c * h * w, n * h * w
    sp = 0.0 if op == 0 else 0.05  # sl_bce: no specials (NaN, inf: SL_ERR_DOMAIN)
    for _ in range(ne):
        b += f32_field(rng, sp) + f32_field(rng, sp)  # x, t
    for _ in range(c if op == 2 else ne):
        b += f32_field(rng, sp)  # weights
    for _ in range(c):
        b += f32_field(rng, sp)  # pos_weight
    for _ in range(npx if op == 2 else ne):
        b += f32_field(rng, sp)  # grad_map (NONE)
    b += bytes(npx)  # mask bytes (unused): 0
    b += bytes(rng.randrange(200) for _ in range(npx))  # labels in [0, C)
    b += bytes([0, 0, 1])  # no aliasing, no box_offsets, no box_stats
    b += bytes([1 if focal else 0, 1 if pixw else 0])
    if op == 2 and pixw:
        for _ in range(npx):
            b += f32_field(rng, sp)
    if sfocal:
        b += bytes([0, 0])  # gamma 2, alpha 0.25
    b += bytes([128, 100] if ohem else [0, 0])  # OHEM: thresh 0.7, min_kept 1
    b += bytes(dtypes) + bytes([grad])
    assert len(b) <= 4096  # FUZZ_RUN_FLAGS' -max_len
    return bytes(b)


for target, op, sfocal in (("bce", 0, 0), ("bce_logits", 1, 0), ("sigmoid_focal", 1, 1),
                           ("ce", 2, 0)):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    rng = random.Random(len(target) + 2000)
    seeds = [
        dtype_seed(rng, op, sfocal, 2, 3, 2, 7, 0, True, [BF16, BF16, BF16], 2),
        dtype_seed(rng, op, sfocal, 1, 1, 1, 66, 1, True, [F16, F16, F16], 2),  # a long row
        dtype_seed(rng, op, sfocal, 2, 2, 3, 9, 2, False, [BF16, F32, F16], 3),   # grad_f32
        dtype_seed(rng, op, sfocal, 1, 3, 1, 37, 0, False, [F16, BF16, F32], 0),  # in place
        dtype_seed(rng, op, sfocal, 1, 3, 2, 5, 1, True, [BF16, F16, F32], 1),    # in place, f32 grad
        dtype_seed(rng, op, sfocal, 1, 2, 2, 3, 0, True, [BF16, BAD, F16], 2),    # invalid
        dtype_seed(rng, op, sfocal, 2, 1, 2, 9, 0, True, [F32, F32, BF16], 15),  # bad grad_f32
    ]
    if op == 1 and not sfocal:
        seeds.append(dtype_seed(rng, op, sfocal, 1, 3, 4, 11, 1, True, [F16, BF16, BF16], 2,
                                pos_weight=True))
    if op == 2:
        seeds += [
            dtype_seed(rng, op, sfocal, 2, 4, 1, 19, 0, False, [BF16, F32, BF16], 2, pixw=True),
            dtype_seed(rng, op, sfocal, 1, 5, 2, 13, 0, True, [F16, F32, F16], 0, pixw=True,
                       ohem=True),
            dtype_seed(rng, op, sfocal, 2, 3, 4, 9, 1, False, [F16, F32, BF16], 2, focal=True,
                       pixw=True),
        ]
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "dtype%d" % i), "wb") as f:
            f.write(s)

# ---- sl_ce_prob (fuzz_ce_prob.c's own format): element-type seeds ----------------------------
# The 2-byte call against the float32 one.


def ce_prob_seed(rng, n, h, w, c, red, weights, dtypes, grad):
    """N, H, W, C; logits; distributions; class and pixel weights; no region; options; types"""
    def val():  # fz_float: an ordinary value (first byte >= 24), 16 bits
        return bytes([24 + rng.randrange(232), rng.randrange(256), rng.randrange(256)])
    b = bytearray([n - 1, h - 1, w - 1, c - 1])
    for _ in range(n * c * h * w):
        b += val()  # logits
    b += bytes([1])  # distributions
    for _ in range(n * h * w):
        b += bytes([rng.randrange(256)])  # (the one-hot class, unused)
        for _ in range(c):
            b += val()
    for _ in range(c):
        b += bytes([16 + rng.randrange(240), rng.randrange(256)])  # class weights 0.25 .. 2
    for _ in range(n * h * w):
        b += bytes([20 + rng.randrange(236)]) + val() + val()  # pixel weight, grad_map
    b += bytes([0, 0])  # no boxes, no mask
    b += bytes([red, 0, 0, weights, weights, 1, 3, 0])  # loss and grad, one thread
    b += bytes(dtypes) + bytes([grad])
    assert len(b) <= 4096
    return bytes(b)


d = os.path.join(HERE, "corpus", "ce_prob")
os.makedirs(d, exist_ok=True)
rng = random.Random(3000)
seeds = [
    ce_prob_seed(rng, 2, 3, 9, 4, 0, 1, [BF16, BF16, BF16], 2),
    ce_prob_seed(rng, 1, 2, 33, 3, 1, 1, [F16, F16, F16], 2),
    ce_prob_seed(rng, 1, 4, 7, 5, 2, 0, [BF16, F32, F32], 0),   # in place
    ce_prob_seed(rng, 2, 1, 13, 2, 0, 1, [F32, F32, F32], 1),   # float32 in place, grad_f32
    ce_prob_seed(rng, 1, 2, 5, 3, 0, 0, [F16, BF16, F32], 3),   # grad_f32
    ce_prob_seed(rng, 1, 1, 4, 2, 1, 1, [BAD, F32, F32], 2),    # invalid
]
for i, s in enumerate(seeds):
    with open(os.path.join(d, "dtype%d" % i), "wb") as f:
        f.write(s)

# ---- Dice (fuzz_dice_common.h): element-type seeds -------------------------------------------


def dice_seed(rng, n, c, h, w, ob, dtypes, grad):
    """N, C, H, W; p (or logits) and targets 0 / 1; labels; no region; options (ob: reduction,
    log loss, logits, grad, loss, sums, grad_map bits), valid values; the element types"""
    b = bytearray([n - 1, c - 1, h - 1, w - 1])
    for _ in range(n * c * h * w):
        b += bytes([24 + rng.randrange(232), rng.randrange(256), rng.randrange(256)])  # x
        b += bytes([rng.randrange(200), rng.randrange(256)])  # t: 0 or 1
    b += bytes([1])  # ignore_index -100
    b += bytes(rng.randrange(240) for _ in range(n * h * w))  # labels in [0, C)
    b += bytes([0])  # no region
    b += bytes([ob, 0, 0]) + bytes([6, 6, 6, 6, 6])  # Dice (not Tversky); valid constants
    b += bytes([0] * 8)  # grad_map values (unused)
    b += bytes(dtypes) + bytes([grad])
    assert len(b) <= 4096
    return bytes(b)


for target in ("dice", "dice_mc"):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    rng = random.Random(len(target) + 4000)
    seeds = [
        dice_seed(rng, 2, 3, 4, 21, 0x70, [BF16, BF16, F32], 2),  # MEAN, grad, loss, sums
        dice_seed(rng, 1, 4, 3, 33, 0x79, [F16, F16, F32], 2),    # SUM, from logits
        dice_seed(rng, 3, 2, 2, 9, 0x70, [F32, F32, F32], 3),     # grad_f32 on float32
        dice_seed(rng, 1, 3, 2, 5, 0x74, [BF16, F32, F32], 1),    # log loss, grad_f32
        dice_seed(rng, 1, 2, 2, 3, 0x70, [BAD, F32, F32], 2),     # invalid
    ]
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "dtype%d" % i), "wb") as f:
            f.write(s)
