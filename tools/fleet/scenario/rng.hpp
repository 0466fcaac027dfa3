#pragma once

// The random generator of a virtual user: splitmix64, 8 bytes of state
// (std::mt19937_64 holds 2.5 KiB, a tenth of a user's whole memory budget).

#include <cstdint>
#include <limits>

namespace phx::fleet {

/// A UniformRandomBitGenerator for the std distributions; deterministic from its seed.
class rng {
public:
  using result_type = uint64_t;

  /// A generator whose sequence depends on `seed` only.
  explicit rng(uint64_t seed = 0) noexcept : state_(seed) {}

  /// Restarts the sequence from `seed`.
  void seed(uint64_t seed) noexcept { state_ = seed; }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<uint64_t>::max(); }

  /// The next number.
  result_type operator()() noexcept {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

private:
  uint64_t state_;
};

} // namespace phx::fleet
