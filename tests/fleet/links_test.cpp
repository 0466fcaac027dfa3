// The fleet's node links (tools/fleet/cluster/links): plain and mutual-TLS
// links between two actor systems over 127.0.0.1, refusals (no certificate,
// a certificate of another CA, a plain node against a TLS one, a mismatched
// interface), `check` on bad files, and heartbeats losing a SIGSTOPped peer
// process within seconds. Certificates are made at test time with the
// openssl CLI.

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "cluster/links.hpp"
#include "links_test_ping.hpp"
#include "node_pki.hpp"

namespace links = phx::fleet::links;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using fleet_test::node_pki;

const node_pki& pki() {
  static node_pki instance;
  return instance;
}

// -- nodes ---------------------------------------------------------------------

// One actor system configured by `links::configure`.
struct node {
  explicit node(const links::link_options& opts) : opts(opts) {
    links::configure(cfg, opts);
    sys.emplace(cfg);
  }
  links::link_options opts;
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
};

// A node that publishes a ping actor on 127.0.0.1.
struct server_node : node {
  explicit server_node(const links::link_options& opts) : node(opts) {
    ping = sys->spawn(links_test::ping_impl);
    auto p = links::publish(*sys, opts, ping, "127.0.0.1", 0);
    if (!p)
      throw std::runtime_error("publish failed: " + sys->render(p.error()));
    port = *p;
  }
  ~server_node() { caf::anon_send_exit(ping, caf::exit_reason::user_shutdown); }
  links_test::ping_actor ping;
  uint16_t port = 0;
};

// Connects as `Handle` within 15 s: a refused handshake must end in an error, never a hang.
template <class Handle = links_test::ping_actor>
caf::expected<Handle> connect_bounded(node& n, uint16_t port) {
  auto fut = std::async(std::launch::async,
                        [&] { return links::connect<Handle>(*n.sys, n.opts, "127.0.0.1", port); });
  if (fut.wait_for(15s) != std::future_status::ready) {
    // The blocked connect would block the test's exit too: stop here, loudly.
    std::fprintf(stderr, "links_test: connect did not end within 15 s\n");
    std::_Exit(1);
  }
  return fut.get();
}

// Sends 41 over the link and expects 42.
void expect_ping(node& n, const links_test::ping_actor& remote) {
  caf::scoped_actor self{*n.sys};
  int answer = 0;
  std::string failure;
  self->request(remote, 10s, 41)
    .receive([&](int x) { answer = x; },
             [&](caf::error& err) { failure = n.sys->render(err); });
  BOOST_TEST(failure == "");
  BOOST_TEST(answer == 42);
}

// Why `x` failed, or "" (Boost evaluates a message even when its check passes).
template <class T>
std::string why(caf::actor_system& sys, const caf::expected<T>& x) {
  return x ? std::string{} : sys.render(x.error());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_links)

BOOST_AUTO_TEST_CASE(host_port_parsing) {
  auto a = links::parse_host_port("127.0.0.1:4000");
  BOOST_REQUIRE(a);
  BOOST_TEST(a->first == "127.0.0.1");
  BOOST_TEST(a->second == 4000);
  auto b = links::parse_host_port("[::1]:0");
  BOOST_REQUIRE(b);
  BOOST_TEST(b->first == "::1");
  BOOST_TEST(b->second == 0);
  auto c = links::parse_host_port(":65535");
  BOOST_REQUIRE(c);
  BOOST_TEST(c->first == "");
  for (auto bad : {"", "host", "host:", "host:x", "host:65536", "host:-1", "::1:80", "[::1:80",
                   "host:80 "})
    BOOST_TEST(!links::parse_host_port(bad), "accepted '" << bad << "'");
  BOOST_TEST(links::to_string("::1", 80) == "[::1]:80");
  BOOST_TEST(links::to_string("10.0.0.2", 80) == "10.0.0.2:80");
}

BOOST_AUTO_TEST_CASE(check_accepts_good_files_and_names_bad_ones) {
  BOOST_TEST(links::check(pki().node("node1")) == "");
  links::link_options plain;
  plain.insecure = true;
  BOOST_TEST(links::check(plain) == "");
  // Plain links carry the scenario's tokens in the clear: loopback only.
  BOOST_TEST(links::check(plain, "127.0.0.1") == "");
  BOOST_TEST(links::check(plain, "::1") == "");
  BOOST_TEST(contains(links::check(plain, "10.1.2.3"), "loopback only"));
  BOOST_TEST(contains(links::check(plain, ""), "every address"));
  BOOST_TEST(links::check(pki().node("node1"), "10.1.2.3") == "");

  auto no_files = links::link_options{};
  BOOST_TEST(contains(links::check(no_files), "--insecure-links"));

  auto mixed = pki().node("node1");
  mixed.insecure = true;
  BOOST_TEST(contains(links::check(mixed), "contradicts"));

  auto missing = pki().node("node1");
  missing.certificate = pki().path("nope.pem");
  auto msg = links::check(missing);
  BOOST_TEST(contains(msg, "nope.pem"), msg);
  BOOST_TEST(contains(msg, "cannot be read"), msg);

  auto garbage_cert = pki().node("node1");
  garbage_cert.certificate = pki().path("garbage.pem");
  msg = links::check(garbage_cert);
  BOOST_TEST(contains(msg, "garbage.pem"), msg);
  BOOST_TEST(contains(msg, "no PEM certificate"), msg);

  auto garbage_key = pki().node("node1");
  garbage_key.key = pki().path("garbage.pem");
  msg = links::check(garbage_key);
  BOOST_TEST(contains(msg, "--link-key"), msg);

  auto garbage_ca = pki().node("node1");
  garbage_ca.cafile = pki().path("garbage.pem");
  msg = links::check(garbage_ca);
  BOOST_TEST(contains(msg, "--link-ca"), msg);

  auto wrong_key = pki().node("node1");
  wrong_key.key = pki().path("node2.key");
  msg = links::check(wrong_key);
  BOOST_TEST(contains(msg, "does not match"), msg);

  auto foreign = pki().node("rogue");
  msg = links::check(foreign);
  BOOST_TEST(contains(msg, "not valid under CA"), msg);

  auto silent = plain;
  silent.connection_timeout = silent.heartbeat;
  BOOST_TEST(contains(links::check(silent), "timeout"));
}

BOOST_AUTO_TEST_CASE(plain_link_works_and_refuses_a_mismatched_interface) {
  links::link_options plain;
  plain.insecure = true;
  server_node a{plain};
  node b{plain};
  auto remote = connect_bounded(b, a.port);
  BOOST_REQUIRE_MESSAGE(remote, "connect failed: " << why(*b.sys, remote));
  expect_ping(b, *remote);
  auto other = connect_bounded<links_test::other_actor>(b, a.port);
  BOOST_TEST(!other);
}

BOOST_AUTO_TEST_CASE(tls_link_between_two_nodes_of_one_ca_works) {
  server_node a{pki().node("node1")};
  node b{pki().node("node2")};
  auto remote = connect_bounded(b, a.port);
  BOOST_REQUIRE_MESSAGE(remote, "connect failed: " << why(*b.sys, remote));
  expect_ping(b, *remote);
}

BOOST_AUTO_TEST_CASE(tls_node_refuses_a_node_without_a_certificate) {
  server_node a{pki().node("node1")};
  links::link_options no_cert; // TLS, but nothing to show
  node b{no_cert};
  auto remote = connect_bounded(b, a.port);
  BOOST_TEST(!remote);
  BOOST_TEST_MESSAGE("without a certificate: " << why(*b.sys, remote));
  // And a plain node speaking BASP in the clear to a TLS node.
  links::link_options plain;
  plain.insecure = true;
  node c{plain};
  auto clear = connect_bounded(c, a.port);
  BOOST_TEST(!clear);
  BOOST_TEST_MESSAGE("plain against TLS: " << why(*c.sys, clear));
}

BOOST_AUTO_TEST_CASE(tls_nodes_refuse_a_certificate_of_another_ca) {
  server_node a{pki().node("node1")};
  auto rogue_opts = pki().node("rogue");
  rogue_opts.cafile = pki().path("ca2.pem"); // trusts its own CA
  node rogue{rogue_opts};
  auto remote = connect_bounded(rogue, a.port);
  BOOST_TEST(!remote);
  BOOST_TEST_MESSAGE("certificate of another CA: " << why(*rogue.sys, remote));
  // The other way: a fleet node dialing a rogue listener.
  server_node rogue_server{rogue_opts};
  node b{pki().node("node2")};
  auto to_rogue = connect_bounded(b, rogue_server.port);
  BOOST_TEST(!to_rogue);
  BOOST_TEST_MESSAGE("listener of another CA: " << why(*b.sys, to_rogue));
}

BOOST_AUTO_TEST_CASE(heartbeats_lose_a_stopped_peer_within_seconds) {
  // The peer is a process of its own (links_test_node) so that SIGSTOP freezes it whole.
  int out[2];
  BOOST_REQUIRE(::pipe(out) == 0);
  auto pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::execl(PHX_LINKS_TEST_NODE, PHX_LINKS_TEST_NODE, "200", "1000", nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  // Killed however the test ends.
  auto reap = [pid](pid_t*) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
  };
  std::unique_ptr<pid_t, decltype(reap)> guard{&pid, reap};
  std::string line;
  auto read_port = std::async(std::launch::async, [&] {
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n' && line.size() < 16)
      line += c;
  });
  BOOST_REQUIRE_MESSAGE(read_port.wait_for(15s) == std::future_status::ready,
                        "the peer did not print its port within 15 s");
  ::close(out[0]);
  auto port = std::atoi(line.c_str());
  BOOST_REQUIRE_MESSAGE(port > 0, "the peer printed '" << line << "', not a port");

  links::link_options opts;
  opts.insecure = true;
  opts.heartbeat = 200ms;
  opts.connection_timeout = 1000ms;
  node a{opts};
  auto remote = connect_bounded(a, static_cast<uint16_t>(port));
  BOOST_REQUIRE_MESSAGE(remote, "connect failed: " << why(*a.sys, remote));
  expect_ping(a, *remote);

  caf::scoped_actor self{*a.sys};
  self->monitor(*remote);
  auto stopped_at = std::chrono::steady_clock::now();
  BOOST_REQUIRE(::kill(pid, SIGSTOP) == 0);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(10s) >> [] {});
  auto lost_after = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - stopped_at);
  BOOST_TEST_MESSAGE("a stopped peer was lost after " << lost_after.count() << " ms");
  BOOST_TEST(down, "a stopped peer was not lost within 10 s");
  BOOST_TEST(lost_after.count() < 4000);
}

BOOST_AUTO_TEST_SUITE_END()
