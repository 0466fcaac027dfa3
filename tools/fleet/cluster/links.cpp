#include "cluster/links.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/timespan.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace phx::fleet::links {

namespace {

// OpenSSL objects freed on every path out of `check`.
struct bio_free { void operator()(BIO* p) const { BIO_free(p); } };
struct x509_free { void operator()(X509* p) const { X509_free(p); } };
struct pkey_free { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct store_free { void operator()(X509_STORE* p) const { X509_STORE_free(p); } };
struct store_ctx_free { void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); } };
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

// An encrypted key would make OpenSSL prompt on the terminal: refuse instead (CAF's
// node links take no passphrase from the command line).
int no_passphrase(char*, int, int, void*) {
  return -1;
}

// The last OpenSSL error as text, or "" (the queue is emptied either way).
std::string openssl_error() {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out = buf;
  }
  return out.empty() ? out : " (" + out + ")";
}

// Opens `path` for reading, or says why it cannot be read.
std::string open_file(const std::string& what, const std::string& path, bio_ptr& out) {
  std::ifstream probe{path};
  if (!probe)
    return what + " '" + path + "' cannot be read: " + std::strerror(errno);
  out.reset(BIO_new_file(path.c_str(), "r"));
  if (!out)
    return what + " '" + path + "' cannot be opened" + openssl_error();
  return {};
}

std::string read_certificate(const std::string& what, const std::string& path, x509_ptr& out) {
  bio_ptr bio;
  if (auto err = open_file(what, path, bio); !err.empty())
    return err;
  out.reset(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
  if (!out)
    return what + " '" + path + "' holds no PEM certificate" + openssl_error();
  return {};
}

std::string read_key(const std::string& path, pkey_ptr& out) {
  bio_ptr bio;
  if (auto err = open_file("link key (--link-key)", path, bio); !err.empty())
    return err;
  out.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!out)
    return "link key (--link-key) '" + path
           + "' holds no unencrypted PEM private key" + openssl_error();
  return {};
}

// Whether `cert` chains to a certificate of `cafile`: a node whose own certificate
// the CA did not sign would be refused by every peer, so say so before the run.
std::string verify_against_ca(X509* cert, const std::string& cert_path,
                              const std::string& cafile) {
  std::unique_ptr<X509_STORE, store_free> store{X509_STORE_new()};
  if (!store || X509_STORE_load_locations(store.get(), cafile.c_str(), nullptr) != 1)
    return "link CA (--link-ca) '" + cafile + "' cannot be loaded" + openssl_error();
  std::unique_ptr<X509_STORE_CTX, store_ctx_free> ctx{X509_STORE_CTX_new()};
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1)
    return "cannot verify link certificate '" + cert_path + "'" + openssl_error();
  if (X509_verify_cert(ctx.get()) != 1)
    return "link certificate (--link-cert) '" + cert_path + "' is not valid under CA '"
           + cafile + "': "
           + X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  return {};
}

} // namespace

std::string check(const link_options& opts) {
  if (opts.heartbeat.count() <= 0)
    return "the link heartbeat interval must be positive";
  if (opts.connection_timeout <= opts.heartbeat)
    return "the link connection timeout must exceed the heartbeat interval";
  bool any_file = !opts.certificate.empty() || !opts.key.empty() || !opts.cafile.empty();
  if (opts.insecure)
    return any_file ? "--insecure-links contradicts --link-cert/--link-key/--link-ca: choose one"
                    : std::string{};
  if (opts.certificate.empty() || opts.key.empty() || opts.cafile.empty())
    return "node links are mutual TLS: give --link-cert, --link-key and --link-ca "
           "(or --insecure-links, on loopback only)";
  x509_ptr cert;
  x509_ptr ca;
  pkey_ptr key;
  if (auto err = read_certificate("link certificate (--link-cert)", opts.certificate, cert);
      !err.empty())
    return err;
  if (auto err = read_key(opts.key, key); !err.empty())
    return err;
  if (auto err = read_certificate("link CA (--link-ca)", opts.cafile, ca); !err.empty())
    return err;
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    openssl_error();
    return "link key (--link-key) '" + opts.key + "' does not match certificate '"
           + opts.certificate + "'";
  }
  return verify_against_ca(cert.get(), opts.certificate, opts.cafile);
}

void configure(caf::actor_system_config& cfg, const link_options& opts) {
  cfg.load<caf::io::middleman>();
  if (!opts.insecure) {
    // CAF's session requires a peer certificate on both sides once any is set.
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = opts.certificate;
    cfg.openssl_key = opts.key;
    cfg.openssl_cafile = opts.cafile;
  }
  cfg.set("middleman.heartbeat-interval", caf::timespan{opts.heartbeat});
  cfg.set("middleman.connection-timeout", caf::timespan{opts.connection_timeout});
}

std::string check(const link_options& opts, const std::string& host) {
  if (auto err = check(opts); !err.empty())
    return err;
  // Anyone on the path could read the scenario's tokens on a plain link.
  auto loopback = host == "localhost" || host == "::1" || host == "[::1]"
                  || host.rfind("127.", 0) == 0;
  if (opts.insecure && !loopback)
    return "--insecure-links is for loopback only, and "
           + (host.empty() ? std::string{"every address"} : host)
           + " is not: give --link-cert, --link-key and --link-ca (mutual TLS)";
  return {};
}

std::optional<std::pair<std::string, uint16_t>> parse_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos)
    return std::nullopt;
  std::string host = s.substr(0, colon);
  std::string port_text = s.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 2 || host.back() != ']')
      return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt; // a bare IPv6 address is ambiguous: ask for [v6]:port
  }
  unsigned port = 0;
  auto first = port_text.data();
  auto last = first + port_text.size();
  auto [end, ec] = std::from_chars(first, last, port);
  if (port_text.empty() || ec != std::errc{} || end != last || port > 65535)
    return std::nullopt;
  return std::make_pair(std::move(host), static_cast<uint16_t>(port));
}

std::string to_string(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

} // namespace phx::fleet::links
