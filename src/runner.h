// SPDX-License-Identifier: MIT
/*
 * runner.h - the one parallel chunk runner every loss runs on (runner.c).
 *
 * A pass over a call is cut into chunks whose size depends on the shape only, never on the
 * thread count; OpenMP threads take chunks in turn (a dynamic schedule), each chunk adds its
 * results in its own order into its own slot, and the slots are added in chunk order: the
 * result is bitwise identical for every thread count. Knows nothing about losses or sections.
 */
#ifndef SL_RUNNER_H
#define SL_RUNNER_H

#include <stddef.h>
#include <stdint.h>

enum {
  SL_MAX_CHUNKS = 256,         /* chunks per pass at most (their sums live in a stack array) */
  SL_CHUNK_MIN_ELEMS = 1 << 15 /* no chunk smaller than this many elements (if the tensor is);
                                  a pass over fewer elements in all runs on the calling thread */
};

/* rows (units of work; what a row is belongs to the caller) in chunks of rows_per_chunk; elems:
 * the elements the pass reads in all (the serial rule above). */
typedef struct sl_plan {
  int64_t rows, rows_per_chunk, chunks, elems;
} sl_plan;

/* Chunks of at least SL_CHUNK_MIN_ELEMS elements, at most SL_MAX_CHUNKS of them; with
 * per_sample > 0 every chunk holds whole groups of per_sample rows (a sample's rows: each box's
 * statistics are then summed by one chunk, in row order). */
sl_plan sl_make_plan(int64_t rows, int64_t elems_per_row, int64_t per_sample);

/* One chunk's results: two ordered double sums, an exact count and an error flag. */
typedef struct sl_chunk_acc {
  double sum, norm;
  int64_t count;
  int err;
  int nomem; /* sl_run_chunks: the calling thread's workspace could not be allocated, no chunk
                ran */
} sl_chunk_acc;

/* Chunk number k: rows [r0, r1); ws: the thread's kernel workspace (sl_run_chunks with
 * ws_bytes > 0), or NULL. A chunk may also keep results of its own in the caller's arrays, indexed
 * by k. */
typedef void (*sl_chunk_fn)(const void *ctx, int64_t k, int64_t r0, int64_t r1, void *ws,
                            sl_chunk_acc *acc);

/* Runs fn over every chunk of p on at most num_threads threads (0: OpenMP's default) and adds
 * the chunk sums in chunk order. ws_bytes > 0: each thread gets its kernel workspace of that many
 * bytes (the SL_WS_KERNEL slot); a
 * thread that cannot takes no chunk, and when the calling thread cannot, no chunk runs and the
 * result has nomem set. No barrier: a thread late to the region (a loaded machine) delays
 * nobody. */
sl_chunk_acc sl_run_chunks(const sl_plan *p, int num_threads, sl_chunk_fn fn, const void *ctx,
                           size_t ws_bytes);

#endif /* SL_RUNNER_H */
