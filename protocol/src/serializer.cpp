#include "phx/protocol/serializer.hpp"

#include <cstring>

#include "json_storage.hpp"

namespace phx::protocol {

serializer::~serializer() = default;

namespace {

// -- helpers -------------------------------------------------------------------

error field_error(const char* field, const char* what) {
  std::string text = field;
  text += ' ';
  text += what;
  return make_error(errc::invalid_field, std::move(text));
}

// Reads a join_ref or ref: a string or null.
std::optional<error> read_ref(const json_value& v, const char* field,
                              std::optional<std::string>& out) {
  if (v.IsString()) {
    out.emplace(v.GetString(), v.GetStringLength());
    return std::nullopt;
  }
  if (v.IsNull()) {
    out.reset();
    return std::nullopt;
  }
  return field_error(field, "is neither a string nor null");
}

std::optional<error> read_name(const json_value& v, const char* field,
                               std::string& out) {
  if (!v.IsString())
    return field_error(field, "is not a string");
  out.assign(v.GetString(), v.GetStringLength());
  return std::nullopt;
}

// Turns a JSON `phx_reply` payload `{status, response}` into status + response.
std::optional<error> normalize_reply(message& msg) {
  const auto& body = msg.payload.json();
  if (!body.IsObject())
    return field_error("phx_reply payload", "is not an object");
  auto status = body.FindMember("status");
  if (status == body.MemberEnd() || !status->value.IsString())
    return field_error("phx_reply payload", "has no string \"status\"");
  msg.status.assign(status->value.GetString(), status->value.GetStringLength());
  auto response = body.FindMember("response");
  if (response == body.MemberEnd()) {
    msg.payload = payload{};
  } else {
    json_ptr alias{msg.payload.json_shared(), &response->value};
    msg.payload = payload{std::move(alias)};
  }
  return std::nullopt;
}

// Writes the payload in wire shape: a reply becomes {status, response}.
bool write_payload(thread_json_writer& w, const message& msg) {
  if (!msg.is_reply())
    return msg.payload.json().Accept(w.writer);
  return w.writer.StartObject() && w.key("status") && w.put(msg.status)
         && w.key("response") && msg.payload.json().Accept(w.writer)
         && w.writer.EndObject(2);
}

error invalid_utf8_in(const message& msg) {
  for (auto [field, value] :
       {std::pair<const char*, std::string_view>{"topic", msg.topic},
        {"event", msg.event},
        {"join_ref", msg.join_ref ? std::string_view{*msg.join_ref} : ""},
        {"ref", msg.ref ? std::string_view{*msg.ref} : ""},
        {"status", msg.status}}) {
    if (!is_valid_utf8(value)) {
      std::string text = field;
      text += " is not valid UTF-8";
      return make_error(errc::invalid_utf8, std::move(text));
    }
  }
  return make_error(errc::invalid_utf8, "the payload holds invalid UTF-8");
}

// -- binary layout ---------------------------------------------------------------

constexpr uint8_t kind_push = 0;
constexpr uint8_t kind_reply = 1;
constexpr uint8_t kind_broadcast = 2;

struct meta_field {
  const char* name;
  std::string_view value;
};

std::optional<error> check_lengths(std::initializer_list<meta_field> fields) {
  for (auto& f : fields) {
    if (f.value.size() > 255) {
      std::string text = "unable to convert ";
      text += f.name;
      text += " to binary: must be less than or equal to 255 bytes, but is ";
      text += std::to_string(f.value.size());
      text += " bytes";
      return make_error(errc::field_too_long, std::move(text));
    }
    if (!is_valid_utf8(f.value)) {
      std::string text = f.name;
      text += " is not valid UTF-8";
      return make_error(errc::invalid_utf8, std::move(text));
    }
  }
  return std::nullopt;
}

std::string build_binary(uint8_t kind, std::initializer_list<meta_field> fields,
                         std::string_view body) {
  std::string out;
  size_t total = 1 + fields.size() + body.size();
  for (auto& f : fields)
    total += f.value.size();
  out.reserve(total);
  out.push_back(static_cast<char>(kind));
  for (auto& f : fields)
    out.push_back(static_cast<char>(static_cast<uint8_t>(f.value.size())));
  for (auto& f : fields)
    out.append(f.value);
  out.append(body);
  return out;
}

std::string_view opt_view(const std::optional<std::string>& s) {
  return s ? std::string_view{*s} : std::string_view{};
}

// Reads `count` length bytes after the kind byte, then the fields they declare.
class binary_reader {
public:
  explicit binary_reader(std::string_view data) : data_(data) {}

  std::optional<error> read(std::initializer_list<const char*> names,
                            std::string_view* out) {
    size_t count = names.size();
    if (data_.size() < 1 + count) {
      std::string text = "the binary header needs ";
      text += std::to_string(1 + count);
      text += " bytes, the frame has ";
      text += std::to_string(data_.size());
      return make_error(errc::truncated, std::move(text));
    }
    size_t pos = 1 + count;
    size_t i = 0;
    for (auto name : names) {
      auto len = static_cast<uint8_t>(data_[1 + i]);
      if (pos + len > data_.size()) {
        std::string text = "declared ";
        text += name;
        text += " length ";
        text += std::to_string(len);
        text += " runs past the end of the frame";
        return make_error(errc::truncated, std::move(text));
      }
      out[i] = data_.substr(pos, len);
      if (!is_valid_utf8(out[i])) {
        std::string text = name;
        text += " is not valid UTF-8";
        return make_error(errc::invalid_utf8, std::move(text));
      }
      pos += len;
      ++i;
    }
    rest_ = data_.substr(pos);
    return std::nullopt;
  }

  std::string_view rest() const { return rest_; }

private:
  std::string_view data_;
  std::string_view rest_;
};

std::optional<std::string> nullable(std::string_view s) {
  if (s.empty())
    return std::nullopt;
  return std::string{s};
}

bool is_v(std::string_view vsn, char major) {
  // Matches Phoenix's "~> X.0.0" requirement: X.0.<patch>.
  if (vsn.size() < 5 || vsn[0] != major || vsn.substr(1, 3) != ".0.")
    return false;
  auto patch = vsn.substr(4);
  for (char c : patch)
    if (c < '0' || c > '9')
      return false;
  return !patch.empty();
}

} // namespace

// -- V2 JSON -------------------------------------------------------------------

result<std::string> encode_v2_json(const message& msg) {
  if (msg.payload.is_binary())
    return make_error(errc::unsupported,
                      "a bytes payload goes in a binary frame, not JSON");
  auto& w = thread_json_writer::get();
  bool ok = w.writer.StartArray() && w.put_opt(msg.join_ref) && w.put_opt(msg.ref)
            && w.put(msg.topic) && w.put(msg.event) && write_payload(w, msg)
            && w.writer.EndArray(5);
  if (!ok)
    return invalid_utf8_in(msg);
  return w.str();
}

result<message> decode_v2_json(std::string&& text, role r) {
  return decode_v2_json(std::move(text), r, nullptr);
}

result<message> decode_v2_json(std::string&& text, role r, json_ptr* loose) {
  auto st = json_storage::parse(std::move(text));
  if (!st)
    return st.error();
  const json_value& root = (*st)->doc;
  if (!root.IsArray())
    return make_error(errc::wrong_shape,
                      "a V2 frame is a JSON array [join_ref, ref, topic, event, payload]");
  if (root.Size() < 5) {
    std::string what = "a V2 frame has five elements, this one has ";
    what += std::to_string(root.Size());
    return make_error(errc::wrong_shape, std::move(what));
  }
  message msg;
  auto err = read_ref(root[0], "join_ref", msg.join_ref);
  if (!err)
    err = read_ref(root[1], "ref", msg.ref);
  if (!err)
    err = read_name(root[2], "topic", msg.topic);
  if (!err)
    err = read_name(root[3], "event", msg.event);
  if (err) {
    if (loose)
      *loose = json_ptr{std::move(*st), &root};
    return *err;
  }
  msg.payload = payload{json_ptr{std::move(*st), &root[4]}};
  if (r == role::client && msg.is_reply())
    if (auto err = normalize_reply(msg))
      return *err;
  return msg;
}

// -- V2 binary -----------------------------------------------------------------

result<std::string> encode_v2_binary(const message& msg, role r) {
  if (!msg.payload.is_binary())
    return make_error(errc::unsupported,
                      "a JSON payload goes in a text frame, not binary");
  auto body = msg.payload.binary_view();
  auto join_ref = opt_view(msg.join_ref);
  auto ref = opt_view(msg.ref);
  if (r == role::client) {
    if (auto err = check_lengths({{"join_ref", join_ref},
                                  {"ref", ref},
                                  {"topic", msg.topic},
                                  {"event", msg.event}}))
      return *err;
    return build_binary(kind_push,
                        {{"join_ref", join_ref},
                         {"ref", ref},
                         {"topic", msg.topic},
                         {"event", msg.event}},
                        body);
  }
  if (msg.is_reply()) {
    if (auto err = check_lengths({{"join_ref", join_ref},
                                  {"ref", ref},
                                  {"topic", msg.topic},
                                  {"status", msg.status}}))
      return *err;
    return build_binary(kind_reply,
                        {{"join_ref", join_ref},
                         {"ref", ref},
                         {"topic", msg.topic},
                         {"status", msg.status}},
                        body);
  }
  if (msg.ref)
    return make_error(errc::unsupported,
                      "a server push carries no ref in a binary frame");
  if (msg.join_ref) {
    if (auto err = check_lengths({{"join_ref", join_ref},
                                  {"topic", msg.topic},
                                  {"event", msg.event}}))
      return *err;
    return build_binary(kind_push,
                        {{"join_ref", join_ref},
                         {"topic", msg.topic},
                         {"event", msg.event}},
                        body);
  }
  if (auto err = check_lengths({{"topic", msg.topic}, {"event", msg.event}}))
    return *err;
  return build_binary(kind_broadcast,
                      {{"topic", msg.topic}, {"event", msg.event}}, body);
}

result<message> decode_v2_binary(std::string_view data, role r) {
  if (data.empty())
    return make_error(errc::empty_frame, "the frame is empty");
  auto kind = static_cast<uint8_t>(data[0]);
  binary_reader in{data};
  std::string_view f[4];
  message msg;
  if (r == role::server) {
    if (kind != kind_push) {
      std::string what = "a client sends binary kind 0 (push), not ";
      what += std::to_string(kind);
      return make_error(errc::unknown_kind, std::move(what));
    }
    if (auto err = in.read({"join_ref", "ref", "topic", "event"}, f))
      return *err;
    msg.join_ref = nullable(f[0]);
    msg.ref = nullable(f[1]);
    msg.topic.assign(f[2]);
    msg.event.assign(f[3]);
  } else {
    switch (kind) {
      case kind_push:
        if (auto err = in.read({"join_ref", "topic", "event"}, f))
          return *err;
        msg.join_ref = nullable(f[0]);
        msg.topic.assign(f[1]);
        msg.event.assign(f[2]);
        break;
      case kind_reply:
        if (auto err = in.read({"join_ref", "ref", "topic", "status"}, f))
          return *err;
        msg.join_ref = nullable(f[0]);
        msg.ref = nullable(f[1]);
        msg.topic.assign(f[2]);
        msg.event.assign(events::reply);
        msg.status.assign(f[3]);
        break;
      case kind_broadcast:
        if (auto err = in.read({"topic", "event"}, f))
          return *err;
        msg.topic.assign(f[0]);
        msg.event.assign(f[1]);
        break;
      default: {
        std::string what = "unknown binary kind ";
        what += std::to_string(kind);
        return make_error(errc::unknown_kind, std::move(what));
      }
    }
  }
  msg.payload = payload::binary(in.rest());
  return msg;
}

// -- V1 JSON -------------------------------------------------------------------

result<std::string> encode_v1_json(const message& msg, role r) {
  if (msg.payload.is_binary())
    return make_error(errc::unsupported,
                      "serializer V1 (vsn 1.0.0) has no binary frames");
  auto& w = thread_json_writer::get();
  bool ok = w.writer.StartObject() && w.key("topic") && w.put(msg.topic)
            && w.key("event") && w.put(msg.event) && w.key("payload")
            && write_payload(w, msg) && w.key("ref") && w.put_opt(msg.ref);
  if (ok && r == role::client)
    ok = w.key("join_ref") && w.put_opt(msg.join_ref);
  ok = ok && w.writer.EndObject();
  if (!ok)
    return invalid_utf8_in(msg);
  return w.str();
}

result<message> decode_v1_json(std::string&& text, role r) {
  auto st = json_storage::parse(std::move(text));
  if (!st)
    return st.error();
  const json_value& root = (*st)->doc;
  if (!root.IsObject())
    return make_error(errc::wrong_shape,
                      "a V1 frame is a JSON object {topic, event, payload, ref, join_ref}");
  message msg;
  auto topic = root.FindMember("topic");
  if (topic == root.MemberEnd())
    return field_error("topic", "is missing");
  if (auto err = read_name(topic->value, "topic", msg.topic))
    return *err;
  auto event = root.FindMember("event");
  if (event == root.MemberEnd())
    return field_error("event", "is missing");
  if (auto err = read_name(event->value, "event", msg.event))
    return *err;
  auto body = root.FindMember("payload");
  if (body == root.MemberEnd())
    return field_error("payload", "is missing");
  if (auto ref = root.FindMember("ref"); ref != root.MemberEnd())
    if (auto err = read_ref(ref->value, "ref", msg.ref))
      return *err;
  if (auto jr = root.FindMember("join_ref"); jr != root.MemberEnd())
    if (auto err = read_ref(jr->value, "join_ref", msg.join_ref))
      return *err;
  msg.payload = payload{json_ptr{std::move(*st), &body->value}};
  if (r == role::client && msg.is_reply())
    if (auto err = normalize_reply(msg))
      return *err;
  return msg;
}

// -- serializers -----------------------------------------------------------------

result<frame> v2_serializer::encode(const message& msg) const {
  if (msg.payload.is_binary()) {
    auto data = encode_v2_binary(msg, role_);
    if (!data)
      return data.error();
    return frame{frame_type::binary, std::move(*data)};
  }
  auto data = encode_v2_json(msg);
  if (!data)
    return data.error();
  return frame{frame_type::text, std::move(*data)};
}

result<message> v2_serializer::decode(frame_type type, std::string&& data) const {
  if (type == frame_type::binary)
    return decode_v2_binary(data, role_);
  return decode_v2_json(std::move(data), role_);
}

result<frame> v1_serializer::encode(const message& msg) const {
  auto data = encode_v1_json(msg, role_);
  if (!data)
    return data.error();
  return frame{frame_type::text, std::move(*data)};
}

result<message> v1_serializer::decode(frame_type type, std::string&& data) const {
  if (type == frame_type::binary)
    return make_error(errc::unsupported,
                      "serializer V1 (vsn 1.0.0) has no binary frames");
  return decode_v1_json(std::move(data), role_);
}

custom_serializer::custom_serializer(std::shared_ptr<const serializer> fallback,
                                     encode_fn enc, decode_fn dec)
  : fallback_(std::move(fallback)),
    encode_(std::move(enc)),
    decode_(std::move(dec)) {
  // nop
}

result<frame> custom_serializer::encode(const message& msg) const {
  return encode_ ? encode_(msg) : fallback_->encode(msg);
}

result<message> custom_serializer::decode(frame_type type,
                                          std::string&& data) const {
  return decode_ ? decode_(type, std::move(data))
                 : fallback_->decode(type, std::move(data));
}

result<std::shared_ptr<const serializer>> make_serializer(std::string_view vsn,
                                                          role r) {
  if (is_v(vsn, '2'))
    return std::shared_ptr<const serializer>{std::make_shared<v2_serializer>(r)};
  if (is_v(vsn, '1'))
    return std::shared_ptr<const serializer>{std::make_shared<v1_serializer>(r)};
  std::string what = "no serializer speaks vsn \"";
  what += vsn;
  what += "\" (known: 1.0.0, 2.0.0)";
  return make_error(errc::unsupported_vsn, std::move(what));
}

} // namespace phx::protocol
