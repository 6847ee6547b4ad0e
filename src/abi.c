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

#define SL_STRUCT(T)                                                                               \
  { #T, NULL, 0, sizeof(T) }
#define SL_FIELD(T, f)                                                                             \
  { #T, #f, offsetof(T, f), sizeof(((T *)0)->f) }
#define SL_END(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))

static const sl_layout_entry layout[] = {
    SL_STRUCT(sl_shape),
    SL_FIELD(sl_shape, n),
    SL_FIELD(sl_shape, c),
    SL_FIELD(sl_shape, h),
    SL_FIELD(sl_shape, w),
    SL_STRUCT(sl_box),
    SL_FIELD(sl_box, x1),
    SL_FIELD(sl_box, y1),
    SL_FIELD(sl_box, x2),
    SL_FIELD(sl_box, y2),
    SL_STRUCT(sl_stats),
    SL_FIELD(sl_stats, loss_sum),
    SL_FIELD(sl_stats, normalizer),
    SL_FIELD(sl_stats, count),
    SL_STRUCT(sl_region),
    SL_FIELD(sl_region, size),
    SL_FIELD(sl_region, boxes),
    SL_FIELD(sl_region, num_boxes),
    SL_FIELD(sl_region, mask),
    SL_FIELD(sl_region, mask_channels),
    SL_FIELD(sl_region, box_offsets),
    SL_STRUCT(sl_options),
    SL_FIELD(sl_options, size),
    SL_FIELD(sl_options, reduction),
    SL_FIELD(sl_options, weight),
    SL_FIELD(sl_options, pos_weight),
    SL_FIELD(sl_options, ignore_index),
    SL_FIELD(sl_options, label_smoothing),
    SL_FIELD(sl_options, grad_scale),
    SL_FIELD(sl_options, grad_map),
    SL_FIELD(sl_options, num_threads),
    SL_FIELD(sl_options, stats),
    SL_FIELD(sl_options, box_stats),
    SL_FIELD(sl_options, pixel_weight),
    SL_FIELD(sl_options, focal_gamma),
    SL_FIELD(sl_options, focal_alpha),
    SL_FIELD(sl_options, dice_tversky),
    SL_FIELD(sl_options, tversky_alpha),
    SL_FIELD(sl_options, tversky_beta),
    SL_FIELD(sl_options, tversky_gamma),
    SL_FIELD(sl_options, dice_smooth),
    SL_FIELD(sl_options, dice_eps),
    SL_FIELD(sl_options, dice_log_loss),
    SL_FIELD(sl_options, dice_from_logits),
    SL_FIELD(sl_options, dice_sums),
};
enum { LAYOUT_COUNT = sizeof layout / sizeof layout[0] };

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

/* Copies from src to dst every member of struct `type` (but size) that ends within size. */
static void copy_fields(void *dst, const void *src, size_t size, const char *type) {
  for (size_t i = 0; i < LAYOUT_COUNT; i++) {
    const sl_layout_entry *e = &layout[i];
    if (e->field && e->offset >= sizeof(size_t) && e->offset + e->size <= size &&
        strcmp(e->type, type) == 0)
      memcpy((char *)dst + e->offset, (const char *)src + e->offset, e->size);
  }
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
  }; /* every other field 0 / NULL */
}

static void region_defaults(void *p) {
  *(sl_region *)p = (sl_region){.size = sizeof(sl_region), .mask_channels = 1};
}

const sl_versioned sl_options_versioned = {"sl_options", OPTIONS_SIZE_1_0, sizeof(sl_options),
                                           SL_ERR_OPTIONS_SIZE, options_defaults};
const sl_versioned sl_region_versioned = {"sl_region", REGION_SIZE_1_0, sizeof(sl_region),
                                          SL_ERR_REGION_SIZE, region_defaults};

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
  copy_fields(s, &d, size, v->type);
  if (size > v->ours)
    memset((char *)s + v->ours, 0, size - v->ours);
  memcpy(s, &size, sizeof size);
  return SL_OK;
}

sl_status sl_read_sized(const sl_versioned *v, void *dst, const void *src) {
  v->defaults(dst);
  if (!src)
    return SL_OK;
  size_t size;
  memcpy(&size, src, sizeof size);
  if (size < v->min || size > SL_STRUCT_SIZE_MAX)
    return v->bad_size;
  for (size_t i = v->ours; i < size; i++)
    if (((const unsigned char *)src)[i] != 0)
      return v->bad_size;
  copy_fields(dst, src, size, v->type);
  return SL_OK;
}

sl_status sl_options_init(sl_options *options, size_t size) {
  return sl_init_sized(&sl_options_versioned, options, size);
}

sl_status sl_region_init(sl_region *region, size_t size) {
  return sl_init_sized(&sl_region_versioned, region, size);
}
