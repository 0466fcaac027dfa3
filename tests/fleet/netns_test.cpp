// phx-fleet over separate hosts made of network namespaces (docs/fleet.md,
// "Running across processes and machines"): a bridge in the root namespace
// with phx-server and the coordinator on its address, and each worker in a
// network namespace (and a host name) of its own, joined to the bridge by a
// veth link, over mutual TLS links with a test CA. Needs root and `ip netns`;
// elsewhere the test is skipped with its reason (ctest shows "Skipped").

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "fleet_process.hpp"
#include "node_pki.hpp"
#include "phx_test/server_process.hpp"

using fleet_test::fleet_child;
using fleet_test::scratch_dir;
using fleet_test::slurp;
using fleet_test::write_file;

namespace {

const std::string ns_prefix = "phx-fleet-";

// Runs a shell command with its output appended to `log`; true on exit code 0.
bool sh(const std::string& cmd, const std::string& log) {
  return std::system((cmd + " >>'" + log + "' 2>&1").c_str()) == 0;
}

// Removes namespaces, bridges and veth links left by test processes that died
// without cleaning up (killed by a ctest timeout): their names carry the dead pid.
void remove_stale_networks() {
  const std::pair<const char*, std::string> kinds[] = {
    {"/run/netns", ns_prefix}, {"/sys/class/net", "phxfb"}, {"/sys/class/net", "phxfv"}};
  for (auto& [dir, prefix] : kinds) {
    DIR* d = ::opendir(dir);
    if (!d)
      continue;
    std::vector<std::string> names;
    while (auto* e = ::readdir(d))
      names.push_back(e->d_name);
    ::closedir(d);
    for (auto& name : names) {
      if (name.rfind(prefix, 0) != 0)
        continue;
      auto digits = name.substr(prefix.size());
      digits = digits.substr(0, digits.find_first_not_of("0123456789"));
      if (digits.empty() || digits.size() > 9 || ::kill(std::stoi(digits), 0) == 0
          || errno != ESRCH)
        continue;
      auto cmd = prefix == ns_prefix ? "ip netns del " + name : "ip link del " + name;
      std::system((cmd + " >/dev/null 2>&1").c_str());
    }
  }
}

// Why this machine cannot make network namespaces; empty when it can.
std::string why_no_netns() {
  if (::geteuid() != 0)
    return "network namespaces need root (euid " + std::to_string(::geteuid()) + ")";
  auto probe = ns_prefix + std::to_string(::getpid()) + "-probe";
  if (!sh("ip netns add " + probe, "/dev/null"))
    return "'ip netns add' failed (no iproute2, or no CAP_SYS_ADMIN)";
  auto veth = "phxfv" + std::to_string(::getpid()) + "p";
  bool linked = sh("ip link add " + veth + " type veth peer name eth0 netns " + probe, "/dev/null");
  sh("ip link del " + veth + "; ip netns del " + probe, "/dev/null");
  return linked ? "" : "'ip link add ... type veth' failed (no veth links here)";
}

// The precondition of the suite: the reason shows in the test log and ctest
// reports the test as skipped (SKIP_REGULAR_EXPRESSION).
boost::test_tools::assertion_result netns_available(boost::unit_test::test_unit_id) {
  static const std::string why = why_no_netns();
  boost::test_tools::assertion_result r{why.empty()};
  r.message() << why << ": the test of workers on separate network hosts is skipped";
  return r;
}

// A test network: a bridge in the root namespace on 10.231.N.1/24 and `hosts`
// namespaces on 10.231.N.2, .3, ... each linked to it by a veth pair. Removed
// (veth links, namespaces, bridge) when it goes, also after a failed start.
class test_network {
public:
  test_network(size_t hosts, const std::string& log) : log_(log) {
    remove_stale_networks();
    pid_ = std::to_string(::getpid());
    bridge_ = "phxfb" + pid_;
    try {
      make(hosts);
    } catch (...) {
      remove(); // a failed constructor runs no destructor
      throw;
    }
  }
  ~test_network() { remove(); }
  test_network(const test_network&) = delete;
  test_network& operator=(const test_network&) = delete;

  /// The bridge's address in the root namespace.
  std::string gateway() const { return subnet_ + "1"; }
  /// The address of host `i` (0 ..).
  std::string address(size_t i) const { return subnet_ + std::to_string(i + 2); }
  /// The host name host `i`'s processes see.
  static std::string host_name(size_t i) { return "fleet-host-" + std::to_string(i + 1); }

  /// Starts `phx-fleet args` in host `i`'s network namespace, under its own
  /// host name: a thread enters them and forks there (a fork inherits the
  /// forking thread's namespaces), so that fleet_child runs it unchanged.
  std::unique_ptr<fleet_child> start(size_t i, const std::vector<std::string>& args,
                                     const std::string& dir, const std::string& name) const {
    std::unique_ptr<fleet_child> child;
    std::string error;
    std::thread enter{[&] {
      auto path = "/run/netns/" + namespaces_.at(i);
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        error = "cannot enter " + path + ": " + std::strerror(errno);
        if (fd >= 0)
          ::close(fd);
        return;
      }
      ::close(fd);
      auto host = host_name(i);
      if (::unshare(CLONE_NEWUTS) != 0 || ::sethostname(host.c_str(), host.size()) != 0) {
        error = std::string{"cannot set a host name of its own: "} + std::strerror(errno);
        return;
      }
      child = std::make_unique<fleet_child>(args, dir, name);
    }};
    enter.join();
    BOOST_REQUIRE_MESSAGE(error.empty(), error);
    return child;
  }

private:
  void make(size_t hosts) {
    subnet_ = free_subnet();
    BOOST_REQUIRE_MESSAGE(!subnet_.empty(), "no free 10.231.N.0/24 subnet for the test network");
    created_bridge_ = sh("ip link add name " + bridge_ + " type bridge", log_);
    require(created_bridge_, "create bridge " + bridge_);
    require(sh("ip addr add " + gateway() + "/24 dev " + bridge_ + " && ip link set " + bridge_
                 + " up",
               log_),
            "address the bridge");
    for (size_t i = 0; i < hosts; ++i) {
      auto ns = ns_prefix + pid_ + "-h" + std::to_string(i + 1);
      auto veth = "phxfv" + pid_ + "h" + std::to_string(i + 1);
      require(sh("ip netns add " + ns, log_), "add namespace " + ns);
      namespaces_.push_back(ns);
      require(sh("ip link add " + veth + " type veth peer name eth0 netns " + ns, log_),
              "add veth " + veth);
      veths_.push_back(veth);
      require(sh("ip link set " + veth + " master " + bridge_ + " up", log_),
              "attach " + veth + " to the bridge");
      require(sh("ip -n " + ns + " addr add " + address(i) + "/24 dev eth0 && ip -n " + ns
                   + " link set eth0 up && ip -n " + ns + " link set lo up",
                 log_),
              "address " + ns);
    }
  }

  void remove() {
    // Links first: a deleted namespace takes its veth ends along only later (asynchronously).
    for (auto& veth : veths_)
      sh("ip link del " + veth, log_);
    veths_.clear();
    for (auto& ns : namespaces_)
      sh("ip netns del " + ns, log_);
    namespaces_.clear();
    if (created_bridge_)
      sh("ip link del " + bridge_, log_);
    created_bridge_ = false;
  }

  void require(bool ok, const std::string& what) const {
    BOOST_REQUIRE_MESSAGE(ok, "cannot " << what << ": " << slurp(log_));
  }

  // "10.231.N." for an N that no address or route of the root namespace uses.
  std::string free_subnet() const {
    auto used = log_ + ".used";
    std::system(("(ip -o -4 addr show; ip -4 route show) >'" + used + "' 2>&1").c_str());
    auto text = slurp(used);
    for (int k = 0; k < 230; ++k) {
      auto candidate = "10.231." + std::to_string(20 + (::getpid() + k) % 230) + ".";
      if (text.find(candidate) == std::string::npos)
        return candidate;
    }
    return "";
  }

  std::string log_;
  std::string pid_;
  std::string bridge_;
  std::string subnet_;
  bool created_bridge_ = false;
  std::vector<std::string> namespaces_;
  std::vector<std::string> veths_;
};

// Established TCP connections of the root namespace whose local end is
// `ip`:`port`, counted by the peer's address (from /proc/net/tcp).
std::map<std::string, int> peers_of(const std::string& ip, uint16_t port) {
  std::map<std::string, int> peers;
  std::istringstream in{slurp("/proc/net/tcp")};
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream ls{line};
    std::string slot, local, remote, state;
    ls >> slot >> local >> remote >> state;
    if (state != "01" || local.size() != 13 || remote.size() != 13)
      continue;
    auto addr = [](const std::string& hex) {
      in_addr a{};
      a.s_addr = static_cast<uint32_t>(std::stoul(hex.substr(0, 8), nullptr, 16));
      char buf[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &a, buf, sizeof buf);
      return std::string{buf};
    };
    if (addr(local) == ip && std::stoul(local.substr(9), nullptr, 16) == port)
      ++peers[addr(remote)];
  }
  return peers;
}

rapidjson::Document read_json(const std::string& path) {
  rapidjson::Document doc;
  auto text = slurp(path);
  doc.Parse(text.c_str());
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(),
                        path << " is not a JSON object: " << text);
  return doc;
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_netns, *boost::unit_test::precondition(netns_available))

BOOST_AUTO_TEST_CASE(workers_in_network_namespaces_run_as_separate_hosts) {
  constexpr int users = 300;
  auto dir = scratch_dir("netns");
  fleet_test::node_pki pki;
  test_network net{2, dir + "/ip.log"};
  const auto gw = net.gateway();
  phx_test::server_process srv{{"--host", gw}};
  BOOST_REQUIRE(srv.url().find("//" + gw + ":") != std::string::npos);
  write_file(dir + "/s.json", R"({"name": "netns", "seed": 7, "duration_s": 10, "targets": [")"
                                + srv.url() + R"("],
    "socket": {"params": {"user": "u{{i}}"}},
    "population": [{"users": )" + std::to_string(users) + R"(,
      "phases": [{"ramp": {"to": )" + std::to_string(users) + R"(, "over_s": 2}}],
      "steps": [{"join": "room:netns"},
                {"push": "echo", "payload": {"x": 1}, "rate": 1, "forever": true}]}]})");
  auto tls = [&](const std::string& node) {
    return std::vector<std::string>{"--link-cert", pki.path(node + ".pem"), "--link-key",
                                    pki.path(node + ".key"), "--link-ca", pki.path("ca.pem")};
  };
  fleet_child coord(cat({"coordinator", "--listen", gw + ":0", "--workers", "2", dir + "/s.json",
                         "--report", dir + "/report", "--join-timeout", "20"},
                        tls("node1")),
                    dir, "coordinator");
  BOOST_REQUIRE_MESSAGE(coord.wait_output("listening on ", 20),
                        "the coordinator did not listen; stderr: " << coord.err());
  std::smatch m;
  auto out = coord.out();
  BOOST_REQUIRE(std::regex_search(out, m, std::regex{"listening on ([0-9.]+):([0-9]+)"}));
  BOOST_REQUIRE_EQUAL(m[1].str(), gw);
  const auto coord_at = m[1].str() + ":" + m[2].str();
  const auto coord_port = static_cast<uint16_t>(std::stoi(m[2].str()));
  // Two certificates of the fleet's CA suffice: node2 serves both workers.
  auto w1 = net.start(0, cat({"worker", "--coordinator", coord_at}, tls("node2")), dir, "w1");
  auto w2 = net.start(1, cat({"worker", "--coordinator", coord_at}, tls("node2")), dir, "w2");

  // Mid-run, as the root namespace sees it: every user's socket and every
  // node link comes from a namespace's address, none from loopback.
  BOOST_REQUIRE_MESSAGE(coord.wait_output("t=5s", 40), "the run did not reach 5 s: "
                                                         << coord.out() << coord.err() << w1->err()
                                                         << w2->err());
  auto users_from = peers_of(gw, srv.port());
  auto links_from = peers_of(gw, coord_port);
  BOOST_TEST(users_from.size() == 2u);
  BOOST_TEST(users_from[net.address(0)] == users / 2);
  BOOST_TEST(users_from[net.address(1)] == users / 2);
  BOOST_TEST(links_from.size() == 2u);
  BOOST_TEST(links_from.count(net.address(0)) == 1u);
  BOOST_TEST(links_from.count(net.address(1)) == 1u);

  BOOST_TEST(coord.wait(30) == 0, "coordinator: " << coord.out() << coord.err());
  BOOST_TEST(w1->wait(15) == 0, "w1: " << w1->err());
  BOOST_TEST(w2->wait(15) == 0, "w2: " << w2->err());
  BOOST_TEST(w1->out().find("TLS link") != std::string::npos, w1->out());

  auto s = read_json(dir + "/report/summary.json");
  BOOST_REQUIRE(s.HasMember("workers") && s["workers"].IsArray() && s["workers"].Size() == 2);
  std::set<std::string> hosts;
  for (auto& w : s["workers"].GetArray()) {
    hosts.insert(w["host"].GetString());
    BOOST_TEST(w["users"].GetUint64() == users / 2u);
    BOOST_TEST(w["lost_at"].IsNull());
  }
  BOOST_TEST(
    (hosts == std::set<std::string>{test_network::host_name(0), test_network::host_name(1)}));
  BOOST_TEST(s["respawned_users"].GetUint64() == 0u);
  BOOST_TEST(s["errors"].ObjectEmpty());
  BOOST_TEST(s["outcomes"]["connect"]["ok"].GetUint64() == uint64_t{users});
  BOOST_TEST(s["users"]["joined_end"].GetInt64() == users);
  BOOST_TEST(s["latency_ms"]["join"]["count"].GetUint64() == uint64_t{users});
  // About one push a second per user over the ~8 s each was joined.
  BOOST_TEST(s["outcomes"]["push"]["ok"].GetUint64() > uint64_t{users} * 5);
  BOOST_TEST(s["latency_ms"]["push"]["count"].GetUint64()
             == s["outcomes"]["push"]["ok"].GetUint64());
}

BOOST_AUTO_TEST_SUITE_END()
