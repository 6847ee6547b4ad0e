// SPDX-License-Identifier: MIT
/*
 * runner.c - the parallel chunk runner (runner.h): plans and runs a pass's chunks.
 */
#include "runner.h"

#include <omp.h>

#include "job.h"
#include "workspace.h"

sl_plan sl_make_plan(int64_t rows, int64_t elems_per_row, int64_t per_sample) {
  sl_plan p;
  int64_t min_rows = (SL_CHUNK_MIN_ELEMS + elems_per_row - 1) / elems_per_row;
  int64_t even = (rows + SL_MAX_CHUNKS - 1) / SL_MAX_CHUNKS;
  int64_t k = even > min_rows ? even : min_rows;
  if (per_sample > 0) /* whole samples: round up to a multiple of per_sample rows */
    k = (k + per_sample - 1) / per_sample * per_sample;
  p.rows = rows;
  p.rows_per_chunk = k;
  p.chunks = (rows + k - 1) / k;
  p.elems = rows * elems_per_row;
  return p;
}

sl_chunk_acc sl_run_chunks(const sl_plan *p, int num_threads, sl_chunk_fn fn, const void *ctx,
                           size_t ws_bytes) {
  const int ws = ws_bytes > 0;
  double part[SL_MAX_CHUNKS], part_norm[SL_MAX_CHUNKS];
  int64_t count = 0;
  int err = 0;
  int nt = num_threads > 0 ? num_threads : omp_get_max_threads();
  if (nt > p->chunks)
    nt = (int)p->chunks;
  if (p->elems < SL_CHUNK_MIN_ELEMS) /* not worth a parallel region */
    nt = 1;
  sl_chunk_acc total = {0.0, 0.0, 0, 0, 0};
  if (ws && !sl_workspace(SL_WS_KERNEL, ws_bytes)) {
    total.nomem = 1;
    return total;
  }
  int64_t next = 0; /* the next chunk to take (a dynamic schedule) */
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : count) reduction(| : err)
  {
    /* a thread without its workspace takes no chunk: the others (the calling thread at least,
     * whose workspace is there) take them all */
    void *w = ws ? sl_workspace(SL_WS_KERNEL, ws_bytes) : NULL;
    for (int64_t k = 0; !ws || w;) {
#pragma omp atomic capture
      k = next++;
      if (k >= p->chunks)
        break;
      int64_t r0 = k * p->rows_per_chunk;
      int64_t r1 = r0 + p->rows_per_chunk < p->rows ? r0 + p->rows_per_chunk : p->rows;
      sl_chunk_acc a = {0.0, 0.0, 0, 0, 0};
      fn(ctx, k, r0, r1, w, &a);
      part[k] = a.sum;
      part_norm[k] = a.norm;
      count += a.count;
      err |= a.err;
    }
  }
  total.count = count;
  total.err = err;
  for (int64_t k = 0; k < p->chunks; k++) {
    total.sum += part[k];
    total.norm += part_norm[k];
  }
  total.sum = sl_nan_canon(total.sum);
  total.norm = sl_nan_canon(total.norm);
  return total;
}
