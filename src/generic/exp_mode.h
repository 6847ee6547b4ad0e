/*
 * generic/exp_mode.h - the modes of the vector layer's softmax exponential v_exp_neg(d, lo, mode)
 * (every src/<isa>/vec.h includes this; the generic CE kernel picks a mode per pixel block):
 *   SL_EXP_LEAN  every lane used has -87 <= d <= 0 and d is not subnormal: one scaling factor,
 *                no clamp, no test (the common case, chosen after checking the block)
 *   SL_EXP_TINY  -87 <= d <= 0, d may be subnormal: flushed to 0 first where subnormal operands
 *                cost a microcode assist (x86); exp is 1 either way
 *   SL_EXP_DEEP  any d <= 0 (or NaN): subnormal results rounded once, below -104 0
 */
#ifndef SL_GENERIC_EXP_MODE_H
#define SL_GENERIC_EXP_MODE_H
enum { SL_EXP_LEAN, SL_EXP_TINY, SL_EXP_DEEP };
#endif
