// Private: the io threads, their websocketpp endpoints and the TLS context
// cache behind `phx::transport::io_runtime`.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "phx/transport/transport.hpp"

#include "wspp.hpp"

namespace phx::transport {

/// One io thread: its own io_context and one client endpoint per scheme.
/// Everything but `post`ing to `ioc` happens on `thread` only.
struct io_thread {
  /// Applied to the TLS stream of the connection being created (host name
  /// verification, logging of the verification failure).
  using stream_setup =
    std::function<void(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>&)>;

  explicit io_thread(const detail::log_hub& hub);
  ~io_thread();
  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;

  /// Concurrency hint 1: exactly one thread runs this context.
  boost::asio::io_context ioc{1};
  /// Keeps `ioc.run()` alive while there is nothing to do.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
  /// The `ws://` endpoint of this thread.
  detail::ws_client ws;
  /// The `wss://` endpoint of this thread.
  detail::wss_client wss;
  /// Masking keys of outbound data frames.
  detail::masking_rng rng;
  /// TLS context and stream setup of the connection being created: websocketpp
  /// asks for them synchronously inside `get_connection`.
  std::shared_ptr<boost::asio::ssl::context> next_tls_context;
  stream_setup next_stream_setup;
  /// The thread running `ioc`.
  std::thread thread;
};

/// The implementation of `io_runtime` (private to the transport).
class io_runtime_impl {
public:
  io_runtime_impl(size_t threads);
  ~io_runtime_impl();

  /// The io thread of the next connection (round-robin).
  io_thread& next() noexcept;

  /// Number of io threads.
  size_t size() const noexcept { return threads_.size(); }

  /// The io thread at `i` (< size()).
  io_thread& at(size_t i) noexcept { return *threads_[i]; }

  /// The runtime's log sink (websocketpp lines and transports without a sink).
  detail::log_hub& hub() noexcept { return hub_; }

  /// Live connections (io-side states).
  std::atomic<size_t>& connections() noexcept { return connections_; }

  /// A TLS client context for these options, shared by every connection
  /// with the same options; null with a reason in `error` if a file fails.
  std::shared_ptr<boost::asio::ssl::context>
  tls_context(const tls_options& opts, std::string& error);

private:
  // Declared first, destroyed last: io-side states destroyed with the io
  // contexts still decrement it.
  std::atomic<size_t> connections_{0};
  detail::log_hub hub_;
  std::mutex tls_mtx_;
  std::map<std::string, std::weak_ptr<boost::asio::ssl::context>> tls_cache_;
  std::atomic<size_t> next_{0};
  std::vector<std::unique_ptr<io_thread>> threads_;
};

} // namespace phx::transport
