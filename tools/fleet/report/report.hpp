#pragma once

#include <string>

namespace phx::fleet {

/// Renders DIR/report.html from DIR/summary.json and DIR/series.csv (and DIR/workers.csv when present); returns an error text, or an empty string on success.
std::string render_report(const std::string& dir);

} // namespace phx::fleet
