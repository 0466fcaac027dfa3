#include "server.hpp"

#include <csignal>
#include <vector>

#include "phx/protocol/url.hpp"

#include "session.hpp"

namespace phx_server {

namespace {

using phx::protocol::log_level;

// Sockets get this long to finish their closing handshakes on SIGTERM.
constexpr std::chrono::seconds drain_timeout{6};

constexpr uint16_t close_normal = 1000;
constexpr uint16_t close_service_restart = 1012;

} // namespace

server::server(options opts)
  : opts_(std::move(opts)),
    ctx_(io_, opts_),
    signals_(io_, SIGTERM, SIGINT),
    drain_deadline_(io_) {
  // nop
}

server::~server() {
  // Stop every channel while the shared state still exists; connections
  // that outlive this (held by abandoned io handlers) then touch nothing.
  std::vector<std::shared_ptr<session>> open;
  for (auto* s : ctx_.sessions)
    open.push_back(s->shared_from_this());
  for (auto& s : open)
    s->closed();
  // Long-poll sessions hold their held polls' connections: gone before the listener.
  ctx_.longpoll_sessions.clear();
  listener_.reset();
}

bool server::start(std::string& error) {
  listener_ = make_listener(ctx_, error);
  if (!listener_)
    return false;
  port_ = listener_->listen(error);
  if (port_ == 0)
    return false;
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec)
      return;
    ctx_.log.write(log_level::info, "server",
                   std::string{"received "} + (signo == SIGTERM ? "SIGTERM" : "SIGINT")
                     + ", draining");
    drain();
    // A second signal stops at once.
    signals_.async_wait([this](const boost::system::error_code& ec2, int) {
      if (!ec2)
        io_.stop();
    });
  });
  return true;
}

std::string server::url() const {
  auto ep = phx::protocol::make_endpoint(opts_.host, "/socket", port_, opts_.tls());
  if (ep)
    return ep->to_string();
  return std::string{opts_.tls() ? "wss://" : "ws://"} + opts_.host + ":"
         + std::to_string(port_) + "/socket";
}

int server::run() {
  io_.run();
  return 0;
}

void server::drain() {
  if (draining_)
    return;
  draining_ = true;
  listener_->stop_listening();
  std::vector<std::shared_ptr<session>> open;
  for (auto* s : ctx_.sessions)
    open.push_back(s->shared_from_this());
  ctx_.log.write(log_level::info, "server",
                 "closing " + std::to_string(open.size()) + " socket(s)");
  for (auto& s : open)
    s->close(s->channel_count() > 0 ? close_service_restart : close_normal,
             "server shutdown");
  ctx_.on_session_closed = [this] { check_drained(); };
  drain_deadline_.expires_after(drain_timeout);
  drain_deadline_.async_wait([this](const boost::system::error_code& ec) {
    if (ec)
      return;
    ctx_.log.write(log_level::warning, "server",
                   std::to_string(ctx_.sessions.size())
                     + " socket(s) did not finish closing; stopping anyway");
    io_.stop();
  });
  check_drained();
}

void server::check_drained() {
  if (draining_ && ctx_.sessions.empty()) {
    ctx_.log.write(log_level::info, "server", "drained, exiting");
    io_.stop();
  }
}

} // namespace phx_server
