// terminfo, alone in its file: <curses.h> and <term.h> define macros
// (`timeout`, `lines`, `columns`) that must not reach any other code, so they
// come after every other header.
#include "terminal.hpp"

#include <curses.h>
#include <term.h>

namespace phx::cli {

int terminal_colours() noexcept {
  int err = 0;
  if (::setupterm(nullptr, 1, &err) != OK)
    return 0;
  auto n = ::tigetnum(const_cast<char*>("colors"));
  return n > 0 ? n : 0;
}

} // namespace phx::cli
