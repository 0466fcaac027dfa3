// Round trips over generated messages: whatever one side encodes, the other
// side decodes to the same message, for every serializer and direction.
#include <boost/test/unit_test.hpp>

#include <random>

#include "phx/protocol/serializer.hpp"

using namespace phx::protocol;

namespace {

struct generator {
  std::mt19937_64 rng{20261125};

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>{0, n - 1}(rng); }
  bool coin() { return below(2) == 0; }

  std::string text(size_t max_len) {
    static const std::vector<std::string> pieces = {
      "a", "z", "room", ":", "lobby", "é", "π", "🚀", "\"", "\\", "\n", "\t",
      "\x01", "/", " ", "0", "9", "_", "-", "{", "]", "\u2028"};
    std::string out;
    auto n = below(max_len + 1);
    while (out.size() < n)
      out += pieces[below(pieces.size())];
    return out;
  }

  std::optional<std::string> ref() {
    if (coin())
      return std::nullopt;
    return std::to_string(1 + below(1000000));
  }

  void value(json_value& v, json_document::AllocatorType& a, int depth) {
    switch (depth > 3 ? below(5) : below(7)) {
      case 0: v.SetNull(); break;
      case 1: v.SetBool(coin()); break;
      case 2: v.SetInt64(static_cast<int64_t>(rng()) >> below(63)); break;
      case 3: v.SetDouble(static_cast<double>(below(100000)) / 8.0 - 1000.0); break;
      case 4: {
        auto s = text(12);
        v.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
        break;
      }
      case 5: {
        v.SetArray();
        for (size_t i = below(4); i > 0; --i) {
          json_value item;
          value(item, a, depth + 1);
          v.PushBack(item, a);
        }
        break;
      }
      default: object(v, a, depth + 1);
    }
  }

  void object(json_value& v, json_document::AllocatorType& a, int depth) {
    v.SetObject();
    for (size_t i = below(5); i > 0; --i) {
      auto k = text(6) + std::to_string(i);
      json_value key;
      key.SetString(k.data(), static_cast<rapidjson::SizeType>(k.size()), a);
      json_value item;
      value(item, a, depth);
      v.AddMember(key, item, a);
    }
  }

  payload json_payload() {
    json_document doc;
    object(doc, doc.GetAllocator(), 0);
    return payload{std::move(doc)};
  }

  payload binary_payload() {
    std::string b;
    for (size_t i = below(300); i > 0; --i)
      b.push_back(static_cast<char>(below(256)));
    return payload::binary(b);
  }

  message any(bool binary) {
    message m;
    m.join_ref = ref();
    m.ref = ref();
    m.topic = "room:" + text(20);
    m.event = coin() ? text(10) : std::string{"new_msg"};
    m.payload = binary ? binary_payload() : json_payload();
    return m;
  }
};

void check_same(const message& a, const message& b) {
  BOOST_CHECK(a.join_ref == b.join_ref);
  BOOST_CHECK(a.ref == b.ref);
  BOOST_CHECK_EQUAL(a.topic, b.topic);
  BOOST_CHECK_EQUAL(a.event, b.event);
  BOOST_CHECK_EQUAL(a.status, b.status);
  BOOST_CHECK(a.payload == b.payload);
}

constexpr int rounds = 2000;

} // namespace

BOOST_AUTO_TEST_SUITE(round_trips)

BOOST_AUTO_TEST_CASE(v2_json_client_to_server) {
  generator gen;
  v2_serializer client{role::client}, server{role::server};
  for (int i = 0; i < rounds; ++i) {
    auto msg = gen.any(false);
    auto f = client.encode(msg);
    BOOST_REQUIRE_MESSAGE(f, (f ? "" : f.error().to_string()));
    auto back = server.decode(f->type, std::move(f->data));
    BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
    check_same(msg, *back);
  }
}

BOOST_AUTO_TEST_CASE(v2_server_to_client_pushes_replies_and_broadcasts) {
  generator gen;
  v2_serializer client{role::client}, server{role::server};
  for (int i = 0; i < rounds; ++i) {
    bool binary = gen.coin();
    auto msg = gen.any(binary);
    switch (gen.below(3)) {
      case 0: // reply
        msg = message::reply(msg.join_ref, msg.ref, msg.topic,
                             gen.coin() ? "ok" : "error", msg.payload);
        break;
      case 1: // push: join_ref, no ref
        msg.join_ref = std::string{"7"};
        msg.ref.reset();
        break;
      default: // broadcast
        msg.join_ref.reset();
        msg.ref.reset();
    }
    auto f = server.encode(msg);
    BOOST_REQUIRE_MESSAGE(f, (f ? "" : f.error().to_string()));
    BOOST_CHECK(f->type == (binary ? frame_type::binary : frame_type::text));
    auto back = client.decode(f->type, std::move(f->data));
    BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
    check_same(msg, *back);
  }
}

BOOST_AUTO_TEST_CASE(v2_binary_client_to_server) {
  generator gen;
  for (int i = 0; i < rounds; ++i) {
    auto msg = gen.any(true);
    msg.join_ref = std::to_string(gen.below(1000) + 1);
    msg.ref = std::to_string(gen.below(1000) + 1);
    auto data = encode_v2_binary(msg, role::client);
    BOOST_REQUIRE(data);
    auto back = decode_v2_binary(*data, role::server);
    BOOST_REQUIRE(back);
    check_same(msg, *back);
  }
}

BOOST_AUTO_TEST_CASE(v1_json_both_directions) {
  generator gen;
  v1_serializer client{role::client}, server{role::server};
  for (int i = 0; i < rounds; ++i) {
    auto msg = gen.any(false);
    auto up = client.encode(msg);
    BOOST_REQUIRE(up);
    auto got = server.decode(up->type, std::move(up->data));
    BOOST_REQUIRE(got);
    check_same(msg, *got);
    // The server's V1 output carries no join_ref.
    auto reply = message::reply(msg.join_ref, msg.ref, msg.topic, "ok", msg.payload);
    auto down = server.encode(reply);
    BOOST_REQUIRE(down);
    auto back = client.decode(down->type, std::move(down->data));
    BOOST_REQUIRE(back);
    reply.join_ref.reset();
    check_same(reply, *back);
  }
}

BOOST_AUTO_TEST_CASE(every_truncation_of_a_binary_frame_is_refused_or_shorter) {
  generator gen;
  for (int i = 0; i < 200; ++i) {
    auto msg = message::reply(std::string{"1"}, std::string{"2"}, "t", "ok",
                              gen.binary_payload());
    auto data = encode_v2_binary(msg, role::server);
    BOOST_REQUIRE(data);
    for (size_t n = 0; n < data->size(); ++n) {
      auto got = decode_v2_binary(std::string_view{*data}.substr(0, n), role::client);
      // A prefix either fails cleanly or decodes to a shorter response.
      if (got)
        BOOST_CHECK_LT(got->payload.binary().size(), msg.payload.binary().size());
    }
  }
}

BOOST_AUTO_TEST_CASE(vsn_selects_the_serializer) {
  auto v2 = make_serializer("2.0.0", role::client);
  BOOST_REQUIRE(v2);
  BOOST_CHECK_EQUAL((*v2)->vsn(), "2.0.0");
  auto v1 = make_serializer("1.0.0", role::server);
  BOOST_REQUIRE(v1);
  BOOST_CHECK_EQUAL((*v1)->vsn(), "1.0.0");
  BOOST_CHECK(make_serializer("2.0.3", role::client));
  for (auto bad : {"3.0.0", "2.1.0", "", "2", "two", "2.0.x", "1.0"}) {
    auto s = make_serializer(bad, role::client);
    BOOST_CHECK_MESSAGE(!s, bad);
    if (!s)
      BOOST_CHECK(s.error().code == errc::unsupported_vsn);
  }
}

BOOST_AUTO_TEST_CASE(v1_has_no_binary_frames) {
  v1_serializer s{role::client};
  message m;
  m.topic = "t";
  m.event = "e";
  m.payload = payload::binary("x");
  auto f = s.encode(m);
  BOOST_REQUIRE(!f);
  BOOST_CHECK(f.error().code == errc::unsupported);
  BOOST_CHECK(!s.decode(frame_type::binary, std::string{"\x02\x01\x01te"}));
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_field_is_named) {
  message m;
  m.topic = "room:\xff";
  m.event = "e";
  auto f = encode_v2_json(m);
  BOOST_REQUIRE(!f);
  BOOST_CHECK(f.error().code == errc::invalid_utf8);
  BOOST_CHECK(f.error().what.find("topic") != std::string::npos);
  m.topic = "t";
  m.payload = payload::binary("x");
  m.event = "\xc3";
  auto b = encode_v2_binary(m, role::client);
  BOOST_REQUIRE(!b);
  BOOST_CHECK(b.error().what.find("event") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_reply_without_status_is_an_error_for_the_client) {
  auto got = decode_v2_json(std::string{R"([null,"1","t","phx_reply",{"response":{}}])"},
                            role::client);
  BOOST_REQUIRE(!got);
  BOOST_CHECK(got.error().what.find("status") != std::string::npos);
  auto not_object = decode_v2_json(std::string{R"([null,"1","t","phx_reply",[]])"},
                                   role::client);
  BOOST_CHECK(!not_object);
  // A reply without a response carries {}.
  auto bare = decode_v2_json(std::string{R"([null,"1","t","phx_reply",{"status":"ok"}])"},
                             role::client);
  BOOST_REQUIRE(bare);
  BOOST_CHECK(bare->payload.json().IsObject());
  BOOST_CHECK(bare->payload.json().ObjectEmpty());
}

BOOST_AUTO_TEST_CASE(a_server_push_with_a_ref_has_no_binary_layout) {
  message m;
  m.join_ref = "1";
  m.ref = "2";
  m.topic = "t";
  m.event = "e";
  m.payload = payload::binary("x");
  auto b = encode_v2_binary(m, role::server);
  BOOST_REQUIRE(!b);
  BOOST_CHECK(b.error().code == errc::unsupported);
}

BOOST_AUTO_TEST_SUITE_END()
