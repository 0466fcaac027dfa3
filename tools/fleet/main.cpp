// phx-fleet: fleets of Phoenix clients from a scenario file, measured from
// intended send times, watched live, judged by thresholds (docs/fleet.md).
//
//   phx-fleet [run] scenario.json [--report DIR] [--duration S] [--users N]
//                               [--events FILE|-] [--seed N] [--log-level L] [--quiet]
//   phx-fleet coordinator --listen HOST:PORT --workers N scenario.json [run options] [link options]
//   phx-fleet worker --coordinator HOST:PORT [--weight W] [link options]

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cluster/coordinator.hpp"
#include "cluster/links.hpp"
#include "cluster/worker.hpp"
#include "run/engine.hpp"

#ifdef PHX_FLEET_HAVE_REPORT
#include "report/report.hpp"
#endif

namespace {

const char* usage =
  "usage: phx-fleet run SCENARIO.json [--report DIR] [--duration S] [--users N]\n"
  "                                   [--events FILE|-] [--seed N] [--log-level LEVEL] [--quiet]\n"
  "       phx-fleet coordinator --listen HOST:PORT --workers N SCENARIO.json [--join-timeout S]\n"
  "                             [run options] LINKS\n"
  "       phx-fleet worker --coordinator HOST:PORT [--weight W] [--connect-timeout S]\n"
  "                        [--grace S] [--log-level LEVEL] LINKS\n"
  "       phx-fleet report DIR   (renders DIR/report.html again from its summary and series)\n"
  "LINKS: --link-cert PEM --link-key PEM --link-ca PEM (mutual TLS), or --insecure-links\n"
  "       (plain, loopback only); --link-heartbeat-ms MS, --link-timeout-ms MS\n"
  "exit codes: 0 thresholds met, 1 a threshold missed, 2 bad usage or scenario, 3 aborted\n"
  "            (a worker: 2 refused or unreachable, 3 its coordinator was lost)\n";

bool number(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end && *end == '\0' && out >= 0;
}

int bad(const std::string& what) {
  std::fprintf(stderr, "phx-fleet: %s\n%s", what.c_str(), usage);
  return phx::fleet::exit_usage;
}

// One option of the node links; "" when `a` is not one, else an error or "ok".
std::string link_option(const std::string& a, int& i, int argc, char** argv,
                        phx::fleet::links::link_options& lo) {
  if (a == "--insecure-links") {
    lo.insecure = true;
    return "ok";
  }
  if (a != "--link-cert" && a != "--link-key" && a != "--link-ca" && a != "--link-heartbeat-ms"
      && a != "--link-timeout-ms")
    return "";
  if (i + 1 >= argc)
    return a + ": expected a value";
  std::string v = argv[++i];
  double d = 0;
  if (a == "--link-cert")
    lo.certificate = v;
  else if (a == "--link-key")
    lo.key = v;
  else if (a == "--link-ca")
    lo.cafile = v;
  else if (!number(v, d) || d < 1)
    return a + ": expected a number of milliseconds >= 1";
  else if (a == "--link-heartbeat-ms")
    lo.heartbeat = std::chrono::milliseconds{static_cast<int64_t>(d)};
  else
    lo.connection_timeout = std::chrono::milliseconds{static_cast<int64_t>(d)};
  return "ok";
}

int worker_main(int argc, char** argv) {
  phx::fleet::cluster::worker_options o;
  bool have_coordinator = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto lo = link_option(a, i, argc, argv, o.links);
    if (lo == "ok")
      continue;
    if (!lo.empty())
      return bad(lo);
    if (i + 1 >= argc)
      return bad(a + ": expected a value");
    std::string v = argv[++i];
    double d = 0;
    if (a == "--coordinator") {
      auto hp = phx::fleet::links::parse_host_port(v);
      if (!hp || hp->first.empty() || hp->second == 0)
        return bad("--coordinator: expected HOST:PORT");
      o.host = hp->first;
      o.port = hp->second;
      have_coordinator = true;
    } else if (a == "--weight") {
      if (!number(v, d) || d <= 0)
        return bad("--weight: expected a positive number");
      o.weight = d;
    } else if (a == "--log-level") {
      o.log_level = v;
    } else if (a == "--connect-timeout") {
      if (!number(v, d))
        return bad("--connect-timeout: expected seconds");
      o.connect_timeout_s = d;
    } else if (a == "--grace") {
      if (!number(v, d))
        return bad("--grace: expected seconds");
      o.grace_s = d;
    } else if (a == "--fake-protocol-version") { // tests only: a worker of another build
      if (!number(v, d) || d < 1)
        return bad("--fake-protocol-version: expected a whole number >= 1");
      o.fake_version = static_cast<uint32_t>(d);
    } else if (a == "--histograms-out") { // tests only: this worker's totals
      o.histograms_out = v;
    } else {
      return bad("unknown option " + a);
    }
  }
  if (!have_coordinator)
    return bad("worker: expected --coordinator HOST:PORT");
  return phx::fleet::cluster::run_worker(o);
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::string{argv[1]} == "--help" || std::string{argv[1]} == "-h")) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (argc >= 2 && std::string{argv[1]} == "worker")
    return worker_main(argc, argv);
  if (argc >= 2 && std::string{argv[1]} == "report") {
    if (argc != 3)
      return bad("report: expected DIR");
#ifdef PHX_FLEET_HAVE_REPORT
    auto err = phx::fleet::render_report(argv[2]);
    if (!err.empty()) {
      std::fprintf(stderr, "phx-fleet: report: %s\n", err.c_str());
      return 1;
    }
    std::printf("phx-fleet: wrote %s/report.html\n", argv[2]);
    return 0;
#else
    return bad("report: this build has no report renderer");
#endif
  }
  const bool coordinator = argc >= 2 && std::string{argv[1]} == "coordinator";
  // `run` is the default role: `phx-fleet SCENARIO.json` runs it in this process.
  int first = argc >= 2 && (std::string{argv[1]} == "run" || coordinator) ? 2 : 1;
  phx::fleet::run_options opts;
  phx::fleet::cluster::coordinator_options copts;
  bool have_listen = false;
  bool have_workers = false;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quiet") {
      opts.quiet = true;
      continue;
    }
    if (coordinator) {
      auto lo = link_option(a, i, argc, argv, copts.links);
      if (lo == "ok")
        continue;
      if (!lo.empty())
        return bad(lo);
    }
    if (a.rfind("--", 0) != 0) {
      if (!opts.scenario_file.empty())
        return bad("unexpected argument " + a);
      opts.scenario_file = a;
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
    } else if (coordinator && a == "--listen") {
      auto hp = phx::fleet::links::parse_host_port(v);
      if (!hp)
        return bad("--listen: expected HOST:PORT");
      copts.listen_host = hp->first;
      copts.listen_port = hp->second;
      have_listen = true;
    } else if (coordinator && a == "--workers") {
      if (!number(v, d) || d < 1 || d != static_cast<double>(static_cast<uint64_t>(d)))
        return bad("--workers: expected a whole number >= 1");
      copts.workers = static_cast<size_t>(d);
      have_workers = true;
    } else if (coordinator && a == "--join-timeout") {
      if (!number(v, d) || d <= 0)
        return bad("--join-timeout: expected a positive number of seconds");
      copts.join_timeout_s = d;
    } else {
      return bad("unknown option " + a);
    }
  }
  if (opts.scenario_file.empty())
    return bad("expected: run SCENARIO.json");
  if (!coordinator)
    return phx::fleet::run(opts);
  if (!have_listen || !have_workers)
    return bad("coordinator: expected --listen HOST:PORT and --workers N");
  return phx::fleet::run(opts, phx::fleet::cluster::coordinator_backend(copts, opts.scenario_file));
}
