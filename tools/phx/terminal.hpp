#pragma once

// The `phx` tool at a terminal: a prompt with line editing and history
// (libedit), short commands, and events shown for a person. libedit is not
// thread-safe: the socket's callbacks only queue their lines, and the prompt's
// input loop prints them between keystrokes.

#include <memory>

#include "cli.hpp"
#include "session.hpp"

namespace phx::cli {

/// Runs the interactive mode until `quit`, Ctrl-D, SIGINT/SIGTERM (`stop`) or
/// until phx gives up; returns the exit code (see `exit_code`).
int run_interactive(const options& opts, std::shared_ptr<wakeup> stop);

/// The number of colours of the terminal (terminfo `colors`), 0 if unknown.
int terminal_colours() noexcept;

} // namespace phx::cli
