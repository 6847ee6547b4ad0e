// SPDX-License-Identifier: MIT
/*
 * workspace.h - per-thread scratch memory, so that no kernel or driver keeps a large array on
 * the calling thread's stack (every entry point runs in a thread with a 64 KiB stack:
 * tests/test_stack.c).
 *
 * Each thread owns one buffer per slot, allocated on its first use (64-byte aligned), grown
 * only when a larger size is asked for (its contents are then not kept), kept for the thread's
 * life and freed when the thread exits (a pthread key's destructor). OpenMP's threads persist
 * across parallel regions, so a thread allocates once and later calls allocate nothing: fresh
 * pages cost 0.4-2.5 ms per MB, far more than a small call. Chosen over a caller-passed
 * workspace (an sl_workspace argument) because it needs no new parameter, and the size is the
 * library's business (it depends on the ISA's vector width).
 *
 * Slots keep the users apart: SL_WS_KERNEL is the row kernels' scratch (the driver fetches it
 * in each thread of a parallel region and passes it in the row: sl_ce_row.ws,
 * sl_dice_mc_row.ws), SL_WS_DICE the Dice driver's per-call arrays on the calling thread, live
 * while that thread also runs kernels, SL_WS_OHEM the calling thread's OHEM values (4 bytes a
 * pixel of the call, src/loss_ce.c) and selection histogram. Failure: the calling thread's buffer
 * is fetched before anything is written (SL_ERR_NO_MEMORY, nothing written); an OpenMP thread that
 * cannot get its own takes no chunk, and the others do its share (sl_run_chunks). The main thread's
 * buffers are not freed at exit (the C library runs no key destructor for it): still reachable,
 * never lost.
 */
#ifndef SL_WORKSPACE_H
#define SL_WORKSPACE_H

#include <stddef.h>

typedef enum sl_ws_slot { SL_WS_KERNEL, SL_WS_DICE, SL_WS_OHEM, SL_WS_SLOTS } sl_ws_slot;

/* The calling thread's buffer of slot, at least bytes, 64-byte aligned; NULL when it cannot be
 * allocated (the caller returns SL_ERR_NO_MEMORY). A pointer stays valid until the same thread
 * asks the same slot for more bytes, or exits. */
void *sl_workspace(sl_ws_slot slot, size_t bytes);

/* Nonzero: every allocation sl_workspace would make fails (a buffer a thread already has is
 * still returned). Not exported from the shared library: tests/test_stack.c sets it while no
 * other call runs, to check the SL_ERR_NO_MEMORY path. */
extern int sl__workspace_fail;

#endif /* SL_WORKSPACE_H */
