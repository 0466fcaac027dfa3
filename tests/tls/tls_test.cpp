// wss through the facade against phx-server with --tls-cert/--tls-key and a
// CA made at test time: a verified connection joins and pushes; a wrong host
// name, an expired certificate and an unknown CA are refused, each with its
// reason in on_error and no connection, while the socket keeps retrying with
// its backoff; insecure mode works only when asked and says so in the log.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>

#include "capture.hpp"
#include "phx/phx.hpp"
#include "phx_test/recorder.hpp"
#include "phx_test/server_process.hpp"
#include "pki.hpp"

using namespace std::chrono_literals;
using phx::log_level;
using phx_tls::pki;

namespace {

constexpr auto max_wait = std::chrono::milliseconds{10000};

// Every TLS client carries secrets: refusals are checked for leaks too.
const std::string param_secret = "TlsParamS3cretValue";
const std::string header_secret = "TlsHeaderS3cretValue";
const std::string token_secret = "TlsAuthS3cretValue";

/// Every text that must never be shown.
std::vector<std::string> all_secrets() {
  return {param_secret, header_secret, token_secret,
          phx::protocol::base64_encode(token_secret, false)};
}

/// phx-server serving wss with server identity `name` (see pki.hpp).
std::vector<std::string> tls_args(const std::string& name) {
  return {"--tls-cert", pki().cert(name), "--tls-key", pki().key(name), "--log-level", "error"};
}

/// A facade socket for a wss URL with its texts and reports recorded.
struct wss_client {
  std::shared_ptr<phx_tls::text_capture> texts = std::make_shared<phx_tls::text_capture>();
  phx_test::recorder events;
  std::shared_ptr<std::mutex> tries_mtx = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<uint32_t>> tries = std::make_shared<std::vector<uint32_t>>();
  std::optional<phx::socket> sock;

  wss_client(const std::string& url, phx::tls_options tls) {
    phx::socket::options opts;
    opts.tls = std::move(tls);
    opts.params = phx::object({{"user", "tls"}, {"token", param_secret}});
    opts.headers = {{"X-Api-Key", header_secret}};
    opts.auth_token = [] { return std::optional<std::string>{token_secret}; };
    opts.reconnect_after_ms = [m = tries_mtx, t = tries](uint32_t n) {
      std::lock_guard<std::mutex> guard{*m};
      t->push_back(n);
      return 50u;
    };
    opts.log_level = log_level::debug;
    opts.logger = phx_tls::text_capture::sink(texts, "log");
    sock.emplace(url, opts);
    sock->on_open([this] { events.add("open"); });
    sock->on_error([this](const std::string& reason, int status) {
      texts->add("on_error", log_level::off, reason);
      events.add("error " + std::to_string(status) + " " + reason);
    });
    sock->on_close([this](uint16_t code, const std::string& reason) {
      texts->add("on_close", log_level::off, reason);
      events.add("close " + std::to_string(code));
    });
  }

  ~wss_client() {
    sock->disconnect_and_wait();
  }

  std::vector<uint32_t> backoff_tries() const {
    std::lock_guard<std::mutex> guard{*tries_mtx};
    return *tries;
  }

  void check_no_leak() const {
    for (auto& line : texts->lines())
      BOOST_TEST(phx_tls::leaked(line.text, all_secrets()).empty(),
                 line.source << " leaks a secret: " << line.text);
    BOOST_TEST(texts->dropped() == 0u);
  }
};

/// A member of a JSON object payload as a string ("" if absent or not a string).
std::string string_at(const phx::payload& p, const char* object, const char* member) {
  auto& doc = p.json();
  if (!doc.IsObject())
    return {};
  auto o = doc.FindMember(object);
  if (o == doc.MemberEnd() || !o->value.IsObject())
    return {};
  auto m = o->value.FindMember(member);
  if (m == o->value.MemberEnd() || !m->value.IsString())
    return {};
  return m->value.GetString();
}

/// Joins `room:tls`, pushes `echo` and `info`; the secrets arrived over TLS.
void join_and_push(phx::socket& sock) {
  auto ch = sock.channel("room:tls");
  auto joined = ch.join().wait_for(max_wait);
  BOOST_REQUIRE(joined);
  BOOST_REQUIRE_EQUAL(joined->status, "ok");
  BOOST_TEST(joined->response.to_string() == R"({"joined":"room:tls"})");
  auto body = phx::object({{"over", "tls"}});
  auto echo = ch.push("echo", body).wait_for(max_wait);
  BOOST_REQUIRE(echo);
  BOOST_TEST(echo->status == "ok");
  BOOST_TEST(echo->response.to_string() == body.to_string());
  auto info = ch.push("info").wait_for(max_wait);
  BOOST_REQUIRE(info);
  BOOST_REQUIRE_EQUAL(info->status, "ok");
  BOOST_TEST(string_at(info->response, "connect_params", "token") == param_secret);
  BOOST_TEST(string_at(info->response, "connect_info", "auth_token") == token_secret);
}

/// Against a server with identity `name`: refused at every attempt with
/// `reason`, never opened, retried with the backoff.
void expect_refused(const std::string& name, const std::string& reason) {
  phx_test::server_process server{tls_args(name)};
  phx::tls_options tls;
  tls.ca_file = pki().ca_file();
  {
    wss_client c{server.url(), tls};
    c.sock->connect();
    auto line = "error 0 " + reason;
    BOOST_REQUIRE_MESSAGE(c.events.wait_count(line, 3, max_wait),
                          "expected three refusals with \"" << reason << "\", got:\n"
                                                             << c.events.dump());
    c.sock->disconnect_and_wait();
    auto all = c.events.all();
    size_t errors = 0;
    for (auto& l : all) {
      BOOST_TEST(l != "open");
      if (l.rfind("error ", 0) == 0) {
        ++errors;
        BOOST_TEST(l == line);
      }
    }
    // Each refusal is reported once: one on_error, one warning line.
    BOOST_TEST(c.texts->count(log_level::warning, "connection failed: " + reason) == errors);
    auto st = c.sock->stats();
    BOOST_TEST(st.opens == 0u);
    BOOST_TEST(st.reconnects >= 2u);
    BOOST_TEST(!c.sock->connected());
    // The backoff was asked with growing tries (1, 2, 3, ...): no reset, no spin.
    auto tries = c.backoff_tries();
    BOOST_REQUIRE_GE(tries.size(), 3u);
    for (size_t i = 0; i < tries.size(); ++i)
      BOOST_TEST(tries[i] == i + 1);
    c.check_no_leak();
  }
  BOOST_TEST(server.running(), "phx-server died");
}

} // namespace

BOOST_AUTO_TEST_SUITE(tls)

BOOST_AUTO_TEST_CASE(a_verified_wss_connection_joins_and_pushes) {
  phx_test::server_process server{tls_args("good")};
  BOOST_REQUIRE_EQUAL(server.url().rfind("wss://127.0.0.1:", 0), 0u);
  phx::tls_options tls;
  tls.ca_file = pki().ca_file();
  wss_client c{server.url(), tls};
  BOOST_TEST(tls.verify_peer); // verification is the default
  c.sock->connect();
  BOOST_REQUIRE_MESSAGE(c.events.wait_for("open", max_wait), c.events.dump() << c.texts->dump());
  join_and_push(*c.sock);
  c.sock->disconnect_and_wait();
  BOOST_TEST(c.events.count("open") == 1u);
  BOOST_TEST(c.texts->count(log_level::warning, "") == 0u, c.texts->dump());
  c.check_no_leak();
}

BOOST_AUTO_TEST_CASE(the_trusted_ca_may_come_from_a_hashed_directory) {
  phx_test::server_process server{tls_args("good")};
  phx::tls_options tls;
  tls.ca_dir = pki().ca_dir();
  wss_client c{server.url(), tls};
  c.sock->connect();
  BOOST_REQUIRE_MESSAGE(c.events.wait_for("open", max_wait), c.events.dump() << c.texts->dump());
  join_and_push(*c.sock);
}

BOOST_AUTO_TEST_CASE(a_wrong_host_name_is_refused_and_retried) {
  expect_refused("wrong_host", "host name mismatch: the certificate is not valid for 127.0.0.1");
}

BOOST_AUTO_TEST_CASE(an_expired_certificate_is_refused_and_retried) {
  expect_refused("expired", "certificate verify failed: certificate has expired");
}

BOOST_AUTO_TEST_CASE(an_unknown_ca_is_refused_and_retried) {
  expect_refused("unknown_ca", "certificate verify failed: unable to get local issuer certificate");
}

BOOST_AUTO_TEST_CASE(insecure_mode_connects_only_when_asked_and_logs_a_warning) {
  phx_test::server_process server{tls_args("unknown_ca")};
  const std::string warning = "TLS certificate verification is DISABLED";
  {
    // Not asked: the unknown CA is refused and nothing talks of insecure mode.
    phx::tls_options tls;
    tls.ca_file = pki().ca_file();
    wss_client c{server.url(), tls};
    c.sock->connect();
    BOOST_REQUIRE(c.events.wait([](const phx_test::recorder::lines& ls) {
      return std::any_of(ls.begin(), ls.end(),
                         [](const std::string& l) { return l.rfind("error 0 ", 0) == 0; });
    }, max_wait));
    c.sock->disconnect_and_wait();
    BOOST_TEST(c.events.count("open") == 0u);
    BOOST_TEST(c.texts->count(log_level::off, warning) == 0u);
  }
  {
    // Asked: it connects, joins and pushes, and every connection logs a warning.
    phx::tls_options tls;
    tls.verify_peer = false;
    wss_client c{server.url(), tls};
    c.sock->connect();
    BOOST_REQUIRE_MESSAGE(c.events.wait_for("open", max_wait), c.texts->dump());
    join_and_push(*c.sock);
    c.sock->disconnect_and_wait();
    BOOST_TEST(c.events.count("open") == 1u);
    BOOST_TEST(c.texts->count(log_level::warning, warning) == 1u, c.texts->dump());
    c.check_no_leak();
  }
}

BOOST_AUTO_TEST_SUITE_END()
