#pragma once

// A child process on a real pseudo-terminal (forkpty: the kernel's pty pair,
// as tmux and script use), for the tests of phx's interactive mode. The test
// types into the master side and reads what the terminal would show. Every
// wait is bounded; the child is killed (SIGKILL) when the object goes away.
// Header-only, POSIX.

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace phx_cli_test {

/// A program whose stdin, stdout and stderr are one pseudo-terminal.
class pty_process {
public:
  using milliseconds = std::chrono::milliseconds;
  using clock = std::chrono::steady_clock;

  /// What the terminal showed beyond this many bytes is an error.
  static constexpr size_t max_output = size_t{16} << 20;

  /// Starts `argv[0]` with `argv` on a terminal of 120x40, with the test's
  /// environment plus `env` (e.g. `{"TERM", "xterm-256color"}`).
  pty_process(std::vector<std::string> argv,
              std::vector<std::pair<std::string, std::string>> env = {}) {
    ::signal(SIGPIPE, SIG_IGN);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 120;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ < 0)
      throw std::runtime_error(std::string{"forkpty: "} + std::strerror(errno));
    if (pid_ == 0) {
      for (auto& [k, v] : env)
        ::setenv(k.c_str(), v.c_str(), 1);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::fcntl(master_, F_SETFL, O_NONBLOCK);
    ::fcntl(master_, F_SETFD, FD_CLOEXEC);
  }

  pty_process(const pty_process&) = delete;
  pty_process& operator=(const pty_process&) = delete;

  /// Kills the child if it still runs.
  ~pty_process() {
    kill();
    if (master_ >= 0)
      ::close(master_);
  }

  /// Types `keys` (bytes as a keyboard sends them: "\r" for Enter).
  void type(const std::string& keys) {
    size_t sent = 0;
    auto deadline = clock::now() + milliseconds{5000};
    while (sent < keys.size()) {
      auto n = ::write(master_, keys.data() + sent, keys.size() - sent);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        throw std::runtime_error(std::string{"write to the pty: "} + std::strerror(errno));
      if (clock::now() >= deadline)
        throw std::runtime_error("timed out typing into the pty");
      pump(milliseconds{10});
    }
  }

  /// Waits until the screen output from offset `from` on contains `text`;
  /// returns the offset just past it, or nothing after `timeout`.
  std::optional<size_t> wait_for(const std::string& text, milliseconds timeout,
                                 size_t from = 0) {
    auto deadline = clock::now() + timeout;
    for (;;) {
      auto at = output_.find(text, from);
      if (at != std::string::npos)
        return at + text.size();
      auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now());
      if (left.count() <= 0 || closed_)
        return std::nullopt;
      pump(left);
    }
  }

  /// Waits for the exit, reading the output; the exit code (128 + signal if
  /// killed), or nothing after `timeout` (the child is then killed).
  std::optional<int> wait_exit(milliseconds timeout) {
    auto deadline = clock::now() + timeout;
    while (pid_ > 0) {
      reap(false);
      if (pid_ <= 0)
        break;
      auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now());
      if (left.count() <= 0) {
        kill();
        return std::nullopt;
      }
      // Output keeps the child from blocking on a full terminal.
      pump(std::min(left, milliseconds{20}));
    }
    pump(milliseconds{0});
    return status_;
  }

  /// Everything the terminal showed so far (escape sequences included).
  const std::string& output() const noexcept {
    return output_;
  }

  /// The output with escape sequences and carriage returns removed, for messages.
  std::string plain() const {
    std::string out;
    for (size_t i = 0; i < output_.size(); ++i) {
      char c = output_[i];
      if (c == '\x1b') {
        // CSI: ESC [ params final-byte; other escapes: ESC + one byte.
        if (i + 1 < output_.size() && output_[i + 1] == '[') {
          i += 2;
          while (i < output_.size() && !(output_[i] >= 0x40 && output_[i] <= 0x7e))
            ++i;
        } else {
          ++i;
        }
        continue;
      }
      if (c != '\r' && c != '\x07')
        out.push_back(c);
    }
    return out;
  }

  /// SIGKILL and reap.
  void kill() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    reap(true);
  }

  /// Sends `sig` to the child.
  void signal(int sig) {
    if (pid_ > 0)
      ::kill(pid_, sig);
  }

private:
  void pump(milliseconds timeout) {
    if (master_ < 0 || closed_)
      return;
    pollfd p{master_, POLLIN, 0};
    auto r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r < 0 && errno != EINTR)
      throw std::runtime_error(std::string{"poll: "} + std::strerror(errno));
    char buf[65536];
    for (;;) {
      auto n = ::read(master_, buf, sizeof(buf));
      if (n > 0) {
        output_.append(buf, static_cast<size_t>(n));
        if (output_.size() > max_output)
          throw std::runtime_error("the terminal showed more than 16 MiB");
        continue;
      }
      // EIO: the child side is closed (the child exited).
      if (n == 0 || (n < 0 && errno == EIO))
        closed_ = true;
      return;
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

  pid_t pid_ = 0;
  int master_ = -1;
  int status_ = -1;
  bool closed_ = false;
  std::string output_;
};

} // namespace phx_cli_test
