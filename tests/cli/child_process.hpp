#pragma once

// A child process with pipes on stdin, stdout and stderr, for the tests of
// the phx tool, the examples and tools/quickstart. Every wait is bounded; the
// child is killed (SIGKILL) when the object goes away. Header-only, POSIX.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace phx_cli_test {

/// A running program whose stdin the test writes and whose stdout and stderr
/// it reads line by line. Not thread-safe: drive it from the test's thread.
class child_process {
public:
  using milliseconds = std::chrono::milliseconds;
  using clock = std::chrono::steady_clock;
  using predicate = std::function<bool(const std::string&)>;

  /// Output beyond this many bytes per stream is an error (nothing grows without bound).
  static constexpr size_t max_output = size_t{64} << 20;

  /// Starts `argv[0]` with `argv` and the test's environment plus `env`.
  explicit child_process(std::vector<std::string> argv,
                         std::vector<std::pair<std::string, std::string>> env = {}) {
    // A child that exits early must not kill the test with SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    std::vector<std::string> env_store;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry{*e};
      bool replaced = false;
      for (auto& [k, v] : env)
        replaced = replaced || entry.rfind(k + "=", 0) == 0;
      if (!replaced)
        env_store.push_back(std::move(entry));
    }
    for (auto& [k, v] : env)
      env_store.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_store)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0
        || ::pipe2(err, O_CLOEXEC) != 0)
      throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    stdin_fd_ = in[1];
    out_.fd = out[0];
    err_.fd = err[0];
    ::fcntl(stdin_fd_, F_SETFL, O_NONBLOCK);
    ::fcntl(out_.fd, F_SETFL, O_NONBLOCK);
    ::fcntl(err_.fd, F_SETFL, O_NONBLOCK);
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Kills the child if it still runs.
  ~child_process() {
    kill();
    close_fd(stdin_fd_);
    close_fd(out_.fd);
    close_fd(err_.fd);
  }

  /// Writes `text` to the child's stdin, reading its output meanwhile (so
  /// that neither side blocks); throws after `timeout`.
  void write(const std::string& text, milliseconds timeout = milliseconds{10000}) {
    if (stdin_fd_ < 0)
      throw std::runtime_error("write after close_stdin");
    auto deadline = clock::now() + timeout;
    size_t sent = 0;
    while (sent < text.size()) {
      auto n = ::write(stdin_fd_, text.data() + sent, text.size() - sent);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EPIPE)
        throw std::runtime_error("the child closed its stdin");
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        throw std::runtime_error(std::string{"write: "} + std::strerror(errno));
      if (!pump(deadline, true))
        throw std::runtime_error("timed out writing to the child's stdin");
    }
  }

  /// Writes one line (a newline is added).
  void write_line(const std::string& line) {
    write(line + "\n");
  }

  /// Closes the child's stdin (end of input).
  void close_stdin() {
    close_fd(stdin_fd_);
  }

  /// Waits until a stdout line at index `from` or later satisfies `pred`;
  /// returns its index, or nothing after `timeout`.
  std::optional<size_t> wait_line(const predicate& pred,
                                  milliseconds timeout = milliseconds{10000},
                                  size_t from = 0) {
    return wait_in(out_, pred, timeout, from);
  }

  /// The same for stderr.
  std::optional<size_t> wait_err_line(const predicate& pred,
                                      milliseconds timeout = milliseconds{10000},
                                      size_t from = 0) {
    return wait_in(err_, pred, timeout, from);
  }

  /// Waits for the exit, reading all output; the exit code (128 + signal if
  /// killed), or nothing after `timeout` (the child is then killed).
  std::optional<int> wait_exit(milliseconds timeout = milliseconds{20000}) {
    auto deadline = clock::now() + timeout;
    // The exit is known once both streams are at their end and it is reaped.
    while (out_.fd >= 0 || err_.fd >= 0) {
      if (!pump(deadline, false)) {
        kill();
        return std::nullopt;
      }
    }
    while (pid_ > 0) {
      reap(false);
      if (pid_ <= 0)
        break;
      if (clock::now() >= deadline) {
        kill();
        return std::nullopt;
      }
      ::poll(nullptr, 0, 5);
    }
    return status_;
  }

  /// Every complete stdout line so far.
  const std::vector<std::string>& out_lines() const noexcept {
    return out_.lines;
  }

  /// Every complete stderr line so far.
  const std::vector<std::string>& err_lines() const noexcept {
    return err_.lines;
  }

  /// Everything the child wrote, for failure messages.
  std::string transcript() const {
    std::string text = "--- stdout\n";
    for (auto& l : out_.lines)
      text += l + "\n";
    text += out_.partial;
    text += "--- stderr\n";
    for (auto& l : err_.lines)
      text += l + "\n";
    text += err_.partial;
    return text;
  }

  /// SIGKILL and reap.
  void kill() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    reap(true);
  }

  /// The process id (0 once reaped).
  pid_t pid() const noexcept {
    return pid_ > 0 ? pid_ : 0;
  }

private:
  struct stream {
    int fd = -1;
    std::string partial;
    std::vector<std::string> lines;
    size_t bytes = 0;
  };

  std::optional<size_t> wait_in(stream& s, const predicate& pred, milliseconds timeout,
                                size_t from) {
    auto deadline = clock::now() + timeout;
    size_t checked = from;
    for (;;) {
      for (; checked < s.lines.size(); ++checked)
        if (pred(s.lines[checked]))
          return checked;
      if (s.fd < 0 && checked >= s.lines.size())
        return std::nullopt;
      if (!pump(deadline, false))
        return std::nullopt;
    }
  }

  // Waits once for output (or stdin room when `for_write`) until `deadline`;
  // false when the deadline passed.
  bool pump(clock::time_point deadline, bool for_write) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now()).count();
    if (left <= 0)
      return false;
    pollfd fds[3];
    nfds_t n = 0;
    if (out_.fd >= 0)
      fds[n++] = {out_.fd, POLLIN, 0};
    if (err_.fd >= 0)
      fds[n++] = {err_.fd, POLLIN, 0};
    if (for_write && stdin_fd_ >= 0)
      fds[n++] = {stdin_fd_, POLLOUT, 0};
    if (n == 0)
      return true;
    auto r = ::poll(fds, n, static_cast<int>(left));
    if (r < 0 && errno != EINTR)
      throw std::runtime_error(std::string{"poll: "} + std::strerror(errno));
    drain(out_);
    drain(err_);
    return true;
  }

  void drain(stream& s) {
    if (s.fd < 0)
      return;
    char buf[65536];
    for (;;) {
      auto n = ::read(s.fd, buf, sizeof(buf));
      if (n > 0) {
        s.bytes += static_cast<size_t>(n);
        if (s.bytes > max_output)
          throw std::runtime_error("the child wrote more than 64 MiB");
        s.partial.append(buf, static_cast<size_t>(n));
        size_t start = 0;
        for (auto nl = s.partial.find('\n'); nl != std::string::npos;
             nl = s.partial.find('\n', start)) {
          s.lines.push_back(s.partial.substr(start, nl - start));
          start = nl + 1;
        }
        s.partial.erase(0, start);
        continue;
      }
      if (n == 0) {
        close_fd(s.fd);
        if (!s.partial.empty()) {
          s.lines.push_back(std::move(s.partial));
          s.partial.clear();
        }
        return;
      }
      if (errno == EINTR)
        continue;
      return; // EAGAIN: nothing more for now
    }
  }

  void reap(bool block) {
    if (pid_ <= 0)
      return;
    int status = 0;
    auto r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = 0;
    } else if (r < 0 && errno == ECHILD) {
      pid_ = 0;
    }
  }

  static void close_fd(int& fd) {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
  }

  pid_t pid_ = 0;
  int status_ = -1;
  int stdin_fd_ = -1;
  stream out_;
  stream err_;
};

} // namespace phx_cli_test
