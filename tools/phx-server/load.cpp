// phx-server-load: the load generator that measures phx-server.
//
//   phx-server-load echo --url ws://127.0.0.1:4000/socket [--connections 1]
//                   [--window 100] [--size 200] [--seconds 5] [--server-pid PID]
//     Each connection joins room:load<i> and keeps `window` echo pushes of a
//     `size`-byte payload in flight; reports round trips per second and, with
//     --server-pid, the server's CPU seconds per 100k round trips.
//
//   phx-server-load idle --url ws://127.0.0.1:4000/socket [--sockets 10000]
//                   [--seconds 20] [--heartbeat-ms 5000] [--server-pid PID]
//     Opens `sockets` sockets (each joins its own room), sends a heartbeat on
//     each every `heartbeat-ms`, holds them, and reports the heartbeat replies
//     and the server's RSS and CPU.
//
// One io thread; loopback only (the URL must name 127.0.0.1 or localhost);
// every run is bounded by --seconds plus a fixed connect budget.

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <websocketpp/client.hpp>
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>
#include <websocketpp/random/none.hpp>

#include "phx/protocol/json.hpp"
#include "phx/protocol/serializer.hpp"
#include "phx/protocol/url.hpp"

namespace {

namespace proto = phx::protocol;
using clock_type = std::chrono::steady_clock;

/// websocketpp's client configuration for one io thread. The masking key
/// generator is `none` (key 0, still a valid masked frame): a load generator
/// must not spend a system call per frame on randomness.
struct load_config : websocketpp::config::asio_client {
  using type = load_config;
  using base = websocketpp::config::asio_client;
  using concurrency_type = websocketpp::concurrency::none;
  using alog_type = websocketpp::log::basic<concurrency_type, websocketpp::log::alevel>;
  using elog_type = websocketpp::log::basic<concurrency_type, websocketpp::log::elevel>;
  using rng_type = websocketpp::random::none::int_generator<uint32_t>;
  static const bool enable_multithreading = false;

  struct transport_config : base::transport_config {
    using concurrency_type = type::concurrency_type;
    using alog_type = type::alog_type;
    using elog_type = type::elog_type;
    using request_type = type::request_type;
    using response_type = type::response_type;
    using socket_type = websocketpp::transport::asio::basic_socket::endpoint;
    static const bool enable_multithreading = false;
  };
  using transport_type = websocketpp::transport::asio::endpoint<transport_config>;
};

using client_type = websocketpp::client<load_config>;
using connection_ptr = client_type::connection_ptr;
using message_ptr = client_type::message_ptr;

struct settings {
  std::string mode;
  std::string url = "ws://127.0.0.1:4000/socket";
  size_t connections = 1;
  size_t window = 100;
  size_t size = 200;
  double seconds = 5;
  size_t sockets = 10000;
  int64_t heartbeat_ms = 5000;
  long server_pid = 0;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "phx-server-load: %s\nusage: phx-server-load echo|idle --url URL "
               "[--connections N] [--window N] [--size BYTES] [--seconds S] "
               "[--sockets N] [--heartbeat-ms MS] [--server-pid PID]\n",
               why.c_str());
  std::exit(2);
}

settings parse(int argc, char** argv) {
  if (argc < 2)
    usage("a mode is required");
  settings s;
  s.mode = argv[1];
  if (s.mode != "echo" && s.mode != "idle")
    usage("unknown mode " + s.mode);
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc)
      usage(std::string{arg} + " needs a value");
    std::string value = argv[++i];
    char* end = nullptr;
    auto number = [&] {
      auto v = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || v < 0)
        usage(std::string{arg} + " needs a non-negative number, got " + value);
      return v;
    };
    if (arg == "--url")
      s.url = value;
    else if (arg == "--connections")
      s.connections = static_cast<size_t>(number());
    else if (arg == "--window")
      s.window = static_cast<size_t>(number());
    else if (arg == "--size")
      s.size = static_cast<size_t>(number());
    else if (arg == "--seconds")
      s.seconds = number();
    else if (arg == "--sockets")
      s.sockets = static_cast<size_t>(number());
    else if (arg == "--heartbeat-ms")
      s.heartbeat_ms = static_cast<int64_t>(number());
    else if (arg == "--server-pid")
      s.server_pid = static_cast<long>(number());
    else
      usage("unknown argument " + std::string{arg});
  }
  if (s.connections == 0 || s.window == 0 || s.sockets == 0 || s.seconds <= 0
      || s.seconds > 3600 || s.heartbeat_ms <= 0)
    usage("counts and durations must be positive (seconds at most 3600)");
  return s;
}

// -- server process figures from /proc ---------------------------------------------

/// utime + stime of a process in seconds (0 if unknown).
double process_cpu_seconds(long pid) {
  if (pid <= 0)
    return 0;
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream rest{text.substr(close + 2)};
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields after the command: state is 3rd; utime and stime are 14th and 15th.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    if (i == 15)
      stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Resident set size of a process in MiB (0 if unknown).
double process_rss_mib(long pid) {
  if (pid <= 0)
    return 0;
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return 0;
}

double own_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// -- one client socket ---------------------------------------------------------------

/// One Phoenix socket of the load: joins one room, then echoes or heartbeats.
struct load_socket {
  connection_ptr con;
  std::string topic;
  bool joined = false;
  bool closed = false;
  uint64_t next_ref = 1;
};

class load_run {
public:
  explicit load_run(settings s) : s_(std::move(s)), ser_(proto::role::client) {
    auto ep = proto::parse_endpoint(s_.url);
    if (!ep)
      usage("bad --url: " + ep.error().to_string());
    if (ep->host != "127.0.0.1" && ep->host != "localhost" && ep->host != "::1")
      usage("--url must name a loopback host");
    if (ep->tls)
      usage("the load generator speaks ws:// only");
    ws_url_ = proto::websocket_url(*ep, nullptr, proto::vsn_2);
    client_.init_asio(&io_);
    client_.clear_access_channels(websocketpp::log::alevel::all);
    client_.clear_error_channels(websocketpp::log::elevel::all);
    proto::json_document body;
    body.SetObject();
    std::string filler(s_.size > 12 ? s_.size - 12 : 1, 'x');
    body.AddMember("body", proto::json_value{filler.c_str(), body.GetAllocator()},
                   body.GetAllocator());
    payload_ = proto::payload{std::move(body)};
  }

  int run() {
    rss_before_ = process_rss_mib(s_.server_pid);
    size_t count = s_.mode == "echo" ? s_.connections : s_.sockets;
    sockets_.resize(count);
    for (size_t i = 0; i < count; ++i)
      sockets_[i].topic = (s_.mode == "echo" ? "room:load" : "room:idle") + std::to_string(i);
    open_more();
    // The connect phase is bounded: 60 s for everything to join.
    arm(std::chrono::seconds{60}, [this] {
      if (joined_ < sockets_.size()) {
        std::fprintf(stderr, "only %zu of %zu sockets joined within 60 s\n", joined_,
                     sockets_.size());
        finish(1);
      }
    });
    io_.run();
    return exit_code_;
  }

private:
  template <class F>
  void arm(clock_type::duration after, F f) {
    auto t = std::make_shared<boost::asio::steady_timer>(io_, after);
    t->async_wait([t, f](const boost::system::error_code& ec) {
      if (!ec)
        f();
    });
  }

  // Keeps at most 256 handshakes in flight so that 10,000 connects do not
  // overrun the listen backlog.
  void open_more() {
    while (opened_ < sockets_.size() && opened_ - handshaken_ < 256) {
      auto idx = opened_++;
      std::error_code ec;
      auto con = client_.get_connection(ws_url_, ec);
      if (ec) {
        std::fprintf(stderr, "connect: %s\n", ec.message().c_str());
        finish(1);
        return;
      }
      sockets_[idx].con = con;
      con->set_open_handler([this, idx](websocketpp::connection_hdl) {
        ++handshaken_;
        auto& sock = sockets_[idx];
        send(sock, std::nullopt, sock.topic, "phx_join", proto::payload{}, true);
        open_more();
      });
      con->set_fail_handler([this, idx](websocketpp::connection_hdl) {
        std::fprintf(stderr, "socket %zu failed to connect: %s\n", idx,
                     sockets_[idx].con->get_ec().message().c_str());
        finish(1);
      });
      con->set_close_handler([this, idx](websocketpp::connection_hdl) {
        sockets_[idx].closed = true;
        if (!finishing_) {
          std::fprintf(stderr, "socket %zu closed by the server (%d)\n", idx,
                       sockets_[idx].con->get_remote_close_code());
          finish(1);
        }
      });
      con->set_message_handler([this, idx](websocketpp::connection_hdl, message_ptr msg) {
        on_message(sockets_[idx], msg);
      });
      client_.connect(con);
    }
  }

  void send(load_socket& sock, std::optional<std::string> join_ref, const std::string& topic,
            std::string_view event, const proto::payload& p, bool is_join = false) {
    proto::message msg;
    auto ref = std::to_string(sock.next_ref++);
    msg.join_ref = is_join ? std::optional<std::string>{ref} : std::move(join_ref);
    msg.ref = ref;
    msg.topic = topic;
    msg.event = std::string{event};
    msg.payload = p;
    auto f = ser_.encode(msg);
    if (!f) {
      std::fprintf(stderr, "encode: %s\n", f.error().to_string().c_str());
      finish(1);
      return;
    }
    // A failed send means the socket is closing; its close handler reports it.
    sock.con->send(f->data, websocketpp::frame::opcode::text);
  }

  void on_message(load_socket& sock, const message_ptr& msg) {
    auto decoded = ser_.decode(proto::frame_type::text, std::move(msg->get_raw_payload()));
    if (!decoded || !decoded->is_reply())
      return;
    if (decoded->status != proto::statuses::ok) {
      ++errors_;
      return;
    }
    if (!sock.joined) {
      sock.joined = true;
      if (++joined_ == sockets_.size())
        all_joined();
      return;
    }
    if (decoded->topic == proto::phoenix_topic) {
      ++heartbeats_answered_;
      return;
    }
    ++round_trips_;
    if (measuring_)
      send(sock, std::string{"1"}, sock.topic, "echo", payload_);
  }

  void all_joined() {
    std::printf("%zu socket(s) joined\n", sockets_.size());
    std::fflush(stdout);
    start_ = clock_type::now();
    server_cpu_start_ = process_cpu_seconds(s_.server_pid);
    own_cpu_start_ = own_cpu_seconds();
    measuring_ = true;
    auto duration = std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>{s_.seconds});
    if (s_.mode == "echo") {
      // Each socket's join ref is "1": echo pushes carry it as join_ref.
      for (auto& sock : sockets_)
        for (size_t k = 0; k < s_.window; ++k)
          send(sock, std::string{"1"}, sock.topic, "echo", payload_);
    } else {
      heartbeat_round();
    }
    arm(duration, [this] { report(); });
  }

  void heartbeat_round() {
    if (!measuring_)
      return;
    for (auto& sock : sockets_) {
      if (sock.closed)
        continue;
      send(sock, std::nullopt, std::string{proto::phoenix_topic}, proto::events::heartbeat,
           proto::payload{});
      ++heartbeats_sent_;
    }
    arm(std::chrono::milliseconds{s_.heartbeat_ms}, [this] { heartbeat_round(); });
  }

  void report() {
    measuring_ = false;
    auto elapsed = std::chrono::duration<double>(clock_type::now() - start_).count();
    auto server_cpu = process_cpu_seconds(s_.server_pid) - server_cpu_start_;
    auto own_cpu = own_cpu_seconds() - own_cpu_start_;
    if (s_.mode == "echo") {
      auto rate = static_cast<double>(round_trips_) / elapsed;
      std::printf("echo: %zu connection(s), window %zu, payload %zu bytes\n", s_.connections,
                  s_.window, s_.size);
      std::printf("  %" PRIu64 " round trips in %.2f s = %.0f round trips/s (%" PRIu64
                  " error replies)\n",
                  round_trips_, elapsed, rate, errors_);
      if (s_.server_pid > 0 && round_trips_ > 0) {
        std::printf("  server CPU %.2f s = %.3f s per 100k round trips = %.0f round trips "
                    "per server CPU second\n",
                    server_cpu, server_cpu * 100000.0 / static_cast<double>(round_trips_),
                    static_cast<double>(round_trips_) / server_cpu);
      }
      std::printf("  load generator CPU %.2f s\n", own_cpu);
    } else {
      // Let the last round's replies arrive before counting.
      std::printf("idle: %zu socket(s) held %.1f s, heartbeat every %" PRId64 " ms\n",
                  sockets_.size(), elapsed, s_.heartbeat_ms);
    }
    if (s_.mode == "idle") {
      arm(std::chrono::seconds{2}, [this, server_cpu, elapsed] {
        std::printf("  heartbeats answered %" PRIu64 " of %" PRIu64 " sent (%" PRIu64
                    " error replies)\n",
                    heartbeats_answered_, heartbeats_sent_, errors_);
        if (s_.server_pid > 0) {
          auto rss = process_rss_mib(s_.server_pid);
          std::printf("  server RSS %.1f MiB with the sockets joined (%.1f KiB per socket; "
                      "%.1f MiB before), CPU %.2f s over %.1f s\n",
                      rss, rss * 1024.0 / static_cast<double>(sockets_.size()), rss_before_,
                      server_cpu, elapsed);
        }
        finish(heartbeats_answered_ == heartbeats_sent_ && errors_ == 0 ? 0 : 1);
      });
      return;
    }
    finish(errors_ == 0 ? 0 : 1);
  }

  void finish(int code) {
    if (finishing_)
      return;
    finishing_ = true;
    exit_code_ = code;
    std::fflush(stdout);
    for (auto& sock : sockets_) {
      if (sock.con && !sock.closed) {
        std::error_code ec;
        sock.con->close(websocketpp::close::status::normal, "", ec);
      }
    }
    // Closing handshakes get a bounded moment, then the loop stops.
    arm(std::chrono::seconds{3}, [this] { io_.stop(); });
  }

  settings s_;
  proto::v2_serializer ser_;
  boost::asio::io_context io_;
  client_type client_;
  std::string ws_url_;
  proto::payload payload_;
  std::vector<load_socket> sockets_;
  size_t opened_ = 0;
  size_t handshaken_ = 0;
  size_t joined_ = 0;
  bool measuring_ = false;
  bool finishing_ = false;
  int exit_code_ = 0;
  uint64_t round_trips_ = 0;
  uint64_t errors_ = 0;
  uint64_t heartbeats_sent_ = 0;
  uint64_t heartbeats_answered_ = 0;
  clock_type::time_point start_;
  double server_cpu_start_ = 0;
  double own_cpu_start_ = 0;
  double rss_before_ = 0;
};

} // namespace

int main(int argc, char** argv) {
  auto s = parse(argc, argv);
  load_run run{std::move(s)};
  return run.run();
}
