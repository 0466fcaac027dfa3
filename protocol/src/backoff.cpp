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

uint64_t jitter_random::next() noexcept {
  // splitmix64 (Steele, Lea, Flood 2014): passes BigCrush, one add per step.
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double jitter_random::next_unit() noexcept {
  // The top 53 bits fill a double's mantissa exactly: the result is < 1.
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

} // namespace phx::protocol
