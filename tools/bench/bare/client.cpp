// phx-bench-bare: the floor of the benchmarks. A bare websocketpp + RapidJSON
// Phoenix client with no actors and no Phoenix logic beyond the frames a
// workload needs: join, pipelined pushes with refs, heartbeats, replies
// parsed. Same websocketpp settings as phx's transport where they cost
// anything (transport/src/wspp.hpp): one io thread, concurrency `none`, a
// 4 KiB read buffer per connection, logging compiled out, masking keys from
// OpenSSL fetched 256 at a time, plain (non-TLS) asio config, and frames
// masked in place in the buffer they were written to.
//
//   phx-bench-bare --workload echo|fanin|scale|storm --url ws://127.0.0.1:P/socket ...
// Prints one JSON line of results (fields: docs/benchmarks.md).

#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <websocketpp/client.hpp>
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>
#include <websocketpp/logger/stub.hpp>

#include "bench/measure.hpp"

namespace {

using namespace phx::bench;

// -- websocketpp config: the transport's settings ---------------------------------

/// Masking keys from OpenSSL's CSPRNG, 256 per refill, as the transport does.
class masking_keys {
public:
  using int_type = uint32_t;

  uint32_t operator()() {
    if (next_ == keys_.size()) {
      if (RAND_bytes(reinterpret_cast<unsigned char*>(keys_.data()),
                     static_cast<int>(sizeof(keys_))) != 1)
        throw std::runtime_error("RAND_bytes failed");
      next_ = 0;
    }
    return keys_[next_++];
  }

private:
  std::array<uint32_t, 256> keys_{};
  size_t next_ = 256;
};

struct bare_config : websocketpp::config::asio_client {
  using type = bare_config;
  using base = websocketpp::config::asio_client;
  using concurrency_type = websocketpp::concurrency::none;
  using request_type = base::request_type;
  using response_type = base::response_type;
  using message_type = base::message_type;
  using con_msg_manager_type = base::con_msg_manager_type;
  using endpoint_msg_manager_type = base::endpoint_msg_manager_type;
  using alog_type = websocketpp::log::stub;
  using elog_type = websocketpp::log::stub;
  using rng_type = masking_keys;
  static const bool enable_multithreading = false;
  static const size_t connection_read_buffer_size = 4096;

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

using client = websocketpp::client<bare_config>;
using message_ptr = bare_config::message_type::ptr;
using opcode = websocketpp::frame::opcode::value;

// -- frames -----------------------------------------------------------------------

/// Writes `[join_ref, ref, topic, event, payload]` (null for empty refs).
std::string encode(const std::string& join_ref, const std::string& ref,
                   const std::string& topic, const std::string& event,
                   const rapidjson::Value& payload) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartArray();
  if (join_ref.empty())
    w.Null();
  else
    w.String(join_ref.data(), static_cast<rapidjson::SizeType>(join_ref.size()));
  if (ref.empty())
    w.Null();
  else
    w.String(ref.data(), static_cast<rapidjson::SizeType>(ref.size()));
  w.String(topic.data(), static_cast<rapidjson::SizeType>(topic.size()));
  w.String(event.data(), static_cast<rapidjson::SizeType>(event.size()));
  payload.Accept(w);
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

/// What a workload needs of an inbound frame, parsed in place into buffers on
/// the stack (RapidJSON's own idiom for small documents: no heap at all).
struct inbound {
  using document = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                              rapidjson::MemoryPoolAllocator<>>;
  char value_buffer[4096];
  char parse_buffer[1024];
  rapidjson::MemoryPoolAllocator<> value_alloc{value_buffer, sizeof(value_buffer)};
  rapidjson::MemoryPoolAllocator<> parse_alloc{parse_buffer, sizeof(parse_buffer)};
  document doc{&value_alloc, sizeof(parse_buffer), &parse_alloc};
  const char* ref = nullptr;
  const char* topic = nullptr;
  const char* event = nullptr;
  const char* status = nullptr;
  bool ok = false;
};

/// Parses a V2 frame in place; `ok` is false for anything else.
void decode(std::string& text, inbound& in) {
  in.doc.ParseInsitu(&text[0]);
  if (in.doc.HasParseError() || !in.doc.IsArray() || in.doc.Size() < 5)
    return;
  auto& a = in.doc;
  in.ref = a[1].IsString() ? a[1].GetString() : nullptr;
  in.topic = a[2].IsString() ? a[2].GetString() : nullptr;
  in.event = a[3].IsString() ? a[3].GetString() : nullptr;
  if (!in.topic || !in.event || !a[4].IsObject())
    return;
  if (std::strcmp(in.event, "phx_reply") == 0) {
    auto st = a[4].FindMember("status");
    if (st == a[4].MemberEnd() || !st->value.IsString())
      return;
    in.status = st->value.GetString();
  }
  in.ok = true;
}

// -- one Phoenix connection, the least that a workload needs ------------------------

/// A connection with a ref counter, one joined topic, and an optional
/// heartbeat. Everything runs on the io thread.
struct conn : std::enable_shared_from_this<conn> {
  client& c;
  std::string url;
  std::string topic;
  websocketpp::connection_hdl hdl;
  uint64_t next_ref = 0;
  std::string join_ref;
  bool joined = false;
  std::unique_ptr<boost::asio::steady_timer> heartbeat;
  long heartbeat_ms = 0;
  std::function<void(conn&)> on_joined;
  std::function<void(conn&, inbound&)> on_frame;
  std::function<void(conn&)> on_open;
  std::function<void(conn&)> on_close;

  conn(client& cl, std::string u, std::string t) : c(cl), url(std::move(u)), topic(std::move(t)) {
    // nop
  }

  std::string ref() { return std::to_string(++next_ref); }

  /// Builds the wire frame in the text's own buffer, as phx's transport does
  /// (transport/src/connection.cpp, send_now): websocketpp's send of a string
  /// would copy it, check its UTF-8 again and mask it byte by byte.
  void send(std::string text) {
    websocketpp::lib::error_code ec;
    auto con = c.get_con_from_hdl(hdl, ec);
    if (ec)
      return;
    auto msg = con->get_message(websocketpp::frame::opcode::text, 0);
    auto& payload = msg->get_raw_payload();
    payload = std::move(text);
    websocketpp::frame::masking_key_type key;
    key.i = frame_keys()();
    websocketpp::frame::word_mask_exact(reinterpret_cast<uint8_t*>(payload.data()),
                                        payload.size(), key);
    websocketpp::frame::basic_header basic(websocketpp::frame::opcode::text, payload.size(),
                                           true, true);
    websocketpp::frame::extended_header extended(payload.size(), key.i);
    msg->set_header(websocketpp::frame::prepare_header(basic, extended));
    msg->set_prepared(true);
    con->send(msg);
  }

  /// The masking keys of the frames built here (everything runs on the io thread).
  static masking_keys& frame_keys() {
    static masking_keys keys;
    return keys;
  }

  void start() {
    websocketpp::lib::error_code ec;
    auto con = c.get_connection(url + "/websocket?vsn=2.0.0", ec);
    if (ec)
      throw std::runtime_error("get_connection: " + ec.message());
    con->set_max_message_size(16 * 1024 * 1024);
    auto self = shared_from_this();
    con->set_open_handler([self](websocketpp::connection_hdl) {
      self->joined = false;
      if (self->on_open)
        self->on_open(*self);
      self->join();
      self->arm_heartbeat();
    });
    con->set_message_handler([self](websocketpp::connection_hdl, message_ptr msg) {
      inbound in;
      decode(msg->get_raw_payload(), in);
      if (!in.ok)
        return;
      if (!self->joined && in.status && in.ref && self->join_ref == in.ref) {
        self->joined = std::strcmp(in.status, "ok") == 0;
        if (self->joined && self->on_joined)
          self->on_joined(*self);
        return;
      }
      if (self->on_frame)
        self->on_frame(*self, in);
    });
    auto closed = [self](websocketpp::connection_hdl) {
      self->joined = false;
      if (self->heartbeat)
        self->heartbeat->cancel();
      if (self->on_close)
        self->on_close(*self);
    };
    con->set_close_handler(closed);
    con->set_fail_handler(closed);
    hdl = con;
    c.connect(con);
  }

  void join() {
    static const rapidjson::Value empty{rapidjson::kObjectType};
    join_ref = ref();
    send(encode(join_ref, join_ref, topic, "phx_join", empty));
  }

  void arm_heartbeat() {
    if (heartbeat_ms == 0)
      return;
    if (!heartbeat)
      heartbeat = std::make_unique<boost::asio::steady_timer>(c.get_io_service());
    heartbeat->expires_after(std::chrono::milliseconds(heartbeat_ms));
    std::weak_ptr<conn> weak = shared_from_this();
    heartbeat->async_wait([weak](const boost::system::error_code& err) {
      auto self = weak.lock();
      if (err || !self)
        return;
      static const rapidjson::Value empty{rapidjson::kObjectType};
      self->send(encode("", self->ref(), "phoenix", "heartbeat", empty));
      self->arm_heartbeat();
    });
  }
};

/// The endpoint and its io thread.
struct runtime {
  client c;
  std::thread io;

  /// `nodelay`: set TCP_NODELAY (an experiment: phx's transport does not).
  explicit runtime(bool nodelay = false) {
    c.init_asio();
    c.set_user_agent("phx");
    if (nodelay)
      c.set_tcp_post_init_handler([this](websocketpp::connection_hdl hdl) {
        websocketpp::lib::error_code ec;
        boost::system::error_code ignored;
        if (auto con = c.get_con_from_hdl(hdl, ec))
          con->get_raw_socket().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
      });
    c.start_perpetual();
    io = std::thread([this] { c.run(); });
  }

  /// Runs `f` on the io thread.
  void post(std::function<void()> f) { boost::asio::post(c.get_io_service(), std::move(f)); }

  ~runtime() {
    c.stop_perpetual();
    c.get_io_service().stop();
    if (io.joinable())
      io.join();
  }
};

// -- workloads ------------------------------------------------------------------------

void echo(const args& a, report& out) {
  auto url = a.text("url");
  rapidjson::Document payload;
  auto text = a.text("payload");
  payload.Parse(text.c_str());
  if (payload.HasParseError() || !payload.IsObject())
    throw usage_error("--payload must be a JSON object");
  // The same measurement and warm-up as the phx client's (bench/measure.hpp).
  echo_run run{static_cast<uint64_t>(a.number("warmup", 0)),
               static_cast<uint64_t>(a.number("count", 100000)),
               static_cast<uint64_t>(a.number("window", 100))};
  runtime rt{a.number("nodelay", 0) != 0};
  auto cn = std::make_shared<conn>(rt.c, url, "room:bench");
  std::promise<void> joined;
  uint64_t ref_base = 0;
  // Push i carries ref ref_base + i + 1: the echo connection sends nothing else.
  auto push_next = [&](conn& k) {
    run.next();
    k.send(encode(k.join_ref, k.ref(), k.topic, "echo", payload));
  };
  cn->on_joined = [&](conn&) { joined.set_value(); };
  cn->on_frame = [&](conn& k, inbound& in) {
    if (!in.status || !in.ref)
      return;
    auto idx = std::strtoull(in.ref, nullptr, 10) - ref_base - 1;
    if (idx >= run.sent)
      return;
    bool ok = std::strcmp(in.status, "ok") == 0 && !k.join_ref.empty();
    if (ok && run.received == 0) {
      // The first reply must echo the payload (checked once: it costs).
      auto resp = in.doc[4].FindMember("response");
      ok = resp != in.doc[4].MemberEnd() && resp->value == payload;
    }
    if (run.on_reply(idx, ok))
      push_next(k);
  };
  rt.post([&] { cn->start(); });
  auto jf = joined.get_future();
  wait(jf, 10, "the join");
  rt.post([&] {
    ref_base = cn->next_ref;
    run.begin();
    for (uint64_t i = 0; i < run.window && run.sent < run.total; ++i)
      push_next(*cn);
  });
  run.done.wait_for(120, "the echo replies");
  // The io thread is done with `run`: its last reply fired the signal.
  run.write(out);
}

void fanin(const args& a, report& out) {
  auto url = a.text("url");
  auto total = static_cast<uint64_t>(a.number("count", 200000));
  auto chunk = static_cast<uint64_t>(a.number("chunk", 100000));
  runtime rt;
  auto cn = std::make_shared<conn>(rt.c, url, "room:flood");
  std::promise<void> joined;
  std::promise<void> done;
  uint64_t events = 0;
  uint64_t replies = 0;
  uint64_t floods = (total + chunk - 1) / chunk;
  double t0 = 0;
  double c0 = 0;
  double t1 = 0;
  double c1 = 0;
  auto check_done = [&] {
    if (events == total && replies == floods) {
      t1 = now_s();
      c1 = cpu_s();
      done.set_value();
    }
  };
  cn->on_joined = [&](conn&) { joined.set_value(); };
  cn->on_frame = [&](conn&, inbound& in) {
    if (std::strcmp(in.event, "flood") == 0) {
      if (in.doc[4].HasMember("i"))
        ++events;
      check_done();
    } else if (in.status) {
      ++replies;
      check_done();
    }
  };
  rt.post([&] { cn->start(); });
  auto jf = joined.get_future();
  wait(jf, 10, "the join");
  auto df = done.get_future();
  rt.post([&] {
    t0 = now_s();
    c0 = cpu_s();
    for (uint64_t sent = 0; sent < total; sent += chunk) {
      rapidjson::Document p;
      p.SetObject();
      p.AddMember("n", static_cast<uint64_t>(std::min(chunk, total - sent)), p.GetAllocator());
      cn->send(encode(cn->join_ref, cn->ref(), cn->topic, "flood", p));
    }
  });
  wait(df, 120, "the flood");
  auto n = double(events);
  out.add("events", n).add("lost", double(total) - n).add("wall_s", t1 - t0).add("cpu_s", c1 - c0)
    .add("events_per_s", n / (t1 - t0)).add("cpu_s_per_100k", (c1 - c0) / n * 1e5)
    .add("peak_rss_kib", double(peak_rss_kib()));
}

/// N connections, each joined to its own topic; `on_all_joined` once.
struct fleet {
  runtime& rt;
  std::vector<std::shared_ptr<conn>> conns;
  size_t joined_count = 0;

  fleet(runtime& r, const std::string& url, size_t n, long heartbeat_ms) : rt(r) {
    for (size_t i = 0; i < n; ++i) {
      auto cn = std::make_shared<conn>(rt.c, url, "room:s" + std::to_string(i));
      cn->heartbeat_ms = heartbeat_ms;
      conns.push_back(cn);
    }
  }
};

void scale(const args& a, report& out) {
  raise_nofile_limit();
  auto url = a.text("url");
  auto n = static_cast<size_t>(a.number("sockets", 1000));
  auto hb = a.number("heartbeat-ms", 30000);
  auto hold = a.number("hold-ms", 0);
  runtime rt;
  auto rss0 = rss_kib();
  std::promise<void> all;
  size_t joined = 0;
  double t0 = now_s();
  double t1 = 0;
  size_t opens = 0;
  fleet f{rt, url, n, hb};
  for (auto& cn : f.conns) {
    cn->on_joined = [&](conn&) {
      if (++joined == n) {
        t1 = now_s();
        all.set_value();
      }
    };
    cn->on_open = [&](conn&) { ++opens; };
  }
  rt.post([&] {
    for (auto& cn : f.conns)
      cn->start();
  });
  auto af = all.get_future();
  wait(af, 120, "every join");
  std::this_thread::sleep_for(std::chrono::milliseconds(hold));
  auto rss1 = rss_kib();
  std::promise<size_t> opened;
  rt.post([&] { opened.set_value(opens); });
  out.add("sockets", double(n)).add("joined", double(joined))
    .add("opens", double(opened.get_future().get()))
    .add("join_all_s", t1 - t0).add("rss_kib", double(rss1))
    .add("rss_kib_per_socket", double(rss1 - rss0) / double(n))
    .add("threads", double(threads()));
}

void storm(const args& a, report& out) {
  raise_nofile_limit();
  auto url = a.text("url");
  auto n = static_cast<size_t>(a.number("sockets", 1000));
  auto jitter = a.number("jitter-ms", 0);
  auto first_step = a.number("reconnect-ms", 1000);
  runtime rt;
  std::mt19937_64 rng{std::random_device{}()};
  std::promise<void> all;
  std::promise<void> rejoined_all;
  size_t joined = 0;
  size_t rejoined = 0;
  bool storming = false;
  double t_disconnect = 0;
  double t_done = 0;
  std::vector<double> opens;
  fleet f{rt, url, n, 30000};
  for (auto& cn : f.conns) {
    cn->on_joined = [&](conn&) {
      if (!storming) {
        if (++joined == n)
          all.set_value();
      } else if (++rejoined == n) {
        t_done = now_s();
        rejoined_all.set_value();
      }
    };
    cn->on_open = [&](conn&) {
      if (storming)
        opens.push_back(now_s());
    };
    cn->on_close = [&](conn& k) {
      // Reconnect after the first backoff step (plus jitter): a new connection.
      auto delay = first_step;
      if (jitter > 0)
        delay += static_cast<long>(std::uniform_real_distribution<double>{0, 1}(rng) * jitter);
      auto timer = std::make_shared<boost::asio::steady_timer>(rt.c.get_io_service());
      timer->expires_after(std::chrono::milliseconds(delay));
      auto self = k.shared_from_this();
      timer->async_wait([timer, self](const boost::system::error_code&) { self->start(); });
    };
  }
  rt.post([&] {
    for (auto& cn : f.conns)
      cn->start();
  });
  auto af = all.get_future();
  wait(af, 120, "every join");
  std::promise<void> armed;
  rt.post([&] {
    storming = true;
    armed.set_value();
  });
  armed.get_future().wait();
  t_disconnect = now_s();
  if (http_get(url, "/admin/disconnect_all") != 200)
    throw std::runtime_error("/admin/disconnect_all failed");
  auto rf = rejoined_all.get_future();
  wait(rf, 120, "every rejoin");
  std::promise<std::vector<double>> copy;
  rt.post([&] { copy.set_value(opens); });
  auto ts = copy.get_future().get();
  out.add("sockets", double(n)).add("jitter_ms", double(jitter))
    .add("rejoined", double(rejoined)).add("rejoin_all_s", t_done - t_disconnect)
    .add("peak_connects_per_s", double(peak_per_second(ts, t_disconnect)))
    .add("peak_connects_sliding_1s", double(peak_in_window(ts)));
}

/// The options of each workload (names without "--").
std::vector<std::string> options_of(const std::string& workload) {
  std::vector<std::string> common = {"workload", "url"};
  std::vector<std::string> own;
  if (workload == "echo")
    own = {"payload", "count", "warmup", "window", "nodelay"};
  else if (workload == "fanin")
    own = {"count", "chunk"};
  else if (workload == "scale")
    own = {"sockets", "heartbeat-ms", "hold-ms"};
  else if (workload == "storm")
    own = {"sockets", "jitter-ms", "reconnect-ms"};
  else
    throw usage_error("unknown --workload " + workload + " (echo, fanin, scale or storm)");
  common.insert(common.end(), own.begin(), own.end());
  return common;
}

} // namespace

int main(int argc, char** argv) {
  try {
    args a{argc, argv};
    auto workload = a.text("workload");
    a.allow(options_of(workload), "phx-bench-bare --workload " + workload);
    report out;
    out.add("client", std::string{"bare"}).add("workload", workload);
    if (workload == "echo")
      echo(a, out);
    else if (workload == "fanin")
      fanin(a, out);
    else if (workload == "scale")
      scale(a, out);
    else
      storm(a, out);
    out.print();
    // The measurement is done: tearing 10,000 connections down gracefully
    // would only add minutes to the run.
    std::_Exit(0);
  } catch (const usage_error& e) {
    std::cerr << "phx-bench-bare: " << e.what() << "\n";
    return usage_exit_code;
  } catch (const std::exception& e) {
    std::cerr << "phx-bench-bare: " << e.what() << "\n";
    return 1;
  }
}
