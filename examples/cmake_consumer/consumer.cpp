// SPDX-License-Identifier: MIT
// consumer.cpp - C++ use of the installed library: BCE in a box, checked against a direct sum.
#include <sectionloss.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

int main() {
  const sl_shape shape = {2, 1, 8, 8};
  const size_t count = 2 * 8 * 8;
  std::vector<float> prob(count), target(count), grad(count);
  for (size_t i = 0; i < count; i++) {
    prob[i] = 0.05f + 0.9f * static_cast<float>((i * 37) % 101) / 100.0f;
    target[i] = static_cast<float>(i % 2);
  }
  const sl_box box = {1, 2, 7, 6};
  sl_region region = sl_region_default();
  region.boxes = &box;
  region.num_boxes = 1;
  const sl_options opt = sl_options_default();
  float loss = 0.0f;
  const sl_status s = sl_bce(&shape, prob.data(), target.data(), &region, &opt, &loss, grad.data());
  if (s != SL_OK) {
    std::fprintf(stderr, "sl_bce: %s\n", sl_status_string(s));
    return 1;
  }
  double sum = 0.0;
  int selected = 0;
  for (int n = 0; n < 2; n++)
    for (int y = box.y1; y < box.y2; y++)
      for (int x = box.x1; x < box.x2; x++) {
        const size_t i = static_cast<size_t>((n * 8 + y) * 8 + x);
        sum -= target[i] * std::log(prob[i]) + (1 - target[i]) * std::log(1 - prob[i]);
        selected++;
      }
  const double want = sum / selected;
  std::printf("sectionloss %s (header %d): loss %.7g, direct %.7g\n", sl_version(),
              SL_VERSION_NUMBER, static_cast<double>(loss), want);
  char header_version[32];
  std::snprintf(header_version, sizeof header_version, "%d.%d.%d", SL_VERSION_MAJOR,
                SL_VERSION_MINOR, SL_VERSION_PATCH);
  if (std::strcmp(sl_version(), header_version) != 0 ||
      std::fabs(loss - want) > 1e-5 * std::fabs(want))
    return 1;
  return 0;
}
