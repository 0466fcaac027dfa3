// wss: certificates made at test time with the openssl CLI in a temporary
// directory; the TRANSPORT verifies chain and host name and says what failed.
#include "fixture.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

using namespace phx_test;

namespace {

namespace fs = std::filesystem;

/// A CA, certificates for every failure mode, and a client certificate.
class test_pki {
public:
  test_pki() {
    char pattern[] = "/tmp/phx-tls-XXXXXX";
    if (!mkdtemp(pattern))
      throw std::runtime_error("cannot create a temporary directory");
    dir_ = pattern;
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    // Trusted CA and an untrusted one.
    run("openssl req -x509 " + ec + " -keyout ca.key -out ca.pem -days 2 -subj '/CN=phx test CA'");
    run("openssl req -x509 " + ec + " -keyout ca2.key -out ca2.pem -days 2 -subj '/CN=phx unknown CA'");
    write("ip.ext", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    write("wrong.ext", "subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth\n");
    write("client.ext", "extendedKeyUsage=clientAuth\n");
    issue("good", "ca", "ip.ext");
    issue("wrong_host", "ca", "wrong.ext");
    issue("unknown_ca", "ca2", "ip.ext");
    issue("client", "ca", "client.ext");
    // Expired: `openssl ca` sets explicit dates (x509 -days cannot go back).
    fs::create_directories(dir_ / "db");
    write("db/index.txt", "");
    write("db/serial", "1000\n");
    write("ca.cnf", "[ca]\ndefault_ca=test\n[test]\ndatabase=db/index.txt\n"
                    "new_certs_dir=db\nserial=db/serial\ndefault_md=sha256\n"
                    "policy=any\ncopy_extensions=none\nunique_subject=no\n"
                    "[any]\ncommonName=supplied\n[ext]\nsubjectAltName=IP:127.0.0.1\n");
    run("openssl req " + ec + " -keyout expired.key -out expired.csr -subj '/CN=expired'");
    run("openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr"
        " -out expired.pem -startdate 20200101000000Z -enddate 20200102000000Z -extensions ext");
  }

  ~test_pki() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  /// Path of a file in the directory.
  std::string path(const std::string& name) const {
    return (dir_ / name).string();
  }

  /// Server options for `name` (good, wrong_host, unknown_ca, expired).
  raw_server_options server(const std::string& name) const {
    raw_server_options opts;
    opts.tls = true;
    opts.echo = true;
    opts.cert_file = path(name + ".pem");
    opts.key_file = path(name + ".key");
    return opts;
  }

private:
  void run(const std::string& cmd) {
    auto full = "cd '" + dir_.string() + "' && " + cmd + " >> openssl.log 2>&1";
    if (std::system(full.c_str()) != 0)
      throw std::runtime_error("openssl failed: " + cmd + "\n"
                               + phx_test_read(dir_ / "openssl.log"));
  }

  void issue(const std::string& name, const std::string& ca, const std::string& ext) {
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "
        + name + ".key -out " + name + ".csr -subj '/CN=" + name + "'");
    run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca
        + ".key -CAcreateserial -out " + name + ".pem -days 2 -extfile " + ext);
  }

  void write(const std::string& name, const std::string& text) {
    std::ofstream out{dir_ / name};
    out << text;
  }

  static std::string phx_test_read(const fs::path& p) {
    std::ifstream in{p};
    return std::string{std::istreambuf_iterator<char>{in}, {}};
  }

  fs::path dir_;
};

/// Made once for the whole suite (key generation is the slow part).
const test_pki& pki() {
  static test_pki instance;
  return instance;
}

/// A wss request trusting the test CA.
tr::connect_request tls_request(const raw_server& srv) {
  auto req = transport_fixture::request(srv.url());
  req.tls.ca_file = pki().path("ca.pem");
  return req;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(tls, transport_fixture)

BOOST_AUTO_TEST_CASE(verified_connection_round_trips_frames) {
  raw_server srv{pki().server("good")};
  auto t = spawn(1, tls_request(srv));
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::opened, r);
  send(t, tr::frame_atom::value, frame{frame_type::text, "over tls"});
  send(t, tr::frame_atom::value,
             std::vector<frame>{{frame_type::binary, std::string(70000, 'z')},
                                {frame_type::text, "after"}});
  for (auto want : {"over tls", "", "after"}) {
    auto echo = next();
    BOOST_TEST_REQUIRE(echo.kind == report::data, echo);
    if (*want)
      BOOST_TEST(echo.f.data == want);
    else
      BOOST_TEST(echo.f.data == std::string(70000, 'z'));
  }
  send(t, tr::close_atom::value, uint16_t{1000}, std::string{"done"});
  r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.code == 1000);
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(wrong_host_name_is_refused) {
  raw_server srv{pki().server("wrong_host")};
  spawn(2, tls_request(srv));
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.gen == 2u);
  BOOST_TEST(r.failure.reason
             == "host name mismatch: the certificate is not valid for 127.0.0.1");
  BOOST_TEST(r.failure.http_status == 0);
  BOOST_TEST(srv.opened_total() == 0u);
}

BOOST_AUTO_TEST_CASE(expired_certificate_is_refused) {
  raw_server srv{pki().server("expired")};
  spawn(3, tls_request(srv));
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.failure.reason == "certificate verify failed: certificate has expired");
  BOOST_TEST(srv.opened_total() == 0u);
}

BOOST_AUTO_TEST_CASE(unknown_ca_is_refused) {
  raw_server srv{pki().server("unknown_ca")};
  spawn(4, tls_request(srv));
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.failure.reason
             == "certificate verify failed: unable to get local issuer certificate");
  BOOST_TEST(srv.opened_total() == 0u);
}

BOOST_AUTO_TEST_CASE(the_system_trust_store_does_not_know_the_test_ca) {
  raw_server srv{pki().server("good")};
  auto req = transport_fixture::request(srv.url()); // no ca_file: system CAs
  spawn(5, req);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.failure.reason.find("certificate verify failed") == 0u, r.failure.reason);
}

BOOST_AUTO_TEST_CASE(insecure_mode_connects_and_warns_every_time) {
  raw_server srv{pki().server("unknown_ca")};
  log_capture logs;
  for (tr::generation gen : {6u, 7u}) {
    auto req = transport_fixture::request(srv.url());
    req.tls.verify_peer = false;
    auto t = spawn(gen, req, logs.sink());
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::opened, r);
    send(t, tr::abort_atom::value);
    BOOST_TEST_REQUIRE(next().kind == report::closed);
  }
  size_t warnings = 0;
  for (auto& line : logs.snapshot())
    if (line.level == phx::protocol::log_level::warning
        && line.text.find("TLS certificate verification is DISABLED") != std::string::npos)
      ++warnings;
  BOOST_TEST(warnings == 2u);
}

BOOST_AUTO_TEST_CASE(client_certificate_is_presented_when_configured) {
  auto opts = pki().server("good");
  opts.client_ca_file = pki().path("ca.pem");
  raw_server srv{opts};
  auto req = tls_request(srv);
  req.tls.cert_file = pki().path("client.pem");
  req.tls.key_file = pki().path("client.key");
  spawn(8, req);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::opened, r);
  // Without it the server refuses the link.
  spawn(9, tls_request(srv));
  r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.gen == 9u);
  BOOST_TEST(!r.failure.reason.empty());
  BOOST_TEST_MESSAGE("without a client certificate: " << r.failure.reason);
}

BOOST_AUTO_TEST_CASE(unreadable_tls_files_fail_with_a_clear_reason) {
  raw_server srv{pki().server("good")};
  auto req = tls_request(srv);
  req.tls.ca_file = pki().path("missing.pem");
  spawn(10, req);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.failure.reason.find("cannot load the CA file or directory") == 0u,
             r.failure.reason);
  req = tls_request(srv);
  req.tls.cert_file = pki().path("client.pem");
  req.tls.key_file = pki().path("good.key"); // not the certificate's key
  spawn(11, req);
  r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.failure.reason.find("client key") != std::string::npos, r.failure.reason);
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_SUITE_END()
