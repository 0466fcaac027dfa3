#pragma once

// A minimal Phoenix endpoint scripted on the raw_server of tests/support, for
// the hostile-server tests: it answers heartbeats, joins, leaves and `echo`
// the way Phoenix does (V2 serializer), remembers the join_ref of each topic
// on each connection and every other push it saw, and otherwise sends
// whatever the test says, valid or not, on the newest connection. It is NOT
// phx-server: nothing here is checked for correctness except what a test asks.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "phx/protocol/message.hpp"
#include "phx/protocol/serializer.hpp"
#include "phx_test/raw_server.hpp"

namespace phx_hostile {

using phx_test::conn_id;

/// A push the server received (heartbeats, joins and leaves excluded).
struct seen_push {
  /// The connection it came on.
  conn_id conn = 0;
  /// The decoded push.
  phx::protocol::message msg;
};

/// The scripted endpoint; see the file comment. Thread-safe.
class mini_phoenix {
public:
  /// Starts listening on 127.0.0.1 (an ephemeral port).
  mini_phoenix();

  /// Stops the server first: its thread calls into this object.
  ~mini_phoenix();

  mini_phoenix(const mini_phoenix&) = delete;
  mini_phoenix& operator=(const mini_phoenix&) = delete;

  /// `ws://127.0.0.1:<port>/socket`, the endpoint a `phx::socket` takes.
  std::string endpoint() const;

  /// The underlying raw server.
  phx_test::raw_server& raw() { return *raw_; }

  /// The newest connection that completed its handshake (0 before the first).
  conn_id current() const;

  /// Waits until `topic` is joined on the newest connection and returns its
  /// join_ref; empty on timeout.
  std::optional<std::string> wait_joined(const std::string& topic,
                                         std::chrono::milliseconds timeout);

  /// Joins of `topic` seen so far, on every connection.
  size_t joins(const std::string& topic) const;

  /// The next push with `event` (oldest first); empty on timeout.
  std::optional<seen_push> wait_push(const std::string& event,
                                     std::chrono::milliseconds timeout);

  /// Encodes `msg` as the server's V2 serializer does and sends it on the
  /// newest connection (text frame for JSON, binary frame for bytes).
  void send(const phx::protocol::message& msg);

  /// A server push `[join_ref, null, topic, event, payload]` with the join_ref
  /// of `topic` on the newest connection.
  void push(const std::string& topic, const std::string& event,
            phx::protocol::payload payload);

  /// A reply `[join_ref, ref, topic, "phx_reply", {status, response}]` with
  /// the join_ref of `topic` on the newest connection.
  void reply(const std::string& topic, const std::string& ref, const std::string& status,
             phx::protocol::payload response);

  /// A text frame, as is (websocketpp still refuses invalid UTF-8: use raw).
  void send_text(std::string data);

  /// A binary frame, as is.
  void send_binary(std::string data);

  /// Raw bytes on the link (any frame, valid or not).
  void send_raw(std::string bytes);

private:
  void on_open(conn_id id);
  void on_message(phx_test::raw_server& srv, const phx_test::ws_message& m);
  void answer(phx_test::raw_server& srv, conn_id id, const phx::protocol::message& msg);

  std::shared_ptr<const phx::protocol::serializer> serializer_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  conn_id newest_ = 0;
  std::map<std::pair<conn_id, std::string>, std::string> join_refs_;
  std::map<std::string, size_t> joins_;
  std::deque<seen_push> pushes_;
  // Last member: destroyed first, so that its thread never sees the rest gone.
  std::unique_ptr<phx_test::raw_server> raw_;
};

} // namespace phx_hostile
