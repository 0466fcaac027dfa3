#pragma once

// A test PKI made at test time with the openssl CLI: a fleet CA signing node
// certificates (client and server at once: each node both accepts and
// dials), and a foreign CA signing a rogue node. Removed when it goes away.

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "cluster/links.hpp"

namespace fleet_test {

/// Files of a test PKI in a fresh temporary directory: `ca.pem`, `node1.pem`
/// and `node1.key`, `node2.*` (signed by `ca`), `rogue.*` (signed by `ca2`),
/// and `garbage.pem` (not PEM).
class node_pki {
public:
  node_pki() {
    char pattern[] = "/tmp/phx-links-XXXXXX";
    if (!::mkdtemp(pattern))
      throw std::runtime_error("cannot create a temporary directory for the test PKI");
    dir_ = pattern;
    write("node.ext", "extendedKeyUsage=serverAuth,clientAuth\n");
    make_ca("ca", "phx fleet test CA");
    make_ca("ca2", "phx foreign CA");
    issue("node1", "ca");
    issue("node2", "ca");
    issue("rogue", "ca2");
    write("garbage.pem", "this is not PEM\n");
  }
  ~node_pki() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  node_pki(const node_pki&) = delete;
  node_pki& operator=(const node_pki&) = delete;

  /// The path of file `name` of the PKI.
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  /// Options of node `name` (node1, node2, rogue) trusting the fleet CA.
  phx::fleet::links::link_options node(const std::string& name) const {
    phx::fleet::links::link_options o;
    o.certificate = path(name + ".pem");
    o.key = path(name + ".key");
    o.cafile = path("ca.pem");
    return o;
  }

private:
  static std::string read_all(const std::filesystem::path& p) {
    std::ifstream in{p};
    return std::string{std::istreambuf_iterator<char>{in}, {}};
  }
  void run(const std::string& cmd) const {
    auto full = "cd '" + dir_.string() + "' && " + cmd + " >> openssl.log 2>&1";
    if (std::system(full.c_str()) != 0)
      throw std::runtime_error("openssl failed: " + cmd + "\n" + read_all(dir_ / "openssl.log"));
  }
  void make_ca(const std::string& name, const std::string& cn) const {
    run("openssl req -x509 " + ec_key + " -keyout " + name + ".key -out " + name
        + ".pem -days 2 -subj '/CN=" + cn + "'");
  }
  void issue(const std::string& name, const std::string& ca) const {
    run("openssl req " + ec_key + " -keyout " + name + ".key -out " + name + ".csr -subj '/CN="
        + name + "'");
    run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca
        + ".key -CAcreateserial -out " + name + ".pem -days 2 -extfile node.ext");
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream out{dir_ / name};
    out << text;
  }

  const std::string ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  std::filesystem::path dir_;
};

} // namespace fleet_test
