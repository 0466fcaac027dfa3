#include "phx/transport/transport.hpp"

#include <cstring>
#include <exception>
#include <random>

#ifdef __linux__
#  include <pthread.h>
#endif

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "phx/protocol/url.hpp"

#include "io_runtime_impl.hpp"

namespace phx::transport {

// -- log hub and websocketpp logging -------------------------------------------

namespace detail {

void log_hub::set(protocol::log_sink sink) {
  std::shared_ptr<const protocol::log_sink> ptr;
  if (sink)
    ptr = std::make_shared<const protocol::log_sink>(std::move(sink));
  std::lock_guard<std::mutex> guard{mtx_};
  enabled_.store(ptr != nullptr, std::memory_order_relaxed);
  sink_ = std::move(ptr);
}

void log_hub::write(protocol::log_level level, std::string_view component,
                    std::string_view text) const {
  std::shared_ptr<const protocol::log_sink> sink;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    sink = sink_;
  }
  // Called outside the lock: a sink may log again or take its own locks.
  if (sink)
    (*sink)(level, component, text);
}

std::string redact_log_line(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == '"') {
      // A quoted text (websocketpp quotes the User-Agent): drop its content.
      auto end = line.find('"', i + 1);
      out += "\"REDACTED\"";
      if (end == std::string_view::npos)
        break;
      i = end + 1;
      continue;
    }
    auto end = line.find_first_of(" \t\"", i);
    if (end == i) {
      out += line[i++];
      continue;
    }
    auto word = line.substr(i, end == std::string_view::npos ? end : end - i);
    if (word.find('?') != std::string_view::npos)
      out += protocol::redact_url(word);
    else
      out += word;
    i += word.size();
  }
  return out;
}

protocol::log_level wspp_level(websocketpp::log::level channel,
                               bool error_channel) noexcept {
  namespace el = websocketpp::log;
  if (!error_channel)
    return protocol::log_level::debug;
  if (channel & el::elevel::fatal)
    return protocol::log_level::error;
  if (channel & (el::elevel::rerror | el::elevel::warn))
    return protocol::log_level::info;
  if (channel & el::elevel::info)
    return protocol::log_level::debug;
  return protocol::log_level::trace;
}

void masking_rng::refill() {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(keys_.data()),
                 static_cast<int>(sizeof(keys_)))
      != 1) {
    // OpenSSL's generator failed (it does not in practice): fall back to the
    // OS generator rather than sending predictable keys.
    std::random_device dev;
    for (auto& key : keys_)
      key = dev();
  }
  next_ = 0;
}

} // namespace detail

// -- io thread ---------------------------------------------------------------------

namespace {

/// Set on the io threads of the runtime.
thread_local bool is_io_thread = false;

template <class Config>
void init_endpoint(websocketpp::client<Config>& client, boost::asio::io_context& ioc,
                   const detail::log_hub& hub) {
  client.get_alog().set_hub(&hub);
  client.get_elog().set_hub(&hub);
  client.clear_access_channels(websocketpp::log::alevel::all);
  client.clear_error_channels(websocketpp::log::elevel::all);
  client.set_access_channels(Config::alog_level);
  client.set_error_channels(Config::elog_level);
  client.set_user_agent("phx");
  client.init_asio(&ioc);
}

} // namespace

io_thread::io_thread(const detail::log_hub& hub)
  : work(boost::asio::make_work_guard(ioc)) {
  init_endpoint(ws, ioc, hub);
  init_endpoint(wss, ioc, hub);
  // websocketpp asks for the TLS context and lets us set the stream up while
  // it creates a connection: hand over what the creating call prepared.
  wss.set_tls_init_handler([this](websocketpp::connection_hdl) {
    return std::move(next_tls_context);
  });
  wss.set_socket_init_handler(
    [this](websocketpp::connection_hdl,
           boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream) {
      if (next_stream_setup)
        next_stream_setup(stream);
    });
  thread = std::thread([this, &hub] {
#ifdef __linux__
    // Named for ps/gdb; it would otherwise inherit its creator's name.
    pthread_setname_np(pthread_self(), "phx.io");
#endif
    is_io_thread = true;
    // A handler that throws must not end the thread: every other connection
    // of this thread would hang.
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        hub.write(protocol::log_level::error, "transport",
                  std::string{"io thread: unexpected exception: "} + e.what());
      } catch (...) {
        hub.write(protocol::log_level::error, "transport",
                  "io thread: unexpected exception");
      }
    }
  });
}

io_thread::~io_thread() {
  work.reset();
  ioc.stop();
  if (thread.joinable()) {
    if (thread.get_id() == std::this_thread::get_id())
      thread.detach(); // cannot join itself; never happens by design
    else
      thread.join();
  }
}

// -- io runtime implementation -------------------------------------------------------

io_runtime_impl::io_runtime_impl(size_t threads) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back(std::make_unique<io_thread>(hub_));
}

io_runtime_impl::~io_runtime_impl() {
  // Stop and join every thread before any endpoint or context is destroyed.
  for (auto& t : threads_) {
    t->work.reset();
    t->ioc.stop();
  }
  for (auto& t : threads_)
    if (t->thread.joinable() && t->thread.get_id() != std::this_thread::get_id())
      t->thread.join();
  threads_.clear();
}

io_thread& io_runtime_impl::next() noexcept {
  auto i = next_.fetch_add(1, std::memory_order_relaxed);
  return *threads_[i % threads_.size()];
}

namespace {

/// The first OpenSSL error of the queue as text (empties the queue).
std::string openssl_error() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0)
    return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

} // namespace

std::shared_ptr<boost::asio::ssl::context>
io_runtime_impl::tls_context(const tls_options& opts, std::string& error) {
  namespace ssl = boost::asio::ssl;
  std::string key;
  key += opts.verify_peer ? '1' : '0';
  for (auto* part : {&opts.ca_file, &opts.ca_dir, &opts.cert_file, &opts.key_file}) {
    key += '\0';
    key += *part;
  }
  std::lock_guard<std::mutex> guard{tls_mtx_};
  if (auto ctx = tls_cache_[key].lock())
    return ctx;
  // Drop entries whose context died, so the cache never outgrows the live
  // option sets.
  for (auto i = tls_cache_.begin(); i != tls_cache_.end();)
    i = i->second.expired() && i->first != key ? tls_cache_.erase(i) : std::next(i);
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  auto* native = ctx->native_handle();
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2
                   | ssl::context::no_sslv3 | ssl::context::no_tlsv1
                   | ssl::context::no_tlsv1_1);
  // Idle connections give their 2 x 16 KiB record buffers back.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  ERR_clear_error();
  if (!opts.ca_file.empty() || !opts.ca_dir.empty()) {
    const char* file = opts.ca_file.empty() ? nullptr : opts.ca_file.c_str();
    const char* dir = opts.ca_dir.empty() ? nullptr : opts.ca_dir.c_str();
    if (SSL_CTX_load_verify_locations(native, file, dir) != 1) {
      error = "cannot load the CA file or directory: " + openssl_error();
      return nullptr;
    }
  } else if (SSL_CTX_set_default_verify_paths(native) != 1) {
    error = "cannot load the system's trusted CAs: " + openssl_error();
    return nullptr;
  }
  if (!opts.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(native, opts.cert_file.c_str()) != 1) {
      error = "cannot load the client certificate: " + openssl_error();
      return nullptr;
    }
    const auto& key_file = opts.key_file.empty() ? opts.cert_file : opts.key_file;
    if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      error = "cannot load the client key: " + openssl_error();
      return nullptr;
    }
    if (SSL_CTX_check_private_key(native) != 1) {
      error = "the client key does not match the client certificate";
      ERR_clear_error();
      return nullptr;
    }
  }
  ctx->set_verify_mode(opts.verify_peer ? ssl::verify_peer : ssl::verify_none);
  tls_cache_[key] = ctx;
  return ctx;
}

// -- io runtime -------------------------------------------------------------------------

namespace {

// The error categories of websocketpp and asio are function-local statics
// that io handlers compare against, also while the process exits: made before
// the runtime, they are destroyed after its threads are joined.
void make_error_categories() {
  (void) websocketpp::error::get_category();
  (void) websocketpp::transport::error::get_category();
  (void) websocketpp::transport::asio::error::get_category();
  (void) websocketpp::transport::asio::socket::get_socket_category();
  (void) websocketpp::processor::error::get_processor_category();
  (void) boost::asio::error::get_misc_category();
  (void) boost::asio::error::get_netdb_category();
  (void) boost::asio::error::get_addrinfo_category();
  (void) boost::asio::error::get_ssl_category();
  (void) boost::asio::ssl::error::get_stream_category();
}

} // namespace

std::shared_ptr<io_runtime> io_runtime::instance(size_t threads) {
  // Held until static destruction: the threads are joined on the exiting
  // thread, never by an actor dropping the last reference on a CAF worker.
  // Dynamic initialization: it is destroyed before everything made while it
  // was initialized (C++ destroys statics in reverse order of construction).
  static std::shared_ptr<io_runtime> runtime = [threads] {
    // OpenSSL first: its exit handler then runs after the runtime's threads
    // are joined, so their OpenSSL thread state is released, not leaked.
    OPENSSL_init_ssl(0, nullptr);
    make_error_categories();
    return std::shared_ptr<io_runtime>{new io_runtime(threads == 0 ? 1 : threads)};
  }();
  return runtime;
}

io_runtime::io_runtime(size_t threads)
  : impl_(std::make_unique<io_runtime_impl>(threads)) {
  // nop
}

io_runtime::~io_runtime() = default;

size_t io_runtime::threads() const noexcept {
  return impl_->size();
}

bool io_runtime::on_io_thread() noexcept {
  return is_io_thread;
}

void io_runtime::set_log_sink(protocol::log_sink sink) {
  impl_->hub().set(std::move(sink));
}

size_t io_runtime::connections() const noexcept {
  return impl_->connections().load(std::memory_order_relaxed);
}

} // namespace phx::transport
