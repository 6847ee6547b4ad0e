// SPDX-License-Identifier: MIT
/*
 * golden_check.h - the library's float results against golden float64 values (PyTorch's loss
 * and autograd gradient in float64: tests/gen_golden_*.py), shared by the golden suites
 * (test_golden_focal.c, test_golden_ce_prob.c).
 *
 * Tolerance: |ours - golden| <= R 2^-24 (|golden| + scale) + ct_ulp(golden), R the loss's bound
 * against the scalar reference (docs/accuracy.md) plus the reference's own roundings: the golden
 * values are the exact function to about 1e-15, so this is the library's accuracy, not PyTorch's
 * float32 rounding. scale (per element; the sum of |terms| over the normaliser for a reduced
 * loss) is the magnitude of the terms the value is the difference of; ct_ulp(golden) is the
 * float result's own rounding (a golden 1e-47 is a float 0). NaN matches NaN.
 */
#ifndef SL_TEST_GOLDEN_CHECK_H
#define SL_TEST_GOLDEN_CHECK_H

#include <math.h>
#include <stdint.h>

#include "contract.h"
#include "harness.h"
#include "sectionloss.h"

/* The elements of got[0 .. n) outside the tolerance, each reported (case name, what, index),
 * stopping at the first (budget - failures so far) of them; returns their count. */
static inline int golden_check(const char *name, const char *what, const float *got,
                               const double *want, const double *scale, int64_t n, double r,
                               int budget) {
  int fails = 0;
  for (int64_t i = 0; i < n && fails < budget; i++) {
    double tol = r * 0x1p-24 * (fabs(want[i]) + scale[i]) + ct_ulp(want[i]);
    if (fabs((double)got[i] - want[i]) <= tol || (isnan(got[i]) && isnan(want[i])))
      continue;
    cr_expect(0, "%s (%s): %s[%lld] %.9g, golden %.12g (scale %g, %.3g of the tolerance)", name,
              sl_isa_name(sl_isa_active()), what, (long long)i, (double)got[i], want[i], scale[i],
              fabs((double)got[i] - want[i]) / tol);
    fails++;
  }
  return fails;
}

#endif /* SL_TEST_GOLDEN_CHECK_H */
