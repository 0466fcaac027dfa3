// phx-fleet: fleets of Phoenix clients from a scenario file, measured from
// intended send times, watched live, judged by thresholds (docs/fleet.md).
//
//   phx-fleet run scenario.json [--report DIR] [--duration S] [--users N]
//                               [--events FILE|-] [--seed N] [--log-level L] [--quiet]

#include <cstdio>
#include <cstdlib>
#include <string>

#include "run/engine.hpp"

namespace {

const char* usage =
  "usage: phx-fleet run SCENARIO.json [--report DIR] [--duration S] [--users N]\n"
  "                                   [--events FILE|-] [--seed N] [--log-level LEVEL] [--quiet]\n"
  "exit codes: 0 thresholds met, 1 a threshold missed, 2 bad usage or scenario, 3 aborted\n";

bool number(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end && *end == '\0' && out >= 0;
}

int bad(const std::string& what) {
  std::fprintf(stderr, "phx-fleet: %s\n%s", what.c_str(), usage);
  return phx::fleet::exit_usage;
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::string{argv[1]} == "--help" || std::string{argv[1]} == "-h")) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (argc < 3 || std::string{argv[1]} != "run")
    return bad("expected: run SCENARIO.json");
  phx::fleet::run_options opts;
  opts.scenario_file = argv[2];
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quiet") {
      opts.quiet = true;
      continue;
    }
    if (i + 1 >= argc)
      return bad(a + ": expected a value");
    std::string v = argv[++i];
    double d = 0;
    if (a == "--report") {
      opts.report_dir = v;
    } else if (a == "--events") {
      opts.events = v;
    } else if (a == "--log-level") {
      opts.log_level = v;
    } else if (a == "--duration") {
      if (!number(v, d) || d <= 0)
        return bad("--duration: expected a positive number of seconds");
      opts.duration_s = d;
    } else if (a == "--users") {
      if (!number(v, d) || d < 1 || d != static_cast<double>(static_cast<uint64_t>(d)))
        return bad("--users: expected a whole number >= 1");
      opts.users = static_cast<uint64_t>(d);
    } else if (a == "--seed") {
      if (!number(v, d) || d != static_cast<double>(static_cast<uint64_t>(d)))
        return bad("--seed: expected a whole number >= 0");
      opts.seed = static_cast<uint64_t>(d);
    } else {
      return bad("unknown option " + a);
    }
  }
  return phx::fleet::run(opts);
}
