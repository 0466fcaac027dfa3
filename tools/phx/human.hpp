#pragma once

// The `phx` tool for a person at a terminal: the short commands typed at the
// prompt and the rendering of output lines as time, topic, event and compact
// payload. Pure functions, unit-tested without a terminal.

#include <chrono>
#include <string>
#include <string_view>
#include <variant>

#include "cli.hpp"

namespace phx::cli {

/// `help` typed at the prompt.
struct help_request {};

/// `quit` (or `exit`) typed at the prompt.
struct quit_request {};

/// What a line typed at the prompt asks for.
using interactive_input = std::variant<command, help_request, quit_request, line_error>;

/// Parses a line typed at the prompt: `join TOPIC [JSON]`, `push TOPIC EVENT
/// [JSON]`, `leave TOPIC`, `connect`, `disconnect`, `help`, `quit`, or a JSON
/// command line as on stdin (a line starting with `{`).
interactive_input parse_interactive(std::string_view line);

/// The text printed by `help` at the prompt.
std::string interactive_help();

/// `HH:MM:SS.mmm` of `t` in local time.
std::string clock_time(std::chrono::system_clock::time_point t);

/// One output line (JSON, as written in JSON-lines mode) rendered for a
/// person: `time`, then the topic, the event and the compact payload, in ANSI
/// colours when `colour`. A line that is not one of ours is returned as is.
std::string human_line(const std::string& json_line, std::string_view time, bool colour);

/// True when a terminal of type `term` shows colours (set, not `dumb`) and
/// `no_color` (the `NO_COLOR` variable) is unset or empty.
bool wants_colour(const char* term, const char* no_color) noexcept;

} // namespace phx::cli
