// SPDX-License-Identifier: MIT
/*
 * abi.h - the structs that carry their size (sl_options, sl_region): defaults and reading a
 * caller's struct by its size (abi.c), for api.c and the tests.
 */
#ifndef SL_ABI_H
#define SL_ABI_H

#include "sectionloss.h"

#include <stddef.h>

/* A struct that carries its size: its name, where its members are in the layout table
 * (sl_layout: first, the size member, and count of them), the end of its 1.0 layout (the
 * smallest valid size), this library's sizeof, its status for a bad size, and its defaults
 * (writes a whole struct of this library's size). */
typedef struct sl_versioned {
  const char *type;
  size_t first, count;
  size_t min, ours;
  sl_status bad_size;
  void (*defaults)(void *);
} sl_versioned;

extern const sl_versioned sl_options_versioned, sl_region_versioned;

/* The defaults into the caller's struct s of the given size (size set too), writing only inside
 * it: the fields that end within size, zeros beyond this library's sizeof. v->bad_size (nothing
 * written) for size < v->min. */
sl_status sl_init_sized(const sl_versioned *v, void *s, size_t size);

/* *dst (this library's struct) = the defaults, then every field of *src that ends within the size
 * src carries (src NULL: the defaults alone); nothing of src is read beyond that size.
 * v->bad_size (dst then unspecified) for a size below v->min, or above v->ours with a nonzero
 * byte beyond v->ours. */
sl_status sl_read_sized(const sl_versioned *v, void *dst, const void *src);

/* The bounds of a valid size on 64-bit targets, as text for sl_status_string (abi.c checks them
 * at compile time): the end of the 1.0 layout and this library's sizeof. */
#define SL_OPTIONS_SIZE_1_0_LP64 136
#define SL_OPTIONS_SIZE_LP64     168
#define SL_REGION_SIZE_1_0_LP64  48
#define SL_REGION_SIZE_LP64      48

#endif /* SL_ABI_H */
