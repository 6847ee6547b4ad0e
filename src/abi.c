// SPDX-License-Identifier: MIT
/*
 * abi.c - the versioned structs: their layout table (sl_layout), their defaults (sl_options_init,
 * sl_region_init), and reading a caller's struct by the size it carries.
 *
 * sl_options and sl_region start with size_t size, the sizeof of the caller's header's struct.
 * Fields are only ever appended, so a field lies wholly inside a caller's size exactly when the
 * caller's header has it; every other field keeps the library's default. The layout table is
 * the one list of fields: the copy below walks it, and bindings check their structs against it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "abi.h"

/* The members of each public struct, in declaration order: X(struct, member). */
// clang-format off
#define SHAPE_FIELDS(X) X(sl_shape, n) X(sl_shape, c) X(sl_shape, h) X(sl_shape, w)
#define BOX_FIELDS(X)   X(sl_box, x1) X(sl_box, y1) X(sl_box, x2) X(sl_box, y2)
#define STATS_FIELDS(X) X(sl_stats, loss_sum) X(sl_stats, normalizer) X(sl_stats, count)
#define REGION_FIELDS(X)                                                                           \
  X(sl_region, size) X(sl_region, boxes) X(sl_region, num_boxes) X(sl_region, mask)                \
  X(sl_region, mask_channels) X(sl_region, box_offsets)
#define OPTIONS_FIELDS(X)                                                                          \
  X(sl_options, size) X(sl_options, reduction) X(sl_options, weight) X(sl_options, pos_weight)     \
  X(sl_options, ignore_index) X(sl_options, label_smoothing) X(sl_options, grad_scale)            \
  X(sl_options, grad_map) X(sl_options, num_threads) X(sl_options, stats)                         \
  X(sl_options, box_stats) X(sl_options, pixel_weight) X(sl_options, focal_gamma)                 \
  X(sl_options, focal_alpha) X(sl_options, dice_tversky) X(sl_options, tversky_alpha)             \
  X(sl_options, tversky_beta) X(sl_options, tversky_gamma) X(sl_options, dice_smooth)             \
  X(sl_options, dice_eps) X(sl_options, dice_log_loss) X(sl_options, dice_from_logits)            \
  X(sl_options, dice_sums) X(sl_options, ohem_thresh) X(sl_options, ohem_min_kept)       \
  X(sl_options, input_dtype) X(sl_options, target_dtype) X(sl_options, weight_dtype)            \
  X(sl_options, grad_f32)

#define SL_STRUCT(T)   {#T, NULL, 0, sizeof(T)},
#define SL_FIELD(T, f) {#T, #f, offsetof(T, f), sizeof(((T *)0)->f)},
#define SL_ONE(T, f)   +1
#define SL_END(T, f)   (offsetof(T, f) + sizeof(((T *)0)->f))

static const sl_layout_entry layout[] = {
    SL_STRUCT(sl_shape) SHAPE_FIELDS(SL_FIELD)
    SL_STRUCT(sl_box) BOX_FIELDS(SL_FIELD)
    SL_STRUCT(sl_stats) STATS_FIELDS(SL_FIELD)
    SL_STRUCT(sl_region) REGION_FIELDS(SL_FIELD)
    SL_STRUCT(sl_options) OPTIONS_FIELDS(SL_FIELD)
};
// clang-format on
/* The index in layout[] of each growing struct's first member (size), and its member count. */
enum {
  /* each struct: its own row, then its members */
  REGION_AT = (1 SHAPE_FIELDS(SL_ONE)) + (1 BOX_FIELDS(SL_ONE)) + (1 STATS_FIELDS(SL_ONE)) + 1,
  REGION_COUNT = 0 REGION_FIELDS(SL_ONE),
  OPTIONS_AT = REGION_AT + REGION_COUNT + 1,
  OPTIONS_COUNT = 0 OPTIONS_FIELDS(SL_ONE),
  LAYOUT_COUNT = sizeof layout / sizeof layout[0]
};
_Static_assert(OPTIONS_AT + OPTIONS_COUNT == LAYOUT_COUNT, "layout[]: sl_options comes last");

/* The smallest size a 1.x caller can have: the end of the last field of the 1.0 layout. */
#define OPTIONS_SIZE_1_0 SL_END(sl_options, dice_sums)
#define REGION_SIZE_1_0  SL_END(sl_region, box_offsets)
/* Above this a size is garbage (a caller that never set it), rejected before any byte beyond the
 * library's struct is read. */
#define SL_STRUCT_SIZE_MAX 4096
/* The sizes sl_status_string names (abi.h), for the 64-bit layouts. */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(OPTIONS_SIZE_1_0 == SL_OPTIONS_SIZE_1_0_LP64 &&
                   sizeof(sl_options) == SL_OPTIONS_SIZE_LP64,
               "update SL_OPTIONS_SIZE_*_LP64 in abi.h");
_Static_assert(REGION_SIZE_1_0 == SL_REGION_SIZE_1_0_LP64 &&
                   sizeof(sl_region) == SL_REGION_SIZE_LP64,
               "update SL_REGION_SIZE_*_LP64 in abi.h");
#endif

const sl_layout_entry *sl_layout(size_t *count) {
  if (count)
    *count = LAYOUT_COUNT;
  return layout;
}

/* Copies from src to dst every member of v's struct but size that ends within size. */
static void copy_fields(const sl_versioned *v, void *dst, const void *src, size_t size) {
  for (size_t i = v->first + 1; i < v->first + v->count; i++) /* first: the size member */
    if (layout[i].offset + layout[i].size <= size)
      memcpy((char *)dst + layout[i].offset, (const char *)src + layout[i].offset, layout[i].size);
}

static void options_defaults(void *p) {
  *(sl_options *)p = (sl_options){
      .size = sizeof(sl_options),
      .reduction = SL_REDUCTION_MEAN,
      .ignore_index = -100,
      .grad_scale = 1.0f,
      .focal_gamma = 2.0f,
      .focal_alpha = 0.25f,
      .tversky_alpha = 0.5f,
      .tversky_beta = 0.5f,
      .tversky_gamma = 1.0f,
      .dice_eps = 1e-7f,
      .ohem_thresh = -1.0f,
  }; /* every other field 0 / NULL */
}

static void region_defaults(void *p) {
  *(sl_region *)p = (sl_region){.size = sizeof(sl_region), .mask_channels = 1};
}

const sl_versioned sl_options_versioned = {.type = "sl_options",
                                           .first = OPTIONS_AT,
                                           .count = OPTIONS_COUNT,
                                           .min = OPTIONS_SIZE_1_0,
                                           .ours = sizeof(sl_options),
                                           .bad_size = SL_ERR_OPTIONS_SIZE,
                                           .defaults = options_defaults};
const sl_versioned sl_region_versioned = {.type = "sl_region",
                                          .first = REGION_AT,
                                          .count = REGION_COUNT,
                                          .min = REGION_SIZE_1_0,
                                          .ours = sizeof(sl_region),
                                          .bad_size = SL_ERR_REGION_SIZE,
                                          .defaults = region_defaults};

sl_status sl_init_sized(const sl_versioned *v, void *s, size_t size) {
  if (!s)
    return SL_ERR_NULL_POINTER;
  if (size < v->min)
    return v->bad_size;
  union {
    sl_options o;
    sl_region r;
  } d;
  v->defaults(&d);
  copy_fields(v, s, &d, size);
  if (size > v->ours)
    memset((char *)s + v->ours, 0, size - v->ours);
  memcpy(s, &size, sizeof size);
  return SL_OK;
}

sl_status sl_read_sized(const sl_versioned *v, void *dst, const void *src) {
  if (!src) {
    v->defaults(dst);
    return SL_OK;
  }
  size_t size;
  memcpy(&size, src, sizeof size);
  if (size < v->min || size > SL_STRUCT_SIZE_MAX)
    return v->bad_size;
  for (size_t i = v->ours; i < size; i++)
    if (((const unsigned char *)src)[i] != 0)
      return v->bad_size;
  if (size >= v->ours) { /* the caller's header is this library's or newer: every field */
    memcpy(dst, src, v->ours);
    memcpy(dst, &v->ours, sizeof v->ours);
  } else {
    v->defaults(dst);
    copy_fields(v, dst, src, size);
  }
  return SL_OK;
}

sl_status sl_options_init(sl_options *options, size_t size) {
  return sl_init_sized(&sl_options_versioned, options, size);
}

sl_status sl_region_init(sl_region *region, size_t size) {
  return sl_init_sized(&sl_region_versioned, region, size);
}
