// SPDX-License-Identifier: MIT
/*
 * test_api.c - the small public API: version, default options, ISA names / availability /
 * selection, and the effect of SECTIONLOSS_ISA on the ISA active at start.
 */
#define _POSIX_C_SOURCE 200112L /* setenv, unsetenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sectionloss.h"

Test(api, version) {
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", SL_VERSION_MAJOR, SL_VERSION_MINOR, SL_VERSION_PATCH);
  cr_assert(sl_version() != NULL);
  cr_assert(strcmp(sl_version(), want) == 0, "sl_version() = \"%s\", want \"%s\"", sl_version(),
            want);
}

Test(api, options_default) {
  sl_options o = sl_options_default();
  cr_expect(o.reduction == SL_REDUCTION_MEAN);
  cr_expect(o.weight == NULL);
  cr_expect(o.pos_weight == NULL);
  cr_expect(o.ignore_index == -100, "ignore_index %lld", (long long)o.ignore_index);
  cr_expect(o.label_smoothing == 0.0f);
  cr_expect(o.grad_scale == 1.0f);
  cr_expect(o.grad_map == NULL);
  cr_expect(o.num_threads == 0);
  cr_expect(o.stats == NULL);
}

Test(api, isa_names) {
  cr_expect(strcmp(sl_isa_name(SL_ISA_SCALAR), "scalar") == 0);
  cr_expect(strcmp(sl_isa_name(SL_ISA_AVX2), "avx2") == 0);
  cr_expect(strcmp(sl_isa_name(SL_ISA_NEON), "neon") == 0);
  cr_expect(strcmp(sl_isa_name(SL_ISA_AVX512), "avx512") == 0);
  cr_expect(strcmp(sl_isa_name(SL_ISA_COUNT_), "unknown") == 0);
  cr_expect(strcmp(sl_isa_name((sl_isa)-1), "unknown") == 0);
  cr_expect(strcmp(sl_isa_name((sl_isa)12345), "unknown") == 0);
}

/* SECTIONLOSS_ISA set to something the library ignores is reported (each test runs in its own
 * process: setenv does not leak). */
Test(api, isa_env_status) {
  unsetenv("SECTIONLOSS_ISA");
  cr_expect(sl_isa_env_status() == SL_OK);
  setenv("SECTIONLOSS_ISA", "scalar", 1);
  cr_expect(sl_isa_env_status() == SL_OK);
  const char *bad[] = {"AVX2", "", "sse2", "avx2 "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    setenv("SECTIONLOSS_ISA", bad[i], 1);
    cr_expect(sl_isa_env_status() == SL_ERR_ISA_UNAVAILABLE, "\"%s\"", bad[i]);
  }
  for (int isa = 0; isa < SL_ISA_COUNT_; isa++) {
    setenv("SECTIONLOSS_ISA", sl_isa_name((sl_isa)isa), 1);
    cr_expect((sl_isa_env_status() == SL_OK) == (sl_isa_available((sl_isa)isa) == 1), "%s",
              sl_isa_name((sl_isa)isa));
  }
}

Test(api, isa_available) {
  cr_expect(sl_isa_available(SL_ISA_SCALAR) == 1);
  cr_expect(sl_isa_available(SL_ISA_COUNT_) == 0);
  cr_expect(sl_isa_available((sl_isa)-1) == 0);
  for (int i = 0; i < SL_ISA_COUNT_; i++)
    cr_expect(sl_isa_available((sl_isa)i) == 0 || sl_isa_available((sl_isa)i) == 1);
#if defined(__x86_64__) && !defined(SL_NEON_SIMDE)
  cr_expect(sl_isa_available(SL_ISA_NEON) == 0, "NEON cannot be available on x86-64");
#endif
#if defined(__aarch64__)
  cr_expect(sl_isa_available(SL_ISA_NEON) == 1, "NEON is always available on AArch64");
  cr_expect(sl_isa_available(SL_ISA_AVX2) == 0);
  cr_expect(sl_isa_available(SL_ISA_AVX512) == 0);
#endif
  /* AVX-512 is never available without AVX2 (it requires AVX2 + FMA as well). */
  cr_expect(!sl_isa_available(SL_ISA_AVX512) || sl_isa_available(SL_ISA_AVX2));
  cr_expect(sl_isa_available(sl_isa_active()) == 1);
}

Test(api, isa_set_and_restore) {
  sl_isa start = sl_isa_active();
  cr_assert(sl_isa_set(SL_ISA_SCALAR) == SL_OK);
  int ok = sl_isa_active() == SL_ISA_SCALAR;
  for (int i = 0; i < SL_ISA_COUNT_; i++) {
    sl_status s = sl_isa_set((sl_isa)i);
    if (sl_isa_available((sl_isa)i)) {
      ok &= s == SL_OK && sl_isa_active() == (sl_isa)i;
    } else {
      ok &= s == SL_ERR_ISA_UNAVAILABLE && sl_isa_active() != (sl_isa)i;
    }
  }
  sl_status bad1 = sl_isa_set(SL_ISA_COUNT_), bad2 = sl_isa_set((sl_isa)-1);
  sl_isa before_bad = sl_isa_active();
  sl_isa_set(start);
  cr_assert(ok, "sl_isa_set / sl_isa_active disagree with sl_isa_available");
  cr_expect(bad1 == SL_ERR_ISA_UNAVAILABLE && bad2 == SL_ERR_ISA_UNAVAILABLE);
  cr_expect(sl_isa_active() == start);
  (void)before_bad;
}

/* The ISA active at the start of the process is the one SECTIONLOSS_ISA names, when available;
 * otherwise the best available one. (Criterion forks per test; the mini runner checks that no
 * test leaves the ISA changed, so in both the active ISA here is the start-up choice.) */
Test(api, env_isa) {
  const char *env = getenv("SECTIONLOSS_ISA");
  sl_isa active = sl_isa_active();
  /* dispatch.c's preference order, best first */
  const sl_isa order[] = {SL_ISA_AVX512, SL_ISA_AVX2, SL_ISA_NEON, SL_ISA_SCALAR};
  sl_isa best = SL_ISA_SCALAR;
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    if (sl_isa_available(order[i])) {
      best = order[i];
      break;
    }
  int named = -1;
  for (int i = 0; env && i < SL_ISA_COUNT_; i++)
    if (strcmp(env, sl_isa_name((sl_isa)i)) == 0)
      named = i;
  if (named >= 0 && sl_isa_available((sl_isa)named)) {
    cr_assert(active == (sl_isa)named, "SECTIONLOSS_ISA=%s but the active ISA is %s", env,
              sl_isa_name(active));
  } else {
    cr_log_info("SECTIONLOSS_ISA=%s names no available ISA: expecting the best one, %s",
                env ? env : "(unset)", sl_isa_name(best));
    cr_assert(active == best, "active ISA %s, best available %s", sl_isa_name(active),
              sl_isa_name(best));
  }
}
