#include "phx/protocol/backoff.hpp"

#include <cmath>

namespace phx::protocol {

int64_t default_reconnect_after_ms(uint32_t tries) noexcept {
  static constexpr int64_t steps[] = {1000, 2000, 5000, 10000};
  return tries >= 1 && tries <= 4 ? steps[tries - 1] : 10000;
}

int64_t default_rejoin_after_ms(uint32_t tries) noexcept {
  static constexpr int64_t steps[] = {1000, 2000, 5000};
  return tries >= 1 && tries <= 3 ? steps[tries - 1] : 10000;
}

int64_t jittered(int64_t delay_ms, int64_t jitter_ms,
                 double unit_random) noexcept {
  if (jitter_ms <= 0 || !(unit_random >= 0.0))
    return delay_ms;
  if (unit_random >= 1.0)
    unit_random = std::nextafter(1.0, 0.0);
  return delay_ms
         + static_cast<int64_t>(std::floor(static_cast<double>(jitter_ms) * unit_random));
}

} // namespace phx::protocol
