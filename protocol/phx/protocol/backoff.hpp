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

} // namespace phx::protocol
