// SPDX-License-Identifier: MIT
/*
 * test_big.c - 64-bit sizes: tensors with more than 2^31 (forward: more than 2^32) elements,
 * proving that no element, byte, row or class offset is computed in 32 bits anywhere.
 *
 * Shape legend N, C, H, W (NCHW float32). The buffers are address space only:
 * mmap(MAP_NORESERVE) of tens of GB, of which only a small box near the END is ever written by
 * the test, so the machine commits a few pages.
 *
 * Forward (big/forward_*): N=2, C=2, H=W=40000 (6.4e9 elements, > 2^32), a box in the last rows
 * and columns of sample 1 (sample 0 has an empty box), a mask and weights; the loss and stats are
 * compared with a direct double computation over the box. Every box element's offset taken
 * modulo 2^32 and 2^31 (where a 32-bit index would land) holds poison: NaN logits/probabilities,
 * a selected mask byte, an out-of-range label. A wrapped read therefore changes the count, the
 * loss or the status.
 *
 * Backward (big/backward_*): the gradient is written everywhere (zeros outside the section), so a
 * > 2^31-element gradient means > 8 GB of writes. The gradient buffer is therefore built from
 * aliased mappings: outside the last rows of each class plane, every 2 MB of its address range
 * is the SAME 2 MB of a memfd (the writes cost bandwidth, not memory); the last rows are private
 * memory. Before the call everything holds a canary. After a one-thread call (rows in order, the
 * box rows last) the gradient inside the box must equal the direct computation, the private
 * memory outside the box must be 0, and the whole 2 MB memfd window must be 0: every write to
 * the aliased 8 GB was a zero (a stray write of a box value at a wrapped offset would show as a
 * nonzero there, since nothing writes the window after the box rows) and each of its bytes was
 * written at least once. Backward is skipped under valgrind (SL_TEST_VALGRIND=1: 8 GB of
 * instrumented memset would take minutes); the forward tests run everywhere.
 *
 * When the address space cannot be reserved (ulimit -v, vm.overcommit_memory=2, a 32-bit
 * target) each test logs that it skipped.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "sectionloss.h"

#define BIG_WINDOW ((size_t)2 << 20) /* bytes of the aliased memfd window */

/* Reserves bytes of zero-filled, readable and writable address space; NULL on failure. */
static void *reserve(size_t bytes) {
  void *p =
      mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void release(void *p, size_t bytes) {
  if (p)
    munmap(p, bytes);
}

/* ---- forward on > 2^32 elements ------------------------------------------------------------ */

enum { FN = 2, FC = 2 };
static const int64_t FH = 40000, FW = 40000;
static const sl_box fbox[FN] = {{5, 7, 5, 9}, /* empty (x1 == x2) */
                                {40000 - 37, 40000 - 5, 40000, 40000}};

/* Element (n, c, y, x) of the forward shape. */
static int64_t fidx(int64_t n, int64_t c, int64_t y, int64_t x) {
  return ((n * FC + c) * FH + y) * FW + x;
}

static int in_fbox(int64_t n, int64_t y, int64_t x) {
  const sl_box *b = &fbox[n];
  return x >= b->x1 && x < b->x2 && y >= b->y1 && y < b->y2;
}

/* 1 when element offset o (of an N x C x H x W tensor) is a box element. */
static int fbox_elem(int64_t o) {
  int64_t x = o % FW, y = (o / FW) % FH, n = o / (FW * FH * FC);
  return n < FN && in_fbox(n, y, x);
}

/* Pixel offset p (of an N x H x W map) is a box pixel. */
static int fbox_pix(int64_t p) {
  int64_t x = p % FW, y = (p / FW) % FH, n = p / (FW * FH);
  return n < FN && in_fbox(n, y, x);
}

/* The offsets a 32-bit (signed or unsigned) index would produce instead of o. */
static int wrapped(int64_t o, int64_t out[2]) {
  int k = 0;
  int64_t a = o % ((int64_t)1 << 32), b = o % ((int64_t)1 << 31);
  if (a != o)
    out[k++] = a;
  if (b != o && b != a)
    out[k++] = b;
  return k;
}

static float fval(int64_t c, int64_t y, int64_t x) {
  return (float)((x * 7 + y * 13 + c * 29) % 97) / 97.0f;
}

typedef struct fbufs {
  size_t elems, pix;
  float *x, *t, *w;
  uint8_t *mask;  /* per channel: N x C x H x W */
  uint8_t *mask1; /* broadcast: N x 1 x H x W */
  int64_t *lab;
} fbufs;

static void free_fbufs(fbufs *b) {
  release(b->x, b->elems * 4);
  release(b->t, b->elems * 4);
  release(b->w, b->elems * 4);
  release(b->mask, b->elems);
  release(b->mask1, b->pix);
  release(b->lab, b->pix * 8);
}

static int alloc_fbufs(fbufs *b) {
  memset(b, 0, sizeof *b);
  b->elems = (size_t)(FN * FC) * (size_t)(FH * FW);
  b->pix = (size_t)FN * (size_t)(FH * FW);
  b->x = reserve(b->elems * 4);
  b->t = reserve(b->elems * 4);
  b->w = reserve(b->elems * 4);
  b->mask = reserve(b->elems);
  b->mask1 = reserve(b->pix);
  b->lab = reserve(b->pix * 8);
  if (!b->x || !b->t || !b->w || !b->mask || !b->mask1 || !b->lab) {
    free_fbufs(b);
    return 0;
  }
  return 1;
}

#define SKIP_IF(cond, what)                                                                        \
  do {                                                                                             \
    if (cond) {                                                                                    \
      cr_log_info("test_big: SKIPPED (%s): cannot reserve the address space", what);               \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

/* Fills the box of sample 1 (probabilities in (0,1) or logits) and poisons wrapped offsets. */
static void fill_bce(fbufs *b, int logits) {
  int64_t n = 1;
  const sl_box *bx = &fbox[n];
  for (int64_t c = 0; c < FC; c++)
    for (int64_t y = bx->y1; y < bx->y2; y++)
      for (int64_t x = bx->x1; x < bx->x2; x++) {
        int64_t o = fidx(n, c, y, x), p = (n * FH + y) * FW + x;
        float v = fval(c, y, x);
        b->x[o] = logits ? 12.0f * v - 6.0f : 0.01f + 0.98f * v;
        b->t[o] = (x + y) % 3 == 0 ? 1.0f : (x + y) % 3 == 1 ? 0.0f : 0.25f;
        b->w[o] = 0.5f + v;
        b->mask[o] = (x + 2 * y + c) % 4 != 0;
        b->mask1[p] = (x + y) % 5 != 0;
        int64_t wr[2];
        int k = wrapped(o, wr);
        for (int i = 0; i < k; i++)
          if (!fbox_elem(wr[i])) {
            b->x[wr[i]] = NAN;
            b->t[wr[i]] = NAN;
            b->w[wr[i]] = NAN;
            b->mask[wr[i]] = 1;
          }
        k = wrapped(p, wr);
        for (int i = 0; i < k; i++)
          if (!fbox_pix(wr[i]))
            b->mask1[wr[i]] = 1;
      }
}

static double bce_term(int logits, float xf, float tf) {
  double x = xf, t = tf;
  if (logits) /* max(x, 0) - x t + log(1 + exp(-|x|)) */
    return fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
  double q = (double)(1.0f - xf);
  return -(t * fmax(log(x), -100.0) + (1.0 - t) * fmax(log(q), -100.0));
}

static void check_bce_forward(int logits) {
  fbufs b;
  SKIP_IF(!alloc_fbufs(&b), logits ? "forward bce_logits" : "forward bce");
  fill_bce(&b, logits);
  sl_shape s = {FN, FC, FH, FW};
  for (int variant = 0; variant < 3; variant++) {
    /* 0: box only; 1: box + broadcast mask + weight; 2: box + per-channel mask */
    sl_region reg = {sizeof(sl_region), fbox, FN, NULL, 1, NULL};
    if (variant == 1)
      reg.mask = b.mask1;
    if (variant == 2) {
      reg.mask = b.mask;
      reg.mask_channels = FC;
    }
    double want = 0.0;
    int64_t count = 0;
    const sl_box *bx = &fbox[1];
    for (int64_t c = 0; c < FC; c++)
      for (int64_t y = bx->y1; y < bx->y2; y++)
        for (int64_t x = bx->x1; x < bx->x2; x++) {
          int64_t o = fidx(1, c, y, x), p = (FH + y) * FW + x;
          if ((variant == 1 && !b.mask1[p]) || (variant == 2 && !b.mask[o]))
            continue;
          want += (variant == 1 ? (double)b.w[o] : 1.0) * bce_term(logits, b.x[o], b.t[o]);
          count++;
        }
    sl_stats st;
    memset(&st, 0, sizeof st);
    sl_options o = sl_options_default();
    o.stats = &st;
    o.weight = variant == 1 ? b.w : NULL;
    float loss = -1.0f;
    sl_status r = logits ? sl_bce_logits(&s, b.x, b.t, &reg, &o, &loss, NULL)
                         : sl_bce(&s, b.x, b.t, &reg, &o, &loss, NULL);
    cr_assert(r == SL_OK, "variant %d: %s", variant, sl_status_string(r));
    cr_expect(st.count == count, "variant %d: count %lld, want %lld", variant, (long long)st.count,
              (long long)count);
    cr_expect(fabs(st.loss_sum - want) <= 1e-5 * fabs(want), "variant %d: loss_sum %.9g, want %.9g",
              variant, st.loss_sum, want);
    cr_expect(fabs(loss - want / (double)count) <= 1e-5 * fabs(want / (double)count),
              "variant %d: loss %.9g, want %.9g", variant, loss, want / (double)count);
  }
  free_fbufs(&b);
}

Test(big, forward_bce) {
  check_bce_forward(0);
}
Test(big, forward_bce_logits) {
  check_bce_forward(1);
}

Test(big, forward_ce) {
  fbufs b;
  SKIP_IF(!alloc_fbufs(&b), "forward ce");
  sl_shape s = {FN, FC, FH, FW};
  const sl_box *bx = &fbox[1];
  uint8_t *lab8 = reserve(b.pix);
  SKIP_IF(!lab8, "forward ce, u8 labels");
  for (int64_t y = bx->y1; y < bx->y2; y++)
    for (int64_t x = bx->x1; x < bx->x2; x++) {
      int64_t p = (FH + y) * FW + x;
      int64_t lab = (x + y) % 7 == 0 ? 200 : (x + 3 * y) % 2; /* 200: ignore_index */
      b.lab[p] = lab;
      lab8[p] = (uint8_t)lab;
      b.mask1[p] = (x * y) % 6 != 1;
      for (int64_t c = 0; c < FC; c++)
        b.x[fidx(1, c, y, x)] = 8.0f * fval(c, y, x) - 4.0f;
      int64_t wr[2];
      int k = wrapped(p, wr);
      for (int i = 0; i < k; i++)
        if (!fbox_pix(wr[i])) {
          b.lab[wr[i]] = 99; /* out of range: SL_ERR_LABEL if read */
          lab8[wr[i]] = 99;
          b.mask1[wr[i]] = 1;
        }
      for (int64_t c = 0; c < FC; c++) {
        k = wrapped(fidx(1, c, y, x), wr);
        for (int i = 0; i < k; i++)
          if (!fbox_elem(wr[i]))
            b.x[wr[i]] = NAN;
      }
    }
  const float cw[FC] = {0.75f, 1.5f};
  for (int masked = 0; masked < 2; masked++)
    for (int u8 = 0; u8 < 2; u8++) {
      double want = 0.0, norm = 0.0;
      int64_t count = 0;
      for (int64_t y = bx->y1; y < bx->y2; y++)
        for (int64_t x = bx->x1; x < bx->x2; x++) {
          int64_t p = (FH + y) * FW + x;
          if ((masked && !b.mask1[p]) || b.lab[p] == 200)
            continue;
          double x0 = b.x[fidx(1, 0, y, x)], x1 = b.x[fidx(1, 1, y, x)];
          double m = fmax(x0, x1), lse = m + log(exp(x0 - m) + exp(x1 - m));
          double xt = b.lab[p] == 0 ? x0 : x1;
          want += cw[b.lab[p]] * (lse - xt);
          norm += cw[b.lab[p]];
          count++;
        }
      sl_region reg = {sizeof(sl_region), fbox, FN, masked ? b.mask1 : NULL, 1, NULL};
      sl_stats st;
      memset(&st, 0, sizeof st);
      sl_options o = sl_options_default();
      o.stats = &st;
      o.weight = cw;
      o.ignore_index = 200;
      float loss = -1.0f;
      sl_status r = sl_ce(&s, b.x, u8 ? (const void *)lab8 : (const void *)b.lab,
                          u8 ? SL_LABEL_U8 : SL_LABEL_I64, &reg, &o, &loss, NULL);
      cr_assert(r == SL_OK, "masked %d u8 %d: %s", masked, u8, sl_status_string(r));
      cr_expect(st.count == count, "masked %d u8 %d: count %lld, want %lld", masked, u8,
                (long long)st.count, (long long)count);
      cr_expect(fabs(st.normalizer - norm) <= 1e-9 * norm, "normalizer %.9g, want %.9g",
                st.normalizer, norm);
      cr_expect(fabs(st.loss_sum - want) <= 1e-5 * fabs(want), "masked %d u8 %d: %.9g, want %.9g",
                masked, u8, st.loss_sum, want);
      cr_expect(fabs(loss - want / norm) <= 1e-5 * fabs(want / norm), "loss %.9g, want %.9g", loss,
                want / norm);
    }
  release(lab8, b.pix);
  free_fbufs(&b);
}

/* ---- backward on > 2^31 elements --------------------------------------------------------- */

/* An aliased gradient buffer: bytes of address space; [real_start[k], real_start[k] + real_len)
 * (page-aligned, ascending) are private memory, everything else the shared memfd window. */
typedef struct aliased {
  char *base;
  size_t bytes;
  float *window; /* the memfd window itself, BIG_WINDOW bytes */
  int fd;
} aliased;

static void aliased_free(aliased *a) {
  if (a->base)
    munmap(a->base, a->bytes);
  if (a->window)
    munmap(a->window, BIG_WINDOW);
  if (a->fd >= 0)
    close(a->fd);
}

static int map_window_range(aliased *a, size_t from, size_t to) {
  for (size_t o = from; o < to; o += BIG_WINDOW) {
    size_t len = to - o < BIG_WINDOW ? to - o : BIG_WINDOW;
    if (mmap(a->base + o, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, a->fd,
             0) == MAP_FAILED)
      return 0;
  }
  return 1;
}

static int aliased_alloc(aliased *a, size_t bytes, const size_t *real_start, int nreal,
                         size_t real_len) {
  memset(a, 0, sizeof *a);
  a->fd = -1;
  a->bytes = bytes;
  void *base = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED)
    return 0;
  a->base = base;
  a->fd = memfd_create("sl-test-big", 0);
  if (a->fd < 0 || ftruncate(a->fd, (off_t)BIG_WINDOW) != 0)
    goto fail;
  void *w = mmap(NULL, BIG_WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
  if (w == MAP_FAILED)
    goto fail;
  a->window = w;
  size_t at = 0;
  for (int k = 0; k < nreal; k++) {
    if (!map_window_range(a, at, real_start[k]))
      goto fail;
    if (mmap(a->base + real_start[k], real_len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
      goto fail;
    at = real_start[k] + real_len;
  }
  if (!map_window_range(a, at, bytes))
    goto fail;
  return 1;
fail:
  aliased_free(a);
  a->base = NULL;
  a->window = NULL;
  a->fd = -1;
  return 0;
}

static int window_all_zero(const aliased *a) {
  const uint64_t *p = (const uint64_t *)a->window;
  uint64_t acc = 0;
  for (size_t i = 0; i < BIG_WINDOW / 8; i++)
    acc |= p[i];
  return acc == 0;
}

static const float CANARY = 7.25f;

static int skip_backward(void) {
  const char *v = getenv("SL_TEST_VALGRIND");
  if (v && v[0] == '1') {
    cr_log_info("test_big: backward SKIPPED under valgrind (8 GB of instrumented writes)");
    return 1;
  }
  return 0;
}

/* Start of the private tail of one plane: the last `rows` rows, rounded down to a page. */
static size_t tail_start(size_t plane_end_bytes, size_t tail_bytes) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return (plane_end_bytes - tail_bytes) / page * page;
}

Test(big, backward_bce) {
  if (skip_backward())
    return;
  /* 1 x 1 x 32768 x 65600 = 2 149 580 800 elements > 2^31 */
  const int64_t H = 32768, W = 65600;
  const size_t elems = (size_t)(H * W), bytes = elems * 4;
  const sl_box box = {(int32_t)(W - 45), (int32_t)(H - 3), (int32_t)W, (int32_t)H};
  size_t tail_bytes = (size_t)(4 * W * 4) + 8192, start = tail_start(bytes, tail_bytes);
  size_t real_len = bytes - start;
  float *x = reserve(bytes), *t = reserve(bytes);
  aliased g;
  int ok = x && t && aliased_alloc(&g, bytes, &start, 1, real_len);
  if (!ok) {
    release(x, bytes);
    release(t, bytes);
  }
  SKIP_IF(!ok, "backward bce");
  sl_shape s = {1, 1, H, W};
  sl_region reg = {sizeof(sl_region), &box, 1, NULL, 1, NULL};
  int64_t count = (int64_t)(box.x2 - box.x1) * (box.y2 - box.y1);
  for (int logits = 0; logits < 2; logits++) {
    for (int64_t y = box.y1; y < box.y2; y++)
      for (int64_t xx = box.x1; xx < box.x2; xx++) {
        float v = fval(0, y, xx);
        x[y * W + xx] = logits ? 10.0f * v - 5.0f : 0.02f + 0.96f * v;
        t[y * W + xx] = (xx + y) % 2 ? 1.0f : 0.0f;
      }
    float *gr = (float *)g.base, *tail = (float *)(g.base + start);
    for (size_t i = 0; i < BIG_WINDOW / 4; i++)
      g.window[i] = CANARY;
    for (size_t i = 0; i < real_len / 4; i++)
      tail[i] = CANARY;
    sl_options o = sl_options_default();
    o.num_threads = 1; /* rows in order: the box rows are written last (see the top comment) */
    float loss = -1.0f;
    sl_status r = logits ? sl_bce_logits(&s, x, t, &reg, &o, &loss, gr)
                         : sl_bce(&s, x, t, &reg, &o, &loss, gr);
    cr_assert(r == SL_OK, "%s", sl_status_string(r));
    cr_expect(window_all_zero(&g),
              "logits %d: a nonzero value (or an unwritten canary) in the "
              "aliased part of the gradient",
              logits);
    int bad = 0;
    for (size_t i = start / 4; i < elems && bad < 5; i++) {
      int64_t y = (int64_t)i / W, xx = (int64_t)i % W;
      double want = 0.0;
      if (y >= box.y1 && xx >= box.x1) {
        double xv = x[i], tv = t[i];
        if (logits)
          want = (1.0 / (1.0 + exp(-xv)) - tv) / (double)count;
        else
          want = (xv - tv) / fmax(xv * (double)(1.0f - x[i]), 1e-12) / (double)count;
      }
      if (!(fabs(gr[i] - want) <= 1e-5 * fabs(want) + 1e-30)) {
        cr_expect(0, "logits %d: grad(y=%lld, x=%lld) = %.9g, want %.9g", logits, (long long)y,
                  (long long)xx, gr[i], want);
        bad++;
      }
    }
  }
  aliased_free(&g);
  release(x, bytes);
  release(t, bytes);
}

Test(big, backward_ce) {
  if (skip_backward())
    return;
  /* 16 x 2 x 1024 x 70200 = 2 300 313 600 logits > 2^31, and the start of the last sample,
   * n * C * H * W = 2.16e9, is itself > 2^31. Only sample 15 has a (non-empty) box. */
  enum { N = 16, C = 2 };
  const int64_t H = 1024, W = 70200, HW = H * W, last = N - 1;
  const size_t elems = (size_t)(N * C * HW), bytes = elems * 4;
  sl_box boxes[N];
  for (int n = 0; n < N; n++)
    boxes[n] = (sl_box){3, 4, 3, 9}; /* empty */
  const sl_box box = {(int32_t)(W - 45), (int32_t)(H - 3), (int32_t)W, (int32_t)H};
  boxes[last] = box;
  size_t tail_bytes = (size_t)(4 * W * 4) + 8192;
  size_t starts[C] = {tail_start((size_t)((last * C + 1) * HW) * 4, tail_bytes),
                      tail_start(bytes, tail_bytes)};
  size_t real_len = bytes - starts[1];
  cr_assert(starts[0] + real_len == (size_t)((last * C + 1) * HW) * 4,
            "plane ends must be page-aligned");
  float *x = reserve(bytes);
  int32_t *lab = reserve((size_t)(N * HW) * 4);
  aliased g;
  int ok = x && lab && aliased_alloc(&g, bytes, starts, C, real_len);
  if (!ok) {
    release(x, bytes);
    release(lab, (size_t)(N * HW) * 4);
  }
  SKIP_IF(!ok, "backward ce");
  double count = 0.0;
  for (int64_t y = box.y1; y < box.y2; y++)
    for (int64_t xx = box.x1; xx < box.x2; xx++) {
      int64_t p = (last * H + y) * W + xx;
      lab[p] = (xx + y) % 5 == 0 ? -100 : (int32_t)((xx + y) % 2);
      count += lab[p] != -100;
      for (int64_t c = 0; c < C; c++)
        x[(last * C + c) * HW + y * W + xx] = 6.0f * fval(c, y, xx) - 3.0f;
    }
  float *gr = (float *)g.base;
  for (size_t i = 0; i < BIG_WINDOW / 4; i++)
    g.window[i] = CANARY;
  for (int k = 0; k < C; k++)
    for (size_t i = 0; i < real_len / 4; i++)
      ((float *)(g.base + starts[k]))[i] = CANARY;
  sl_shape s = {N, C, H, W};
  sl_region reg = {sizeof(sl_region), boxes, N, NULL, 1, NULL};
  sl_options o = sl_options_default();
  o.num_threads = 1;
  float loss = -1.0f;
  sl_status r = sl_ce(&s, x, lab, SL_LABEL_I32, &reg, &o, &loss, gr);
  cr_assert(r == SL_OK, "%s", sl_status_string(r));
  cr_expect(window_all_zero(&g), "a nonzero value (or an unwritten canary) in the aliased part of "
                                 "the gradient");
  int bad = 0;
  for (int k = 0; k < C; k++)
    for (size_t i = starts[k] / 4; i < starts[k] / 4 + real_len / 4 && bad < 5; i++) {
      int64_t c = ((int64_t)i / HW) % C, q = (int64_t)i % HW, y = q / W, xx = q % W;
      int64_t p = last * HW + q, x0i = (last * C) * HW + q;
      double want = 0.0;
      if (y >= box.y1 && xx >= box.x1 && lab[p] != -100) {
        double x0 = x[x0i], x1 = x[x0i + HW], m = fmax(x0, x1);
        double pc = exp((c ? x1 : x0) - m) / (exp(x0 - m) + exp(x1 - m));
        want = (pc - (lab[p] == c)) / count;
      }
      if (!(fabs(gr[i] - want) <= 1e-5 * fabs(want) + 1e-30)) {
        cr_expect(0, "grad(c=%lld, y=%lld, x=%lld) = %.9g, want %.9g", (long long)c, (long long)y,
                  (long long)xx, gr[i], want);
        bad++;
      }
    }
  aliased_free(&g);
  release(x, bytes);
  release(lab, (size_t)(N * HW) * 4);
}
