#pragma once

// The links between the nodes of a fleet: CAF's middleman (BASP) over mutual
// TLS (caf::openssl) by default, plain TCP only when asked (--insecure-links),
// with middleman heartbeats on so that a frozen peer is lost within seconds.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/io/publish.hpp>
#include <caf/io/remote_actor.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/openssl/remote_actor.hpp>

namespace phx::fleet::links {

/// How nodes of a fleet link up: mutual TLS (default) or plain (explicit --insecure-links).
struct link_options {
  bool insecure = false;   ///< --insecure-links: plain TCP, for loopback only
  std::string certificate; ///< PEM certificate of this node (--link-cert)
  std::string key;         ///< PEM private key of this node (--link-key)
  std::string cafile;      ///< PEM CA that signs every node (--link-ca)
  std::chrono::milliseconds heartbeat{1000};          ///< middleman heartbeat interval
  std::chrono::milliseconds connection_timeout{5000}; ///< a silent peer is lost after this
};

/// Checks the options and their files before the middleman starts (CAF throws
/// inside it on a bad file): empty when fine, else a message naming the file.
std::string check(const link_options& opts);

/// `check`, plus: plain links only on loopback. `host` is the address a node
/// listens on or dials (empty: every address, refused for plain links).
std::string check(const link_options& opts, const std::string& host);

/// Prepares `cfg`: loads io::middleman, and openssl::manager with the
/// certificate settings unless insecure; turns middleman heartbeats on. Call
/// it once per config (after `check`), and pass the same `opts` to
/// `publish` and `connect`: they pick the TLS or the plain middleman by it.
void configure(caf::actor_system_config& cfg, const link_options& opts);

/// Publishes `whom` (any actor handle, typed or not) on `host`:`port`
/// (empty host: every address; port 0: any free port); the port bound or an error.
template <class Handle>
caf::expected<uint16_t> publish(caf::actor_system& sys, const link_options& opts,
                                const Handle& whom, const std::string& host, uint16_t port) {
  const char* in = host.empty() ? nullptr : host.c_str();
  if (opts.insecure)
    return sys.middleman().publish(whom, port, in, true);
  return caf::openssl::publish(whom, port, in, true);
}

/// Connects to the actor published at `host`:`port` as a `Handle`; CAF
/// refuses a peer whose interface differs from `Handle`'s.
template <class Handle>
caf::expected<Handle> connect(caf::actor_system& sys, const link_options& opts,
                              const std::string& host, uint16_t port) {
  if (opts.insecure)
    return caf::io::remote_actor<Handle>(sys, host, port);
  return caf::openssl::remote_actor<Handle>(sys, host, port);
}

/// Parses "HOST:PORT" (host may be "[v6]" or empty: "":PORT); nullopt when malformed.
std::optional<std::pair<std::string, uint16_t>> parse_host_port(const std::string& s);

/// "HOST:PORT" for messages and reports.
std::string to_string(const std::string& host, uint16_t port);

} // namespace phx::fleet::links
