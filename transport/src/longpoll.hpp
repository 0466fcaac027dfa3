// Private: the io side of a long-poll connection (phoenix.js's `LongPoll`),
// the second implementation of `detail::connection`.
#pragma once

#include <memory>

#include "connection.hpp"

namespace phx::transport {

struct io_thread;

namespace detail {

/// Most frames one POST carries (phoenix.js's `MAX_LONGPOLL_BATCH_SIZE`;
/// Phoenix reads no more lines of one body).
constexpr size_t max_long_poll_batch = 100;

/// Creates the io side of a long-poll connection on `io` (the thread whose
/// websocketpp endpoints serve the WebSocket connections) and starts its
/// first poll. `params.req.url` is the full `http(s)://.../longpoll?...` URL.
std::shared_ptr<connection> start_longpoll(io_runtime_impl& rt, io_thread& io,
                                           connection_params params);

} // namespace detail
} // namespace phx::transport
