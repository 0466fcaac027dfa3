#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace phx_test {

/// Where the build put the executables (phx, phx-server, ...).
inline std::string bin_dir() {
  return PHX_BIN_DIR;
}

/// The golden frames: the shared copy if the steering checkout is present,
/// else the repository's copy.
inline std::string vectors_path() {
  std::ifstream shared{PHX_VECTORS_SHARED};
  return shared ? PHX_VECTORS_SHARED : PHX_VECTORS_COPY;
}

/// Reads a whole file; throws if it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

} // namespace phx_test
