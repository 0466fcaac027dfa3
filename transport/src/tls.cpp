#include "tls.hpp"

#include <utility>

#include <boost/asio/ssl/host_name_verification.hpp>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace phx::transport::detail {

namespace ssl = boost::asio::ssl;

void configure_tls_stream(tls_stream& stream, bool verify_peer, const std::string& host,
                          std::shared_ptr<tls_verdict> verdict) {
  if (!verify_peer) {
    stream.set_verify_mode(ssl::verify_none);
    return;
  }
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(
    [verdict = std::move(verdict), host, check = ssl::host_name_verification(host)](
      bool preverified, ssl::verify_context& ctx) {
      if (!preverified) {
        if (verdict && verdict->reason.empty()) {
          auto err = X509_STORE_CTX_get_error(ctx.native_handle());
          verdict->reason = std::string{"certificate verify failed: "}
                            + X509_verify_cert_error_string(err);
        }
        return false;
      }
      if (!check(preverified, ctx)) {
        if (verdict)
          verdict->reason = "host name mismatch: the certificate is not valid for " + host;
        return false;
      }
      return true;
    });
}

std::string insecure_tls_warning(std::string_view url_for_log) {
  return "TLS certificate verification is DISABLED for " + std::string{url_for_log}
         + " (insecure mode)";
}

} // namespace phx::transport::detail
