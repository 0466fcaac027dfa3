#pragma once

#include <string>

namespace phx::fleet::test {

/// The runs the tests render (test/chromium.js knows what each one shows).
enum class run {
  full,   ///< 120 s, 500 users, a server restart at 60 s, thresholds met and missed
  nopush, ///< users connect and join, nobody pushes
  empty,  ///< aborted before the first second: empty sections, no series row
  workers ///< part 2: workers (one lost) and respawned users
};

/// Writes summary.json and series.csv of a synthetic run into `dir` (created).
void write_run(const std::string& dir, run which);

} // namespace phx::fleet::test
