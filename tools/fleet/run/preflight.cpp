#include "run/preflight.hpp"

#include <sys/resource.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace phx::fleet {

namespace {

// Sockets, plus the files a process keeps (libraries, pipes, the io runtime).
constexpr uint64_t fd_headroom = 256;

std::string destination(const std::string& url) {
  static const std::regex re{R"(^(wss?|https?)://([^/?#]+))"};
  std::smatch m;
  if (!std::regex_search(url, m, re))
    return url;
  auto hostport = m[2].str();
  bool has_port = hostport.rfind(':') != std::string::npos && hostport.back() != ']';
  if (!has_port)
    hostport += (m[1] == "wss" || m[1] == "https") ? ":443" : ":80";
  return hostport;
}

uint64_t mem_available_kib() {
  std::ifstream in{"/proc/meminfo"};
  std::string key;
  uint64_t value = 0;
  std::string unit;
  while (in >> key >> value) {
    std::getline(in, unit);
    if (key == "MemAvailable:")
      return value;
  }
  return 0;
}

} // namespace

preflight_result preflight(const scenario& sc, uint64_t users) {
  preflight_result r;
  auto problem = [&](std::string s) {
    r.ok = false;
    r.problems.push_back(std::move(s));
  };
  // Open files: one socket per user.
  rlimit lim{};
  auto need = users + fd_headroom;
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    if (lim.rlim_cur < need) {
      if (lim.rlim_max >= need) {
        rlimit raised = lim;
        raised.rlim_cur = need;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
          r.notes.push_back("open files: raised the soft limit from " + std::to_string(lim.rlim_cur)
                            + " to " + std::to_string(need) + " (hard limit "
                            + std::to_string(lim.rlim_max) + ")");
        else
          problem("open files: need " + std::to_string(need) + ", cannot raise the soft limit "
                  + std::to_string(lim.rlim_cur) + " (setrlimit failed)");
      } else {
        problem("open files: " + std::to_string(users) + " users need about " + std::to_string(need)
                + " descriptors, the hard limit is " + std::to_string(lim.rlim_max)
                + ": raise it (ulimit -Hn as root, LimitNOFILE= in a systemd unit, nofile in "
                  "/etc/security/limits.conf), or run fewer users per process (--users)");
      }
    } else {
      r.notes.push_back("open files: limit " + std::to_string(lim.rlim_cur) + " >= "
                        + std::to_string(need) + " needed");
    }
  }
  // Ephemeral ports: one per connection to one destination address and port.
  uint64_t lo = 32768, hi = 60999;
  {
    std::ifstream in{"/proc/sys/net/ipv4/ip_local_port_range"};
    in >> lo >> hi;
  }
  auto ports = hi >= lo ? hi - lo + 1 : 0;
  std::map<std::string, uint64_t> per_dest;
  auto n_targets = sc.targets.size();
  for (size_t i = 0; i < n_targets; ++i)
    per_dest[destination(sc.targets[i].url)] += users / n_targets + (i < users % n_targets ? 1 : 0);
  for (auto& [dest, n] : per_dest) {
    if (n > ports) {
      problem("ports: " + std::to_string(n) + " users to " + dest
              + " exceed the ephemeral port range " + std::to_string(lo) + "-" + std::to_string(hi)
              + " (" + std::to_string(ports) + " ports per source/destination pair): list more "
                "targets on other addresses (phx-server --host 127.0.0.2, ...: users are spread "
                "over targets) or widen net.ipv4.ip_local_port_range");
    } else if (n * 10 > ports * 8) {
      r.notes.push_back("ports: " + std::to_string(n) + " users to " + dest + " use over 80 % of "
                        + std::to_string(ports) + " ephemeral ports: sockets in TIME_WAIT from a "
                          "previous run may make connects fail (EADDRNOTAVAIL)");
    }
  }
  // Memory.
  auto avail = mem_available_kib();
  auto est = users * preflight_kib_per_user;
  if (avail > 0) {
    std::ostringstream os;
    os << "memory: about " << est / 1024 << " MiB for " << users << " users ("
       << preflight_kib_per_user << " KiB each), " << avail / 1024 << " MiB available";
    if (est > avail)
      problem(os.str() + ": run fewer users per process (--users) or free memory");
    else if (est * 2 > avail)
      r.notes.push_back(os.str() + " (over half: a server on this machine needs memory too)");
    else
      r.notes.push_back(os.str());
  }
  return r;
}

} // namespace phx::fleet
