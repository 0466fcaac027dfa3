// phx: websocat/wscat for Phoenix Channels. At a terminal it is interactive;
// otherwise it reads commands as JSON lines on stdin and writes what happens
// as JSON lines on stdout (see `phx --help`).

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli.hpp"
#include "session.hpp"
#include "terminal.hpp"

namespace {

using namespace phx::cli;

// SIGINT and SIGTERM end the input (a clean leave and close); a second one
// ends the process at once.
phx::cli::wakeup* stop_target = nullptr;
volatile sig_atomic_t stop_signals = 0;

extern "C" void on_input_signal(int sig) {
  if (++stop_signals > 1) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  if (stop_target != nullptr)
    stop_target->set();
}

// JSON lines: stdin until its end, SIGINT/SIGTERM, or phx giving up.
int run_json_lines(const options& opts, const std::shared_ptr<wakeup>& stop) {
  // Nothing reads cin; no flush of cout may come from its tie either.
  std::cin.tie(nullptr);
  auto out = std::make_shared<line_writer>(std::cout);
  std::unique_ptr<session> s;
  try {
    s = std::make_unique<session>(opts, out, stop);
  } catch (const phx::error& e) {
    // The facade's messages name the problem, never a param or token.
    std::fprintf(stderr, "phx: %s (see phx --help)\n", e.what());
    return exit_usage;
  }
  s->start();
  line_splitter splitter;
  uint64_t line_number = 0;
  auto on_line = [&](line_splitter::status status, std::string& line) {
    ++line_number;
    if (status == line_splitter::status::too_long)
      s->reject(line_number, "line longer than 16 MiB, skipped");
    else
      s->handle(line, line_number);
  };
  std::vector<char> buf(64 * 1024);
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop->fd(), POLLIN, 0}};
    auto r = ::poll(fds, 2, -1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 || fds[1].revents != 0)
      break;
    auto n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0) {
      splitter.end(on_line);
      break;
    }
    splitter.feed({buf.data(), static_cast<size_t>(n)}, on_line);
    if (s->gave_up())
      break;
  }
  auto rc = s->finish();
  s.reset();
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  // A reader that goes away must not kill the session in the middle of a leave.
  std::signal(SIGPIPE, SIG_IGN);
  auto parsed = parse_args(std::vector<std::string>(argv + 1, argv + argc));
  if (auto err = std::get_if<usage_error>(&parsed)) {
    std::fprintf(stderr, "phx: %s (see phx --help)\n", err->message.c_str());
    return exit_usage;
  }
  auto& opts = std::get<options>(parsed);
  if (opts.help) {
    std::cout << usage();
    return exit_ok;
  }
  if (opts.version) {
    std::cout << version_text();
    return exit_ok;
  }
  std::shared_ptr<wakeup> stop;
  try {
    stop = std::make_shared<wakeup>();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phx: %s\n", e.what());
    return exit_failure;
  }
  if (!opts.json && ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO))
    return run_interactive(opts, stop);
  stop_target = stop.get();
  struct sigaction sa{};
  sa.sa_handler = on_input_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  auto rc = run_json_lines(opts, stop);
  stop_target = nullptr;
  return rc;
}
