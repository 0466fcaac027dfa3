#pragma once

#include <cstdint>
#include <functional>

namespace phx::protocol {

/// A backoff function: delay in milliseconds for attempt `tries` (from 1).
using backoff_fn = std::function<int64_t(uint32_t tries)>;

/// phoenix.cr's reconnect steps: 1 s, 2 s, 5 s, 10 s, then 10 s.
int64_t default_reconnect_after_ms(uint32_t tries) noexcept;

/// phoenix.js's rejoin steps: 1 s, 2 s, 5 s, then 10 s.
int64_t default_rejoin_after_ms(uint32_t tries) noexcept;

/// Adds jitter: `delay_ms + floor(jitter_ms * unit_random)`, with
/// `unit_random` in [0, 1). A fleet spreads its reconnects over `jitter_ms`.
int64_t jittered(int64_t delay_ms, int64_t jitter_ms,
                 double unit_random) noexcept;

/// The random source of jitter: splitmix64, 8 bytes of state (a
/// `std::mt19937_64` costs 2.5 KiB per socket and per channel).
class jitter_random {
public:
  /// Starts the sequence at `seed`; equal seeds give equal sequences.
  explicit jitter_random(uint64_t seed) noexcept : state_(seed) {}

  /// The next 64 random bits.
  uint64_t next() noexcept;

  /// The next number, uniform in [0, 1).
  double next_unit() noexcept;

private:
  uint64_t state_;
};

} // namespace phx::protocol
