// Watches who is in `presence:lobby`: after every presence sync it prints the
// list, one `key (N metas)` entry per user, in join order.
//
//   presence_watcher ws://127.0.0.1:4000/socket watcher [--syncs N] [--seconds S]
//
// It stops after N syncs or S seconds, whichever comes first (defaults: 1000
// syncs, 60 seconds).

#include <phx/phx.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3 || (argc - 3) % 2 != 0) {
    std::fprintf(stderr, "usage: presence_watcher URL USER [--syncs N] [--seconds S]\n");
    return 2;
  }
  long max_syncs = 1000;
  long seconds = 60;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    long value = std::strtol(argv[i + 1], nullptr, 10);
    if (value <= 0 || (flag != "--syncs" && flag != "--seconds")) {
      std::fprintf(stderr, "presence_watcher: bad option %s\n", flag.c_str());
      return 2;
    }
    (flag == "--syncs" ? max_syncs : seconds) = value;
  }

  // Shared with the sync callback; declared first so that it outlives the socket.
  std::mutex mutex;
  std::condition_variable enough;
  long syncs = 0;

  phx::socket::options opts;
  opts.params = phx::object({{"user", argv[2]}});
  phx::socket socket{argv[1], opts};
  socket.connect();
  auto lobby = socket.channel("presence:lobby");

  // The presence tracker applies presence_state and presence_diff events;
  // on_sync runs after each one is applied.
  phx::presence presence{lobby};
  presence.on_sync([&] {
    std::lock_guard<std::mutex> guard{mutex};
    if (syncs >= max_syncs)
      return; // main is on its way out
    ++syncs;
    std::string line = "sync " + std::to_string(syncs) + ":";
    for (auto& [key, entry] : presence.list())
      line += " " + key + " (" + std::to_string(entry.metas.size()) + " metas)";
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    enough.notify_all();
  });

  lobby.join().receive("error", [](const phx::payload& response) {
    std::fprintf(stderr, "join refused: %s\n", response.to_string().c_str());
  });

  // Wait in main (never in a callback) for enough syncs or the deadline.
  {
    std::unique_lock<std::mutex> guard{mutex};
    enough.wait_for(guard, std::chrono::seconds{seconds}, [&] { return syncs >= max_syncs; });
  }
  // Leave first, then disconnect: the channel is closed before the socket goes.
  lobby.leave().wait_for(std::chrono::seconds{5});
  socket.disconnect_and_wait();
  return 0;
}
