#pragma once

// A phx-server child process for integration tests: started on 127.0.0.1
// with an ephemeral port, stopped (SIGKILL) when the object goes away.
// Header-only, POSIX, no CAF: any test can use it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace phx_test {

/// What a plain HTTP GET returned.
struct http_response {
  /// HTTP status code.
  int status = 0;
  /// The body (everything after the headers).
  std::string body;
  /// The status line and headers, as received.
  std::string head;
};

/// A running `phx-server --host 127.0.0.1 --port 0 <extra args>`.
///
/// The constructor returns once the server printed its `listening on` line
/// (bounded wait; a clear exception otherwise). Every wait of this class is
/// bounded. Not thread-safe: drive it from the test's thread.
class server_process {
public:
  using milliseconds = std::chrono::milliseconds;

  /// Starts the server with `extra_args` (e.g. `{"--idle-timeout-ms", "500"}`).
  explicit server_process(std::vector<std::string> extra_args = {},
                          milliseconds startup_timeout = milliseconds{10000})
    : args_(std::move(extra_args)), startup_timeout_(startup_timeout) {
    start(0);
  }

  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  /// Kills the server if it still runs.
  ~server_process() {
    kill();
  }

  /// Path of the `phx-server` binary of this build.
  static std::string binary() {
    return std::string{PHX_BIN_DIR} + "/phx-server";
  }

  /// The port the server listens on (kept across `restart`).
  uint16_t port() const noexcept {
    return port_;
  }

  /// The socket URL, e.g. `ws://127.0.0.1:4000/socket` (`wss` with TLS).
  const std::string& url() const noexcept {
    return url_;
  }

  /// The process id (0 when not running).
  pid_t pid() const noexcept {
    return pid_;
  }

  /// True while the process has not been reaped.
  bool running() {
    reap(false);
    return pid_ != 0;
  }

  /// The exit status of the last run: the exit code, or 128 + signal.
  int exit_status() const noexcept {
    return exit_status_;
  }

  /// A blocking HTTP GET of `path` (e.g. `/admin/stats`) over a raw POSIX
  /// socket; throws on connection failure or timeout. Plain HTTP only.
  http_response admin(const std::string& path,
                      milliseconds timeout = milliseconds{5000}) const {
    return http("GET", path, {}, {}, timeout);
  }

  /// A blocking HTTP request (`method` `path`, one connection) with `body`
  /// and `headers` (each line `Name: value`, CRLF-terminated) over a raw
  /// POSIX socket; throws on connection failure or timeout. Plain HTTP only.
  http_response http(const std::string& method, const std::string& path,
                     const std::string& body, const std::string& headers,
                     milliseconds timeout = milliseconds{5000}) const {
    if (url_.rfind("wss", 0) == 0)
      throw std::runtime_error("server_process::admin speaks plain HTTP, the server runs TLS");
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
      throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
    struct closer {
      int fd;
      ~closer() { ::close(fd); }
    } guard{fd};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (errno != EINPROGRESS)
        throw std::runtime_error(method + " " + path + ": connect: " + std::strerror(errno));
      wait_fd(fd, POLLOUT, deadline, method + " " + path + ": connect");
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0)
        throw std::runtime_error(method + " " + path + ": connect: " + std::strerror(err));
    }
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:"
                          + std::to_string(port_) + "\r\nConnection: close\r\n" + headers;
    if (!body.empty() || method == "POST")
      request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    request += "\r\n" + body;
    size_t sent = 0;
    while (sent < request.size()) {
      auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        wait_fd(fd, POLLOUT, deadline, method + " " + path + ": send");
      } else {
        throw std::runtime_error(method + " " + path + ": send: " + std::strerror(errno));
      }
    }
    std::string raw;
    char buf[4096];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        raw.append(buf, static_cast<size_t>(n));
        if (raw.size() > (size_t{16} << 20))
          throw std::runtime_error(method + " " + path + ": response over 16 MiB");
      } else if (n == 0) {
        break;
      } else if (errno == EAGAIN || errno == EINTR) {
        wait_fd(fd, POLLIN, deadline, method + " " + path + ": response");
      } else {
        throw std::runtime_error(method + " " + path + ": recv: " + std::strerror(errno));
      }
    }
    return parse_response(raw, path);
  }

  /// SIGTERM, then waits up to `timeout` for the exit (SIGKILL after it);
  /// returns the exit status (0 after a clean drain).
  int terminate(milliseconds timeout = milliseconds{10000}) {
    if (pid_ == 0)
      return exit_status_;
    ::kill(pid_, SIGTERM);
    if (!wait_exit(timeout)) {
      kill();
      throw std::runtime_error("phx-server did not exit within "
                               + std::to_string(timeout.count())
                               + " ms of SIGTERM (killed)");
    }
    return exit_status_;
  }

  /// SIGKILL and reap (no drain: clients see their connections cut).
  void kill() {
    if (pid_ == 0)
      return;
    ::kill(pid_, SIGKILL);
    wait_exit(milliseconds{10000});
  }

  /// Starts the server again on the same port with the same arguments
  /// (stops the running one with SIGKILL first).
  void restart() {
    kill();
    start(port_);
  }

private:
  void start(uint16_t port) {
    std::vector<std::string> argv_store{binary(), "--host", "127.0.0.1", "--port",
                                        std::to_string(port)};
    // The long-poll run of the integration tests (phx_test/transport.hpp):
    // clients never say they left over long-poll, so sessions end by expiry,
    // shortened here so that leaves show within the tests' waits.
    const char* transport = std::getenv("PHX_TEST_TRANSPORT");
    bool has_longpoll_args = false;
    for (const auto& a : args_)
      has_longpoll_args = has_longpoll_args || a.rfind("--longpoll", 0) == 0;
    if (transport && std::string{transport} == "longpoll" && !has_longpoll_args)
      argv_store.insert(argv_store.end(),
                        {"--longpoll-window-ms", "1000", "--longpoll-timeout-ms", "1500"});
    argv_store.insert(argv_store.end(), args_.begin(), args_.end());
    std::vector<char*> argv;
    for (auto& a : argv_store)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
    auto child = ::fork();
    if (child < 0) {
      ::close(out[0]);
      ::close(out[1]);
      throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
    }
    if (child == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::dup2(out[1], STDOUT_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    pid_ = child;
    exit_status_ = -1;
    std::string line;
    try {
      line = read_line(out[0]);
    } catch (...) {
      ::close(out[0]);
      kill();
      throw;
    }
    // Kept open so that the server never writes into a closed pipe.
    if (stdout_fd_ >= 0)
      ::close(stdout_fd_);
    stdout_fd_ = out[0];
    static const std::string prefix = "listening on ";
    auto colon = line.rfind(':');
    auto slash = line.rfind("/socket");
    if (line.rfind(prefix, 0) != 0 || colon == std::string::npos
        || slash == std::string::npos || slash < colon) {
      kill();
      throw std::runtime_error("phx-server printed an unexpected line: " + line);
    }
    url_ = line.substr(prefix.size());
    port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1, slash - colon - 1)));
  }

  std::string read_line(int fd) {
    auto deadline = std::chrono::steady_clock::now() + startup_timeout_;
    std::string line;
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline
                                                            - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        throw std::runtime_error("phx-server (" + binary() + ") printed no listening line within "
                                 + std::to_string(startup_timeout_.count()) + " ms");
      pollfd p{fd, POLLIN, 0};
      auto r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        continue;
      char c;
      auto n = ::read(fd, &c, 1);
      if (n == 1) {
        if (c == '\n')
          return line;
        line.push_back(c);
        if (line.size() > 4096)
          throw std::runtime_error("phx-server printed an overlong first line");
      } else if (n == 0) {
        reap(true);
        throw std::runtime_error("phx-server exited before listening (status "
                                 + std::to_string(exit_status_) + "); binary: " + binary());
      } else if (errno != EINTR) {
        throw std::runtime_error(std::string{"read: "} + std::strerror(errno));
      }
    }
  }

  bool wait_exit(milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ != 0) {
      reap(false);
      if (pid_ == 0)
        break;
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(milliseconds{5});
    }
    if (stdout_fd_ >= 0) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
    }
    return true;
  }

  void reap(bool block) {
    if (pid_ == 0)
      return;
    int status = 0;
    auto r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = 0;
    } else if (r < 0 && errno == ECHILD) {
      pid_ = 0;
    }
  }

  static void wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline,
                      const std::string& what) {
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline
                                                            - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        throw std::runtime_error(what + ": timed out");
      pollfd p{fd, events, 0};
      auto r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r > 0)
        return;
      if (r < 0 && errno != EINTR)
        throw std::runtime_error(what + ": poll: " + std::strerror(errno));
    }
  }

  static http_response parse_response(const std::string& raw, const std::string& path) {
    // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
    auto space = raw.find(' ');
    auto end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/", 0) != 0 || space == std::string::npos || end == std::string::npos)
      throw std::runtime_error("GET " + path + ": not an HTTP response: " + raw.substr(0, 80));
    http_response res;
    res.status = std::atoi(raw.c_str() + space + 1);
    res.body = raw.substr(end + 4);
    res.head = raw.substr(0, end);
    return res;
  }

  std::vector<std::string> args_;
  milliseconds startup_timeout_;
  pid_t pid_ = 0;
  int stdout_fd_ = -1;
  int exit_status_ = -1;
  uint16_t port_ = 0;
  std::string url_;
};

} // namespace phx_test
