// A chat client: every line typed on stdin is shouted to `room:lobby`, and
// every shout heard in the room is printed as `<user>: <body>`.
//
//   chat ws://127.0.0.1:4000/socket ann
//
// At end of input it waits until the server has acknowledged each of its
// shouts, then leaves. Status lines go to stderr, shouts to stdout.

#include <phx/phx.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc != 3) {
    std::fprintf(stderr, "usage: chat URL USER\n");
    return 2;
  }
  const std::string user = argv[2];

  // The user name travels as a connect param (the server's socket id).
  phx::socket::options opts;
  opts.params = phx::object({{"user", user}});
  phx::socket socket{argv[1], opts};
  socket.on_error([](const std::string& reason, int) {
    std::fprintf(stderr, "connection problem: %s\n", reason.c_str());
  });
  socket.connect();

  auto lobby = socket.channel("room:lobby");
  // Callbacks run on the socket's threads, one at a time: printing is safe.
  lobby.on("shout", [](const phx::payload& p) {
    auto& msg = p.json();
    if (!msg.IsObject() || !msg.HasMember("user") || !msg.HasMember("body")
        || !msg["user"].IsString() || !msg["body"].IsString())
      return;
    std::printf("%s: %s\n", msg["user"].GetString(), msg["body"].GetString());
    std::fflush(stdout);
  });

  // Blocking waits are fine here: main is not a callback.
  auto joined = lobby.join().wait_for(10s);
  if (!joined || joined->status != "ok") {
    std::fprintf(stderr, "could not join room:lobby (%s)\n",
                 joined ? joined->status.c_str() : "no reply");
    return 1;
  }
  std::fprintf(stderr, "joined room:lobby as %s\n", user.c_str());

  std::vector<phx::push> shouts;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty())
      continue;
    shouts.push_back(lobby.push("shout", phx::object({{"user", user}, {"body", line}})));
  }

  // Every push ends exactly once: ok, error, timeout or failed.
  int failures = 0;
  for (auto& shout : shouts) {
    auto outcome = shout.wait();
    if (outcome.status != "ok") {
      std::fprintf(stderr, "a shout ended with %s\n", outcome.status.c_str());
      ++failures;
    }
  }
  // Leave first, then disconnect: the channel is closed before the socket goes.
  lobby.leave().wait_for(5s);
  socket.disconnect_and_wait();
  return failures == 0 ? 0 : 1;
}
