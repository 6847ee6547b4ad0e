// SPDX-License-Identifier: MIT
/*
 * api.c - the public entry points: argument validation, then the driver (sl_run, driver.c).
 *
 * Every check here runs before any output is touched, so an argument error leaves loss, grad
 * and stats exactly as they were. Checks are O(number of boxes + C), never O(tensor).
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#include <math.h>
#include <stdint.h>

#include "abi.h"
#include "driver.h"
#include "sectionloss.h"

#define SL_STR2(x) #x
#define SL_STR(x)  SL_STR2(x)

/* The size bounds in SL_ERR_*_SIZE's messages: numbers on 64-bit targets (abi.h). */
#if UINTPTR_MAX == UINT64_MAX
#define SIZE_BOUNDS(min, ours) " (" SL_STR(min) " bytes)", " (" SL_STR(ours) " bytes)"
#else
#define SIZE_BOUNDS(min, ours) "", ""
#endif
#define SIZE_MESSAGE(arg, type, bounds) SIZE_MESSAGE_(arg, type, bounds)
#define SIZE_MESSAGE_(arg, type, min, ours)                                                        \
  "invalid " arg "->size: must be sizeof(" type ") of a 1.x sectionloss.h (set by " type           \
  "_init or " type "_default); it is 0 or below the 1.0 " type min                                 \
  ", or above this library's " type ours                                                           \
  " with a nonzero byte beyond (a field only a newer library knows)"

const char *sl_version(void) {
  return SL_STR(SL_VERSION_MAJOR) "." SL_STR(SL_VERSION_MINOR) "." SL_STR(SL_VERSION_PATCH);
}

const char *sl_status_string(sl_status s) {
  switch (s) {
  case SL_OK:
    return "success";
  case SL_ERR_NULL_POINTER:
    return "a required pointer argument is NULL";
  case SL_ERR_SHAPE:
    return "invalid shape: every dimension (n, c, h, w) must be > 0";
  case SL_ERR_OVERFLOW:
    return "shape too large: the element count or its size in bytes overflows";
  case SL_ERR_NUM_BOXES:
    return "invalid region: num_boxes must be 0, 1 or n (and boxes non-NULL when it is not 0)";
  case SL_ERR_BOX:
    return "invalid box: need 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h (half-open)";
  case SL_ERR_MASK_CHANNELS:
    return "invalid region: mask_channels must be 1 or c (1 for cross-entropy)";
  case SL_ERR_REDUCTION:
    return "invalid options: reduction must be SL_REDUCTION_MEAN, _SUM or _NONE";
  case SL_ERR_LABEL_TYPE:
    return "invalid label_type: must be SL_LABEL_I64, SL_LABEL_I32 or SL_LABEL_U8";
  case SL_ERR_OPTION:
    return "invalid options: label_smoothing must be in [0, 1] (0 except for sl_ce and "
           "sl_ce_prob), grad_scale finite, num_threads >= 0, pos_weight only with sl_bce_logits, "
           "no weight with Dice, dice_sums only with Dice, ignore_index left at its default -100 "
           "with sl_ce_prob (probability targets have no ignored class)";
  case SL_ERR_GRAD_MAP:
    return "invalid options: grad_map is required for reduction NONE with a gradient and not "
           "allowed with MEAN or SUM";
  case SL_ERR_NO_OUTPUT:
    return "nothing to compute: loss, grad and every options out-parameter are NULL";
  case SL_ERR_ALIAS:
    return "an output buffer overlaps an input buffer or another output (only grad == logits is "
           "allowed, for the losses on logits)";
  case SL_ERR_DOMAIN:
    return "all elements of input and target should be between 0 and 1 (a selected probability "
           "or target is outside [0, 1] or NaN)";
  case SL_ERR_LABEL:
    return "a selected label is outside [0, c) and is not ignore_index";
  case SL_ERR_ISA_UNAVAILABLE:
    return "that instruction set is not available in this build or on this CPU";
  case SL_ERR_BOX_OFFSETS:
    return "invalid region: box_offsets must start at 0, never decrease and end at num_boxes "
           "(n + 1 entries)";
  case SL_ERR_BOX_STATS:
    return "invalid options: box_stats needs boxes (num_boxes > 0) and is not available for Dice";
  case SL_ERR_PIXEL_WEIGHT:
    return "invalid options: pixel_weight is only for sl_ce, sl_ce_prob and sl_softmax_focal";
  case SL_ERR_FOCAL:
    return "invalid options: focal_gamma must be finite and >= 0, and (sl_sigmoid_focal) "
           "focal_alpha <= 1 (< 0 disables it) and not NaN";
  case SL_ERR_OPTIONS_SIZE:
    return SIZE_MESSAGE("options", "sl_options",
                        SIZE_BOUNDS(SL_OPTIONS_SIZE_1_0_LP64, SL_OPTIONS_SIZE_LP64));
  case SL_ERR_REGION_SIZE:
    return SIZE_MESSAGE("region", "sl_region",
                        SIZE_BOUNDS(SL_REGION_SIZE_1_0_LP64, SL_REGION_SIZE_LP64));
  case SL_ERR_NO_MEMORY:
    return "out of memory: a thread's workspace could not be allocated (about 150 KiB, plus 4 "
           "bytes a pixel on the calling thread with OHEM; kept for the thread's life)";
  case SL_ERR_DICE:
    return "invalid options: dice_tversky, dice_log_loss and dice_from_logits must be 0 or 1; "
           "tversky_alpha, tversky_beta, dice_smooth finite and >= 0; tversky_gamma and "
           "dice_eps finite and > 0";
  case SL_ERR_DTYPE:
    return "invalid options: input_dtype, target_dtype and weight_dtype must be SL_DTYPE_F32, "
           "_BF16 or _F16, grad_f32 0 or 1, and an "
           "in-place gradient (grad == logits) needs grad_f32 0 or a float32 input";
  case SL_ERR_OHEM:
    return "invalid options: ohem_thresh must be in [0, 1] (any value < 0: no mining) and not "
           "NaN, ohem_min_kept >= 0 and 0 without mining; mining is for sl_ce and "
           "sl_softmax_focal only";
  default:
    return "unknown status code";
  }
}

/* A byte range [p, p + bytes) of one buffer, for the overlap check. */
typedef struct span {
  const void *p;
  uint64_t bytes;
} span;

static int overlap(span a, span b) {
  if (!a.p || !b.p || a.bytes == 0 || b.bytes == 0)
    return 0;
  uintptr_t a0 = (uintptr_t)a.p, b0 = (uintptr_t)b.p;
  return a0 < b0 + b.bytes && b0 < a0 + a.bytes;
}

static int mul_ok(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}

static int finite_ge0(float v) {
  return isfinite(v) && v >= 0.0f;
}

/* The loss-specific options (focal, Dice, pixel weights, label smoothing, pos_weight). */
static sl_status validate_loss_options(const sl_job *j, const sl_options *o) {
  const sl_op op = j->op;
  const int dice = op == SL_OP_DICE || op == SL_OP_DICE_MC;
  const int ce = op == SL_OP_CE || op == SL_OP_CE_PROB;
  int smoothing_ok =
      ce ? (o->label_smoothing >= 0.0f && o->label_smoothing <= 1.0f) : o->label_smoothing == 0.0f;
  /* ignore_index: probability targets have no label to ignore; PyTorch refuses it with them
   * ("ignore_index is not supported for floating point target") */
  if (!smoothing_ok || !isfinite(o->grad_scale) || o->num_threads < 0 ||
      (o->pos_weight && op != SL_OP_BCE_LOGITS) || (dice && o->weight) || (o->dice_sums && !dice) ||
      (op == SL_OP_CE_PROB && o->ignore_index != -100))
    return SL_ERR_OPTION;
  if (o->pixel_weight && op != SL_OP_CE && op != SL_OP_SOFTMAX_FOCAL && op != SL_OP_CE_PROB)
    return SL_ERR_PIXEL_WEIGHT;
  if ((op == SL_OP_SOFTMAX_FOCAL || op == SL_OP_SIGMOID_FOCAL) && !finite_ge0(o->focal_gamma))
    return SL_ERR_FOCAL;
  if (op == SL_OP_SIGMOID_FOCAL && !(o->focal_alpha <= 1.0f))
    return SL_ERR_FOCAL;
  const int ohem = o->ohem_thresh >= 0.0f;
  if (!(o->ohem_thresh <= 1.0f) || o->ohem_min_kept < 0 || (!ohem && o->ohem_min_kept != 0) ||
      (ohem && op != SL_OP_CE && op != SL_OP_SOFTMAX_FOCAL))
    return SL_ERR_OHEM;
  if (dice && ((unsigned)o->dice_tversky > 1 || (unsigned)o->dice_log_loss > 1 ||
               (unsigned)o->dice_from_logits > 1 || !finite_ge0(o->tversky_alpha) ||
               !finite_ge0(o->tversky_beta) || !finite_ge0(o->dice_smooth) ||
               !(finite_ge0(o->tversky_gamma) && o->tversky_gamma > 0.0f) ||
               !(finite_ge0(o->dice_eps) && o->dice_eps > 0.0f)))
    return SL_ERR_DICE;
  return SL_OK;
}

/* The region: boxes (0 / 1 / N of them, or per-sample lists through box_offsets) and mask. */
static sl_status validate_region(sl_job *j, const sl_region *caller_region) {
  j->boxes = NULL;
  j->num_boxes = 0;
  j->box_offsets = NULL;
  j->mask = NULL;
  j->mask_channels = 1;
  sl_region r;
  sl_status st = sl_read_sized(&sl_region_versioned, &r, caller_region);
  if (st != SL_OK)
    return st;
  const sl_region *region = &r;
  const int64_t nb = region->num_boxes;
  const int64_t *off = region->box_offsets;
  if (off) {
    if (nb < 0 || nb > INT64_MAX / 64) /* box and stats bytes stay within int64 */
      return SL_ERR_NUM_BOXES;
    if (off[0] != 0 || off[j->n] != nb)
      return SL_ERR_BOX_OFFSETS;
    for (int64_t n = 0; n < j->n; n++)
      if (off[n + 1] < off[n])
        return SL_ERR_BOX_OFFSETS;
  } else if (nb != 0 && nb != 1 && nb != j->n) {
    return SL_ERR_NUM_BOXES;
  }
  if (nb > 0 && !region->boxes)
    return SL_ERR_NULL_POINTER;
  for (int64_t i = 0; i < nb; i++) {
    const sl_box *b = &region->boxes[i];
    if (b->x1 < 0 || b->y1 < 0 || b->x1 > b->x2 || b->y1 > b->y2 || b->x2 > j->w || b->y2 > j->h)
      return SL_ERR_BOX;
  }
  if (region->mask) {
    int64_t mc = region->mask_channels;
    if (mc != 1 && (mc != j->c || sl_op_labels(j->op) || sl_op_map(j->op) == SL_MAP_PIXEL))
      return SL_ERR_MASK_CHANNELS;
    j->mask_channels = mc;
  }
  j->boxes = nb > 0 ? region->boxes : NULL;
  j->num_boxes = nb;
  j->box_offsets = off;
  j->mask = region->mask;
  return SL_OK;
}

/* Validation shared by every entry point. Fills job on success. */
static sl_status validate(sl_job *j, const sl_shape *shape, const sl_region *region,
                          const sl_options *options) {
  const int labels = sl_op_labels(j->op), dice = j->op == SL_OP_DICE || j->op == SL_OP_DICE_MC;
  const int pixel = sl_op_map(j->op) == SL_MAP_PIXEL; /* a softmax over C per pixel */
  if (!shape || !j->x || (!labels && !j->target) || (labels && !j->labels))
    return SL_ERR_NULL_POINTER;
  if (shape->n <= 0 || shape->c <= 0 || shape->h <= 0 || shape->w <= 0)
    return SL_ERR_SHAPE;
  /* N*C*H*W floats (and N*H*W int64 labels) must be addressable: elements and bytes in int64,
   * bytes in size_t, and H*W and box coordinates within int32 where the API stores them. */
  int64_t nc, nch, elems, bytes, hw, nhw, label_bytes, n1;
  if (!mul_ok(shape->n, shape->c, &nc) || !mul_ok(nc, shape->h, &nch) ||
      !mul_ok(nch, shape->w, &elems) || !mul_ok(elems, (int64_t)sizeof(float), &bytes) ||
      !mul_ok(shape->h, shape->w, &hw) || !mul_ok(hw, shape->n, &nhw) ||
      !mul_ok(nhw, (int64_t)sizeof(int64_t), &label_bytes) || (uint64_t)bytes > SIZE_MAX ||
      (uint64_t)label_bytes > SIZE_MAX || shape->h > INT32_MAX || shape->w > INT32_MAX ||
      !mul_ok(shape->c, 3 * (int64_t)sizeof(double), &n1))
    return SL_ERR_OVERFLOW;
  j->n = shape->n;
  j->c = shape->c;
  j->h = shape->h;
  j->w = shape->w;

  sl_status st = sl_read_sized(&sl_options_versioned, &j->opt, options);
  if (st != SL_OK)
    return st;
  const sl_options *o = &j->opt;
  if (o->reduction != SL_REDUCTION_MEAN && o->reduction != SL_REDUCTION_SUM &&
      o->reduction != SL_REDUCTION_NONE)
    return SL_ERR_REDUCTION;
  if (labels && j->label_type != SL_LABEL_I64 && j->label_type != SL_LABEL_I32 &&
      j->label_type != SL_LABEL_U8)
    return SL_ERR_LABEL_TYPE;
  st = validate_loss_options(j, o);
  if (st != SL_OK)
    return st;
  const sl_dtype dts[3] = {o->input_dtype, o->target_dtype, o->weight_dtype};
  for (int k = 0; k < 3; k++)
    if ((unsigned)dts[k] > SL_DTYPE_F16)
      return SL_ERR_DTYPE;
  if ((unsigned)o->grad_f32 > 1 ||
      (j->grad && j->grad == j->x && o->grad_f32 && o->input_dtype != SL_DTYPE_F32))
    return SL_ERR_DTYPE;
  if (!j->loss && !j->grad && !o->stats && !o->box_stats && !o->dice_sums)
    return SL_ERR_NO_OUTPUT;
  if ((o->reduction == SL_REDUCTION_NONE && j->grad && !o->grad_map) ||
      (o->reduction != SL_REDUCTION_NONE && o->grad_map))
    return SL_ERR_GRAD_MAP;
  if ((st = validate_region(j, region)) != SL_OK)
    return st;
  if (o->box_stats && (j->num_boxes == 0 || dice))
    return SL_ERR_BOX_STATS;

  /* Outputs must not overlap inputs or each other (bytes = elements x their element size). */
  uint64_t ub = (uint64_t)bytes;
  const uint64_t xb = (uint64_t)elems * sl_dtype_size(o->input_dtype);
  const uint64_t gb = o->grad_f32 ? ub : xb;
  const uint64_t tb = (uint64_t)elems * sl_dtype_size(o->target_dtype);
  const uint64_t wb = (uint64_t)elems * sl_dtype_size(o->weight_dtype);
  int64_t map_elems = dice ? j->c : pixel ? nhw : elems;
  uint64_t map_bytes = (uint64_t)map_elems * sizeof(float);
  uint64_t label_size = j->label_type == SL_LABEL_I64 ? 8 : j->label_type == SL_LABEL_I32 ? 4 : 1;
  span outputs[] = {
      {j->loss, o->reduction == SL_REDUCTION_NONE ? map_bytes : sizeof(float)},
      {j->grad, gb},
      {o->stats, sizeof(sl_stats)},
      {o->box_stats, (uint64_t)j->num_boxes * sizeof(sl_stats)},
      {o->dice_sums, (uint64_t)n1},
  };
  span inputs[] = {
      {j->x, xb},
      {j->target, labels ? 0 : tb},
      {labels ? j->labels : NULL, (uint64_t)nhw * label_size},
      {o->weight, labels || pixel ? (uint64_t)j->c * sizeof(float) : wb},
      {o->pos_weight, (uint64_t)j->c * sizeof(float)},
      {o->pixel_weight, (uint64_t)nhw * sl_dtype_size(o->weight_dtype)},
      {o->grad_map, map_bytes},
      {j->mask, (uint64_t)(j->n * j->mask_channels * hw)},
      {j->boxes, (uint64_t)j->num_boxes * sizeof(sl_box)},
      {j->box_offsets, j->box_offsets ? (uint64_t)(j->n + 1) * sizeof(int64_t) : 0},
  };
  /* The one overlap allowed: the gradient written over the logits (grad == x exactly) for the
   * losses on logits whose kernels read each element before writing its gradient. */
  const int in_place =
      j->grad && j->grad == j->x &&
      (j->op == SL_OP_BCE_LOGITS || j->op == SL_OP_SIGMOID_FOCAL || j->op == SL_OP_CE ||
       j->op == SL_OP_SOFTMAX_FOCAL || j->op == SL_OP_CE_PROB);
  const size_t no = sizeof outputs / sizeof outputs[0], ni = sizeof inputs / sizeof inputs[0];
  for (size_t a = 0; a < no; a++) {
    for (size_t b = a + 1; b < no; b++)
      if (overlap(outputs[a], outputs[b]))
        return SL_ERR_ALIAS;
    for (size_t i = 0; i < ni; i++)
      if (overlap(outputs[a], inputs[i]) && !(in_place && a == 1 && i == 0))
        return SL_ERR_ALIAS;
  }
  return SL_OK;
}

static sl_status run(sl_job *j, const sl_shape *shape, const sl_region *region,
                     const sl_options *options) {
  sl_status s = validate(j, shape, region, options);
  return s != SL_OK ? s : sl_run(j);
}

sl_status sl_bce(const sl_shape *shape, const float *prob, const float *target,
                 const sl_region *region, const sl_options *options, float *loss, float *grad) {
  sl_job j = {.op = SL_OP_BCE_PROB, .x = prob, .target = target, .loss = loss, .grad = grad};
  return run(&j, shape, region, options);
}

sl_status sl_bce_logits(const sl_shape *shape, const float *logits, const float *target,
                        const sl_region *region, const sl_options *options, float *loss,
                        float *grad) {
  sl_job j = {.op = SL_OP_BCE_LOGITS, .x = logits, .target = target, .loss = loss, .grad = grad};
  return run(&j, shape, region, options);
}

sl_status sl_ce(const sl_shape *shape, const float *logits, const void *labels,
                sl_label_type label_type, const sl_region *region, const sl_options *options,
                float *loss, float *grad) {
  sl_job j = {.op = SL_OP_CE,
              .x = logits,
              .labels = labels,
              .label_type = label_type,
              .loss = loss,
              .grad = grad};
  return run(&j, shape, region, options);
}

sl_status sl_sigmoid_focal(const sl_shape *shape, const float *logits, const float *target,
                           const sl_region *region, const sl_options *options, float *loss,
                           float *grad) {
  sl_job j = {.op = SL_OP_SIGMOID_FOCAL, .x = logits, .target = target, .loss = loss, .grad = grad};
  return run(&j, shape, region, options);
}

sl_status sl_softmax_focal(const sl_shape *shape, const float *logits, const void *labels,
                           sl_label_type label_type, const sl_region *region,
                           const sl_options *options, float *loss, float *grad) {
  sl_job j = {.op = SL_OP_SOFTMAX_FOCAL,
              .x = logits,
              .labels = labels,
              .label_type = label_type,
              .loss = loss,
              .grad = grad};
  return run(&j, shape, region, options);
}

sl_status sl_dice(const sl_shape *shape, const float *input, const float *target,
                  const sl_region *region, const sl_options *options, float *loss, float *grad) {
  sl_job j = {.op = SL_OP_DICE, .x = input, .target = target, .loss = loss, .grad = grad};
  return run(&j, shape, region, options);
}

sl_status sl_dice_multiclass(const sl_shape *shape, const float *logits, const void *labels,
                             sl_label_type label_type, const sl_region *region,
                             const sl_options *options, float *loss, float *grad) {
  sl_job j = {.op = SL_OP_DICE_MC,
              .x = logits,
              .labels = labels,
              .label_type = label_type,
              .loss = loss,
              .grad = grad};
  return run(&j, shape, region, options);
}

sl_status sl_ce_prob(const sl_shape *shape, const float *logits, const float *target,
                     const sl_region *region, const sl_options *options, float *loss, float *grad) {
  sl_job j = {.op = SL_OP_CE_PROB, .x = logits, .target = target, .loss = loss, .grad = grad};
  return run(&j, shape, region, options);
}

/* The registry's losses (src/losses.def), in sl_op's order. */
static const sl_loss_entry losses[SL_NUM_OPS] = {
#define SL_LOSS(OP, name, function, input, map, driver)                                            \
  [SL_OP_##OP] = {#name, #function, SL_INPUT_##input, SL_MAP_##map},
#include "losses.def"
};

const sl_loss_entry *sl_losses(size_t *count) {
  if (count)
    *count = SL_NUM_OPS;
  return losses;
}
