#include "wakeup.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace phx::cli {

// -- wakeup ------------------------------------------------------------------------------

wakeup::wakeup() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
  read_fd_ = fds[0];
  write_fd_ = fds[1];
}

wakeup::~wakeup() {
  ::close(read_fd_);
  ::close(write_fd_);
}

void wakeup::set() noexcept {
  char c = 1;
  // A full pipe is set already.
  [[maybe_unused]] auto n = ::write(write_fd_, &c, 1);
}

void wakeup::clear() noexcept {
  char buf[64];
  while (::read(read_fd_, buf, sizeof(buf)) > 0) {
  }
}

bool wakeup::wait_for(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    pollfd p{read_fd_, POLLIN, 0};
    auto r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (r > 0)
      return true;
    if (r == 0 || (r < 0 && errno != EINTR))
      return false;
  }
}

} // namespace phx::cli
