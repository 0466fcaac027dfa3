// phx: websocat/wscat for Phoenix Channels. Reads commands as JSON lines on
// stdin, writes what happens as JSON lines on stdout (see `phx --help`).

#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli.hpp"
#include "session.hpp"

int main(int argc, char** argv) {
  // A reader that goes away must not kill the session in the middle of a leave.
  std::signal(SIGPIPE, SIG_IGN);
  using namespace phx::cli;
  auto parsed = parse_args(std::vector<std::string>(argv + 1, argv + argc));
  if (auto err = std::get_if<usage_error>(&parsed)) {
    std::fprintf(stderr, "phx: %s (see phx --help)\n", err->message.c_str());
    return 2;
  }
  auto& opts = std::get<options>(parsed);
  if (opts.help) {
    std::cout << usage();
    return 0;
  }
  // Input is read below the stream layer; no flush of cout may come from here
  // (cin's tie would flush it outside the writer's lock).
  std::cin.tie(nullptr);
  auto out = std::make_shared<line_writer>(std::cout);
  std::unique_ptr<session> s;
  try {
    s = std::make_unique<session>(opts, out);
  } catch (const phx::error& e) {
    // The facade's messages name the problem, never a param or token.
    std::fprintf(stderr, "phx: %s (see phx --help)\n", e.what());
    return 2;
  }
  s->start();
  line_reader input{std::cin};
  std::string line;
  uint64_t line_number = 0;
  for (;;) {
    auto status = input.next(line);
    if (status == line_reader::status::end)
      break;
    ++line_number;
    if (status == line_reader::status::too_long)
      s->reject(line_number, "line longer than 16 MiB, skipped");
    else
      s->handle(line, line_number);
  }
  auto rc = s->finish();
  s.reset();
  return rc;
}
