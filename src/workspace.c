// SPDX-License-Identifier: MIT
/*
 * workspace.c - per-thread scratch buffers (semantics: workspace.h).
 */
#include "workspace.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct sl_ws {
  void *p[SL_WS_SLOTS];
  size_t n[SL_WS_SLOTS];
} sl_ws;

int sl__workspace_fail = 0;

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static int ws_key_ok;

/* the key's destructor: a thread exits */
static void ws_free(void *v) {
  sl_ws *w = v;
  for (int s = 0; s < SL_WS_SLOTS; s++)
    free(w->p[s]);
  free(w);
}

static void ws_make_key(void) {
  ws_key_ok = pthread_key_create(&ws_key, ws_free) == 0;
}

/* The library unloaded (dlclose) while threads live: no destructor may point into it then.
 * Their buffers are leaked, never freed by code that is gone. */
__attribute__((destructor)) static void ws_unload(void) {
  if (ws_key_ok)
    pthread_key_delete(ws_key);
}

void *sl_workspace(sl_ws_slot slot, size_t bytes) {
  if (pthread_once(&ws_once, ws_make_key) != 0 || !ws_key_ok)
    return NULL;
  sl_ws *w = pthread_getspecific(ws_key);
  if (!w) {
    w = sl__workspace_fail ? NULL : calloc(1, sizeof *w);
    if (!w)
      return NULL;
    if (pthread_setspecific(ws_key, w) != 0) {
      free(w);
      return NULL;
    }
  }
  if (w->n[slot] < bytes) {
    size_t size = (bytes + 63) / 64 * 64; /* aligned_alloc: a multiple of the alignment */
    void *p = sl__workspace_fail ? NULL : aligned_alloc(64, size);
    if (!p)
      return NULL;
    free(w->p[slot]);
    w->p[slot] = p;
    w->n[slot] = size;
  }
  return w->p[slot];
}
