// phx-server: the project's bundled Phoenix-protocol server (SCENARIOS.md).

#include <cstdio>
#include <exception>
#include <variant>

#include "options.hpp"
#include "server.hpp"

int main(int argc, char** argv) {
  auto parsed = phx_server::parse_options(argc, argv);
  if (auto* bad = std::get_if<std::string>(&parsed)) {
    std::fprintf(stderr, "%s\n", bad->c_str());
    return 2;
  }
  if (auto* help = std::get_if<phx_server::usage_request>(&parsed)) {
    std::printf("%s\n", help->text.c_str());
    return 0;
  }
  try {
    phx_server::server srv{std::get<phx_server::options>(std::move(parsed))};
    std::string error;
    if (!srv.start(error)) {
      std::fprintf(stderr, "phx-server: %s\n", error.c_str());
      return 1;
    }
    // Scripts and tests wait for exactly this line.
    std::printf("listening on %s\n", srv.url().c_str());
    std::fflush(stdout);
    return srv.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phx-server: %s\n", e.what());
    return 1;
  }
}
