// SPDX-License-Identifier: MIT
/*
 * tsan_threads.c - ThreadSanitizer program (make test-tsan): the three entry points called
 * concurrently from 8 pthreads with different options (num_threads 0, 1, 2: the library's own
 * OpenMP regions run inside each thread), from inside an OpenMP parallel region (nested), while
 * another thread calls sl_isa_set / sl_isa_active during first-use initialisation. Each result
 * after phase 1 is compared bitwise with a serial call (results are identical for every thread
 * count, sectionloss.h). Phase 1 (ISA flips) checks statuses only: any ISA may run there.
 * Shape legend N, C, H, W. Exit status 0 only when every result matched; TSan reports exit 66.
 */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sectionloss.h"

enum { N = 2, C = 3, H = 40, W = 37, E = N * C * H * W, ITERS = 6 };

static float prob[E], logit[E], target[E];
static int64_t labels[N * H * W];
static const sl_box box = {3, 2, 30, 35};
static float want[3];
static int failures, checking; /* checking: set before phase 2's threads start */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void one_round(int which, int num_threads, float *grad, int check) {
  sl_shape s = {N, C, H, W};
  sl_region r = {sizeof(sl_region), &box, 1, NULL, 1, NULL};
  sl_options o = sl_options_default();
  o.num_threads = num_threads;
  float loss = 0.0f;
  sl_status st = which == 0   ? sl_bce(&s, prob, target, &r, &o, &loss, grad)
                 : which == 1 ? sl_bce_logits(&s, logit, target, &r, &o, &loss, grad)
                              : sl_ce(&s, logit, labels, SL_LABEL_I64, &r, &o, &loss, grad);
  if (st != SL_OK || (check && memcmp(&loss, &want[which], sizeof loss) != 0)) {
    pthread_mutex_lock(&fail_lock);
    failures++;
    fprintf(stderr, "tsan_threads: op %d threads %d: %s, loss %.9g want %.9g\n", which, num_threads,
            sl_status_string(st), loss, want[which]);
    pthread_mutex_unlock(&fail_lock);
  }
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  float *grad = malloc(E * sizeof(float));
  for (int it = 0; it < ITERS; it++)
    one_round((id + it) % 3, (id + it) % 3, grad, checking);
  free(grad);
  return NULL;
}

static void *isa_flipper(void *arg) {
  (void)arg;
  for (int it = 0; it < 200; it++) {
    sl_isa a = sl_isa_active();
    for (int i = 0; i < SL_ISA_COUNT_; i++)
      if (sl_isa_available((sl_isa)i))
        sl_isa_set((sl_isa)i);
    sl_isa_set(a);
  }
  return NULL;
}

int main(void) {
  for (int i = 0; i < E; i++) {
    prob[i] = (float)((i * 37) % 101) / 101.0f * 0.98f + 0.01f;
    logit[i] = (float)((i * 53) % 89) / 8.0f - 5.0f;
    target[i] = (float)(i % 3) * 0.5f;
  }
  for (int i = 0; i < N * H * W; i++)
    labels[i] = i % 7 == 0 ? -100 : i % C;

  /* phase 1: first use of the library (table initialisation) races with sl_isa_set/active */
  pthread_t th[9];
  pthread_create(&th[8], NULL, isa_flipper, NULL);
  for (int i = 0; i < 8; i++)
    pthread_create(&th[i], NULL, worker, (void *)(intptr_t)(100 + i));
  pthread_join(th[8], NULL);
  for (int i = 0; i < 8; i++)
    pthread_join(th[i], NULL);

  /* reference values (serial), then phase 2: 8 pthreads with different options */
  float *g = malloc(E * sizeof(float));
  for (int k = 0; k < 3; k++) {
    sl_shape s = {N, C, H, W};
    sl_region r = {sizeof(sl_region), &box, 1, NULL, 1, NULL};
    sl_options o = sl_options_default();
    o.num_threads = 1;
    sl_status st = k == 0   ? sl_bce(&s, prob, target, &r, &o, &want[k], g)
                   : k == 1 ? sl_bce_logits(&s, logit, target, &r, &o, &want[k], g)
                            : sl_ce(&s, logit, labels, SL_LABEL_I64, &r, &o, &want[k], g);
    if (st != SL_OK)
      return 2;
  }
  checking = 1;
  for (int i = 0; i < 8; i++)
    pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < 8; i++)
    pthread_join(th[i], NULL);

    /* phase 3: from inside an OpenMP parallel region (the library's regions nest in it) */
#pragma omp parallel num_threads(4)
  {
    float *grad = malloc(E * sizeof(float));
    for (int it = 0; it < ITERS; it++)
      one_round((omp_get_thread_num() + it) % 3, it % 3, grad, 1);
    free(grad);
  }
  free(g);
  printf("tsan_threads: %s (%d failures)\n", failures ? "FAILED" : "ok", failures);
  return failures ? 1 : 0;
}
