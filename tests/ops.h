// SPDX-License-Identifier: MIT
/*
 * ops.h - the tests' numbering of the losses, generated from the library's registry
 * (src/losses.def): T_<OP> has the value of the library's SL_OP_<OP>. Shared by tests/util.h
 * (the test cases), tests/contract.h (ct_call, ct_elem_err) and the fuzzers. Header-only.
 */
#ifndef SL_TEST_OPS_H
#define SL_TEST_OPS_H

typedef enum t_op {
#define SL_LOSS(OP, name, function, input, map, driver) T_##OP,
#include "../src/losses.def"
  T_NUM_OPS
} t_op;

/* 1 for the ops with labels [N,H,W] and a softmax over C (CE, softmax focal, multiclass Dice). */
enum { T_INPUT_TARGETS = 0, T_INPUT_LABELS = 1 };
static inline int t_op_labels(t_op op) {
  static const unsigned char labels[T_NUM_OPS] = {
#define SL_LOSS(OP, name, function, input, map, driver) [T_##OP] = T_INPUT_##input,
#include "../src/losses.def"
  };
  return labels[op];
}

/* The registry's short name of op ("bce", "ce", ...). */
static inline const char *t_op_name(t_op op) {
  static const char *const names[T_NUM_OPS] = {
#define SL_LOSS(OP, name, function, input, map, driver) [T_##OP] = #name,
#include "../src/losses.def"
  };
  return names[op];
}

#endif /* SL_TEST_OPS_H */
