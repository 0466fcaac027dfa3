#include "run/plan.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace phx::fleet {

namespace {

std::string fmt(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

int64_t to_ns(double s) {
  return static_cast<int64_t>(std::llround(s * 1e9));
}

} // namespace

std::string plan::phase_at(double t_s) const {
  std::string out;
  for (auto& p : phases)
    if (t_s >= p.from_s && t_s < p.to_s)
      out += (out.empty() ? "" : "; ") + p.label;
  return out.empty() ? "hold" : out;
}

plan make_plan(const scenario& sc, double length_s) {
  plan out;
  uint64_t next_index = 0;
  for (size_t pi = 0; pi < sc.populations.size(); ++pi) {
    auto& pop = sc.populations[pi];
    std::vector<uint64_t> running; // ramp users, in start order (stops take the last)
    double t = 0;
    uint64_t peak = 0;
    uint64_t sessions = 0;
    auto start = [&](double at_s, bool session) {
      if (at_s >= length_s)
        return;
      out.events.push_back({to_ns(at_s), pi, next_index, true, session});
      if (!session)
        running.push_back(next_index);
      ++next_index;
    };
    auto stop = [&](double at_s) {
      if (running.empty() || at_s >= length_s)
        return;
      out.events.push_back({to_ns(at_s), pi, running.back(), false, false});
      running.pop_back();
    };
    auto move_to = [&](double from_s, double over_s, uint64_t to) {
      auto c = static_cast<uint64_t>(running.size());
      if (to > c) {
        auto n = to - c;
        for (uint64_t k = 0; k < n; ++k)
          start(from_s + over_s * static_cast<double>(k) / static_cast<double>(n), false);
      } else {
        auto n = c - to;
        for (uint64_t k = 0; k < n; ++k)
          stop(from_s + over_s * static_cast<double>(k) / static_cast<double>(n));
      }
    };
    for (auto& ph : pop.phases) {
      std::string label = pop.name + ": ";
      switch (ph.what) {
        case phase::kind::ramp:
          if (ph.from >= 0)
            move_to(t, 0, static_cast<uint64_t>(ph.from));
          label += "ramp " + std::to_string(running.size()) + "->" + fmt(ph.to);
          move_to(t, ph.seconds, static_cast<uint64_t>(ph.to));
          break;
        case phase::kind::ramp_down:
          label += "ramp down " + std::to_string(running.size()) + "->" + fmt(ph.to);
          move_to(t, ph.seconds, std::min<uint64_t>(static_cast<uint64_t>(ph.to), running.size()));
          break;
        case phase::kind::arrivals: {
          label += "arrivals " + fmt(ph.rate) + "/s";
          auto n = static_cast<uint64_t>(std::floor(ph.rate * ph.seconds + 1e-9));
          for (uint64_t j = 0; j < n; ++j)
            start(t + static_cast<double>(j) / ph.rate, true);
          sessions += n;
          break;
        }
        case phase::kind::hold:
          label += "hold " + std::to_string(running.size());
          break;
      }
      peak = std::max<uint64_t>(peak, running.size());
      out.phases.push_back({t, t + ph.seconds, label});
      t += ph.seconds;
    }
    out.users_max += peak + sessions;
  }
  out.users_started = next_index;
  std::stable_sort(out.events.begin(), out.events.end(),
                   [](const plan_event& a, const plan_event& b) { return a.at_ns < b.at_ns; });
  return out;
}

} // namespace phx::fleet
