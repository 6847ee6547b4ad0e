// SPDX-License-Identifier: MIT
/*
 * old_header.c - a program built against the previous 1.x header (sectionloss-1.0.h here, the
 * header as released), run against the current shared library (make test-abi-old-header, under
 * ASan). Its sl_options and sl_region live in heap blocks of exactly the size it passes, so the
 * library reading or writing one byte beyond is an ASan report; sizes below the 1.0 layout, zero
 * and garbage are refused, a newer caller's larger struct is accepted only with a zero tail, and
 * a BCE in a box matches a direct sum. Exit status 0 = every check passed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sectionloss-1.0.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      failures++;                                                                                  \
      fprintf(stderr, "old_header.c:%d: %s: ", __LINE__, #cond);                                   \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

enum { N = 2, C = 1, H = 8, W = 8, E = N * C * H * W };

/* The library's sizeof of a public struct, from sl_layout(). */
static size_t library_sizeof(const char *type) {
  size_t count;
  const sl_layout_entry *t = sl_layout(&count);
  for (size_t i = 0; i < count; i++)
    if (!t[i].field && strcmp(t[i].type, type) == 0)
      return t[i].size;
  return 0;
}

/* BCE of prob/target in box over both samples, MEAN, with options and region in blocks of exactly
 * osize / rsize bytes (initialised by the library for that size): the first status not SL_OK. */
static sl_status bce_sized(size_t osize, size_t rsize, const float *prob, const float *target,
                           const sl_box *box, float *loss) {
  sl_options *o = malloc(osize);
  sl_region *r = malloc(rsize);
  sl_status st = !o || !r ? SL_ERR_NULL_POINTER : sl_options_init(o, osize);
  if (st == SL_OK)
    st = sl_region_init(r, rsize);
  if (st == SL_OK) {
    r->boxes = box;
    r->num_boxes = 1;
    const sl_shape shape = {N, C, H, W};
    st = sl_bce(&shape, prob, target, r, o, loss, NULL);
  }
  free(o);
  free(r);
  return st;
}

int main(void) {
  CHECK(strncmp(sl_version(), "1.", 2) == 0, "library %s, header 1.0", sl_version());
  /* Frozen structs equal, growing ones no smaller than this header's. */
  CHECK(library_sizeof("sl_shape") == sizeof(sl_shape), "sl_shape");
  CHECK(library_sizeof("sl_box") == sizeof(sl_box), "sl_box");
  CHECK(library_sizeof("sl_stats") == sizeof(sl_stats), "sl_stats");
  CHECK(library_sizeof("sl_options") >= sizeof(sl_options), "sl_options");
  CHECK(library_sizeof("sl_region") >= sizeof(sl_region), "sl_region");

  /* The header's inline defaults, through the library, for this header's size. */
  const sl_options d = sl_options_default();
  CHECK(d.size == sizeof d && d.reduction == SL_REDUCTION_MEAN && d.ignore_index == -100 &&
            d.grad_scale == 1.0f && d.focal_gamma == 2.0f && d.focal_alpha == 0.25f &&
            d.dice_eps == 1e-7f && d.weight == NULL && d.dice_sums == NULL,
        "sl_options_default()");
  const sl_region rd = sl_region_default();
  CHECK(rd.size == sizeof rd && rd.boxes == NULL && rd.num_boxes == 0 && rd.mask_channels == 1,
        "sl_region_default()");

  float prob[E], target[E];
  for (int i = 0; i < E; i++) {
    prob[i] = 0.05f + 0.9f * (float)((i * 37) % 101) / 100.0f;
    target[i] = (float)(i % 2);
  }
  const sl_box box = {1, 2, 7, 6};
  double sum = 0.0;
  for (int n = 0; n < N; n++)
    for (int y = box.y1; y < box.y2; y++)
      for (int x = box.x1; x < box.x2; x++) {
        const int i = (n * H + y) * W + x;
        sum -= target[i] * log(prob[i]) + (1 - target[i]) * log(1 - prob[i]);
      }
  const double want = sum / (N * (box.y2 - box.y1) * (box.x2 - box.x1));

  /* This header's sizes: the library reads exactly them. */
  float loss = -1.0f;
  sl_status st = bce_sized(sizeof(sl_options), sizeof(sl_region), prob, target, &box, &loss);
  CHECK(st == SL_OK && fabs(loss - want) <= 1e-5 * fabs(want), "status %d, loss %.9g, want %.9g",
        st, (double)loss, want);

  /* A newer caller (a larger struct, nothing set beyond ours): accepted, same loss. */
  float loss2 = -1.0f;
  st = bce_sized(sizeof(sl_options) + 40, sizeof(sl_region) + 16, prob, target, &box, &loss2);
  CHECK(st == SL_OK && loss2 == loss, "newer caller: status %d, loss %.9g", st, (double)loss2);

  /* Smaller than the 1.0 layout (as a caller of a layout older than 1.0, or a wrong size): init
   * refuses and writes nothing; a call refuses; neither reads beyond the block. */
  const size_t small[] = {sizeof(sl_options) - 1, sizeof(sl_options) - 8, sizeof(size_t)};
  for (int k = 0; k < 3; k++) {
    unsigned char *b = malloc(small[k]);
    if (!b)
      return 2;
    memset(b, 0xa5, small[k]);
    CHECK(sl_options_init((sl_options *)(void *)b, small[k]) == SL_ERR_OPTIONS_SIZE, "init %zu",
          small[k]);
    for (size_t i = 0; i < small[k]; i++)
      CHECK(b[i] == 0xa5, "init %zu wrote byte %zu", small[k], i);
    memcpy(b, &small[k], sizeof(size_t));
    const sl_shape shape = {N, C, H, W};
    loss2 = -1.0f;
    CHECK(sl_bce(&shape, prob, target, NULL, (sl_options *)(void *)b, &loss2, NULL) ==
                  SL_ERR_OPTIONS_SIZE &&
              loss2 == -1.0f,
          "call with options size %zu", small[k]);
    free(b);
  }
  /* Region sizes: 0 (a zero-initialised struct, as 0.x callers wrote) and one byte short. */
  loss2 = -1.0f;
  st = bce_sized(sizeof(sl_options), sizeof(sl_region) - 1, prob, target, &box, &loss2);
  CHECK(st == SL_ERR_REGION_SIZE && loss2 == -1.0f, "region init below 1.0: status %d", st);
  sl_region zero = {0};
  const sl_shape shape = {N, C, H, W};
  CHECK(sl_bce(&shape, prob, target, &zero, NULL, &loss2, NULL) == SL_ERR_REGION_SIZE,
        "region size 0");
  CHECK(strstr(sl_status_string(SL_ERR_REGION_SIZE), "region->size") != NULL, "message");

  if (failures)
    fprintf(stderr, "old_header.c: %d check(s) failed\n", failures);
  else
    printf("old_header.c: a 1.0-header program against sectionloss %s: all checks passed\n",
           sl_version());
  return failures != 0;
}
