// Compiles and links against the installed phx; checks what needs no server.
#include <phx/phx.hpp>

#include <cstdio>

int main() {
  phx::socket sock{"ws://127.0.0.1:9/socket"};
  auto ch = sock.channel("room:lobby", phx::object({{"user", "consumer"}}));
  auto url = sock.endpoint_url();
  bool ok = url == "ws://127.0.0.1:9/socket/websocket?vsn=2.0.0" && !sock.connected()
            && ch.topic() == "room:lobby" && ch.state() == phx::channel_state::closed
            && phx::socket::DEFAULT_TIMEOUT == 10000 && std::string{phx::socket::VSN} == "2.0.0";
  std::printf("%s %s\n", ok ? "ok" : "FAILED", url.c_str());
  return ok ? 0 : 1;
}
