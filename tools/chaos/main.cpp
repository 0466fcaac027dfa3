// phx-chaos: fault injection against a phx-server child with the
// exactly-one-outcome invariant; see chaos.hpp. The last line of the output is
// one JSON object (the report), whatever happens after the start.
#include <iostream>
#include <stdexcept>

#include "chaos.hpp"

int main(int argc, char** argv) {
  phx_chaos::chaos_options opts;
  auto bad = phx_chaos::parse_options(argc, argv, opts);
  if (bad == "help") {
    std::cout << phx_chaos::usage();
    return 0;
  }
  if (!bad.empty()) {
    std::cerr << "phx-chaos: " << bad << "\n" << phx_chaos::usage();
    return 2;
  }
  phx_chaos::chaos_report report;
  try {
    report = phx_chaos::run_chaos(opts, std::cout);
  } catch (const std::exception& e) {
    std::cerr << "phx-chaos: cannot run: " << e.what() << "\n";
    return 3;
  }
  for (auto& why : report.failures)
    std::cout << "FAILED: " << why << "\n";
  std::cout << report.to_json(opts) << std::endl;
  return report.failures.empty() ? 0 : 1;
}
