// A node for links_test in its own process (so that it can be SIGSTOPped):
// publishes a ping actor over a plain link with the heartbeat given in ms,
// prints the port on stdout, and waits. It exits on its own after 60 s so that
// a failed test leaves no orphan.
//
//   links_test_node HEARTBEAT_MS TIMEOUT_MS

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "cluster/links.hpp"
#include "links_test_ping.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: links_test_node HEARTBEAT_MS TIMEOUT_MS\n");
    return 2;
  }
  phx::fleet::links::link_options opts;
  opts.insecure = true;
  opts.heartbeat = std::chrono::milliseconds{std::atoi(argv[1])};
  opts.connection_timeout = std::chrono::milliseconds{std::atoi(argv[2])};
  if (auto err = phx::fleet::links::check(opts); !err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 2;
  }
  caf::actor_system_config cfg;
  phx::fleet::links::configure(cfg, opts);
  caf::actor_system sys{cfg};
  auto ping = sys.spawn(links_test::ping_impl);
  auto port = phx::fleet::links::publish(sys, opts, ping, "127.0.0.1", 0);
  if (!port) {
    std::fprintf(stderr, "publish failed: %s\n", sys.render(port.error()).c_str());
    return 1;
  }
  std::printf("%u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds{60});
  caf::anon_send_exit(ping, caf::exit_reason::user_shutdown);
  return 0;
}
