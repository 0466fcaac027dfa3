#include "pki.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace phx_tls {

namespace fs = std::filesystem;

namespace {

const std::string ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

std::string read_all(const fs::path& p) {
  std::ifstream in{p};
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

test_pki::test_pki() {
  char pattern[] = "/tmp/phx-tls-facade-XXXXXX";
  if (!::mkdtemp(pattern))
    throw std::runtime_error("cannot create a temporary directory for the test PKI");
  dir_ = pattern;
  run("openssl req -x509 " + ec_key + " -keyout ca.key -out ca.pem -days 2"
      " -subj '/CN=phx facade test CA'");
  run("openssl req -x509 " + ec_key + " -keyout ca2.key -out ca2.pem -days 2"
      " -subj '/CN=phx unknown CA'");
  write("ip.ext", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  write("wrong.ext", "subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth\n");
  issue("good", "ca", "ip.ext");
  issue("wrong_host", "ca", "wrong.ext");
  issue("unknown_ca", "ca2", "ip.ext");
  // Expired: `openssl ca` takes explicit dates (`x509 -days` cannot go back).
  fs::create_directories(dir_ / "db");
  write("db/index.txt", "");
  write("db/serial", "1000\n");
  write("ca.cnf", "[ca]\ndefault_ca=test\n[test]\ndatabase=db/index.txt\n"
                  "new_certs_dir=db\nserial=db/serial\ndefault_md=sha256\n"
                  "policy=any\ncopy_extensions=none\nunique_subject=no\n"
                  "[any]\ncommonName=supplied\n[ext]\nsubjectAltName=IP:127.0.0.1\n"
                  "extendedKeyUsage=serverAuth\n");
  run("openssl req " + ec_key + " -keyout expired.key -out expired.csr -subj '/CN=expired'");
  run("openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr"
      " -out expired.pem -startdate 20200101000000Z -enddate 20200102000000Z -extensions ext");
  // The CA as a directory of hashed names, as `ca_dir` expects it.
  fs::create_directories(dir_ / "cadir");
  fs::copy_file(dir_ / "ca.pem", dir_ / "cadir" / "ca.pem");
  run("openssl rehash cadir");
}

test_pki::~test_pki() {
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string test_pki::path(const std::string& name) const {
  return (dir_ / name).string();
}

void test_pki::run(const std::string& cmd) const {
  auto full = "cd '" + dir_.string() + "' && " + cmd + " >> openssl.log 2>&1";
  if (std::system(full.c_str()) != 0)
    throw std::runtime_error("openssl failed: " + cmd + "\n" + read_all(dir_ / "openssl.log"));
}

void test_pki::issue(const std::string& name, const std::string& ca,
                     const std::string& ext) const {
  run("openssl req " + ec_key + " -keyout " + name + ".key -out " + name + ".csr -subj '/CN="
      + name + "'");
  run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca
      + ".key -CAcreateserial -out " + name + ".pem -days 2 -extfile " + ext);
}

void test_pki::write(const std::string& name, const std::string& text) const {
  std::ofstream out{dir_ / name};
  out << text;
}

const test_pki& pki() {
  static test_pki instance;
  return instance;
}

} // namespace phx_tls
