#pragma once

// Certificates made at test time with the openssl CLI in a temporary
// directory (removed at exit): a trusted CA and an unknown one, and server
// certificates for every verdict a client must reach: good (127.0.0.1),
// wrong host name, expired, issued by the unknown CA. EC keys: fast to make.

#include <filesystem>
#include <string>

namespace phx_tls {

/// The test PKI; see the file comment. Made once per process (`pki()`).
class test_pki {
public:
  /// Makes every certificate; throws `std::runtime_error` with openssl's
  /// output if a command fails.
  test_pki();

  /// Removes the directory.
  ~test_pki();

  test_pki(const test_pki&) = delete;
  test_pki& operator=(const test_pki&) = delete;

  /// Path of a file in the directory, e.g. `path("ca.pem")`.
  std::string path(const std::string& name) const;

  /// Certificate (PEM) of server identity `name`: good, wrong_host, expired, unknown_ca.
  std::string cert(const std::string& name) const { return path(name + ".pem"); }

  /// Private key (PEM) of server identity `name`.
  std::string key(const std::string& name) const { return path(name + ".key"); }

  /// The trusted CA as a PEM file.
  std::string ca_file() const { return path("ca.pem"); }

  /// The trusted CA as a hashed directory (`openssl rehash`).
  std::string ca_dir() const { return path("cadir"); }

private:
  void run(const std::string& cmd) const;
  void issue(const std::string& name, const std::string& ca, const std::string& ext) const;
  void write(const std::string& name, const std::string& text) const;

  std::filesystem::path dir_;
};

/// The process's PKI, made on first use (key generation is the slow part).
const test_pki& pki();

} // namespace phx_tls
