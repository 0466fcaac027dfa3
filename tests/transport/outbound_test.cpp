// The io side's half of the outbound budget: a frame's unit of the request's
// `outbound` credit comes back once websocketpp has written it, or once the
// frame is dropped; a peer that does not read keeps it taken.
#include "fixture.hpp"

#include <atomic>
#include <memory>

using namespace phx_test;

namespace {

/// Waits (bounded in count and time) until the credit holds no unit.
bool wait_given_back(const tr::credit& c, std::chrono::seconds limit = max_wait) {
  auto give_up = std::chrono::steady_clock::now() + limit;
  for (long i = 0; i < 100'000'000 && std::chrono::steady_clock::now() < give_up; ++i) {
    if (c.units() == 0 && c.bytes() == 0)
      return true;
    std::this_thread::yield();
  }
  return c.units() == 0 && c.bytes() == 0;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(transport_outbound, transport_fixture)

BOOST_AUTO_TEST_CASE(a_peer_that_does_not_read_keeps_the_outbound_credit_until_it_reads) {
  auto read = std::make_shared<std::atomic<size_t>>(0);
  raw_server srv{options([read](auto& o) {
    o.pause_reading_on_open = true;
    o.record_messages = false;
    o.on_message = [read](raw_server&, const ws_message&) { ++*read; };
  })};
  auto budget = std::make_shared<tr::credit>(100000, size_t{1} << 30);
  auto req = request(srv.url());
  req.outbound = budget;
  auto t = spawn(1, std::move(req));
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto conn = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(conn.has_value());
  // 32 MiB: far more than loopback's socket buffers take from a peer that
  // does not read, so most of it stays unwritten.
  constexpr size_t frames = 512;
  constexpr size_t size = 64 * 1024;
  for (size_t i = 0; i < frames; ++i) {
    BOOST_TEST_REQUIRE(budget->try_take(size));
    send(t, tr::frame_atom::value, frame{frame_type::binary, std::string(size, 'x')});
  }
  // Nothing is read yet (the integration test shows the credit staying taken
  // for seconds); once the server reads, every unit comes back.
  BOOST_TEST(*read == 0u);
  srv.resume_reading(*conn);
  BOOST_TEST(wait_given_back(*budget));
  BOOST_TEST(budget->units() == 0u);
  // Every frame reached the server (the last writes may land after the check).
  auto give_up = std::chrono::steady_clock::now() + max_wait;
  while (*read < frames && std::chrono::steady_clock::now() < give_up)
    std::this_thread::yield();
  BOOST_TEST(*read == frames);
}

BOOST_AUTO_TEST_CASE(frames_that_never_go_out_give_their_outbound_credit_back) {
  // A listener that never accepts: the upgrade never completes.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor silent{ioc, {boost::asio::ip::address_v4::loopback(), 0}};
  auto budget = std::make_shared<tr::credit>(100, 1 << 20);
  auto req = request("ws://127.0.0.1:" + std::to_string(silent.local_endpoint().port())
                     + "/socket");
  req.outbound = budget;
  auto t = spawn(2, std::move(req));
  // Queued until the open; the abort behind them in the mailbox drops them.
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST_REQUIRE(budget->try_take(5));
    send(t, tr::frame_atom::value, frame{frame_type::text, "hello"});
  }
  send(t, tr::abort_atom::value);
  BOOST_TEST_REQUIRE(next().kind == report::failed);
  BOOST_TEST(wait_given_back(*budget));
}

BOOST_AUTO_TEST_CASE(an_invalid_text_frame_gives_its_outbound_credit_back) {
  raw_server srv;
  auto budget = std::make_shared<tr::credit>(100, 1 << 20);
  auto req = request(srv.url());
  req.outbound = budget;
  auto t = spawn(3, std::move(req));
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  BOOST_TEST_REQUIRE(budget->try_take(2));
  send(t, tr::frame_atom::value, frame{frame_type::text, std::string{"\xff\xfe"}});
  BOOST_TEST_REQUIRE(budget->try_take(2));
  send(t, tr::frame_atom::value, frame{frame_type::text, std::string{"ok"}});
  auto m = srv.wait_message(max_wait);
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->data == "ok");
  BOOST_TEST(wait_given_back(*budget));
}

BOOST_AUTO_TEST_SUITE_END()
