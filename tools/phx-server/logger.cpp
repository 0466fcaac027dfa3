#include "logger.hpp"

#include <cstdio>
#include <string>

namespace phx_server {

void logger::write(phx::protocol::log_level level, std::string_view component,
                   std::string_view text) const {
  if (!enabled(level))
    return;
  std::string line;
  line.reserve(text.size() + component.size() + 16);
  line += '[';
  line += phx::protocol::to_string(level);
  line += "] ";
  line += component;
  line += ": ";
  line += text;
  line += '\n';
  // One fwrite per line keeps lines whole even if stderr is shared.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace phx_server
