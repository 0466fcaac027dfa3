#pragma once

// Live progress once a second: a redrawn block on a terminal, a plain line
// otherwise, and NDJSON events for machines (--events FILE|-).

#include <cstdio>
#include <memory>
#include <string>

#include "measure/metrics.hpp"

namespace phx::fleet {

/// Where the human view goes and how; and the optional NDJSON stream.
class progress {
public:
  /// `human`: the stream for people (stdout, or stderr when events go to
  /// stdout); redraws when it is a terminal. `events`: null for none.
  progress(std::FILE* human, std::FILE* events, double length_s, uint64_t target_users);

  /// One second's row, with the phase name and the total errors so far.
  void second(const second_row& row, const std::string& phase, uint64_t errors_total);

  /// A line for people and an NDJSON event (`{"type": type, ...fields}`).
  /// `fields_json` is the inside of a JSON object (may be empty).
  void event(const std::string& type, const std::string& text, const std::string& fields_json);

  /// An extra line shown with every next second (e.g. the workers of a
  /// coordinator: users and generator lag per worker); empty for none.
  void set_extra(std::string line) { extra_ = std::move(line); }

  /// True when the human stream is a terminal (redrawn block).
  bool tty() const noexcept { return tty_; }

private:
  std::FILE* human_;
  std::FILE* events_;
  bool tty_;
  int drawn_ = 0; // lines of the last block, to redraw it in place
  double length_s_;
  uint64_t target_;
  std::string extra_;
};

/// A JSON number, or `null` for no value (NaN, infinity, empty optional).
std::string json_number(double v);

/// JSON string literal of `s` (quotes and escapes).
std::string json_string(const std::string& s);

} // namespace phx::fleet
