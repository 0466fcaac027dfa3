// 100 MB of pushes into a server that stops reading (issue 16, item 4): the
// outbound budget bounds what waits for the network, so resident memory stays
// bounded; every push beyond it fails at once with `outbound_full`, and every
// push made gets exactly one outcome. When the server reads again, the budget
// comes back and pushes succeed.
//
// The server is the raw test server, scripted: it answers the join, then
// stops reading (phx-server's `stall` keeps reading, so TCP never pushes back).
#define BOOST_TEST_MODULE phx_outbound_integration
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "phx/phx.hpp"
#include "phx/protocol/serializer.hpp"
#include "phx_test/raw_server.hpp"
#include "phx_test/require.hpp"
#include "phx_test/scheduler.hpp"

using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// ASan's quarantine keeps freed blocks resident, TSan shadows every byte:
// RSS says nothing about our bounds there (the counts are still checked).
constexpr bool rss_meaningful = false;
#else
constexpr bool rss_meaningful = true;
#endif

constexpr size_t payload_bytes = 64 * 1024;
constexpr size_t total_bytes = 100ull * 1024 * 1024;
constexpr size_t pushes = total_bytes / payload_bytes; // 1,600
constexpr size_t budget_bytes = 4 * 1024 * 1024;
/// Pushes the producer keeps without an outcome: a fast producer that still
/// waits for its own callbacks (the facade's mailboxes are not this bound's job).
constexpr size_t window = 128;
constexpr uint32_t push_timeout_ms = 3000;

/// A /proc/self/status field in KiB (VmRSS: resident now, VmHWM: peak).
long status_kib(const std::string& field) {
  std::ifstream in{"/proc/self/status"};
  std::string key;
  while (in >> key) {
    if (key == field + ":") {
      long kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1024, '\n');
  }
  return 0;
}

/// The scripted server: answers joins (and, once told, pushes) with "ok";
/// stops reading right after the first join while `stall` is set.
struct stalling_server {
  std::shared_ptr<const phx::protocol::serializer> ser;
  std::atomic<bool> stall{true};
  std::atomic<bool> answer_pushes{false};
  std::mutex mtx;
  std::condition_variable cv;
  phx_test::conn_id conn = 0;
  size_t floods_seen = 0;
  std::unique_ptr<phx_test::raw_server> raw;

  stalling_server() {
    auto made = phx::protocol::make_serializer(phx::protocol::vsn_2, phx::protocol::role::server);
    BOOST_REQUIRE(made);
    ser = std::move(*made);
    phx_test::raw_server_options opts;
    opts.record_messages = false;
    opts.on_message = [this](phx_test::raw_server& srv, const phx_test::ws_message& m) {
      on_message(srv, m);
    };
    raw = std::make_unique<phx_test::raw_server>(std::move(opts));
  }

  void on_message(phx_test::raw_server& srv, const phx_test::ws_message& m) {
    auto type = m.binary ? phx::protocol::frame_type::binary : phx::protocol::frame_type::text;
    auto msg = ser->decode(type, std::string_view{m.data});
    if (!msg)
      return;
    bool join = msg->event == "phx_join";
    if (!join) {
      std::lock_guard<std::mutex> guard{mtx};
      ++floods_seen;
      cv.notify_all();
    }
    if (join || answer_pushes) {
      auto reply = phx::protocol::message::reply(msg->join_ref, msg->ref, msg->topic, "ok",
                                                 phx::protocol::payload{});
      if (auto f = ser->encode(reply))
        srv.send_text(m.id, std::move(f->data));
    }
    if (join && stall) {
      // The join's read is done; at most the read in flight (16 KiB) follows.
      srv.pause_reading(m.id);
      std::lock_guard<std::mutex> guard{mtx};
      conn = m.id;
      cv.notify_all();
    }
  }

  /// Waits until the server has read `n` pushes; false on timeout.
  bool wait_floods(size_t n, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, timeout, [&] { return floods_seen >= n; });
  }
};

/// Every push outcome the producer saw, by status, and per push.
struct outcomes {
  std::mutex mtx;
  std::condition_variable cv;
  size_t resolved = 0;
  size_t ok = 0, error = 0, failed = 0, timeout = 0;
  std::vector<int> per_push = std::vector<int>(pushes, 0);

  void count(size_t i, const std::string& status) {
    std::lock_guard<std::mutex> guard{mtx};
    ++per_push[i];
    ++resolved;
    if (status == "ok")
      ++ok;
    else if (status == "error")
      ++error;
    else if (status == "failed")
      ++failed;
    else
      ++timeout;
    cv.notify_all();
  }

  /// Waits until at most `unresolved` of `made` pushes lack an outcome.
  bool wait(size_t made, size_t unresolved, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, timeout, [&] { return made - resolved <= unresolved; });
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_flood_into_a_server_that_stops_reading_stays_bounded_and_every_push_has_one_outcome) {
  stalling_server server;
  caf::actor_system_config cfg;
  phx::add_message_types(cfg);
  phx_test::apply_test_scheduler(cfg, [](auto& c) { phx::tune_scheduler(c); });
  caf::actor_system sys{cfg};
  phx::socket::options opts;
  opts.timeout = push_timeout_ms;
  // The stalled server never answers a heartbeat: no heartbeat, no reconnect.
  opts.heartbeat_interval_ms = 0;
  opts.max_outbound_bytes = budget_bytes;
  auto budget_warnings = std::make_shared<std::atomic<int>>(0);
  opts.log_level = phx::log_level::warning;
  opts.logger = [budget_warnings](phx::log_level level, std::string_view, std::string_view text) {
    if (text.find("outbound budget") != std::string_view::npos
        && level == phx::log_level::warning)
      ++*budget_warnings;
  };
  phx::socket sock{sys, server.raw->url("/socket"), opts};
  sock.connect();
  auto ch = sock.channel("flood:1");
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(ch.join().wait_for(10s)).status, "ok");
  {
    std::unique_lock<std::mutex> lock{server.mtx};
    BOOST_REQUIRE(server.cv.wait_for(lock, 10s, [&] { return server.conn != 0; }));
  }
  auto rss_before = status_kib("VmRSS");
  outcomes seen;
  std::string data(payload_bytes - 16, 'x');
  for (size_t i = 0; i < pushes; ++i) {
    BOOST_REQUIRE_MESSAGE(seen.wait(i, window - 1, 30s),
                          "no outcomes for " << window << " pushes in 30 s");
    // A fresh payload per push, as a producer makes them.
    auto n = std::to_string(i);
    data.replace(0, n.size(), n);
    auto p = ch.push("flood", phx::object({{"data", data}}));
    for (auto status : {"ok", "error", "failed", "timeout"})
      p.receive(status, [&seen, i, s = std::string{status}](const phx::payload&) {
        seen.count(i, s);
      });
  }
  // The accepted pushes wait for replies until their timeout.
  BOOST_REQUIRE_MESSAGE(seen.wait(pushes, 0, 60s), "pushes without an outcome");
  auto rss_peak = status_kib("VmHWM");
  auto stats = sock.stats();
  {
    std::lock_guard<std::mutex> guard{seen.mtx};
    BOOST_TEST_MESSAGE("pushes " << pushes << " of " << payload_bytes << " bytes: ok " << seen.ok
                       << ", failed " << seen.failed << ", timeout " << seen.timeout
                       << "; refusals " << stats.outbound_refusals << "; unwritten "
                       << stats.outbound_frames << " frames, " << stats.outbound_bytes
                       << " bytes; RSS " << rss_before << " KiB before, peak " << rss_peak
                       << " KiB");
    // Exactly one outcome per push, none lost, none twice.
    BOOST_CHECK_EQUAL(seen.ok + seen.error + seen.failed + seen.timeout, pushes);
    for (size_t i = 0; i < pushes; ++i)
      BOOST_CHECK_MESSAGE(seen.per_push[i] == 1,
                          "push " << i << " had " << seen.per_push[i] << " outcomes");
    BOOST_CHECK_EQUAL(seen.ok, 0u);
    BOOST_CHECK_EQUAL(seen.error, 0u);
    // Failed = refused for the budget, each counted by the socket.
    BOOST_CHECK_EQUAL(seen.failed, stats.outbound_refusals);
    BOOST_CHECK_GT(seen.failed, pushes / 2);
    // What went to the connection is still unwritten, and within the budget.
    BOOST_CHECK_GT(stats.outbound_frames, 0u);
    BOOST_CHECK_LE(stats.outbound_bytes, budget_bytes);
    // The rest of the accepted pushes were written into the kernel's buffers.
    BOOST_CHECK_LE(stats.outbound_frames, seen.timeout);
  }
  BOOST_CHECK_GE(budget_warnings->load(), 1);
  if (rss_meaningful) {
    // Live at the peak: the budget's frames and their payloads (2 x 4 MiB),
    // the window's payloads on their way (128 x 64 KiB, twice: text and
    // document), plus 16 MiB for the allocator's slack. Without the budget,
    // all 100 MB would wait in websocketpp's queue.
    constexpr long bound_kib = (2 * budget_bytes + 2 * window * payload_bytes) / 1024
                               + 16 * 1024;
    BOOST_CHECK_LT(rss_peak - rss_before, bound_kib);
  }
  // The server reads again: the stuck frames are written, the budget comes back.
  size_t written;
  {
    std::lock_guard<std::mutex> guard{seen.mtx};
    written = seen.timeout;
  }
  server.answer_pushes = true;
  server.raw->resume_reading(server.conn);
  BOOST_REQUIRE_MESSAGE(server.wait_floods(written, 30s), "the server did not get the flood");
  // The last writes complete on the io thread: bounded in count and in time.
  auto drained = false;
  auto give_up = std::chrono::steady_clock::now() + 10s;
  for (int i = 0; i < 100000 && !drained && std::chrono::steady_clock::now() < give_up; ++i)
    drained = sock.stats().outbound_frames == 0;
  BOOST_REQUIRE_MESSAGE(drained, "the budget did not come back");
  auto after = PHX_REQUIRE_VALUE(ch.push("flood", phx::object({{"data", "after"}})).wait_for(10s));
  BOOST_CHECK_EQUAL(after.status, "ok");
}
