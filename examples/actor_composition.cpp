// A user's own CAF actor composing with a phx channel actor. The "pinger"
// joins `room:lobby` through the CHANNEL actor interface, then sends N `echo`
// pushes one after the other with request(...).then(...), timing each round
// trip; main prints a summary. The socket runs in the caller's actor system.
//
//   actor_composition ws://127.0.0.1:4000/socket [N]

#include <phx/phx.hpp>

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

using namespace std::chrono_literals;

/// Asks the pinger to run.
using run_atom = caf::atom_constant<caf::atom("run")>;

/// The pinger: `run(n)` joins, pushes `echo` n times and answers with each
/// round trip in microseconds (or the first error).
using pinger_actor =
  caf::typed_actor<caf::replies_to<run_atom, uint32_t>::with<std::vector<int64_t>>>;

/// The pinger's state: its channel, the round trips so far, whom to answer.
struct pinger_state {
  phx::channel_actor channel;
  uint32_t total = 0;
  std::vector<int64_t> round_trips_us;
  caf::typed_response_promise<std::vector<int64_t>> done;
  static inline const char* name = "pinger";
};

using pinger_ptr = pinger_actor::stateful_pointer<pinger_state>;

// Sends the next echo; its reply sends the one after (one push in flight).
void ping(pinger_ptr self) {
  auto seq = static_cast<int>(self->state.round_trips_us.size()) + 1;
  auto sent = std::chrono::steady_clock::now();
  self
    ->request(self->state.channel, 5s, phx::push_atom::value, std::string{"echo"},
              phx::object({{"seq", seq}}))
    .then(
      [self, sent](phx::reply& r) {
        auto& st = self->state;
        if (!r.ok()) {
          st.done.deliver(caf::make_error(caf::sec::unexpected_response,
                                          "echo answered " + r.status));
          self->quit();
          return;
        }
        auto rtt = std::chrono::steady_clock::now() - sent;
        st.round_trips_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(rtt).count());
        if (st.round_trips_us.size() < st.total) {
          ping(self);
          return;
        }
        st.done.deliver(st.round_trips_us);
        self->quit();
      },
      // A push ends with an error value too: ec::push_timeout, ec::channel_closed...
      [self](caf::error& err) {
        self->state.done.deliver(std::move(err));
        self->quit();
      });
}

pinger_actor::behavior_type pinger(pinger_ptr self, phx::channel_actor channel) {
  self->state.channel = std::move(channel);
  return {
    [self](run_atom, uint32_t n) -> caf::result<std::vector<int64_t>> {
      auto& st = self->state;
      st.total = n;
      st.done = self->make_response_promise<std::vector<int64_t>>();
      // Joining is a request like any other: its reply is the server's.
      self->request(st.channel, 10s, phx::join_atom::value)
        .then(
          [self](phx::reply& r) {
            if (r.ok()) {
              ping(self);
              return;
            }
            self->state.done.deliver(caf::make_error(
              caf::sec::unexpected_response, "join refused: " + r.response.to_string()));
            self->quit();
          },
          [self](caf::error& err) {
            self->state.done.deliver(std::move(err));
            self->quit();
          });
      return st.done;
    },
  };
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: actor_composition URL [N]\n");
    return 2;
  }
  long n = argc == 3 ? std::strtol(argv[2], nullptr, 10) : 10;
  if (n <= 0 || n > 100000) {
    std::fprintf(stderr, "actor_composition: N must be from 1 to 100000\n");
    return 2;
  }

  // The caller's actor system: phx's message types must be added to its config.
  caf::actor_system_config cfg;
  phx::add_message_types(cfg);
  caf::actor_system sys{cfg};
  int rc = 0;
  {
    phx::socket socket{sys, argv[1]};
    socket.connect();
    // A channel made by the facade; the pinger drives its actor directly.
    auto lobby = socket.channel("room:lobby");
    auto p = sys.spawn(pinger, lobby.actor());
    caf::scoped_actor self{sys};
    self->request(p, caf::infinite, run_atom::value, static_cast<uint32_t>(n))
      .receive(
        [&](std::vector<int64_t>& us) {
          std::sort(us.begin(), us.end());
          auto ms = [](int64_t x) { return static_cast<double>(x) / 1000.0; };
          auto mean = std::accumulate(us.begin(), us.end(), int64_t{0})
                      / static_cast<int64_t>(us.size());
          std::printf("%zu echo round trips: min %.3f ms, median %.3f ms, max %.3f ms, "
                      "mean %.3f ms\n",
                      us.size(), ms(us.front()), ms(us[us.size() / 2]), ms(us.back()),
                      ms(mean));
        },
        [&](caf::error& err) {
          std::fprintf(stderr, "pinger failed: %s\n", sys.render(err).c_str());
          rc = 1;
        });
    // Leave first, then disconnect: the channel is closed before the socket goes.
    lobby.leave().wait_for(5s);
    socket.disconnect_and_wait();
  }
  return rc;
}
