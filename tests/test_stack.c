// SPDX-License-Identifier: MIT
/*
 * test_stack.c - every computing entry point runs in a thread with a 64 KiB stack (musl's
 * default thread stack is 128 KiB): the kernels' and the drivers' scratch is each thread's
 * workspace (src/workspace.h), never the stack.
 *
 * Each entry point with a loss and a gradient, and with the largest class count it takes:
 * Dice and multiclass Dice 1024 (their limit); CE, softmax focal and CE with probability targets
 * SL_CE_VEC_CMAX(lanes) of
 * the active ISA (the last count its vector kernel runs; generic/ce.h checks the bound at
 * compile time) and one more (the run goes to the reference kernel). The thread's results
 * must equal, bit for bit, the same call's on the main thread. A large array put back on a
 * kernel's or driver's stack kills the thread (SIGSEGV: the test process dies).
 * AArch64's glibc allows no thread stack below 128 KiB: there the test uses 128 KiB.
 * And the failure path: a thread whose workspace cannot be allocated gets SL_ERR_NO_MEMORY with
 * its outputs untouched.
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels.h"
#include "sectionloss.h"
#include "workspace.h"

enum { STACK_BYTES = 64 << 10, DICE_CMAX = 1024 };

/* CE_OHEM: sl_ce with mining; CE_PROB: sl_ce_prob; CE_BF16, BCE_LOGITS_F16, DICE_BF16,
 * DICE_MC_F16: 2-byte tensors (the data's bits read as such: any bits are some value), converted
 * by the kernels as they load */
typedef enum op {
  BCE,
  BCE_LOGITS,
  SIGMOID_FOCAL,
  CE,
  SOFTMAX_FOCAL,
  DICE,
  DICE_MC,
  CE_OHEM,
  CE_BF16,
  BCE_LOGITS_F16,
  CE_PROB,
  DICE_BF16,
  DICE_MC_F16
} op;

typedef struct call {
  op op;
  sl_shape shape;
  const float *x, *t;
  const int32_t *labels;
  float *loss, *grad;
  sl_status status;
} call;

static sl_status run(call *c) {
  sl_options o;
  sl_options_init(&o, sizeof o);
  switch (c->op) {
  case BCE:
    return sl_bce(&c->shape, c->x, c->t, NULL, &o, c->loss, c->grad);
  case BCE_LOGITS_F16:
    o.input_dtype = o.target_dtype = SL_DTYPE_F16;
    /* fall through */
  case BCE_LOGITS:
    return sl_bce_logits(&c->shape, c->x, c->t, NULL, &o, c->loss, c->grad);
  case SIGMOID_FOCAL:
    return sl_sigmoid_focal(&c->shape, c->x, c->t, NULL, &o, c->loss, c->grad);
  case CE:
    o.label_smoothing = 0.1f;
    return sl_ce(&c->shape, c->x, c->labels, SL_LABEL_I32, NULL, &o, c->loss, c->grad);
  case SOFTMAX_FOCAL:
    o.focal_gamma = 1.5f; /* a gamma that is not an integer: focal_pow's general path */
    return sl_softmax_focal(&c->shape, c->x, c->labels, SL_LABEL_I32, NULL, &o, c->loss, c->grad);
  case CE_PROB:
    o.label_smoothing = 0.1f;
    return sl_ce_prob(&c->shape, c->x, c->t, NULL, &o, c->loss, c->grad);
  case DICE_BF16:
    o.input_dtype = o.target_dtype = SL_DTYPE_BF16;
    /* fall through */
  case DICE:
    o.dice_from_logits = 1;
    return sl_dice(&c->shape, c->x, c->t, NULL, &o, c->loss, c->grad);
  case DICE_MC_F16:
    o.input_dtype = SL_DTYPE_F16;
    return sl_dice_multiclass(&c->shape, c->x, c->labels, SL_LABEL_I32, NULL, &o, c->loss, c->grad);
  case CE_BF16:
    o.input_dtype = SL_DTYPE_BF16;
    o.ohem_thresh = 0.7f;
    return sl_ce(&c->shape, c->x, c->labels, SL_LABEL_I32, NULL, &o, c->loss, c->grad);
  case CE_OHEM: /* the mining's prepass and selection */
    o.ohem_thresh = 0.7f;
    o.ohem_min_kept = 50;
    return sl_ce(&c->shape, c->x, c->labels, SL_LABEL_I32, NULL, &o, c->loss, c->grad);
  default:
    return sl_dice_multiclass(&c->shape, c->x, c->labels, SL_LABEL_I32, NULL, &o, c->loss, c->grad);
  }
}

static void *thread_main(void *arg) {
  call *c = arg;
  c->status = run(c);
  return NULL;
}

/* The active ISA's float lanes (the scalar reference has none: AVX-512's bound then). */
static int lanes(void) {
  switch (sl_isa_active()) {
  case SL_ISA_AVX2:
    return 8;
  case SL_ISA_NEON:
    return 4;
  default:
    return 16;
  }
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static float urand(void) {
  rng = rng * 6364136223846793005u + 1442695040888963407u;
  return (float)(rng >> 40) / (float)(1 << 24);
}

/* Runs op on shape on the main thread and in a thread with a small stack: same status SL_OK,
 * same bits. */
static void check(op o, sl_shape shape) {
  const int64_t n = shape.n * shape.c * shape.h * shape.w, pix = shape.n * shape.h * shape.w;
  const int labels = o == CE || o == SOFTMAX_FOCAL || o == DICE_MC || o == CE_OHEM ||
                     o == CE_BF16 || o == DICE_MC_F16;
  float *x = malloc((size_t)n * sizeof(float)), *t = malloc((size_t)n * sizeof(float));
  int32_t *lab = malloc((size_t)pix * sizeof(int32_t));
  float *g[2] = {malloc((size_t)n * sizeof(float)), malloc((size_t)n * sizeof(float))};
  cr_assert(x && t && lab && g[0] && g[1]);
  memset(g[0], 0, (size_t)n * sizeof(float)); /* 2-byte gradients fill half of it */
  memset(g[1], 0, (size_t)n * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    x[i] = o == BCE ? urand() : 8.0f * urand() - 4.0f;
    t[i] = urand() < 0.5f ? 1.0f : 0.0f;
  }
  for (int64_t i = 0; i < pix; i++)
    lab[i] = urand() < 0.1f ? -100 : (int32_t)(urand() * (float)shape.c) % (int32_t)shape.c;
  float loss[2] = {-1.0f, -1.0f};
  call c[2];
  for (int k = 0; k < 2; k++) {
    call v = {o, shape, x, labels ? NULL : t, labels ? lab : NULL, &loss[k], g[k], SL_ERR_SHAPE};
    c[k] = v;
  }
  c[0].status = run(&c[0]);
  cr_assert(c[0].status == SL_OK, "op %d, C = %lld: %s", (int)o, (long long)shape.c,
            sl_status_string(c[0].status));

  pthread_attr_t at;
  size_t stack = STACK_BYTES < PTHREAD_STACK_MIN ? PTHREAD_STACK_MIN : STACK_BYTES;
  cr_assert(pthread_attr_init(&at) == 0);
  cr_assert(pthread_attr_setstacksize(&at, stack) == 0, "a %zu-byte thread stack", stack);
  pthread_t th;
  cr_assert(pthread_create(&th, &at, thread_main, &c[1]) == 0, "pthread_create");
  cr_assert(pthread_join(th, NULL) == 0);
  pthread_attr_destroy(&at);
  cr_expect(c[1].status == SL_OK, "op %d, C = %lld, %zu-byte stack: %s", (int)o, (long long)shape.c,
            stack, sl_status_string(c[1].status));
  cr_expect(memcmp(&loss[0], &loss[1], sizeof(float)) == 0, "op %d, C = %lld: loss %a vs %a",
            (int)o, (long long)shape.c, (double)loss[0], (double)loss[1]);
  cr_expect(memcmp(g[0], g[1], (size_t)n * sizeof(float)) == 0, "op %d, C = %lld: gradients differ",
            (int)o, (long long)shape.c);
  free(x);
  free(t);
  free(lab);
  free(g[0]);
  free(g[1]);
}

Test(stack, bce_64k) {
  sl_shape s = {2, 3, 4, 40};
  check(BCE, s);
  check(BCE_LOGITS, s);
  check(SIGMOID_FOCAL, s);
  check(BCE_LOGITS_F16, s);
}

Test(stack, ce_64k) {
  const int64_t cmax = SL_CE_VEC_CMAX(lanes());
  cr_log_info("CE: C = %lld (the vector kernel's last) and %lld (the reference's)", (long long)cmax,
              (long long)(cmax + 1));
  for (int64_t C = cmax; C <= cmax + 1; C++) {
    sl_shape s = {1, C, 2, 40};
    check(CE, s);
    check(SOFTMAX_FOCAL, s);
    check(CE_PROB, s);
  }
  sl_shape small = {1, 4, 16, 64}; /* the failing call */
  check(CE, small);
  for (int64_t C = cmax; C <= cmax + 1; C++) {
    check(CE_OHEM, (sl_shape){2, C, 3, 40});
    check(CE_BF16, (sl_shape){2, C, 3, 40});
  }
}

Test(stack, dice_64k) {
  sl_shape s = {1, DICE_CMAX, 2, 24};
  check(DICE, s);
  check(DICE_MC, s);
  check(DICE_BF16, s);
  check(DICE_MC_F16, s);
}

/* Each op on shape in the calling thread (a fresh one, so without a workspace), every workspace
 * allocation failing (sl__workspace_fail): SL_ERR_NO_MEMORY and loss and gradient untouched
 * for the ops that need a workspace, SL_OK for BCE (which needs none). */
typedef struct nomem_case {
  op op;
  sl_status want;
  sl_status got;
  int touched;
} nomem_case;

static void *nomem_main(void *arg) {
  nomem_case *k = arg;
  sl_shape s = {1, 4, 16, 64};
  enum { N = 4 * 16 * 64 };
  static float x[N], t[N], grad[N];
  static int32_t lab[16 * 64];
  for (int i = 0; i < N; i++) {
    x[i] = (float)(i % 7) / 8.0f;
    t[i] = (float)(i % 2);
    grad[i] = -7.0f;
  }
  for (int i = 0; i < 16 * 64; i++)
    lab[i] = i % 4;
  float loss = -7.0f;
  const int labels = k->op == CE || k->op == SOFTMAX_FOCAL || k->op == DICE_MC ||
                     k->op == CE_OHEM || k->op == CE_BF16;
  call c = {k->op, s, x, labels ? NULL : t, labels ? lab : NULL, &loss, grad, SL_ERR_SHAPE};
  k->got = run(&c);
  k->touched = loss != -7.0f;
  for (int i = 0; i < N; i++)
    k->touched |= grad[i] != -7.0f;
  return NULL;
}

Test(stack, no_memory) {
  nomem_case cases[] = {{CE, SL_ERR_NO_MEMORY, 0, 0},      {SOFTMAX_FOCAL, SL_ERR_NO_MEMORY, 0, 0},
                        {DICE, SL_ERR_NO_MEMORY, 0, 0},    {DICE_MC, SL_ERR_NO_MEMORY, 0, 0},
                        {CE_OHEM, SL_ERR_NO_MEMORY, 0, 0}, {CE_BF16, SL_ERR_NO_MEMORY, 0, 0},
                        {BCE_LOGITS_F16, SL_OK, 0, 0}, /* no workspace, as float32 */
                        {CE_PROB, SL_ERR_NO_MEMORY, 0, 0}, {BCE_LOGITS, SL_OK, 0, 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pthread_t th;
    sl__workspace_fail = 1;
    int rc = pthread_create(&th, NULL, nomem_main, &cases[i]);
    if (rc == 0)
      pthread_join(th, NULL);
    sl__workspace_fail = 0;
    cr_assert(rc == 0, "pthread_create");
    cr_expect(cases[i].got == cases[i].want, "op %d: %s, want %s", (int)cases[i].op,
              sl_status_string(cases[i].got), sl_status_string(cases[i].want));
    if (cases[i].want != SL_OK)
      cr_expect(!cases[i].touched, "op %d: outputs written despite SL_ERR_NO_MEMORY",
                (int)cases[i].op);
  }
}
