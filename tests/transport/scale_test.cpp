// Many sockets share the io runtime: 500 concurrent connections add no thread.
#include "fixture.hpp"

#include <fstream>
#include <set>

using namespace phx_test;

namespace {

/// Threads of this process (Linux).
size_t thread_count() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Threads:", 0) == 0)
      return std::stoul(line.substr(8));
  return 0;
}

/// Resident memory of this process in KiB (Linux).
size_t rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoul(line.substr(6));
  return 0;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(scale, transport_fixture)

BOOST_AUTO_TEST_CASE(thread_count_does_not_grow_with_500_connections) {
  constexpr tr::generation n = 500;
  raw_server srv{options([](auto& o) { o.echo = true; })};
  // Warm-up: one connection per io thread starts everything lazy (asio's
  // resolver thread of each io thread included).
  for (size_t i = 0; i < runtime->threads(); ++i) {
    auto t = spawn(0, request(srv.url()));
    BOOST_TEST_REQUIRE(next().kind == report::opened);
    send(t, tr::abort_atom::value);
    BOOST_TEST_REQUIRE(next().kind == report::closed);
  }
  BOOST_TEST_REQUIRE(wait_no_connections());
  auto threads_before = thread_count();
  auto rss_before = rss_kib();
  std::vector<tr::transport_actor> ts;
  for (tr::generation gen = 1; gen <= n; ++gen)
    ts.push_back(spawn(gen, request(srv.url())));
  std::set<tr::generation> opened;
  for (tr::generation i = 0; i < n; ++i) {
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::opened, r);
    opened.insert(r.gen);
  }
  BOOST_TEST(opened.size() == n);
  BOOST_TEST_REQUIRE(srv.wait_open_count(n, max_wait));
  BOOST_TEST(runtime->connections() == n);
  BOOST_TEST(thread_count() == threads_before);
  BOOST_TEST_MESSAGE("threads: " << thread_count() << ", io threads: "
                                 << runtime->threads() << ", RSS growth for " << n
                                 << " client+server connections: "
                                 << (rss_kib() - rss_before) << " KiB");
  // Every connection works.
  for (tr::generation gen = 1; gen <= n; ++gen)
    send(ts[gen - 1], tr::frame_atom::value,
               frame{frame_type::text, std::to_string(gen)});
  std::set<tr::generation> echoed;
  for (tr::generation i = 0; i < n; ++i) {
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::data, r);
    BOOST_TEST(r.f.data == std::to_string(r.gen));
    echoed.insert(r.gen);
  }
  BOOST_TEST(echoed.size() == n);
  for (auto& t : ts)
    send(t, tr::close_atom::value, uint16_t{1000}, std::string{});
  std::set<tr::generation> closed;
  for (tr::generation i = 0; i < n; ++i) {
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::closed, r);
    BOOST_TEST(r.code == 1000);
    closed.insert(r.gen);
  }
  BOOST_TEST(closed.size() == n);
  BOOST_TEST(wait_no_connections());
  BOOST_TEST(srv.wait_open_count(0, max_wait));
  BOOST_TEST(thread_count() == threads_before);
}

BOOST_AUTO_TEST_SUITE_END()
