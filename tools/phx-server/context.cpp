#include "context.hpp"

#include <algorithm>
#include <stdexcept>

#include <openssl/rand.h>

#include "phx/protocol/url.hpp"

namespace phx_server {

context::context(boost::asio::io_context& io_ctx, const options& options)
  : io(io_ctx),
    opts(options),
    log(options.log_level),
    presence(*this),
    stall_timer_(io_ctx) {
  longpoll_secret_.resize(32);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(longpoll_secret_.data()), 32) != 1)
    throw std::runtime_error("cannot draw the long-poll token key (RAND_bytes failed)");
}

void context::stall(std::chrono::milliseconds duration) {
  auto until = std::chrono::steady_clock::now() + duration;
  if (stalled_ && until <= stall_until_)
    return;
  stalled_ = true;
  stall_until_ = until;
  stall_timer_.expires_at(until);
  stall_timer_.async_wait([this](const boost::system::error_code& ec) {
    // A later stall re-armed the timer: that wait ends the stall instead.
    if (ec)
      return;
    stalled_ = false;
    log.write(phx::protocol::log_level::info, "admin", "stall over");
  });
}

std::string context::next_phx_ref() {
  // Phoenix.Tracker: url_encode64(<<system_time_ns::64, hash::16, unique::16>>).
  auto ns = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count());
  auto unique = ++ref_counter_;
  std::string raw;
  raw.reserve(12);
  for (int shift = 56; shift >= 0; shift -= 8)
    raw.push_back(static_cast<char>((ns >> shift) & 0xFF));
  for (int shift = 24; shift >= 0; shift -= 8)
    raw.push_back(static_cast<char>((unique >> shift) & 0xFF));
  auto text = phx::protocol::base64_encode(raw, true);
  std::replace(text.begin(), text.end(), '+', '-');
  std::replace(text.begin(), text.end(), '/', '_');
  return text;
}

} // namespace phx_server
