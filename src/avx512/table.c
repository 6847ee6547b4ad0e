/*
 * avx512/table.c - the AVX-512 (F+BW+DQ+VL, with AVX2 + FMA) function table. dispatch.c
 * selects it, before AVX2, when cpu_x86.c reports those features and XCR0 shows the OS saves
 * opmask and ZMM state.
 *
 * TEMPORARY: until the generic kernels of kernel generation 2 (issue 10: src/generic/ over a
 * per-ISA vector layer) are built for AVX-512 against src/avx512/vec.h, this table points at the
 * AVX2 + FMA kernel functions, so forcing avx512 runs exactly the AVX2 code. The vector math of
 * src/avx512/vmath.h is checked on its own (make test-exhaustive-avx512) and timed by
 * make bench-avx512-probe. Replace the three entries with the _avx512_ builds of the generic
 * kernels.
 */
#include "avx2/avx2.h"

const sl_kernels sl_kernels_avx512 = {
    .isa = SL_ISA_AVX512,
    .bce_prob = sl_bce_prob__avx2_u8,     /* temporary: AVX2 kernel */
    .bce_logits = sl_bce_logits__avx2_u8, /* temporary: AVX2 kernel */
    .ce = sl_ce__avx2_u8,                 /* temporary: AVX2 kernel */
};
