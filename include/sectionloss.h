// SPDX-License-Identifier: MIT
/*
 * sectionloss.h - section losses (BCE, BCE with logits, multi-class CE, sigmoid and softmax
 * focal, Dice / Tversky) and their gradients, computed only inside a section (boxes, a mask, or
 * both) of an NCHW float32 tensor.
 *
 * This is the only installed header. C11, usable from C++.
 *
 * Shape legend used throughout:
 *   N  batch size      C  channels (BCE) or classes (CE)
 *   H  image height    W  image width
 * Tensors are contiguous, row-major NCHW float32: element (n, c, y, x) is at
 *   ((n * C + c) * H + y) * W + x.
 *
 * Semantics are PyTorch's (1.13), taking the selected elements as the tensor:
 *   sl_bce        == F.binary_cross_entropy(prob[sel], target[sel], weight=weight[sel])
 *   sl_bce_logits == F.binary_cross_entropy_with_logits(logits[sel], target[sel], ...)
 *   sl_ce         == F.cross_entropy(logits, labels, ...) over the selected pixels only.
 *   sl_ce_prob    == F.cross_entropy(logits, probabilities, ...) over the selected pixels.
 *   sl_sigmoid_focal == torchvision.ops.sigmoid_focal_loss(logits[sel], target[sel], ...)
 *   sl_softmax_focal == -w_t (1 - p_t)^gamma log p_t, p = softmax over C (gamma 0: sl_ce)
 *   sl_dice, sl_dice_multiclass == segmentation_models_pytorch DiceLoss / TverskyLoss with the
 *                    sums taken over the section only.
 * See docs/c-api.md ("Semantics", "Differences from PyTorch") for the exact formulas.
 *
 * Every function is thread-safe and may be called concurrently, also from inside an
 * OpenMP parallel region. The library never prints, never allocates per call (beyond a small
 * fixed stack array) and never changes the floating-point environment (MXCSR / FPCR).
 */
#ifndef SECTIONLOSS_H
#define SECTIONLOSS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1.x keeps the binary interface of 1.0 (soname libsectionloss.so.1): sl_options and sl_region
 * grow only at their end and carry their size; see "Binary compatibility" below. The 0.x
 * layouts (soname libsectionloss.so.0) are not compatible with 1.x. */
#define SL_VERSION_MAJOR 1
#define SL_VERSION_MINOR 1
#define SL_VERSION_PATCH 0

#if defined(_WIN32)
#define SL_API
#elif defined(__GNUC__)
#define SL_API __attribute__((visibility("default")))
#else
#define SL_API
#endif

/* Status codes. SL_OK is 0; every error is nonzero and has its own message
 * (sl_status_string). On any status other than SL_OK and SL_ERR_DOMAIN, no output buffer
 * (loss, grad, stats) has been touched.
 *
 * In-place gradients: sl_bce_logits, sl_sigmoid_focal, sl_ce and sl_softmax_focal accept
 * grad == logits (exactly the same pointer): the gradient is then written over the logits, each
 * element after it has been read, with the same results bit for bit as a separate buffer; the
 * logits are gone afterwards. Any other overlap of an output with an input or another output is
 * SL_ERR_ALIAS. */
typedef enum sl_status {
  SL_OK = 0,
  SL_ERR_NULL_POINTER,    /* a required pointer argument is NULL */
  SL_ERR_SHAPE,           /* a dimension of sl_shape is <= 0 */
  SL_ERR_OVERFLOW,        /* the element count (or its size in bytes, labels as int64 included)
                             overflows int64/size_t, or H or W exceeds INT32_MAX */
  SL_ERR_NUM_BOXES,       /* region->num_boxes is not 0, 1 or N */
  SL_ERR_BOX,             /* a box is inverted (x1 > x2 or y1 > y2) or reaches outside the image */
  SL_ERR_MASK_CHANNELS,   /* region->mask_channels is not 1 or C (CE: not 1) */
  SL_ERR_REDUCTION,       /* options->reduction is not an sl_reduction value */
  SL_ERR_LABEL_TYPE,      /* label_type is not an sl_label_type value */
  SL_ERR_OPTION,          /* an option is out of range: label_smoothing outside [0, 1] or NaN,
                             grad_scale not finite, num_threads < 0; an option the loss does not
                             take (pos_weight beyond BCE with logits, weight with Dice,
                             ignore_index other than -100 with sl_ce_prob); Dice with more than
                             1024 classes */
  SL_ERR_GRAD_MAP,        /* grad_map given with MEAN/SUM, or missing for NONE with a gradient */
  SL_ERR_NO_OUTPUT,       /* loss, grad and options->stats are all NULL: nothing to compute */
  SL_ERR_ALIAS,           /* an output buffer overlaps an input buffer or another output (other
                             than grad == logits for the losses on logits: in-place gradient) */
  SL_ERR_DOMAIN,          /* sl_bce: a selected probability or target outside [0, 1] (or NaN) */
  SL_ERR_LABEL,           /* sl_ce: a selected label outside [0, C) that is not ignore_index */
  SL_ERR_ISA_UNAVAILABLE, /* sl_isa_set: that ISA is unknown, not built in, or not on this CPU */
  SL_ERR_BOX_OFFSETS,     /* region->box_offsets: offsets[0] != 0, a decreasing offset, or
                             offsets[N] != num_boxes */
  SL_ERR_BOX_STATS,       /* options->box_stats without boxes, or with a Dice loss */
  SL_ERR_PIXEL_WEIGHT,    /* options->pixel_weight with a loss that has none (BCE, sigmoid focal,
                             Dice) */
  SL_ERR_FOCAL,           /* focal_gamma < 0, infinite or NaN; sl_sigmoid_focal: focal_alpha
                             > 1 or NaN */
  SL_ERR_DICE,            /* a Dice / Tversky option out of range (see sl_options) */
  SL_ERR_OPTIONS_SIZE,    /* options->size is 0, smaller than the 1.0 sl_options, or larger than
                             this library's sl_options with a nonzero byte beyond it (an option
                             only a newer library knows) */
  SL_ERR_REGION_SIZE,     /* region->size: as SL_ERR_OPTIONS_SIZE, for sl_region */
  SL_ERR_NO_MEMORY,       /* the calling thread's workspace (about 150 KiB, 170 KiB with 2-byte
                             tensors, up to 400 KiB with 2-byte multiclass Dice (2 KiB a class
                             to 128 classes), 4 bytes a pixel more with OHEM; allocated at the
                             thread's first call that needs it and kept until the thread exits)
                             could not be allocated; nothing has been written. (An OpenMP thread
                             that cannot get its own takes no share of the work.) */
  SL_ERR_OHEM,            /* 1.1: ohem_thresh above 1 or NaN, ohem_min_kept < 0 (or nonzero
                             without mining), or mining with a loss other than sl_ce and
                             sl_softmax_focal */
  SL_ERR_DTYPE,           /* 1.1: an sl_dtype value that is not one, grad_f32 not 0 or 1, or
                             grad == logits with grad_f32 and a 2-byte input_dtype */
  SL_STATUS_COUNT_        /* number of status codes; not a status */
} sl_status;

/* Element types of the floating tensors (1.1; sl_options.input_dtype and its neighbours). The
 * arithmetic is float32 whatever they are: a bfloat16 or float16 value converts to float32
 * exactly, and a gradient written in one of them is the float32 result rounded to nearest
 * (ties to even; NaN stays NaN). A tensor of such an element type is passed through the same
 * const float * / float * parameter, cast: it holds 2-byte elements, 2-byte aligned. */
typedef enum sl_dtype {
  SL_DTYPE_F32 = 0,  /* float (the default) */
  SL_DTYPE_BF16 = 1, /* bfloat16: the high 16 bits of a float */
  SL_DTYPE_F16 = 2   /* IEEE binary16 (_Float16, __fp16) */
} sl_dtype;

/* Tensor shape: contiguous NCHW (float32, or options->input_dtype). Every dimension > 0. */
typedef struct sl_shape {
  int64_t n, c, h, w;
} sl_shape;

/* Half-open box: selects exactly t[:, :, y1:y2, x1:x2].
 * Valid when 0 <= x1 <= x2 <= W and 0 <= y1 <= y2 <= H (an empty box selects nothing). */
typedef struct sl_box {
  int32_t x1, y1, x2, y2;
} sl_box;

/* Binary compatibility. sl_options and sl_region may gain fields in later 1.x releases, always
 * at their end; their first member, size, is the sizeof of the caller's header's struct. The
 * library reads only the fields that lie wholly inside size and takes the defaults for the
 * others, so a program built against an older 1.x header keeps working with a newer library; a
 * size larger than the library's own (up to 4096) is accepted when every byte beyond it is zero
 * (a program built against a newer header, setting no new field). Set size with the init functions:
 *   sl_options opt = sl_options_default();  sl_region region = sl_region_default();
 * (inline: they call sl_options_init / sl_region_init with the sizeof of this header's struct,
 * and the library writes only inside that size). sl_shape, sl_box, sl_stats and
 * sl_layout_entry and sl_loss_entry never change in 1.x. */

/* The section. A NULL sl_region pointer means the whole tensor (as sl_region_default()).
 * Start from sl_region_default() (or in C, {.size = sizeof(sl_region), ...}).
 *   boxes, num_boxes: num_boxes == 0 (no box), 1 (the box applies to every sample) or N (box i
 *                     applies to sample i). boxes may be NULL only when num_boxes == 0.
 *   box_offsets:      NULL, or N + 1 offsets into boxes (detection: many boxes per image):
 *                     sample n's boxes are boxes[box_offsets[n] .. box_offsets[n + 1]), and
 *                     its section is their union (a pixel inside several boxes counts once).
 *                     A sample with no box selects nothing. Needs box_offsets[0] == 0,
 *                     non-decreasing offsets and box_offsets[N] == num_boxes (any count).
 *   mask:             NULL (no mask) or bytes, nonzero = selected, shape
 *                     N x mask_channels x H x W.
 *   mask_channels:    1 (broadcast over C) or C (one mask per channel; BCE only).
 *                     Ignored when mask is NULL.
 * An element is selected when it is inside its sample's box (one of them, with box_offsets; if
 * any) AND its mask byte is nonzero (if a mask is given). */
typedef struct sl_region {
  size_t size; /* sizeof(sl_region), set by sl_region_init / sl_region_default */
  const sl_box *boxes;
  int64_t num_boxes;
  const uint8_t *mask;
  int64_t mask_channels;
  const int64_t *box_offsets;
} sl_region;

typedef enum sl_reduction {
  SL_REDUCTION_MEAN = 0, /* weighted loss sum / normaliser (BCE: selected count; CE: sum of the
                            class weights of the counted pixels; sl_ce_prob: selected pixels) */
  SL_REDUCTION_SUM = 1,  /* weighted loss sum */
  SL_REDUCTION_NONE = 2  /* a loss map: BCE, sigmoid focal N x C x H x W, CE, softmax focal
                            N x H x W, 0 outside the section; Dice: the C per-class losses */
} sl_reduction;

typedef enum sl_label_type {
  SL_LABEL_I64 = 0, /* int64_t labels, N x H x W (PyTorch's LongTensor) */
  SL_LABEL_I32 = 1, /* int32_t labels */
  SL_LABEL_U8 = 2   /* uint8_t labels (ignore_index must then be in [0, 255] to match any) */
} sl_label_type;

/* Optional out-parameter: exact partial results, so shards of one batch (threads, processes,
 * machines) combine exactly: total loss = sum(loss_sum) / sum(normalizer) for MEAN. */
typedef struct sl_stats {
  double loss_sum;   /* sum over the section of the weighted per-element loss */
  double normalizer; /* MEAN's denominator: BCE the selected element count, CE the sum of the
                        class weights of the counted pixels (0 for an empty selection) */
  int64_t count;     /* selected elements (BCE) or counted pixels (CE, ignore_index excluded) */
} sl_stats;

/* Options. Always start from sl_options_default() (the defaults are not all 0); a NULL options
 * pointer means the defaults. Fields a loss does not use are ignored unless said otherwise. */
typedef struct sl_options {
  size_t size;               /* sizeof(sl_options), set by sl_options_init / sl_options_default */
  sl_reduction reduction;    /* default SL_REDUCTION_MEAN */
  const float *weight;       /* BCE, BCE with logits, sigmoid focal: per-element weight,
                                N x C x H x W; CE, CE with probabilities, softmax focal:
                                per-class weight, [C].
                                NULL = all 1. Not allowed with Dice (SL_ERR_OPTION). */
  const float *pos_weight;   /* BCE with logits only: per-channel positive weight, [C]
                                (PyTorch: pos_weight.view(C, 1, 1)). NULL = all 1. */
  int64_t ignore_index;      /* CE, softmax focal, multiclass Dice: pixels with this label are not
                                counted. Default -100. */
  float label_smoothing;     /* CE (sl_ce, sl_ce_prob): in [0, 1], default 0 (must be 0 for every
                                other loss) */
  float grad_scale;          /* upstream gradient for MEAN/SUM (d outer / d loss), default 1 */
  const float *grad_map;     /* upstream gradient map for NONE, same shape as the loss map */
  int num_threads;           /* 0 = OpenMP default, 1 = serial, k = at most k threads. Results are
                                bitwise identical for every thread count. */
  sl_stats *stats;           /* optional out-parameter, may be NULL (Dice: loss_sum = the sum of
                                the per-class losses, normalizer = C, count = selected elements) */
  sl_stats *box_stats;       /* optional, one per box (num_boxes of them; with num_boxes == 1 the
                                box of every sample, so the whole call): the loss sum, normaliser
                                and count of the elements inside that box (a pixel in two boxes
                                counts in both), from the same pass. Not with Dice. */
  const float *pixel_weight; /* CE, softmax focal: N x H x W weight map multiplying the class
                                weight (U-Net border weights); MEAN divides by the sum of
                                pixel x class weights of the counted pixels (sl_ce_prob: of
                                the pixel weights). NULL = all 1. */
  float focal_gamma;         /* focal losses: exponent, >= 0 and finite, default 2 */
  float focal_alpha;         /* sl_sigmoid_focal: weight of the positives, alpha_t = alpha t +
                                (1 - alpha) (1 - t); <= 1, default 0.25; any value < 0: no alpha
                                weighting */
  int dice_tversky;          /* 0: Dice (smp DiceLoss, default), 1: Tversky (smp TverskyLoss) */
  float tversky_alpha;       /* Tversky false-positive weight, >= 0, default 0.5 */
  float tversky_beta;        /* Tversky false-negative weight, >= 0, default 0.5 */
  float tversky_gamma;       /* Tversky: MEAN / SUM loss raised to it, > 0, default 1 */
  float dice_smooth;         /* added to numerator and denominator, >= 0, default 0 */
  float dice_eps;            /* denominator clamp, > 0, default 1e-7 */
  int dice_log_loss;         /* 0: 1 - score (default), 1: -log(max(score, eps)) */
  int dice_from_logits;      /* sl_dice: 0 = input holds probabilities (default), 1 = logits
                                (sigmoid applied). sl_dice_multiclass always takes logits. */
  double *dice_sums;         /* optional out, C x 3 doubles: per class the section's I (as in
                                sl_dice: sum p t, or for Tversky (P + T - sum |p - t|) / 2),
                                sum p and sum t, so shards combine exactly (add, then the
                                formula) */
  /* Fields added after 1.0 go here, each with the version that added it, starting at or beyond
   * the previous release's sizeof (never in its tail padding). */
  /* 1.1: online hard example mining (sl_ce, sl_softmax_focal), mmsegmentation's
   * OHEMPixelSampler with thresh: over the counted pixels of the section, p_t = the softmax
   * probability of the pixel's label, K = ohem_min_kept x N, n the counted pixels; the
   * threshold is max(ohem_thresh, the p_t of index min(K, n - 1) in ascending order), and a
   * pixel is kept when its p_t is below it (a NaN p_t is always kept, so the NaN reaches the
   * loss). The kept pixels are the section: MEAN divides by their pixel x class weights (mmseg's
   * default divides by every pixel of the batch), stats and box_stats count them. p_t is the
   * float kernel's, so a pixel within its rounding of the threshold may be kept on one ISA and
   * not on another; every thread count gives the same selection. */
  float ohem_thresh;     /* in [0, 1]; any value < 0 (default -1): no mining */
  int64_t ohem_min_kept; /* >= 0 per sample, default 0; must be 0 without mining */
  /* 1.1: element types (sl_dtype) of the per-element floating tensors; the tensors named here
   * are passed through their usual parameters, cast (see sl_dtype). Class weights, pos_weight
   * and grad_map stay float32; a type given for a tensor the call does not have has no effect. */
  sl_dtype input_dtype;  /* probabilities / logits, and the gradient (unless grad_f32) */
  sl_dtype target_dtype; /* BCE, BCE with logits, sigmoid focal, sl_dice: the targets; sl_ce_prob:
                            the class probabilities */
  sl_dtype weight_dtype; /* BCE, BCE with logits, sigmoid focal: the per-element weight; CE,
                            softmax focal, sl_ce_prob: pixel_weight */
  int grad_f32;          /* 1: the gradient in float32 whatever input_dtype is (default 0: in
                            input_dtype) */
} sl_options;

/* Writes the defaults into the fields of *options that lie inside size (nothing beyond it; zero
 * into the bytes beyond this library's sl_options when size is larger) and sets options->size.
 * SL_ERR_NULL_POINTER, or SL_ERR_OPTIONS_SIZE for a size below the 1.0 sl_options (nothing is
 * written then). sl_region_init: the same for sl_region (its defaults: no box, no mask,
 * mask_channels 1, no box_offsets). */
SL_API sl_status sl_options_init(sl_options *options, size_t size);
SL_API sl_status sl_region_init(sl_region *region, size_t size);

/* The defaults as a value of this header's struct. Inline, so that the library never returns a
 * struct whose size the caller's header may not match. */
static inline sl_options sl_options_default(void) {
  sl_options o;
  sl_options_init(&o, sizeof o);
  return o;
}
static inline sl_region sl_region_default(void) {
  sl_region r;
  sl_region_init(&r, sizeof r);
  return r;
}

/* The layout of every public struct as this library was built: per struct one entry with field
 * NULL, offset 0 and size = sizeof(struct), followed by one entry per member in declaration
 * order (offsetof, sizeof). Bindings (the Python package) check their copies of the structs
 * against it. Returns the table (static) and sets *count to its length when count is not NULL. */
typedef struct sl_layout_entry {
  const char *type;  /* "sl_options", "sl_region", "sl_shape", "sl_box", "sl_stats" */
  const char *field; /* member name, or NULL for the struct's own entry */
  size_t offset;
  size_t size;
} sl_layout_entry;
SL_API const sl_layout_entry *sl_layout(size_t *count);

/* The losses of this library, one entry per public loss function, in a fixed order (the
 * library's registry, src/losses.def): bindings build their list of entry points from it (the
 * Python package). Returns the table (static) and sets *count to its length when count is not
 * NULL. */
typedef enum sl_map_kind {
  SL_MAP_ELEMENT = 0, /* reduction NONE's loss map is [N,C,H,W] (per element) */
  SL_MAP_PIXEL = 1,   /* [N,H,W] (per pixel) */
  SL_MAP_CLASS = 2    /* [C] (per class) */
} sl_map_kind;
typedef struct sl_loss_entry {
  const char *name;     /* short name: "bce", "bce_logits", "ce", ... */
  const char *function; /* its entry point: "sl_bce", "sl_bce_logits", "sl_ce", ... */
  int labels; /* 1: class labels [N,H,W] (sl_ce's arguments), 0: targets [N,C,H,W] (sl_bce's) */
  sl_map_kind map;
} sl_loss_entry;
SL_API const sl_loss_entry *sl_losses(size_t *count);

/* Binary cross-entropy on probabilities.
 * input:  shape, prob [N,C,H,W] in [0, 1], target [N,C,H,W] in [0, 1], region, options
 * output: loss (MEAN/SUM: one float; NONE: [N,C,H,W] map, 0 outside the section) or NULL;
 *         grad [N,C,H,W] = d loss / d prob (0 outside the section) or NULL.
 * Forward, backward or both in one pass, depending on which outputs are non-NULL.
 * A selected probability or target outside [0, 1] (NaN included) gives SL_ERR_DOMAIN, found in
 * the same pass: the scalar loss and stats are then not written, but grad (and a NONE loss map)
 * have been written and hold unspecified values. */
SL_API sl_status sl_bce(const sl_shape *shape, const float *prob, const float *target,
                        const sl_region *region, const sl_options *options, float *loss,
                        float *grad);

/* Binary cross-entropy with logits (numerically stable, optional pos_weight).
 * input:  shape, logits [N,C,H,W], target [N,C,H,W], region, options
 * output: loss, grad = d loss / d logits, as for sl_bce (grad may be logits itself: in
 *         place). NaN logits give a NaN loss. */
SL_API sl_status sl_bce_logits(const sl_shape *shape, const float *logits, const float *target,
                               const sl_region *region, const sl_options *options, float *loss,
                               float *grad);

/* Multi-class cross-entropy over the class dimension C, at each selected pixel.
 * input:  shape (C = number of classes), logits [N,C,H,W], labels [N,H,W] of label_type,
 *         region (mask_channels must be 1), options
 * output: loss (MEAN/SUM: one float; NONE: [N,H,W] map, 0 outside the section and at ignored
 *         pixels) or NULL; grad [N,C,H,W] = d loss / d logits (0 outside) or NULL; grad may
 *         be logits itself (in place).
 * A selected label outside [0, C) that is not ignore_index gives SL_ERR_LABEL, found before
 * anything is written. NaN logits give a NaN loss. */
SL_API sl_status sl_ce(const sl_shape *shape, const float *logits, const void *labels,
                       sl_label_type label_type, const sl_region *region, const sl_options *options,
                       float *loss, float *grad);

/* Multi-class cross-entropy with class-probability targets (PyTorch's F.cross_entropy with a
 * float target of the logits' shape: distillation, mixup, soft labels), at each selected pixel:
 *   l = -pw sum_c w_c q'_c log softmax(x)_c,   q'_c = (1 - e) q_c + e / C
 * with q = target, w = options->weight (per class, [C]; NULL = 1), e = label_smoothing (in
 * [0, 1]), pw = options->pixel_weight (N x H x W; NULL = 1). The targets may be any float
 * (PyTorch does not check them either).
 * MEAN divides by the number of selected pixels, as PyTorch divides a probability-target loss
 * (by the pixel count, never by the class weights, unlike sl_ce's weighted mean); with pixel
 * weights by the sum of the selected pixels' weights, so that the pixel weights weigh the mean
 * as sl_ce's do and all-ones pixel weights give exactly the unweighted result. stats.normalizer
 * is that denominator, stats.count the selected pixels.
 * input:  shape (C = number of classes), logits [N,C,H,W], target [N,C,H,W], region
 *         (mask_channels must be 1), options (ignore_index must stay at its default -100:
 *         SL_ERR_OPTION otherwise, as PyTorch refuses ignore_index with probability targets; no
 *         pos_weight)
 * output: loss (MEAN/SUM: one float; NONE: [N,H,W] map, 0 outside the section) or NULL;
 *         grad [N,C,H,W] = d loss / d logits = g pw (p_c sum_k w_k q'_k - w_c q'_c) (0 outside;
 *         may be logits itself: in place) or NULL. NaN logits give a NaN loss. */
SL_API sl_status sl_ce_prob(const sl_shape *shape, const float *logits, const float *target,
                            const sl_region *region, const sl_options *options, float *loss,
                            float *grad);

/* Sigmoid focal loss on logits (torchvision.ops.sigmoid_focal_loss), per selected element:
 *   p = sigmoid(x), ce = BCE with logits (x, t), 1 - p_t = p (1 - t) + (1 - p) t,
 *   l = w alpha_t (1 - p_t)^gamma ce,  alpha_t = alpha t + (1 - alpha) (1 - t) (1 if alpha < 0)
 * with w = options->weight (per element), gamma = focal_gamma, alpha = focal_alpha. MEAN
 * divides by the selected count (as torchvision's mean over the selected elements).
 * input:  shape, logits [N,C,H,W], target [N,C,H,W] (any float; torchvision's are in [0, 1]),
 *         region, options (no pos_weight, no pixel_weight)
 * output: loss (MEAN/SUM: one float; NONE: [N,C,H,W] map, 0 outside the section) or NULL;
 *         grad [N,C,H,W] = d loss / d logits (0 outside; may be logits itself: in place) or
 *         NULL. A NaN or infinite logit gives a NaN gradient (PyTorch's autograd does too); finite
 * logits keep every digit where float PyTorch rounds 1 - p_t to 0 (docs/c-api.md). */
SL_API sl_status sl_sigmoid_focal(const sl_shape *shape, const float *logits, const float *target,
                                  const sl_region *region, const sl_options *options, float *loss,
                                  float *grad);

/* Multi-class (softmax) focal loss on logits and labels, per counted pixel with label t:
 *   l = pw w_t (1 - p_t)^gamma (-log p_t), p = softmax over the C classes,
 * w = options->weight (per class), pw = options->pixel_weight (per pixel); MEAN divides by the
 * sum of pw w_t over the counted pixels (as sl_ce). focal_gamma 0 gives exactly sl_ce.
 * Arguments, outputs and errors as sl_ce (label_smoothing must be 0). */
SL_API sl_status sl_softmax_focal(const sl_shape *shape, const float *logits, const void *labels,
                                  sl_label_type label_type, const sl_region *region,
                                  const sl_options *options, float *loss, float *grad);

/* Dice / Tversky loss, binary (C = 1) and multilabel (C channels), smp semantics, per class c
 * with the sums over the selected elements of channel c of every sample:
 *   P = sum p, T = sum t (p = input, or sigmoid(input) with dice_from_logits)
 *   Dice score    (2 I + smooth) / max(P + T + smooth, eps), I = sum p t  (smp 0.3-0.4's
 *                 DiceLoss)
 *   Tversky score (I + smooth) / max(I + alpha (P - I) + beta (T - I) + smooth, eps),
 *                 I = (P + T - sum |p - t|) / 2 = sum min(p, t) (smp 0.5+'s TverskyLoss; equal
 *                 to sum p t for targets in {0, 1}; d I / d p = [p < t] + [p == t] / 2, as
 *                 PyTorch's autograd of that form)
 *   (smp 0.5+ DiceLoss is Tversky with alpha = beta = 0.5, gamma 1)
 *   loss_c = (1 - score) or -log(max(score, eps)), times 0 when T == 0 (a class absent from the
 *   target); MEAN: (mean_c loss_c)^gamma, SUM: (sum_c loss_c)^gamma (gamma 1 for Dice), NONE:
 *   loss_c in loss[0 .. C), grad_map [C] the upstream gradient of each loss_c. At a MEAN / SUM
 *   loss of exactly 0 the gradient is 0 for every gamma (gamma < 1 has no finite derivative
 *   there; PyTorch's autograd gives NaN).
 * input:  shape, input [N,C,H,W], target [N,C,H,W] (float, any value), region, options
 * output: loss (one float, or C with NONE) or NULL; grad [N,C,H,W] = d loss / d input (0 outside
 *         the section) or NULL: a second pass after the sums.
 * C is at most 1024 for both Dice entry points (fixed per-class arrays): SL_ERR_OPTION
 * beyond. */
SL_API sl_status sl_dice(const sl_shape *shape, const float *input, const float *target,
                         const sl_region *region, const sl_options *options, float *loss,
                         float *grad);

/* Multiclass Dice / Tversky: p = softmax of the logits over C, the target of class c is
 * [label == c] (one-hot), pixels with ignore_index are not counted; otherwise as sl_dice.
 * Labels as sl_ce (SL_ERR_LABEL for a counted label outside [0, C)); mask_channels must be 1. */
SL_API sl_status sl_dice_multiclass(const sl_shape *shape, const float *logits, const void *labels,
                                    sl_label_type label_type, const sl_region *region,
                                    const sl_options *options, float *loss, float *grad);

/* A readable, static, never-NULL message for any value (unknown values included). */
SL_API const char *sl_status_string(sl_status status);

/* "MAJOR.MINOR.PATCH" of the library actually loaded; SL_VERSION_NUMBER is the header's version
 * as one integer for #if tests (MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 100 for 0.1.0). */
#define SL_VERSION_NUMBER (SL_VERSION_MAJOR * 10000 + SL_VERSION_MINOR * 100 + SL_VERSION_PATCH)
SL_API const char *sl_version(void);

/* Instruction sets. The best available one is chosen at first use (CPUID + XGETBV on x86,
 * always NEON on AArch64, getauxval(AT_HWCAP) on 32-bit ARM; on x86-64 AVX-512 is preferred
 * over AVX2); the environment variable SECTIONLOSS_ISA ("scalar", "avx2", "neon", "avx512"),
 * read once at first use, may choose another available one (an unavailable or unknown name is
 * ignored). Values are stable: a new ISA is appended. */
typedef enum sl_isa {
  SL_ISA_SCALAR = 0,
  SL_ISA_AVX2 = 1,   /* x86-64 AVX2 + FMA, with YMM state enabled by the OS */
  SL_ISA_NEON = 2,   /* ARM Advanced SIMD */
  SL_ISA_AVX512 = 3, /* x86-64 AVX-512 F+BW+DQ+VL with AVX2 + FMA, with opmask and ZMM state
                        enabled by the OS */
  SL_ISA_COUNT_      /* number of ISAs; not an ISA */
} sl_isa;

SL_API sl_isa sl_isa_active(void);
/* 1 when this build has kernels for isa and this CPU (and OS) can run them, else 0. */
SL_API int sl_isa_available(sl_isa isa);
/* Use isa for all later calls (process-wide). SL_ERR_ISA_UNAVAILABLE if not available. */
SL_API sl_status sl_isa_set(sl_isa isa);
/* "scalar", "avx2", "neon", "avx512"; "unknown" for any other value. */
SL_API const char *sl_isa_name(sl_isa isa);
/* SL_OK when SECTIONLOSS_ISA is unset or names an available ISA (which the first call then
 * uses); SL_ERR_ISA_UNAVAILABLE when it is set to anything else (not an ISA name, written
 * otherwise than in lower case, or not available here), which the library ignores silently: a
 * caller that reports problems asks this (the Python package turns it into a warning). */
SL_API sl_status sl_isa_env_status(void);

#ifdef __cplusplus
}
#endif

#endif /* SECTIONLOSS_H */
