// SPDX-License-Identifier: MIT
/*
 * test_abi.c - the structs that carry their size (sl_options, sl_region) and the layout table:
 * the table lists every member (no gap but alignment padding), a caller's struct is read only
 * inside its size with the defaults beyond, sizes outside the rules are refused, and init writes
 * nothing beyond the size it is given. Heap blocks of exactly the caller's size make any access
 * beyond it an ASan report (make test-asan). tests/abi/old_header.c does the same through the
 * shared library with a program built against the 1.0 header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "harness.h"
#include "ops.h"
#include "sectionloss.h"

static const char *const public_structs[] = {"sl_shape", "sl_box", "sl_stats", "sl_region",
                                             "sl_options"};

static size_t round_up(size_t x, size_t a) {
  return (x + a - 1) / a * a;
}

/* Each struct's entry comes first, then its members in order, each at the next offset aligned to
 * its size (every member is a scalar or a pointer), and sizeof is the end rounded to the largest
 * member: a member missing from the table leaves a gap and fails. */
Test(abi, layout_lists_every_member) {
  size_t count = 0;
  const sl_layout_entry *t = sl_layout(&count);
  cr_assert(t != NULL && count > 0);
  cr_expect(sl_layout(NULL) == t);
  for (size_t s = 0; s < sizeof public_structs / sizeof public_structs[0]; s++) {
    size_t i = 0;
    while (i < count && !(t[i].field == NULL && strcmp(t[i].type, public_structs[s]) == 0))
      i++;
    cr_assert(i < count, "%s has no entry in sl_layout()", public_structs[s]);
    const size_t sizeof_struct = t[i].size;
    size_t end = 0, largest = 1, members = 0;
    for (i++; i < count && t[i].field && strcmp(t[i].type, public_structs[s]) == 0; i++) {
      cr_expect(t[i].offset == round_up(end, t[i].size), "%s.%s at offset %zu, want %zu",
                public_structs[s], t[i].field, t[i].offset, round_up(end, t[i].size));
      end = t[i].offset + t[i].size;
      largest = t[i].size > largest ? t[i].size : largest;
      members++;
    }
    cr_expect(members > 0 && sizeof_struct == round_up(end, largest),
              "%s: sizeof %zu, its members end at %zu", public_structs[s], sizeof_struct, end);
  }
  cr_expect(t[0].field == NULL && strcmp(t[0].type, "sl_shape") == 0 &&
            t[0].size == sizeof(sl_shape));
}

Test(abi, layout_matches_this_header) {
  size_t count;
  const sl_layout_entry *t = sl_layout(&count);
  int seen = 0;
  for (size_t i = 0; i < count; i++) {
    if (strcmp(t[i].type, "sl_options") != 0)
      continue;
    if (!t[i].field) {
      cr_expect(t[i].size == sizeof(sl_options));
      seen++;
    } else if (strcmp(t[i].field, "size") == 0) {
      cr_expect(t[i].offset == 0 && t[i].size == sizeof(size_t));
      seen++;
    } else if (strcmp(t[i].field, "dice_sums") == 0) {
      cr_expect(t[i].offset == offsetof(sl_options, dice_sums));
      seen++;
    }
  }
  cr_expect(seen == 3);
}

/* The growing structs have no tail padding on 64-bit targets, so a field appended later never
 * sits in an older caller's padding (sectionloss.h, "Fields added after 1.0"); abi.c finds their
 * members where it says. */
Test(abi, no_tail_padding) {
  const int lp64 = sizeof(void *) == 8;
  size_t count;
  const sl_layout_entry *t = sl_layout(&count);
  const sl_versioned *v[] = {&sl_options_versioned, &sl_region_versioned};
  for (int k = 0; k < 2; k++) {
    size_t end = 0;
    for (size_t i = 0; i < count; i++)
      if (t[i].field && strcmp(t[i].type, v[k]->type) == 0)
        end = t[i].offset + t[i].size;
    cr_expect(!lp64 || end == v[k]->ours, "%s: sizeof %zu, last member ends at %zu", v[k]->type,
              v[k]->ours, end);
    cr_expect(v[k]->min <= v[k]->ours);
    /* abi.c's index of its members in the table */
    cr_expect(
        strcmp(t[v[k]->first].type, v[k]->type) == 0 && strcmp(t[v[k]->first].field, "size") == 0 &&
            t[v[k]->first - 1].field == NULL &&
            (v[k]->first + v[k]->count == count || t[v[k]->first + v[k]->count].field == NULL),
        "%s: members at %zu, %zu of them", v[k]->type, v[k]->first, v[k]->count);
  }
}

/* An older caller, simulated: its header's sl_options ended before focal_gamma, as if every
 * field from focal_gamma on had been added after its release. Its fields are read, the later
 * ones are the defaults, and nothing beyond its size is read or written (a heap block of exactly
 * its size: ASan). */
typedef struct older_options {
  size_t size;
  sl_reduction reduction;
  const float *weight, *pos_weight;
  int64_t ignore_index;
  float label_smoothing, grad_scale;
  const float *grad_map;
  int num_threads;
  sl_stats *stats, *box_stats;
  const float *pixel_weight;
} older_options;
_Static_assert(sizeof(older_options) == offsetof(sl_options, focal_gamma) &&
                   offsetof(older_options, num_threads) == offsetof(sl_options, num_threads),
               "older_options is a prefix of sl_options");

/* Inits and reads an older_options in mem (at least its size), checks the values read and that
 * nothing beyond its size was written (the bytes of mem beyond it are 0xa5 on entry). */
static void check_older_caller(unsigned char *mem, size_t mem_size) {
  sl_versioned v = sl_options_versioned;
  v.min = sizeof(older_options);
  older_options *caller = (older_options *)(void *)mem;
  memset(mem, 0xa5, mem_size);
  cr_assert(sl_init_sized(&v, caller, sizeof *caller) == SL_OK);
  for (size_t i = sizeof *caller; i < mem_size; i++)
    cr_assert(mem[i] == 0xa5, "init wrote byte %zu, beyond the caller's size %zu", i,
              sizeof *caller);
  cr_expect(caller->size == sizeof *caller && caller->ignore_index == -100 &&
            caller->grad_scale == 1.0f && caller->num_threads == 0);
  caller->reduction = SL_REDUCTION_SUM;
  caller->num_threads = 3;
  caller->ignore_index = 7;
  sl_options got;
  memset(&got, 0x5a, sizeof got);
  cr_assert(sl_read_sized(&v, &got, caller) == SL_OK);
  const sl_options d = sl_options_default();
  cr_expect(got.size == sizeof(sl_options));
  cr_expect(got.reduction == SL_REDUCTION_SUM && got.num_threads == 3 && got.ignore_index == 7);
  cr_expect(got.focal_gamma == d.focal_gamma && got.focal_alpha == d.focal_alpha &&
                got.tversky_alpha == d.tversky_alpha && got.dice_eps == d.dice_eps &&
                got.dice_sums == NULL && got.dice_from_logits == 0,
            "a field beyond the caller's size was not the default (read beyond the size?)");
}

Test(abi, older_caller_gets_defaults_beyond_its_size) {
  /* In a block as large as sl_options whose bytes beyond the caller's struct are 0xa5: a read
   * beyond gives a wrong value, a write beyond a changed byte. */
  unsigned char *big = malloc(sizeof(sl_options));
  /* In a block of exactly the caller's size: any access beyond is an ASan report. */
  unsigned char *exact = malloc(sizeof(older_options));
  cr_assert(big && exact);
  check_older_caller(big, sizeof(sl_options));
  check_older_caller(exact, sizeof(older_options));
  free(big);
  free(exact);
}

/* init with a size: writes exactly the bytes inside it (canaries beyond stay). */
Test(abi, init_writes_only_inside_size) {
  enum { ROOM = sizeof(sl_options) + 64 };
  unsigned char buf[ROOM];
  /* below the 1.0 layout's end, the 1.0 layout (a 1.0 caller), this header's, a newer one's */
  const size_t size_1_0 = offsetof(sl_options, dice_sums) + sizeof(double *);
  const size_t sizes[] = {size_1_0 - 1, size_1_0, sizeof(sl_options), sizeof(sl_options) + 24};
  for (size_t k = 0; k < 4; k++) {
    memset(buf, 0xa5, sizeof buf);
    sl_status st = sl_options_init((sl_options *)(void *)buf, sizes[k]);
    cr_expect(st == (k == 0 ? SL_ERR_OPTIONS_SIZE : SL_OK), "size %zu: status %d", sizes[k], st);
    size_t written = k == 0 ? 0 : sizes[k];
    for (size_t i = written; i < sizeof buf; i++)
      cr_expect(buf[i] == 0xa5, "size %zu: byte %zu written", sizes[k], i);
    for (size_t i = sizeof(sl_options); i < written; i++)
      cr_expect(buf[i] == 0, "size %zu: byte %zu beyond sl_options not zeroed", sizes[k], i);
  }
  cr_expect(sl_options_init(NULL, sizeof(sl_options)) == SL_ERR_NULL_POINTER);
  cr_expect(sl_region_init(NULL, sizeof(sl_region)) == SL_ERR_NULL_POINTER);
  sl_region r = sl_region_default();
  cr_expect(r.size == sizeof r && r.boxes == NULL && r.num_boxes == 0 && r.mask == NULL &&
            r.mask_channels == 1 && r.box_offsets == NULL);
}

/* Sizes through a real call: too small, zero, garbage, and larger (a newer caller) with a zero
 * or a nonzero tail. */
Test(abi, sizes_in_calls) {
  const sl_shape shape = {1, 1, 2, 2};
  const float p[4] = {0.25f, 0.5f, 0.75f, 0.5f}, t[4] = {0, 1, 1, 0};
  float loss = -1.0f;
  enum { BIG = sizeof(sl_options) + 32, BIGR = sizeof(sl_region) + 32 };
  unsigned char *ob = calloc(1, BIG), *rb = calloc(1, BIGR);
  cr_assert(ob && rb);
  sl_options *o = (sl_options *)(void *)ob;
  sl_region *r = (sl_region *)(void *)rb;
  cr_assert(sl_options_init(o, BIG) == SL_OK && sl_region_init(r, BIGR) == SL_OK);
  cr_expect(sl_bce(&shape, p, t, r, o, &loss, NULL) == SL_OK);
  ob[BIG - 1] = 1;
  cr_expect(sl_bce(&shape, p, t, r, o, &loss, NULL) == SL_ERR_OPTIONS_SIZE);
  ob[BIG - 1] = 0;
  rb[sizeof(sl_region)] = 1;
  cr_expect(sl_bce(&shape, p, t, r, o, &loss, NULL) == SL_ERR_REGION_SIZE);
  rb[sizeof(sl_region)] = 0;
  const size_t end_1_0 = offsetof(sl_options, dice_sums) + sizeof(double *); /* 1.0's size */
  const size_t bad[] = {0, 1, sizeof(size_t), end_1_0 - 1, 4097, SIZE_MAX};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    o->size = bad[k];
    loss = -1.0f;
    cr_expect(sl_bce(&shape, p, t, NULL, o, &loss, NULL) == SL_ERR_OPTIONS_SIZE, "size %zu",
              bad[k]);
    cr_expect(loss == -1.0f);
  }
  o->size = sizeof(sl_options);
  r->size = sizeof(sl_region) - 1;
  cr_expect(sl_bce(&shape, p, t, r, o, &loss, NULL) == SL_ERR_REGION_SIZE);
  r->size = 0;
  cr_expect(sl_bce(&shape, p, t, r, o, &loss, NULL) == SL_ERR_REGION_SIZE);
  free(ob);
  free(rb);
}

Test(abi, size_messages_name_the_bound) {
  const char *m = sl_status_string(SL_ERR_OPTIONS_SIZE), *r = sl_status_string(SL_ERR_REGION_SIZE);
  cr_expect(strstr(m, "options->size") && strstr(m, "sl_options_init"), "%s", m);
  cr_expect(strstr(r, "region->size") && strstr(r, "sl_region_init"), "%s", r);
  if (sizeof(void *) == 8) {
    cr_expect(strstr(m, "136 bytes") != NULL, "%s", m);
    cr_expect(strstr(r, "48 bytes") != NULL, "%s", r);
  }
}

/* sl_losses(): the registry's losses in the tests' numbering (t_op, tests/ops.h: the same source)
 * with the signature t_call uses; the 1.0 entries keep their place and values (bindings may rely on
 * them), later losses are appended. */
Test(abi, losses_table) {
  static const sl_loss_entry v1_0[] = {{"bce", "sl_bce", 0, SL_MAP_ELEMENT},
                                       {"bce_logits", "sl_bce_logits", 0, SL_MAP_ELEMENT},
                                       {"ce", "sl_ce", 1, SL_MAP_PIXEL},
                                       {"softmax_focal", "sl_softmax_focal", 1, SL_MAP_PIXEL},
                                       {"sigmoid_focal", "sl_sigmoid_focal", 0, SL_MAP_ELEMENT},
                                       {"dice", "sl_dice", 0, SL_MAP_CLASS},
                                       {"dice_mc", "sl_dice_multiclass", 1, SL_MAP_CLASS}};
  size_t count = 0;
  const sl_loss_entry *t = sl_losses(&count);
  cr_assert(t != NULL && sl_losses(NULL) == t);
  cr_assert(count == (size_t)T_NUM_OPS, "%zu entries, t_op has %d", count, (int)T_NUM_OPS);
  cr_assert(count >= sizeof v1_0 / sizeof v1_0[0]);
  for (size_t i = 0; i < count; i++) {
    cr_expect(strcmp(t[i].name, t_op_name((t_op)i)) == 0, "entry %zu: %s", i, t[i].name);
    cr_expect(t[i].labels == t_op_labels((t_op)i), "%s: labels %d", t[i].name, t[i].labels);
    cr_expect(t[i].map <= SL_MAP_CLASS, "%s: map %d", t[i].name, (int)t[i].map);
    if (i < sizeof v1_0 / sizeof v1_0[0]) {
      const sl_loss_entry *v = &v1_0[i];
      cr_expect(strcmp(t[i].name, v->name) == 0 && strcmp(t[i].function, v->function) == 0 &&
                    t[i].labels == v->labels && t[i].map == v->map,
                "entry %zu: %s %s %d %d, in 1.0 %s %s %d %d", i, t[i].name, t[i].function,
                t[i].labels, (int)t[i].map, v->name, v->function, v->labels, (int)v->map);
    }
    for (size_t k = 0; k < i; k++)
      cr_expect(strcmp(t[i].name, t[k].name) != 0 && strcmp(t[i].function, t[k].function) != 0,
                "entries %zu and %zu: %s", k, i, t[i].name);
  }
}
