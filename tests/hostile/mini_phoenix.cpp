#include "mini_phoenix.hpp"

#include <stdexcept>

#include "phx/protocol/json.hpp"

namespace phx_hostile {

namespace proto = phx::protocol;

namespace {

constexpr size_t max_pushes = 1000;

proto::payload object_with(const char* key, const std::string& value) {
  proto::json_document doc;
  doc.SetObject();
  doc.AddMember(proto::json_value{key, doc.GetAllocator()},
                proto::json_value{value.c_str(), doc.GetAllocator()}, doc.GetAllocator());
  return proto::payload{std::move(doc)};
}

} // namespace

mini_phoenix::mini_phoenix() {
  auto ser = proto::make_serializer(proto::vsn_2, proto::role::server);
  if (!ser)
    throw std::runtime_error("mini_phoenix: no V2 serializer: " + ser.error().what);
  serializer_ = std::move(*ser);
  phx_test::raw_server_options opts;
  // Pushes are kept here, decoded; the raw record would only pile up.
  opts.record_messages = false;
  opts.on_open = [this](phx_test::raw_server&, conn_id id) { on_open(id); };
  opts.on_message = [this](phx_test::raw_server& srv, const phx_test::ws_message& m) {
    on_message(srv, m);
  };
  raw_ = std::make_unique<phx_test::raw_server>(std::move(opts));
}

mini_phoenix::~mini_phoenix() {
  raw_.reset();
}

std::string mini_phoenix::endpoint() const {
  return raw_->url("/socket");
}

conn_id mini_phoenix::current() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return newest_;
}

std::optional<std::string> mini_phoenix::wait_joined(const std::string& topic,
                                                     std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{mtx_};
  std::optional<std::string> out;
  cv_.wait_for(lock, timeout, [&] {
    auto i = join_refs_.find({newest_, topic});
    if (i == join_refs_.end())
      return false;
    out = i->second;
    return true;
  });
  return out;
}

size_t mini_phoenix::joins(const std::string& topic) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = joins_.find(topic);
  return i == joins_.end() ? 0 : i->second;
}

std::optional<seen_push> mini_phoenix::wait_push(const std::string& event,
                                                 std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{mtx_};
  std::optional<seen_push> out;
  cv_.wait_for(lock, timeout, [&] {
    for (auto i = pushes_.begin(); i != pushes_.end(); ++i)
      if (i->msg.event == event) {
        out = std::move(*i);
        pushes_.erase(i);
        return true;
      }
    return false;
  });
  return out;
}

void mini_phoenix::send(const proto::message& msg) {
  auto f = serializer_->encode(msg);
  if (!f)
    throw std::runtime_error("mini_phoenix: cannot encode: " + f.error().what);
  if (f->type == proto::frame_type::binary)
    raw_->send_binary(current(), std::move(f->data));
  else
    raw_->send_text(current(), std::move(f->data));
}

void mini_phoenix::push(const std::string& topic, const std::string& event,
                        proto::payload payload) {
  proto::message msg;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (auto i = join_refs_.find({newest_, topic}); i != join_refs_.end())
      msg.join_ref = i->second;
  }
  msg.topic = topic;
  msg.event = event;
  msg.payload = std::move(payload);
  send(msg);
}

void mini_phoenix::reply(const std::string& topic, const std::string& ref,
                         const std::string& status, proto::payload response) {
  std::optional<std::string> join_ref;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (auto i = join_refs_.find({newest_, topic}); i != join_refs_.end())
      join_ref = i->second;
  }
  send(proto::message::reply(std::move(join_ref), ref, topic, status, std::move(response)));
}

void mini_phoenix::send_text(std::string data) {
  raw_->send_text(current(), std::move(data));
}

void mini_phoenix::send_binary(std::string data) {
  raw_->send_binary(current(), std::move(data));
}

void mini_phoenix::send_raw(std::string bytes) {
  raw_->send_raw(current(), std::move(bytes));
}

void mini_phoenix::on_open(conn_id id) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    newest_ = id;
  }
  cv_.notify_all();
}

void mini_phoenix::on_message(phx_test::raw_server& srv, const phx_test::ws_message& m) {
  auto type = m.binary ? proto::frame_type::binary : proto::frame_type::text;
  auto decoded = serializer_->decode(type, std::string{m.data});
  if (!decoded)
    return; // The client under test never sends garbage; nothing to answer.
  answer(srv, m.id, *decoded);
}

void mini_phoenix::answer(phx_test::raw_server& srv, conn_id id, const proto::message& msg) {
  auto send_back = [&](const proto::message& out) {
    if (auto f = serializer_->encode(out)) {
      if (f->type == proto::frame_type::binary)
        srv.send_binary(id, std::move(f->data));
      else
        srv.send_text(id, std::move(f->data));
    }
  };
  auto ok = [&](proto::payload response) {
    send_back(proto::message::reply(msg.join_ref, msg.ref, msg.topic, "ok",
                                    std::move(response)));
  };
  if (msg.topic == proto::phoenix_topic && msg.event == proto::events::heartbeat) {
    ok(proto::payload{});
    return;
  }
  if (msg.event == proto::events::join) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      join_refs_[{id, msg.topic}] = msg.join_ref.value_or(std::string{});
      ++joins_[msg.topic];
    }
    cv_.notify_all();
    ok(object_with("joined", msg.topic));
    return;
  }
  if (msg.event == proto::events::leave) {
    ok(proto::payload{});
    proto::message closed;
    closed.join_ref = msg.join_ref;
    closed.ref = msg.join_ref;
    closed.topic = msg.topic;
    closed.event = std::string{proto::events::close};
    send_back(closed);
    return;
  }
  if (msg.event == "echo") {
    ok(msg.payload);
  } else if (msg.event == "echo_twice") {
    // A duplicate reply: the second must find no pending push.
    ok(msg.payload);
    ok(msg.payload);
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    // Bounded: a test waits for few pushes; old ones nobody asked for go.
    if (pushes_.size() >= max_pushes)
      pushes_.pop_front();
    pushes_.push_back({id, msg});
  }
  cv_.notify_all();
}

} // namespace phx_hostile
