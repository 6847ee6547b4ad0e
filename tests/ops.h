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

/* 1 for the per-pixel losses over a softmax of C classes (the registry's PIXEL map: CE, softmax
 * focal, and CE with probability targets, whose targets are [N,C,H,W]): class weights [C], pixel
 * weights, a one-channel mask, an [N,H,W] loss map. */
enum { T_MAP_ELEMENT = 0, T_MAP_PIXEL = 1, T_MAP_CLASS = 2 };
static inline int t_op_pixel(t_op op) {
  static const unsigned char maps[T_NUM_OPS] = {
#define SL_LOSS(OP, name, function, input, map, driver) [T_##OP] = T_MAP_##map,
#include "../src/losses.def"
  };
  return maps[op] == T_MAP_PIXEL;
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
