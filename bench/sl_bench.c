// SPDX-License-Identifier: MIT
/*
 * sl_bench.c - build/sl-bench: times sectionloss's entry points over named cases, sections and
 * modes, and compares each median with a memory roofline measured in the same run.
 *
 *   entry points: bce, bce_logits (BCE cases), ce (CE cases); with --entry also
 *                 dice, dice_logits (sl_dice on probabilities / logits, BCE cases) and dice_mc
 *                 (sl_dice_multiclass, CE cases): Dice streams its inputs twice with a gradient
 *                 (the sums pass, then the gradient pass), and its GB/s and %roof count both;
 *                 softmax_focal (sl_softmax_focal, gamma 2, CE cases) and sigmoid_focal
 *                 (sl_sigmoid_focal, gamma 2, alpha 0.25, BCE cases; only in a build where
 *                 the library is 0.3 or later, else skipped with a note): each
 *                 focal call is timed in alternation with its base (ce, bce_logits) on the
 *                 same case, section and mode, and "vs base" is the ratio of the two medians;
 *                 ce_ohem (sl_ce with online hard example mining: ohem_thresh 0.7,
 *                 ohem_min_kept 100000 per sample, mmsegmentation's usual setting; CE cases,
 *                 library 1.1 or later), timed in alternation with ce;
 *                 ce_prob (sl_ce_prob: class-probability targets, N x C x H x W softmax
 *                 distributions, CE cases), timed in alternation with ce likewise (build
 *                 with -DSL_BENCH_NO_CE_PROB against a header without sl_ce_prob)
 *   sections:     whole, box (central 2/3 of H and of W), mask (broadcast N x 1 x H x W mask,
 *                 the same central 2/3), boxes (one box per sample, central 2/3 shifted),
 *                 rand50 (broadcast mask, each pixel selected with probability 1/2, seeded)
 *                 and blobs (broadcast mask of object-like regions with holes, seeded: see
 *                 make_blobs; about 30-55% of each image);
 *                 with --section also dets (detection: --boxes-per-image seeded random boxes
 *                 per sample, default 20, of varied sizes and overlapping, through
 *                 region.box_offsets: the section is their union) and maskpw (the mask, and
 *                 options.pixel_weight, an N x H x W map of weights in [0.5, 2); ce and
 *                 softmax_focal only: other entries skip it)
 *   modes:        fwd (loss only), bwd (grad only), fused (loss and grad in one call)
 *   --reduction none: the loss map (and, with a gradient, an upstream gradient map of ones)
 *                 instead of MEAN; --stream-bytes B: the driver's streaming threshold;
 *                 --dtype bf16|f16: the tensors in 2-byte elements (library 1.1 on)
 *                 (sl__stream_bytes: outputs above B bytes get non-temporal stores)
 *   cases:        "bce-NxCxHxW" or "ce-NxCxHxW", any shape; the default list is the article's
 *                 4x1x64x64 BCE and 4x4x64x64 CE, bce-16x1x512x512, ce-8x21x512x512 (VOC-like)
 *                 and ce-1x19x1024x2048 (Cityscapes-like, batch of 1).
 *
 * Shape legend: N batch, C channels (BCE) or classes (CE), H height, W width.
 *
 * Each measurement: one warm-up call, then enough repetitions for about --min-time seconds (at
 * least 5); median and minimum wall time. "elements" is the tensor size N*C*H*W; "GB/s" counts
 * the bytes the call must touch: selected inputs read (x and target, or logits and int64
 * labels), the whole mask read (mask, rand50, blobs, maskpw), and the whole gradient written
 * (zeros outside the section included; maskpw: the selected pixel weights read too); the scalar
 * loss is not counted. "ns/sel" is the median per selected element (selected pixels x C: what
 * the section asks for), so a fragmented mask's cost per element reads directly against the
 * whole tensor's (the target: rand50 at most 1.2x whole). The
 * roofline time of a call is read bytes / read bandwidth + written bytes / write bandwidth, both
 * measured here by streaming loops over a large buffer with the same thread count; "%roof" =
 * roofline time / median time, "xroof" = median time / roofline time (Dice's target:
 * at most 2).
 *
 * Single-case mode for hyperfine: --case, --section and --mode with one value each and no
 * output flag runs the call once (or --reps K times) and prints nothing.
 * --load DIR reads the inputs (prob.f32, logits.f32, target.f32, labels.i64, mask.u8, raw
 * little-endian) written by bench/torch_compare.py instead of generating them, and, when present,
 * pixel_weight.f32 (N x H x W), det_offsets.i64 (N + 1), det_boxes.i32 (x1 y1 x2 y2 each),
 * mask_rand50.u8 and mask_blobs.u8 (N x 1 x H x W; absent ones are generated).
 * --save-masks DIR writes the generated mask_rand50.u8 and mask_blobs.u8 of one --case (what
 * torch_compare.py puts in its --load directory: one generator for both programs).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sectionloss.h"

static int g_none; /* --reduction none */
/* --dtype: the element type of logits / probabilities, targets and the gradient (library 1.1 on:
 * sl_options.input_dtype, target_dtype); 0 float32, 1 bfloat16, 2 float16 (sl_dtype's values) */
static int g_dtype;
#define HAVE_DTYPE (SL_VERSION_NUMBER >= 10100)
static int g_probs; /* a ce_prob entry: CE cases get class-probability targets */
#if SL_VERSION_MAJOR >= 1
extern int64_t sl__stream_bytes; /* src/section.c */
#endif

/* The pattern floor (x86-64 builds: bench/pattern_*.c, linked into sl-bench only): the active
 * ISA's kernels without their vector math, run through the same driver (sl__kernels_use), timed
 * in alternation with the real call; xpattern = median / pattern median. */
#if defined(SL_BENCH_PATTERN)
#include "kernels.h"
extern const sl_kernels sl_kernels_avx2_pattern, sl_kernels_avx512_pattern;
static const sl_kernels *pattern_table(sl_isa isa) {
  return isa == SL_ISA_AVX2     ? &sl_kernels_avx2_pattern
         : isa == SL_ISA_AVX512 ? &sl_kernels_avx512_pattern
                                : NULL;
}
#else
typedef struct sl_kernels sl_kernels;
static const sl_kernels *pattern_table(sl_isa isa) {
  (void)isa;
  return NULL;
}
static void sl__kernels_use(const sl_kernels *k) {
  (void)k;
}
#endif

enum { MAX_LIST = 64, MIN_REPS = 5, MAX_REPS = 100000, DEFAULT_BOXES_PER_IMAGE = 20 };

/* sl_sigmoid_focal is in the library from 0.3 on (the bench builds against older headers too) */
#define HAVE_SIGMOID_FOCAL (SL_VERSION_NUMBER >= 300)
/* online hard example mining (sl_options.ohem_thresh) from 1.1 on */
#define HAVE_OHEM (SL_VERSION_NUMBER >= 10100)
/* sl_ce_prob: issue 23 (a header without it: -DSL_BENCH_NO_CE_PROB) */
#if defined(SL_BENCH_NO_CE_PROB)
#define HAVE_CE_PROB 0
#else
#define HAVE_CE_PROB 1
#endif

static const char *const default_cases[] = {"bce-4x1x64x64", "ce-4x4x64x64", "bce-16x1x512x512",
                                            "ce-8x21x512x512", "ce-1x19x1024x2048"};
static const char *const all_entries[] = {"bce", "bce_logits", "ce"};
/* Only with --entry: Dice / Tversky (dice on probabilities and dice_logits on BCE
 * cases, dice_mc on CE cases; default options: Dice, MEAN) and the focal losses (softmax_focal on
 * CE cases, sigmoid_focal on BCE cases; gamma 2, sigmoid alpha 0.25). */
static const char *const extra_entries[] = {
    "dice", "dice_logits", "dice_mc", "softmax_focal", "sigmoid_focal", "ce_ohem", "ce_prob"};
static const char *const all_sections[] = {"whole", "box", "mask", "boxes", "rand50", "blobs"};
/* Only with --section: dets (many boxes per image, box_offsets), maskpw (the mask and
 * options.pixel_weight; ce and softmax_focal only). */
static const char *const extra_sections[] = {"dets", "maskpw"};
static const char *const all_modes[] = {"fwd", "bwd", "fused"};
#define COUNT(a) ((int)(sizeof(a) / sizeof *(a)))

/* ---- small helpers ------------------------------------------------------------------------ */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *msg, const char *arg) {
  fprintf(stderr, "sl-bench: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
  exit(2);
}

static void *xmalloc(size_t bytes) {
  void *p = NULL;
  if (bytes == 0)
    bytes = 64;
  if (posix_memalign(&p, 64, bytes) != 0)
    die("out of memory", NULL);
  return p;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Splits a comma list into items (pointers into a copy of s). Returns the count. */
static int split_list(const char *s, char *buf, size_t bufsize, const char **items) {
  int n = 0;
  if (strlen(s) >= bufsize)
    die("argument too long", s);
  strcpy(buf, s);
  for (char *tok = strtok(buf, ","); tok && n < MAX_LIST; tok = strtok(NULL, ","))
    items[n++] = tok;
  return n;
}

static int in_list(const char *s, const char *const *list, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(s, list[i]) == 0)
      return 1;
  return 0;
}

/* 1 for the entry points on CE cases (labels), 0 for those on BCE cases. */
static int entry_is_ce(const char *e) {
  return strcmp(e, "ce") == 0 || strcmp(e, "dice_mc") == 0 || strcmp(e, "softmax_focal") == 0 ||
         strcmp(e, "ce_ohem") == 0 || strcmp(e, "ce_prob") == 0;
}

/* The entry point a focal loss is compared with (same case, section and mode), or NULL. */
static const char *base_entry(const char *e) {
  if (strcmp(e, "softmax_focal") == 0 || strcmp(e, "ce_ohem") == 0 || strcmp(e, "ce_prob") == 0)
    return "ce";
  if (strcmp(e, "sigmoid_focal") == 0)
    return "bce_logits";
  return NULL;
}

/* 1 when the entry point takes that section (pixel weights: ce and softmax_focal only). */
static int section_fits(const char *entry, const char *section) {
  if (strcmp(section, "maskpw") == 0)
    return strcmp(entry, "ce") == 0 || strcmp(entry, "softmax_focal") == 0 ||
           strcmp(entry, "ce_prob") == 0;
  return 1;
}

/* 1 when this build can call the entry point. */
static int entry_available(const char *e) {
  return (strcmp(e, "sigmoid_focal") != 0 || HAVE_SIGMOID_FOCAL) &&
         (strcmp(e, "ce_ohem") != 0 || HAVE_OHEM) && (strcmp(e, "ce_prob") != 0 || HAVE_CE_PROB);
}

/* xorshift64*: fast, deterministic test data. */
static uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static float rng_unit(uint64_t *s) { /* in (0, 1) */
  return ((float)(rng_next(s) >> 40) + 0.5f) * (1.0f / 16777216.0f);
}

/* ---- cases and their data ----------------------------------------------------------------- */

typedef struct bcase {
  char name[64];
  int is_ce;
  sl_shape shape;
  sl_box box;           /* central 2/3 */
  sl_box *boxes;        /* per sample, central 2/3 shifted */
  uint8_t *mask;        /* N x 1 x H x W, the box's pixels set */
  uint8_t *rand50;      /* N x 1 x H x W, each pixel set with probability 1/2 */
  uint8_t *blobs;       /* N x 1 x H x W, object-like regions with holes (make_blobs) */
  float *prob, *logits; /* BCE: prob and logits; CE: logits */
  float *target;        /* BCE */
  float *probs;         /* CE cases with ce_prob: N x C x H x W class probabilities */
  int64_t *labels;      /* CE: N x H x W */
  float *grad;
  float *lmap, *gmap;   /* --reduction none: loss map and upstream gradient map (ones) */
  float *pw;            /* maskpw: N x H x W pixel weights */
  sl_box *dets;         /* dets: det_offsets[N] boxes, sample n's from det_offsets[n] */
  int64_t *det_offsets; /* N + 1 */
  int64_t det_union;    /* pixels in the union of each sample's boxes, summed over samples */
} bcase;

static int parse_case(const char *name, bcase *k) {
  long long n, c, h, w;
  char kind[16];
  char tail;
  memset(k, 0, sizeof *k);
  if (sscanf(name, "%15[a-z]-%lldx%lldx%lldx%lld%c", kind, &n, &c, &h, &w, &tail) != 5)
    return 0;
  if (strcmp(kind, "bce") != 0 && strcmp(kind, "ce") != 0)
    return 0;
  if (n <= 0 || c <= 0 || h < 6 || w < 6 || h > 1 << 20 || w > 1 << 20 || n * c > 1 << 20 ||
      (double)n * c * h * w > 4e9)
    return 0;
  snprintf(k->name, sizeof k->name, "%s", name);
  k->is_ce = strcmp(kind, "ce") == 0;
  k->shape = (sl_shape){n, c, h, w};
  k->box = (sl_box){(int32_t)(w / 6), (int32_t)(h / 6), (int32_t)(w - w / 6), (int32_t)(h - h / 6)};
  return 1;
}

static int64_t numel(const sl_shape *s) {
  return s->n * s->c * s->h * s->w;
}
static int64_t npix(const sl_shape *s) {
  return s->n * s->h * s->w;
}

/* Reads exactly count elements of size bytes from dir/file. Returns 1, or 0 if absent. */
static int load_file(const char *dir, const char *file, void *dst, size_t size, int64_t count) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT)
      return 0;
    die("cannot open", path);
  }
  size_t got = fread(dst, size, (size_t)count, f);
  int extra = fgetc(f) != EOF;
  fclose(f);
  if (got != (size_t)count || extra)
    die("file size does not match the case's shape", path);
  return 1;
}

/* Writes bytes bytes to dir/file. */
static void write_file(const char *dir, const char *file, const void *src, int64_t bytes) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(src, 1, (size_t)bytes, f) != (size_t)bytes || fclose(f) != 0)
    die("cannot write", path);
}

/* Box side in [lo, hi], log-uniform. */
static int32_t det_side(uint64_t *seed, int64_t lo, int64_t hi) {
  double v = exp(log((double)lo) + (double)rng_unit(seed) * (log((double)hi) - log((double)lo)));
  int64_t side = (int64_t)v;
  return (int32_t)(side < lo ? lo : side > hi ? hi : side);
}

/* The detection section: boxes_per_image boxes per sample, seeded (the same for every run of a
 * shape), sides log-uniform in [max(2, W/32), W/2] and [max(2, H/32), H/2], placed uniformly:
 * they overlap. Read from det_offsets.i64 and det_boxes.i32 when load_dir has them. Then counts
 * the union's pixels (what the call must read). */
static void dets_alloc(bcase *k, const char *load_dir, int boxes_per_image) {
  const sl_shape *s = &k->shape;
  k->det_offsets = xmalloc((size_t)(s->n + 1) * sizeof *k->det_offsets);
  int loaded = 0;
  if (load_dir &&
      load_file(load_dir, "det_offsets.i64", k->det_offsets, sizeof(int64_t), s->n + 1)) {
    int64_t nb = k->det_offsets[s->n];
    if (k->det_offsets[0] != 0 || nb < 0 || nb > ((int64_t)1 << 24))
      die("bad det_offsets.i64", load_dir);
    k->dets = xmalloc((size_t)(nb > 0 ? nb : 1) * sizeof *k->dets);
    if (!load_file(load_dir, "det_boxes.i32", k->dets, sizeof(sl_box), nb))
      die("--load: det_offsets.i64 without det_boxes.i32", load_dir);
    loaded = 1;
  }
  if (!loaded) {
    uint64_t seed = 0xD1B54A32D192ED03ULL ^ (uint64_t)(s->n * 1000003 + s->h * 1009 + s->w);
    int64_t nb = s->n * boxes_per_image;
    k->dets = xmalloc((size_t)(nb > 0 ? nb : 1) * sizeof *k->dets);
    for (int64_t n = 0; n < s->n; n++) {
      k->det_offsets[n] = n * boxes_per_image;
      for (int b = 0; b < boxes_per_image; b++) {
        int32_t bw = det_side(&seed, s->w / 32 > 2 ? s->w / 32 : 2, s->w / 2);
        int32_t bh = det_side(&seed, s->h / 32 > 2 ? s->h / 32 : 2, s->h / 2);
        int32_t x1 = (int32_t)(rng_unit(&seed) * (float)(s->w - bw + 1));
        int32_t y1 = (int32_t)(rng_unit(&seed) * (float)(s->h - bh + 1));
        if (x1 > s->w - bw)
          x1 = (int32_t)(s->w - bw);
        if (y1 > s->h - bh)
          y1 = (int32_t)(s->h - bh);
        k->dets[n * boxes_per_image + b] = (sl_box){x1, y1, x1 + bw, y1 + bh};
      }
    }
    k->det_offsets[s->n] = nb;
  }
  uint8_t *u = xmalloc((size_t)(s->h * s->w));
  k->det_union = 0;
  for (int64_t n = 0; n < s->n; n++) {
    memset(u, 0, (size_t)(s->h * s->w));
    for (int64_t b = k->det_offsets[n]; b < k->det_offsets[n + 1]; b++) {
      const sl_box *d = &k->dets[b];
      for (int64_t y = d->y1; y < d->y2; y++)
        memset(u + y * s->w + d->x1, 1, (size_t)(d->x2 - d->x1));
    }
    for (int64_t i = 0; i < s->h * s->w; i++)
      k->det_union += u[i];
  }
  free(u);
}

/* Adds (value 1) or removes (value 0) the disc of centre (cx, cy) and radius r in the H x W plane
 * m; returns the change in the count of set pixels. */
static int64_t paint_disc(uint8_t *m, int64_t h, int64_t w, double cx, double cy, double r,
                          uint8_t value) {
  int64_t y0 = (int64_t)floor(cy - r), y1 = (int64_t)ceil(cy + r);
  int64_t x0 = (int64_t)floor(cx - r), x1 = (int64_t)ceil(cx + r);
  int64_t changed = 0;
  for (int64_t y = y0 < 0 ? 0 : y0; y <= y1 && y < h; y++)
    for (int64_t x = x0 < 0 ? 0 : x0; x <= x1 && x < w; x++) {
      double dx = (double)x + 0.5 - cx, dy = (double)y + 0.5 - cy;
      if (dx * dx + dy * dy <= r * r && m[y * w + x] != value) {
        m[y * w + x] = value;
        changed++;
      }
    }
  return value ? changed : -changed;
}

/* The blobs section, per sample (seeded by the shape): a union of discs (radius log-uniform in
 * [R/16, R/5], R = min(H, W); centres uniform) grown until it covers a fraction f of the image
 * (f uniform in [0.45, 0.75)), then holes: smaller discs (radius in [R/48, R/14]) centred on
 * selected pixels cleared until 0.7 f is left. Each image ends with 30-55% of its pixels selected
 * in irregular, object-like regions whose rows start and stop at varied columns. */
static void make_blobs(uint8_t *mask, const sl_shape *s) {
  uint64_t seed = 0xB10B5EEDC0FFEE11ULL ^ (uint64_t)(s->n * 1000003 + s->h * 1009 + s->w);
  int64_t hw = s->h * s->w;
  double r_img = (double)(s->h < s->w ? s->h : s->w);
  for (int64_t n = 0; n < s->n; n++) {
    uint8_t *m = mask + n * hw;
    memset(m, 0, (size_t)hw);
    double f = 0.45 + 0.3 * (double)rng_unit(&seed);
    int64_t set = 0;
    for (int i = 0; i < 100000 && (double)set < f * (double)hw; i++) {
      double r = exp(log(r_img / 16.0) + (double)rng_unit(&seed) * log(16.0 / 5.0));
      set += paint_disc(m, s->h, s->w, (double)rng_unit(&seed) * (double)s->w,
                        (double)rng_unit(&seed) * (double)s->h, r < 1.0 ? 1.0 : r, 1);
    }
    for (int i = 0; i < 100000 && (double)set > 0.7 * f * (double)hw; i++) {
      int64_t at = (int64_t)(rng_next(&seed) % (uint64_t)hw);
      if (!m[at])
        continue;
      double r = exp(log(r_img / 48.0) + (double)rng_unit(&seed) * log(48.0 / 14.0));
      set += paint_disc(m, s->h, s->w, (double)(at % s->w) + 0.5, (double)(at / s->w) + 0.5,
                        r < 1.0 ? 1.0 : r, 0);
    }
  }
}

/* The rand50 and blobs masks: read from load_dir when it has them, else generated. */
static void fragmented_masks(bcase *k, const char *load_dir) {
  const sl_shape *s = &k->shape;
  int64_t p = npix(s);
  k->rand50 = xmalloc((size_t)p);
  k->blobs = xmalloc((size_t)p);
  if (!(load_dir && load_file(load_dir, "mask_rand50.u8", k->rand50, 1, p))) {
    uint64_t seed = 0x5EED50505EED5050ULL ^ (uint64_t)p;
    for (int64_t i = 0; i < p; i++)
      k->rand50[i] = (uint8_t)(rng_next(&seed) >> 63);
  }
  if (!(load_dir && load_file(load_dir, "mask_blobs.u8", k->blobs, 1, p)))
    make_blobs(k->blobs, s);
}

/* The mask a section passes (region.mask), or NULL. */
static const uint8_t *section_mask(const bcase *k, const char *section) {
  if (strcmp(section, "mask") == 0 || strcmp(section, "maskpw") == 0)
    return k->mask;
  if (strcmp(section, "rand50") == 0)
    return k->rand50;
  if (strcmp(section, "blobs") == 0)
    return k->blobs;
  return NULL;
}

static void case_alloc(bcase *k, const char *load_dir, int boxes_per_image) {
  const sl_shape *s = &k->shape;
  int64_t t = numel(s), p = npix(s);
  uint64_t seed = 0x9E3779B97F4A7C15ULL ^ (uint64_t)t;
  dets_alloc(k, load_dir, boxes_per_image);
  fragmented_masks(k, load_dir);
  /* Pixel weights in [0.5, 2): their values do not change the work. */
  k->pw = xmalloc((size_t)p * sizeof(float));
  if (!(load_dir && load_file(load_dir, "pixel_weight.f32", k->pw, sizeof(float), p))) {
    uint64_t pseed = 0xA0761D6478BD642FULL ^ (uint64_t)p;
    for (int64_t i = 0; i < p; i++)
      k->pw[i] = 0.5f + 1.5f * rng_unit(&pseed);
  }
  k->boxes = xmalloc((size_t)s->n * sizeof *k->boxes);
  for (int64_t n = 0; n < s->n; n++) {
    int32_t dx = (int32_t)((n % 3 - 1) * (s->w / 12)), dy = (int32_t)((n % 2) * (s->h / 12));
    k->boxes[n] = (sl_box){k->box.x1 + dx, k->box.y1 - dy, k->box.x2 + dx, k->box.y2 - dy};
  }
  k->mask = xmalloc((size_t)p);
  k->logits = xmalloc((size_t)t * sizeof(float));
  k->grad = xmalloc((size_t)t * sizeof(float));
  if (g_none) { /* a map per element (BCE) or per pixel (CE): t floats hold either */
    k->lmap = xmalloc((size_t)t * sizeof(float));
    k->gmap = xmalloc((size_t)t * sizeof(float));
    memset(k->lmap, 0, (size_t)t * sizeof(float));
    for (int64_t i = 0; i < t; i++)
      k->gmap[i] = 1.0f;
  }
  if (k->is_ce) {
    k->labels = xmalloc((size_t)p * sizeof(int64_t));
    if (g_probs)
      k->probs = xmalloc((size_t)t * sizeof(float));
  } else {
    k->prob = xmalloc((size_t)t * sizeof(float));
    k->target = xmalloc((size_t)t * sizeof(float));
  }
  /* The mask: the central box's pixels, in every sample. */
  int mask_loaded = load_dir && load_file(load_dir, "mask.u8", k->mask, 1, p);
  if (!mask_loaded) {
    for (int64_t i = 0; i < p; i++) {
      int64_t y = (i / s->w) % s->h, x = i % s->w;
      k->mask[i] = y >= k->box.y1 && y < k->box.y2 && x >= k->box.x1 && x < k->box.x2;
    }
  }
  int loaded = 0;
  if (load_dir) {
    loaded += load_file(load_dir, "logits.f32", k->logits, sizeof(float), t);
    if (k->is_ce) {
      loaded += load_file(load_dir, "labels.i64", k->labels, sizeof(int64_t), p);
    } else {
      loaded += load_file(load_dir, "prob.f32", k->prob, sizeof(float), t);
      loaded += load_file(load_dir, "target.f32", k->target, sizeof(float), t);
    }
    if (k->probs && !load_file(load_dir, "probs.f32", k->probs, sizeof(float), t))
      die("--load: ce_prob needs probs.f32 (N x C x H x W class probabilities)", load_dir);
    if (loaded != (k->is_ce ? 2 : 3) || !mask_loaded)
      die("--load: missing input files (need mask.u8, logits.f32 and labels.i64 or prob.f32 "
          "and target.f32)",
          load_dir);
    return;
  }
  for (int64_t i = 0; i < t; i++)
    k->logits[i] = 8.0f * rng_unit(&seed) - 4.0f;
  if (k->is_ce) {
    for (int64_t i = 0; i < p; i++)
      k->labels[i] = (int64_t)(rng_next(&seed) % (uint64_t)s->c);
    /* class probabilities: per pixel a distribution, the label's class dominant (a soft label) */
    const int64_t hw = s->h * s->w;
    for (int64_t i = 0; k->probs && i < p; i++) {
      float *q = k->probs + (i / hw) * s->c * hw + i % hw, tot = 0.0f;
      for (int64_t c = 0; c < s->c; c++) {
        q[c * hw] = rng_unit(&seed) + (c == k->labels[i] ? (float)s->c : 0.0f);
        tot += q[c * hw];
      }
      for (int64_t c = 0; c < s->c; c++)
        q[c * hw] /= tot;
    }
  } else {
    for (int64_t i = 0; i < t; i++) {
      k->prob[i] = rng_unit(&seed);
      k->target[i] = (float)(rng_next(&seed) >> 63);
    }
  }
  memset(k->grad, 0, (size_t)t * sizeof(float));
}

/* float v to the 2-byte type t, rounded to nearest even (NaN: a quiet NaN) */
static uint16_t to_half(float v, int t) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  if (t == 1)
    return (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((u >> 16) | 0x40u)
                                           : (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
#if defined(__FLT16_MAX__)
  _Float16 h = (_Float16)v;
  uint16_t b;
  memcpy(&b, &h, sizeof b);
  return b;
#else
  die("--dtype f16: this compiler has no _Float16", NULL);
  return 0;
#endif
}

/* --dtype: the case's float tensors rewritten in place as 2-byte elements (the first half of each
 * buffer), so the timed calls read and write half the bytes. */
static void case_to_dtype(bcase *k) {
  if (!g_dtype)
    return;
  const int64_t t = numel(&k->shape);
  float *bufs[4] = {k->logits, k->prob, k->target, k->probs};
  for (int b = 0; b < 4; b++) {
    if (!bufs[b])
      continue;
    uint16_t *h = (uint16_t *)(void *)bufs[b];
    for (int64_t i = 0; i < t; i++) /* h[i] lies at or before bufs[b][i]: read before written */
      h[i] = to_half(bufs[b][i], g_dtype);
  }
}

static void case_free(bcase *k) {
  free(k->boxes);
  free(k->mask);
  free(k->rand50);
  free(k->blobs);
  free(k->logits);
  free(k->grad);
  free(k->lmap);
  free(k->gmap);
  free(k->labels);
  free(k->prob);
  free(k->target);
  free(k->probs);
  free(k->pw);
  free(k->dets);
  free(k->det_offsets);
}

/* ---- one call ------------------------------------------------------------------------------ */

typedef struct job {
  const bcase *k;
  const char *entry, *section, *mode;
  sl_region region;
  const sl_region *regp;
  sl_options opt;
  float loss;
  int want_loss, want_grad;
} job;

static void job_init(job *j, const bcase *k, const char *entry, const char *section,
                     const char *mode, int threads) {
  memset(j, 0, sizeof *j);
  j->k = k;
  j->entry = entry;
  j->section = section;
  j->mode = mode;
  j->opt = sl_options_default();
  j->opt.num_threads = threads;
  j->want_loss = strcmp(mode, "bwd") != 0;
  j->want_grad = strcmp(mode, "fwd") != 0;
#if SL_VERSION_MAJOR >= 1
  j->region = sl_region_default();
#else
  j->region = (sl_region){NULL, 0, NULL, 1, NULL};
#endif
  if (strcmp(section, "box") == 0) {
    j->region.boxes = &k->box;
    j->region.num_boxes = 1;
  } else if (strcmp(section, "boxes") == 0) {
    j->region.boxes = k->boxes;
    j->region.num_boxes = k->shape.n;
  } else if (section_mask(k, section)) {
    j->region.mask = section_mask(k, section);
    if (strcmp(section, "maskpw") == 0)
      j->opt.pixel_weight = k->pw;
  } else if (strcmp(section, "dets") == 0) {
    j->region.boxes = k->dets;
    j->region.num_boxes = k->det_offsets[k->shape.n];
    j->region.box_offsets = k->det_offsets;
  }
  j->regp = strcmp(section, "whole") == 0 ? NULL : &j->region;
  j->opt.focal_gamma = 2.0f;
#if HAVE_DTYPE
  j->opt.input_dtype = (sl_dtype)g_dtype;
  j->opt.target_dtype = (sl_dtype)g_dtype;
#endif
  if (g_none) {
    j->opt.reduction = SL_REDUCTION_NONE;
    j->opt.grad_map = j->want_grad ? k->gmap : NULL;
  }
#if HAVE_SIGMOID_FOCAL
  j->opt.focal_alpha = 0.25f;
#endif
}

static sl_status job_run(job *j) {
  const bcase *k = j->k;
  float *loss = j->want_loss ? (g_none ? k->lmap : &j->loss) : NULL;
  float *grad = j->want_grad ? k->grad : NULL;
  if (strcmp(j->entry, "dice") == 0 || strcmp(j->entry, "dice_logits") == 0) {
    sl_options o = j->opt;
    o.dice_from_logits = strcmp(j->entry, "dice_logits") == 0;
    return sl_dice(&k->shape, o.dice_from_logits ? k->logits : k->prob, k->target, j->regp, &o,
                   loss, grad);
  }
  if (strcmp(j->entry, "dice_mc") == 0)
    return sl_dice_multiclass(&k->shape, k->logits, k->labels, SL_LABEL_I64, j->regp, &j->opt, loss,
                              grad);
  if (strcmp(j->entry, "softmax_focal") == 0)
    return sl_softmax_focal(&k->shape, k->logits, k->labels, SL_LABEL_I64, j->regp, &j->opt, loss,
                            grad);
  if (strcmp(j->entry, "sigmoid_focal") == 0) {
#if HAVE_SIGMOID_FOCAL
    return sl_sigmoid_focal(&k->shape, k->logits, k->target, j->regp, &j->opt, loss, grad);
#else
    die("sigmoid_focal: not in this build (sectionloss.h older than 0.3)", NULL);
#endif
  }
  if (strcmp(j->entry, "ce_prob") == 0) {
#if HAVE_CE_PROB
    return sl_ce_prob(&k->shape, k->logits, k->probs, j->regp, &j->opt, loss, grad);
#else
    die("ce_prob: not in this build (SL_BENCH_NO_CE_PROB)", NULL);
#endif
  }
  if (strcmp(j->entry, "ce") == 0)
    return sl_ce(&k->shape, k->logits, k->labels, SL_LABEL_I64, j->regp, &j->opt, loss, grad);
  if (strcmp(j->entry, "ce_ohem") == 0) {
#if HAVE_OHEM
    sl_options o = j->opt;
    o.ohem_thresh = 0.7f;
    o.ohem_min_kept = 100000;
    return sl_ce(&k->shape, k->logits, k->labels, SL_LABEL_I64, j->regp, &o, loss, grad);
#else
    die("ce_ohem: not in this build (sectionloss.h older than 1.1)", NULL);
#endif
  }
  if (strcmp(j->entry, "bce") == 0)
    return sl_bce(&k->shape, k->prob, k->target, j->regp, &j->opt, loss, grad);
  return sl_bce_logits(&k->shape, k->logits, k->target, j->regp, &j->opt, loss, grad);
}

static void job_check(job *j) {
  sl_status st = job_run(j);
  if (st != SL_OK) {
    char what[256];
    snprintf(what, sizeof what, "%s %s %s %s: %s", j->k->name, j->entry, j->section, j->mode,
             sl_status_string(st));
    die("call failed", what);
  }
}

/* Selected pixels per the section (CE), selected elements (BCE). */
static int64_t selected_pixels(const job *j) {
  const sl_shape *s = &j->k->shape;
  if (strcmp(j->section, "whole") == 0)
    return npix(s);
  if (strcmp(j->section, "dets") == 0)
    return j->k->det_union;
  if (j->region.mask) {
    int64_t c = 0;
    for (int64_t i = 0; i < npix(s); i++)
      c += j->region.mask[i] != 0;
    return c;
  }
  int64_t c = 0;
  for (int64_t n = 0; n < s->n; n++) {
    const sl_box *b = j->region.num_boxes == 1 ? &j->k->box : &j->k->boxes[n];
    c += (int64_t)(b->x2 - b->x1) * (b->y2 - b->y1);
  }
  return c;
}

/* Bytes the call must touch: selected inputs read, mask read, gradient written; with
 * --reduction none the whole loss map written and the selected upstream gradients read. */
static void job_bytes(const job *j, double *rd, double *wr) {
  const sl_shape *s = &j->k->shape;
  const double eb = g_dtype ? 2.0 : 4.0; /* bytes per element of x, target and gradient */
  double sp = (double)selected_pixels(j);
  /* CE: logits and int64 labels; ce_prob: logits and targets, both C elements per pixel */
  double r = !j->k->is_ce || strcmp(j->entry, "ce_prob") == 0 ? sp * (double)s->c * 2.0 * eb
                                                              : sp * ((double)s->c * eb + 8.0);
  if (j->region.mask)
    r += (double)npix(s);
  if (j->opt.pixel_weight)
    r += sp * 4.0; /* the selected pixel weights */
  if (strncmp(j->entry, "dice", 4) == 0 && j->want_grad)
    r *= 2.0; /* Dice: the sums pass, then the gradient pass reads everything again */
  const double map = j->k->is_ce ? (double)npix(s) : (double)numel(s);
  if (g_none && j->want_grad)
    r += (j->k->is_ce ? sp : sp * (double)s->c) * 4.0;
  *rd = r;
  *wr = (j->want_grad ? (double)numel(s) * eb : 0.0) + (g_none && j->want_loss ? map * 4.0 : 0.0);
}

/* ---- memory roofline ------------------------------------------------------------------------- */

/* Streaming read: sums the buffer as integers (vectorised with SSE2 where available). */
static uint64_t stream_read(const uint8_t *buf, size_t bytes, int threads) {
  uint64_t total = 0;
  size_t blocks = bytes / 64;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
  for (size_t b = 0; b < blocks; b++) {
    const uint8_t *p = buf + b * 64;
#if defined(__SSE2__)
    __m128i a0 = _mm_load_si128((const __m128i *)p);
    __m128i a1 = _mm_load_si128((const __m128i *)(p + 16));
    __m128i a2 = _mm_load_si128((const __m128i *)(p + 32));
    __m128i a3 = _mm_load_si128((const __m128i *)(p + 48));
    __m128i s = _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3));
    uint64_t lanes[2];
    _mm_storeu_si128((__m128i *)lanes, s);
    total += lanes[0] + lanes[1];
#else
    const uint64_t *q = (const uint64_t *)(const void *)p;
    total += q[0] + q[1] + q[2] + q[3] + q[4] + q[5] + q[6] + q[7];
#endif
  }
  return total;
}

/* Streaming write with ordinary stores (like the kernels' gradient stores). */
static void stream_write(uint8_t *buf, size_t bytes, int threads, uint64_t v) {
  size_t blocks = bytes / 64;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t b = 0; b < blocks; b++) {
    uint8_t *p = buf + b * 64;
#if defined(__SSE2__)
    __m128i x = _mm_set1_epi64x((long long)(v + b));
    _mm_store_si128((__m128i *)p, x);
    _mm_store_si128((__m128i *)(p + 16), x);
    _mm_store_si128((__m128i *)(p + 32), x);
    _mm_store_si128((__m128i *)(p + 48), x);
#else
    uint64_t *q = (uint64_t *)(void *)p;
    for (int i = 0; i < 8; i++)
      q[i] = v + b;
#endif
  }
}

typedef struct roofline {
  double read_bw, write_bw; /* bytes per second */
  size_t bytes;
} roofline;

static volatile uint64_t sink;

static roofline measure_roofline(size_t bytes, int threads, int tries) {
  roofline r = {0.0, 0.0, bytes};
  uint8_t *buf = xmalloc(bytes);
  stream_write(buf, bytes, threads, 1); /* fault the pages in */
  for (int t = 0; t < tries; t++) {
    double t0 = now_s();
    sink += stream_read(buf, bytes, threads);
    double t1 = now_s();
    stream_write(buf, bytes, threads, (uint64_t)t);
    double t2 = now_s();
    double rb = (double)bytes / (t1 - t0), wb = (double)bytes / (t2 - t1);
    if (rb > r.read_bw)
      r.read_bw = rb;
    if (wb > r.write_bw)
      r.write_bw = wb;
  }
  free(buf);
  return r;
}

/* ---- measurement ------------------------------------------------------------------------------
 */

typedef struct result {
  int reps;
  double median, min, rd, wr;
  double sel; /* selected elements: selected pixels x C */
  float loss;
  const char *base;      /* focal: the entry point timed in alternation with it, else NULL */
  double base_median;    /* its median in that alternation */
  double pattern_median; /* the pattern floor's median in alternation with j, or NAN */
} result;

static double median_sorted(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* One call of j on the pattern table pt (the active ISA restored after it); returns its time. */
static void job_check(job *j);
static double time_pattern(job *j, const sl_kernels *pt) {
  sl_isa isa = sl_isa_active();
  sl__kernels_use(pt);
  double a = now_s();
  job_check(j);
  double t = now_s() - a;
  sl_isa_set(isa);
  return t;
}

/* Times j; with a base job b (a focal loss's ce / bce_logits), b and j alternate call by call
 * (b first on even repetitions, j first on odd ones), so the two medians and their ratio come from
 * the same stretch of this noisy machine; with a pattern table pt, its calls alternate with j's
 * the same way. */
static result measure(job *j, job *b, const sl_kernels *pt, double min_time, int min_reps) {
  result r = {.reps = 0, .pattern_median = NAN};
  double t0 = now_s();
  job_check(j); /* warm-up: pages, caches, thread pool */
  double est = now_s() - t0;
  if (b) {
    t0 = now_s();
    job_check(b);
    est += now_s() - t0;
  }
  if (pt)
    est += time_pattern(j, pt);
  if (est < 1e-7)
    est = 1e-7;
  int reps = (int)ceil(min_time / est);
  if (reps < min_reps)
    reps = min_reps;
  if (reps > MAX_REPS)
    reps = MAX_REPS;
  double *t = xmalloc((size_t)reps * sizeof *t);
  double *tb = b ? xmalloc((size_t)reps * sizeof *tb) : NULL;
  double *tp = pt ? xmalloc((size_t)reps * sizeof *tp) : NULL;
  for (int i = 0; i < reps; i++) {
    if (b && i % 2 == 0) {
      double a = now_s();
      job_check(b);
      tb[i] = now_s() - a;
    }
    if (pt && i % 2 == 0)
      tp[i] = time_pattern(j, pt);
    double a = now_s();
    job_check(j);
    t[i] = now_s() - a;
    /* the real call's (the pattern's is meaningless); NONE: the map's first element */
    r.loss = !j->want_loss ? NAN : g_none ? j->k->lmap[0] : j->loss;
    if (b && i % 2 == 1) {
      a = now_s();
      job_check(b);
      tb[i] = now_s() - a;
    }
    if (pt && i % 2 == 1)
      tp[i] = time_pattern(j, pt);
  }
  if (pt) {
    r.pattern_median = median_sorted(tp, reps);
    free(tp);
  }
  r.reps = reps;
  r.median = median_sorted(t, reps);
  r.min = t[0];
  free(t);
  if (b) {
    r.base = b->entry;
    r.base_median = median_sorted(tb, reps);
    free(tb);
  }
  job_bytes(j, &r.rd, &r.wr);
  r.sel = (double)selected_pixels(j) * (double)j->k->shape.c;
  return r;
}

/* ---- output ---------------------------------------------------------------------------------- */

typedef enum { OUT_TABLE, OUT_CSV, OUT_JSON } out_fmt;

typedef struct ctx {
  out_fmt fmt;
  int threads, emulated, nres;
  const char *isa;
  roofline roof;
} ctx;

static void cpu_model(char *out, size_t size) {
  snprintf(out, size, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f)
    return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
      char *v = strchr(line, ':') + 1;
      while (*v == ' ')
        v++;
      v[strcspn(v, "\n\"\\")] = 0;
      snprintf(out, size, "%s", v);
      break;
    }
  }
  fclose(f);
}

static void print_header(const ctx *c, FILE *o, out_fmt fmt) {
  char cpu[256];
  cpu_model(cpu, sizeof cpu);
  double gb = 1e-9;
  if (fmt == OUT_JSON) {
    fprintf(o,
            "{\n  \"version\": \"%s\", \"isa\": \"%s\", \"threads\": %d, \"cpu\": \"%s\",\n"
            "  \"emulated\": %s, \"roofline\": {\"read_gbps\": %.2f, \"write_gbps\": %.2f, "
            "\"buffer_mb\": %.0f},\n  \"results\": [",
            sl_version(), c->isa, c->threads, cpu, c->emulated ? "true" : "false",
            c->roof.read_bw * gb, c->roof.write_bw * gb, (double)c->roof.bytes / 1048576.0);
    return;
  }
  const char *pre = fmt == OUT_CSV ? "# " : "";
  fprintf(o, "%ssectionloss %s, sl-bench: ISA %s, %d thread%s, CPU %s\n", pre, sl_version(), c->isa,
          c->threads, c->threads == 1 ? "" : "s", cpu);
  fprintf(o,
          "%sroofline (streaming loops, %d thread%s, %.0f MB): read %.1f GB/s, write %.1f GB/s\n",
          pre, c->threads, c->threads == 1 ? "" : "s", (double)c->roof.bytes / 1048576.0,
          c->roof.read_bw * gb, c->roof.write_bw * gb);
  if (c->emulated)
    fprintf(o, "%sNOTE: not running on real hardware (emulated): these timings mean nothing.\n",
            pre);
  if (fmt == OUT_CSV) {
    fprintf(o,
            "impl,isa,threads,case,entry,section,mode,n,c,h,w,elements,bytes,reps,median_s,min_s,"
            "elem_per_s,gb_per_s,roof_pct,loss,x_roof,base_entry,base_median_s,vs_base,selected,"
            "ns_per_sel,pattern_median_s,x_pattern,pattern_x_roof\n");
  } else {
    fprintf(o, "elements = N*C*H*W per second; GB/s = bytes the call must touch / median; %%roof = "
               "roofline time / median; xroof = median / roofline time; ns/sel = median / "
               "selected elements; pat ms = the pattern floor (the same driver and memory "
               "pattern without the vector math) timed in alternation, xpat = median / pat ms, "
               "pxroof = pat ms / roofline time; vs base = median / the median of the base entry "
               "(focal: ce, bce_logits) timed in alternation\n");
    fprintf(o, "%-20s %-13s %-7s %-5s %6s %10s %10s %9s %7s %6s %6s %7s %8s %5s %6s %12s %s\n",
            "case", "entry", "section", "mode", "reps", "median ms", "min ms", "Gelem/s", "GB/s",
            "%roof", "xroof", "ns/sel", "pat ms", "xpat", "pxroof", "loss", "vs base");
  }
}

static void print_result(const ctx *c, FILE *o, out_fmt fmt, const job *j, const result *r) {
  const sl_shape *s = &j->k->shape;
  double el = (double)numel(s), bytes = r->rd + r->wr;
  double roof_t = r->rd / c->roof.read_bw + r->wr / c->roof.write_bw;
  double pct = 100.0 * roof_t / r->median, xroof = r->median / roof_t;
  double vs = r->base ? r->median / r->base_median : NAN;
  double ns_sel = r->sel > 0 ? r->median / r->sel * 1e9 : NAN;
  double xpat = r->median / r->pattern_median, pxroof = r->pattern_median / roof_t;
  char loss[32], base_csv[96], base_json[128], base_tab[96];
  if (r->base) {
    snprintf(base_csv, sizeof base_csv, "%s,%.9g,%.4f", r->base, r->base_median, vs);
    snprintf(base_json, sizeof base_json,
             ", \"base_entry\": \"%s\", \"base_median_s\": %.9g, \"vs_base\": %.4f", r->base,
             r->base_median, vs);
    snprintf(base_tab, sizeof base_tab, "%.2fx %s (%.3f ms)", vs, r->base, r->base_median * 1e3);
  } else {
    snprintf(base_csv, sizeof base_csv, ",,");
    base_json[0] = 0;
    snprintf(base_tab, sizeof base_tab, "-");
  }
  if (isnan(r->loss))
    snprintf(loss, sizeof loss, fmt == OUT_JSON ? "null" : (fmt == OUT_CSV ? "" : "-"));
  else
    snprintf(loss, sizeof loss, "%.9g", r->loss);
  if (fmt == OUT_CSV) {
    fprintf(o,
            "sectionloss,%s,%d,%s,%s,%s,%s,%lld,%lld,%lld,%lld,%.0f,%.0f,%d,%.9g,%.9g,%.6g,%.4g,"
            "%.2f,%s,%.4f,%s,%.0f,%.6g,%.9g,%.4f,%.4f\n",
            c->isa, c->threads, j->k->name, j->entry, j->section, j->mode, (long long)s->n,
            (long long)s->c, (long long)s->h, (long long)s->w, el, bytes, r->reps, r->median,
            r->min, el / r->median, bytes / r->median * 1e-9, pct, loss, xroof, base_csv, r->sel,
            ns_sel, r->pattern_median, xpat, pxroof);
  } else if (fmt == OUT_JSON) {
    fprintf(o,
            "%s\n    {\"case\": \"%s\", \"entry\": \"%s\", \"section\": \"%s\", \"mode\": \"%s\", "
            "\"shape\": [%lld, %lld, %lld, %lld], \"elements\": %.0f, \"bytes\": %.0f, "
            "\"reps\": %d, \"median_s\": %.9g, \"min_s\": %.9g, \"elem_per_s\": %.6g, "
            "\"gb_per_s\": %.4g, \"roof_pct\": %.2f, \"x_roof\": %.4f, \"selected\": %.0f, "
            "\"ns_per_sel\": %.6g, \"pattern_median_s\": %.9g, \"x_pattern\": %.4f, "
            "\"pattern_x_roof\": %.4f, \"loss\": %s%s}",
            c->nres ? "," : "", j->k->name, j->entry, j->section, j->mode, (long long)s->n,
            (long long)s->c, (long long)s->h, (long long)s->w, el, bytes, r->reps, r->median,
            r->min, el / r->median, bytes / r->median * 1e-9, pct, xroof, r->sel, ns_sel,
            isnan(r->pattern_median) ? 0.0 : r->pattern_median, isnan(xpat) ? 0.0 : xpat,
            isnan(pxroof) ? 0.0 : pxroof, loss, base_json);
  } else {
    fprintf(o,
            "%-20s %-13s %-7s %-5s %6d %10.3f %10.3f %9.3f %7.2f %6.1f %6.2f %7.3f %8.3f %5.2f "
            "%6.2f %12s %s\n",
            j->k->name, j->entry, j->section, j->mode, r->reps, r->median * 1e3, r->min * 1e3,
            el / r->median * 1e-9, bytes / r->median * 1e-9, pct, xroof, ns_sel,
            r->pattern_median * 1e3, xpat, pxroof, loss, base_tab);
  }
  fflush(o);
}

/* ---- main
 * ---------------------------------------------------------------------------------------- */

static void usage(void) {
  puts("usage: sl-bench [options]\n"
       "  --case LIST      cases, comma-separated: bce-NxCxHxW or ce-NxCxHxW (default: the\n"
       "                   article's bce-4x1x64x64 and ce-4x4x64x64, bce-16x1x512x512,\n"
       "                   ce-8x21x512x512, ce-1x19x1024x2048)\n"
       "  --entry LIST     bce,bce_logits,ce (default all that fit each case); also dice,\n        "
       "           dice_logits, dice_mc (Dice / Tversky), softmax_focal (CE cases)\n"
       "                   and sigmoid_focal (BCE cases; library 0.3 on), ce_prob (CE\n"
       "                   cases: class-probability targets), each timed in alternation\n"
       "                   with ce / bce_logits (column vs base)\n"
       "  --section LIST   whole,box,mask,boxes,rand50,blobs (default all; rand50: random 50%\n"
       "                   mask, blobs: object-like regions with holes); also dets (many boxes\n"
       "                   per image, box_offsets) and maskpw (mask + pixel_weight; ce,\n"
       "                   softmax_focal, ce_prob)\n"
       "  --boxes-per-image K   boxes per sample of the dets section (default 20)\n"
       "  --mode LIST      fwd,bwd,fused (default all)\n"
       "  --reduction R    mean (default) or none (loss map; with a gradient, grad_map of ones)\n"
       "  --stream-bytes B outputs above B bytes use non-temporal stores (library default 8 MiB)\n"
       "  --dtype T        f32 (default), bf16 or f16: logits, probabilities, targets and the\n"
       "                   gradient in that element type (sl_options.input_dtype, target_dtype)\n"
       "  --isa NAME       scalar, avx2, avx512, neon (default: the active one)\n"
       "  --threads N      threads (options.num_threads and omp_set_num_threads; default: the\n"
       "                   OpenMP default)\n"
       "  --min-time S     seconds per measurement (default 0.2; at least 5 repetitions)\n"
       "  --quick          CI smoke run: the two small article cases, 2 repetitions, small\n"
       "                   roofline buffer; timings are not meaningful\n"
       "  --csv | --json | --table   output format (default table)\n"
       "  --csv-out FILE   also write the results as CSV to FILE\n"
       "  --reps K         quiet mode for hyperfine: K calls of one case, no output\n"
       "                   (also the default when --case, --section and --mode name one each\n"
       "                   and neither an output format nor --quick is given: 1 call)\n"
       "  --load DIR       inputs from DIR (prob.f32 target.f32 logits.f32 labels.i64 mask.u8;\n"
       "                   probs.f32 with ce_prob;\n"
       "                   when present mask_rand50.u8 mask_blobs.u8 pixel_weight.f32 det_*)\n"
       "  --save-masks DIR  write the rand50 and blobs masks of the one --case to DIR\n"
       "                   (mask_rand50.u8, mask_blobs.u8) and exit\n"
       "  --progress       progress line on stderr (default when stderr is a terminal)\n"
       "  --no-pattern     skip the pattern floor (columns pat ms, xpat, pxroof; x86-64 AVX2 and\n"
       "                   AVX-512: the same calls with the kernels' vector math removed)\n"
       "Environment: SL_BENCH_EMULATED=1 marks an emulated run (qemu): timings mean nothing.");
}

int main(int argc, char **argv) {
  const char *case_arg = NULL, *entry_arg = NULL, *section_arg = NULL, *mode_arg = NULL;
  const char *isa_arg = NULL, *load_dir = NULL, *csv_out = NULL, *save_masks = NULL;
  int threads = 0, quick = 0, reps_quiet = -1, fmt_given = 0, progress = isatty(2), no_pattern = 0;
  int boxes_per_image = DEFAULT_BOXES_PER_IMAGE;
  double min_time = 0.2;
  out_fmt fmt = OUT_TABLE;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV()                                                                                    \
  do {                                                                                             \
    if (!v)                                                                                        \
      die("missing value for", a);                                                                 \
    i++;                                                                                           \
  } while (0)
    if (strcmp(a, "--case") == 0) {
      NEEDV();
      case_arg = v;
    } else if (strcmp(a, "--entry") == 0) {
      NEEDV();
      entry_arg = v;
    } else if (strcmp(a, "--section") == 0) {
      NEEDV();
      section_arg = v;
    } else if (strcmp(a, "--mode") == 0) {
      NEEDV();
      mode_arg = v;
    } else if (strcmp(a, "--isa") == 0) {
      NEEDV();
      isa_arg = v;
    } else if (strcmp(a, "--threads") == 0) {
      NEEDV();
      threads = atoi(v);
      if (threads <= 0)
        die("--threads must be >= 1", v);
    } else if (strcmp(a, "--min-time") == 0) {
      NEEDV();
      min_time = atof(v);
      if (!(min_time >= 0.0))
        die("bad --min-time", v);
    } else if (strcmp(a, "--boxes-per-image") == 0) {
      NEEDV();
      boxes_per_image = atoi(v);
      if (boxes_per_image < 0 || boxes_per_image > 10000)
        die("bad --boxes-per-image", v);
    } else if (strcmp(a, "--reps") == 0) {
      NEEDV();
      reps_quiet = atoi(v);
      if (reps_quiet < 0)
        die("bad --reps", v);
    } else if (strcmp(a, "--csv-out") == 0) {
      NEEDV();
      csv_out = v;
    } else if (strcmp(a, "--load") == 0) {
      NEEDV();
      load_dir = v;
    } else if (strcmp(a, "--save-masks") == 0) {
      NEEDV();
      save_masks = v;
    } else if (strcmp(a, "--quick") == 0) {
      quick = 1;
    } else if (strcmp(a, "--csv") == 0) {
      fmt = OUT_CSV;
      fmt_given = 1;
    } else if (strcmp(a, "--json") == 0) {
      fmt = OUT_JSON;
      fmt_given = 1;
    } else if (strcmp(a, "--table") == 0) {
      fmt = OUT_TABLE;
      fmt_given = 1;
    } else if (strcmp(a, "--progress") == 0) {
      progress = 1;
    } else if (strcmp(a, "--reduction") == 0) {
      NEEDV();
      if (strcmp(v, "none") != 0 && strcmp(v, "mean") != 0)
        die("--reduction: mean or none", v);
      g_none = strcmp(v, "none") == 0;
    } else if (strcmp(a, "--dtype") == 0) {
      NEEDV();
      g_dtype = strcmp(v, "bf16") == 0 ? 1 : strcmp(v, "f16") == 0 ? 2 : 0;
      if (!g_dtype && strcmp(v, "f32") != 0)
        die("--dtype: f32, bf16 or f16", v);
      if (g_dtype && !HAVE_DTYPE)
        die("--dtype: library 1.1 on", v);
    } else if (strcmp(a, "--stream-bytes") == 0) {
      NEEDV();
#if SL_VERSION_MAJOR >= 1
      sl__stream_bytes = strtoll(v, NULL, 10);
#else
      die("--stream-bytes: library 1.0 on", v);
#endif
    } else if (strcmp(a, "--no-pattern") == 0) {
      no_pattern = 1;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage();
      return 0;
    } else {
      die("unknown option (see --help)", a);
    }
#undef NEEDV
  }

  if (isa_arg) {
    int found = 0;
    for (int i = 0; i < SL_ISA_COUNT_; i++) {
      if (strcmp(isa_arg, sl_isa_name((sl_isa)i)) == 0) {
        if (sl_isa_set((sl_isa)i) != SL_OK)
          die("ISA not available on this build or CPU", isa_arg);
        found = 1;
      }
    }
    if (!found)
      die("unknown ISA", isa_arg);
  }
  if (threads > 0)
    omp_set_num_threads(threads);
  else
    threads = omp_get_max_threads();

  static char cbuf[4096], ebuf[256], sbuf[256], mbuf[256];
  const char *cases[MAX_LIST], *entries[MAX_LIST], *sections[MAX_LIST], *modes[MAX_LIST];
  int ncases, nentries, nsections, nmodes;
  if (case_arg) {
    ncases = split_list(case_arg, cbuf, sizeof cbuf, cases);
  } else {
    ncases = quick ? 2 : (int)(sizeof default_cases / sizeof *default_cases);
    for (int i = 0; i < ncases; i++)
      cases[i] = default_cases[i];
  }
  nentries = entry_arg ? split_list(entry_arg, ebuf, sizeof ebuf, entries) : COUNT(all_entries);
  if (!entry_arg)
    memcpy(entries, all_entries, sizeof all_entries);
  nsections =
      section_arg ? split_list(section_arg, sbuf, sizeof sbuf, sections) : COUNT(all_sections);
  if (!section_arg)
    memcpy(sections, all_sections, sizeof all_sections);
  nmodes = mode_arg ? split_list(mode_arg, mbuf, sizeof mbuf, modes) : COUNT(all_modes);
  if (!mode_arg)
    memcpy(modes, all_modes, sizeof all_modes);
  for (int i = 0; i < nentries; i++) {
    if (!in_list(entries[i], all_entries, COUNT(all_entries)) &&
        !in_list(entries[i], extra_entries, COUNT(extra_entries)))
      die("unknown entry point", entries[i]);
    g_probs |= strcmp(entries[i], "ce_prob") == 0;
  }
  for (int i = 0; i < nsections; i++)
    if (!in_list(sections[i], all_sections, COUNT(all_sections)) &&
        !in_list(sections[i], extra_sections, COUNT(extra_sections)))
      die("unknown section", sections[i]);
  for (int i = 0; i < nmodes; i++)
    if (!in_list(modes[i], all_modes, COUNT(all_modes)))
      die("unknown mode", modes[i]);
  for (int i = 0; i < ncases; i++) {
    bcase tmp;
    if (!parse_case(cases[i], &tmp))
      die("bad case name (bce-NxCxHxW or ce-NxCxHxW, H and W >= 6)", cases[i]);
  }
  if ((load_dir || save_masks) && ncases != 1)
    die("--load and --save-masks need exactly one --case", NULL);
  if (save_masks) {
    bcase k;
    parse_case(cases[0], &k);
    fragmented_masks(&k, NULL);
    write_file(save_masks, "mask_rand50.u8", k.rand50, npix(&k.shape));
    write_file(save_masks, "mask_blobs.u8", k.blobs, npix(&k.shape));
    free(k.rand50);
    free(k.blobs);
    return 0;
  }

  /* Quiet single-case mode (hyperfine). */
  if (reps_quiet < 0 && !fmt_given && !quick && case_arg && section_arg && mode_arg &&
      ncases == 1 && nsections == 1 && nmodes == 1)
    reps_quiet = 1;
  if (reps_quiet >= 0) {
    if (ncases != 1 || nsections != 1 || nmodes != 1)
      die("--reps needs one case, one section and one mode", NULL);
    bcase k;
    parse_case(cases[0], &k);
    const char *entry = entry_arg ? entries[0] : (k.is_ce ? "ce" : "bce");
    if (entry_is_ce(entry) != k.is_ce)
      die("entry point does not fit the case", entry);
    if (!section_fits(entry, sections[0]))
      die("the section does not fit the entry point", sections[0]);
    if (!entry_available(entry))
      die("entry point not in this build", entry);
    case_alloc(&k, load_dir, boxes_per_image);
    case_to_dtype(&k);
    job j;
    job_init(&j, &k, entry, sections[0], modes[0], threads);
    for (int r = 0; r < reps_quiet; r++)
      job_check(&j);
    case_free(&k);
    return 0;
  }

  ctx c = {.fmt = fmt, .threads = threads, .isa = sl_isa_name(sl_isa_active())};
  const char *emu = getenv("SL_BENCH_EMULATED");
  c.emulated = emu && strcmp(emu, "0") != 0 && emu[0] != 0;
#if defined(__aarch64__) || defined(__arm__)
  fprintf(stderr, "sl-bench: ARM build: if this runs under qemu-user, timings mean nothing.\n");
#endif
  if (progress)
    fprintf(stderr, "sl-bench: measuring the memory roofline...\r");
  c.roof = measure_roofline(quick ? (size_t)16 << 20 : (size_t)256 << 20, threads, quick ? 1 : 3);
  FILE *csv = NULL;
  if (csv_out) {
    csv = fopen(csv_out, "w");
    if (!csv)
      die("cannot write", csv_out);
    print_header(&c, csv, OUT_CSV);
  }
  print_header(&c, stdout, fmt);

  for (int e = 0; e < nentries; e++)
    if (!entry_available(entries[e]))
      fprintf(stderr, "sl-bench: %s skipped: not in this build (sectionloss.h older than 0.3)\n",
              entries[e]);
  int total = 0, done = 0;
  for (int ci = 0; ci < ncases; ci++) {
    bcase k;
    parse_case(cases[ci], &k);
    for (int e = 0; e < nentries; e++)
      for (int si = 0; si < nsections; si++)
        if (entry_is_ce(entries[e]) == k.is_ce && entry_available(entries[e]) &&
            section_fits(entries[e], sections[si]))
          total += nmodes;
  }
  for (int ci = 0; ci < ncases; ci++) {
    bcase k;
    parse_case(cases[ci], &k);
    int any = 0;
    for (int e = 0; e < nentries; e++)
      for (int si = 0; si < nsections; si++)
        any |= entry_is_ce(entries[e]) == k.is_ce && entry_available(entries[e]) &&
               section_fits(entries[e], sections[si]);
    if (!any)
      continue;
    case_alloc(&k, load_dir, boxes_per_image);
    case_to_dtype(&k);
    for (int e = 0; e < nentries; e++) {
      if (entry_is_ce(entries[e]) != k.is_ce || !entry_available(entries[e]))
        continue;
      for (int si = 0; si < nsections; si++) {
        if (!section_fits(entries[e], sections[si]))
          continue;
        for (int mi = 0; mi < nmodes; mi++) {
          job j, b;
          job_init(&j, &k, entries[e], sections[si], modes[mi], threads);
          const char *be = base_entry(entries[e]);
          if (be)
            job_init(&b, &k, be, sections[si], modes[mi], threads);
          if (progress)
            fprintf(stderr, "\r\033[K[%d/%d] %s %s %s %s", ++done, total, k.name, entries[e],
                    sections[si], modes[mi]);
          result r = measure(&j, be ? &b : NULL, no_pattern ? NULL : pattern_table(sl_isa_active()),
                             quick ? 0.0 : min_time, quick ? 2 : MIN_REPS);
          print_result(&c, stdout, fmt, &j, &r);
          if (csv)
            print_result(&c, csv, OUT_CSV, &j, &r);
          c.nres++;
        }
      }
    }
    case_free(&k);
  }
  if (progress)
    fprintf(stderr, "\r\033[K");
  if (fmt == OUT_JSON)
    printf("\n  ]\n}\n");
  if (csv && fclose(csv) != 0)
    die("cannot write", csv_out);
  if (c.nres == 0)
    die("no measurement: no entry point fits the cases", NULL);
  return 0;
}
