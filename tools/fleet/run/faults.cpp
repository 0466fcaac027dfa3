#include "run/faults.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <regex>

namespace phx::fleet {

namespace {

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0)
      return false;
    pollfd p{fd, events, 0};
    auto r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0)
      return true;
    if (r < 0 && errno != EINTR)
      return false;
  }
}

} // namespace

http_result http_get(const std::string& base, const std::string& path, int timeout_ms) {
  static const std::regex re{R"(^http://(\[[^\]]+\]|[^:/]+)(?::(\d+))?/?$)"};
  std::smatch m;
  if (!std::regex_match(base, m, re))
    return {0, "admin base '" + base + "' is not http://host[:port] (https is not supported)"};
  auto host = m[1].str();
  if (host.size() > 1 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  auto port = m[2].matched ? m[2].str() : std::string{"80"};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds{timeout_ms};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (auto rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return {0, std::string{"resolve "} + host + ": " + ::gai_strerror(rc)};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard{res, &::freeaddrinfo};
  fd_guard fd{::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (fd.fd < 0)
    return {0, std::string{"socket: "} + std::strerror(errno)};
  if (::connect(fd.fd, res->ai_addr, res->ai_addrlen) != 0) {
    if (errno != EINPROGRESS)
      return {0, std::string{"connect: "} + std::strerror(errno)};
    if (!wait_fd(fd.fd, POLLOUT, deadline))
      return {0, "connect: timed out"};
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      return {0, std::string{"connect: "} + std::strerror(err)};
  }
  auto request = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    auto n = ::send(fd.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0)
      sent += static_cast<size_t>(n);
    else if (n < 0 && (errno == EAGAIN || errno == EINTR) && wait_fd(fd.fd, POLLOUT, deadline))
      continue;
    else
      return {0, std::string{"send: "} + std::strerror(errno)};
  }
  std::string raw;
  char buf[4096];
  while (raw.find("\r\n") == std::string::npos && raw.size() < 65536) {
    auto n = ::recv(fd.fd, buf, sizeof buf, 0);
    if (n > 0)
      raw.append(buf, static_cast<size_t>(n));
    else if (n == 0)
      break;
    else if ((errno == EAGAIN || errno == EINTR) && wait_fd(fd.fd, POLLIN, deadline))
      continue;
    else
      return {0, "no response (" + std::string{std::strerror(errno)} + ")"};
  }
  auto sp = raw.find(' ');
  if (raw.rfind("HTTP/", 0) != 0 || sp == std::string::npos)
    return {0, "not an HTTP response"};
  return {std::atoi(raw.c_str() + sp + 1), {}};
}

} // namespace phx::fleet
