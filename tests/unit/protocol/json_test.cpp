// The JSON reader refuses hostile input with a reason instead of crashing.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "phx/protocol/json.hpp"
#include "phx/protocol/payload.hpp"

using namespace phx::protocol;

BOOST_AUTO_TEST_SUITE(json)

BOOST_AUTO_TEST_CASE(parses_and_shares_values) {
  auto v = parse_json(std::string_view{R"({"a":[1,2.5,"x",true,null]})"});
  BOOST_REQUIRE(v);
  BOOST_CHECK((**v)["a"][1].GetDouble() == 2.5);
  auto copy = *v;
  BOOST_CHECK_EQUAL(copy.get(), v->get());
}

BOOST_AUTO_TEST_CASE(refuses_nesting_deeper_than_the_limit) {
  std::string deep(max_json_depth + 1, '[');
  deep += std::string(max_json_depth + 1, ']');
  auto v = parse_json(std::string_view{deep});
  BOOST_REQUIRE(!v);
  BOOST_CHECK(v.error().code == errc::too_deep);
  std::string ok(max_json_depth, '[');
  ok += std::string(max_json_depth, ']');
  BOOST_CHECK(parse_json(std::string_view{ok}));
}

BOOST_AUTO_TEST_CASE(a_million_open_brackets_do_not_overflow_the_stack) {
  std::string deep(1000000, '[');
  auto v = parse_json(std::string_view{deep});
  BOOST_REQUIRE(!v);
  BOOST_CHECK(v.error().code == errc::too_deep);
}

BOOST_AUTO_TEST_CASE(refuses_lone_surrogates_either_half) {
  for (auto text : {R"(["\ud800"])", R"(["\udc00"])", R"({"\udfff":1})",
                    R"(["\ud800\u0041"])"}) {
    auto v = parse_json(std::string_view{text});
    BOOST_CHECK_MESSAGE(!v, text);
  }
  auto pair = parse_json(std::string_view{R"(["\ud83d\ude80"])"});
  BOOST_REQUIRE(pair);
  BOOST_CHECK_EQUAL(std::string((**pair)[0].GetString()), "🚀");
}

BOOST_AUTO_TEST_CASE(refuses_invalid_utf8_and_nul_bytes) {
  for (auto text : {std::string{"[\"\xff\"]"}, std::string{"[\"\xc0\xaf\"]"},
                    std::string{"[\"\xed\xa0\x80\"]"}, std::string{"[1]\0[2]", 7},
                    std::string{"[\"a\0b\"]", 7}}) {
    auto v = parse_json(std::string_view{text});
    BOOST_CHECK(!v);
  }
  auto v = parse_json(std::string_view{"[\"\xff\"]"});
  BOOST_REQUIRE(!v);
  BOOST_CHECK(v.error().code == errc::invalid_utf8);
}

BOOST_AUTO_TEST_CASE(refuses_trailing_garbage_and_empty_input) {
  BOOST_CHECK(!parse_json(std::string_view{"{} x"}));
  BOOST_CHECK(!parse_json(std::string_view{""}));
  BOOST_CHECK(!parse_json(std::string_view{"   "}));
  BOOST_CHECK(!parse_json(std::string_view{"NaN"}));
  BOOST_CHECK(parse_json(std::string_view{" {} \n"}));
}

BOOST_AUTO_TEST_CASE(writes_compact_json_and_names_invalid_utf8) {
  auto v = parse_json(std::string_view{R"({ "a" : [ 1 , "é\n" ] })"});
  BOOST_REQUIRE(v);
  auto s = to_json_string(**v);
  BOOST_REQUIRE(s);
  BOOST_CHECK_EQUAL(*s, "{\"a\":[1,\"é\\n\"]}");
  json_document bad;
  bad.SetString("\xff", bad.GetAllocator());
  BOOST_CHECK(!to_json_string(bad));
}

BOOST_AUTO_TEST_CASE(utf8_validation_follows_the_standard) {
  BOOST_CHECK(is_valid_utf8("plain"));
  BOOST_CHECK(is_valid_utf8("é π 🚀"));
  BOOST_CHECK(!is_valid_utf8("\xc0\x80"));      // overlong NUL
  BOOST_CHECK(!is_valid_utf8("\xe0\x80\x80"));  // overlong
  BOOST_CHECK(!is_valid_utf8("\xed\xa0\x80"));  // surrogate
  BOOST_CHECK(!is_valid_utf8("\xf4\x90\x80\x80")); // past U+10FFFF
  BOOST_CHECK(!is_valid_utf8("\xe2\x82"));      // cut short
}

namespace {

/// Deterministic strings of bytes JSON and UTF-8 care about: ASCII, control
/// characters, quotes, multi-byte sequences, bytes no UTF-8 holds, lengths
/// around the 8-byte steps of the scan.
class byte_strings {
public:
  std::string next(bool with_backslash_and_nul) {
    static const std::vector<std::string> pieces
      = {"a", "Z", " ", "0", "\"", "\x01", "\x1f", "\n", "\t", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
         "\xf0\x9f\x9a\x80", "\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\x80", "\xf4\x90\x80\x80",
         "abcdefgh", "\\", std::string{"\0", 1}};
    std::string out;
    auto n = next_u64() % 12;
    for (uint64_t i = 0; i < n; ++i) {
      const auto& piece = pieces[next_u64() % pieces.size()];
      if (!with_backslash_and_nul && (piece == "\\" || piece == std::string{"\0", 1}))
        continue;
      out += piece;
    }
    return out;
  }

private:
  uint64_t next_u64() {
    state_ += 0x9e3779b97f4a7c15ULL;
    auto z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t state_ = 42;
};

} // namespace

BOOST_AUTO_TEST_CASE(writes_what_rapidjsons_checking_writer_writes) {
  using checking_writer = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>,
                                            rapidjson::UTF8<>, rapidjson::CrtAllocator,
                                            rapidjson::kWriteValidateEncodingFlag>;
  byte_strings gen;
  size_t written = 0;
  size_t refused = 0;
  for (int i = 0; i < 20000; ++i) {
    auto text = gen.next(true);
    json_document doc;
    doc.SetObject();
    auto& a = doc.GetAllocator();
    doc.AddMember(json_value{text.data(), static_cast<rapidjson::SizeType>(text.size()), a},
                  json_value{text.data(), static_cast<rapidjson::SizeType>(text.size()), a}, a);
    rapidjson::StringBuffer buf;
    checking_writer reference{buf};
    bool want = doc.Accept(reference);
    auto got = to_json_string(doc);
    BOOST_REQUIRE_EQUAL(bool(got), want);
    BOOST_REQUIRE_EQUAL(is_valid_utf8(text), want);
    if (want) {
      BOOST_REQUIRE_EQUAL(*got, std::string(buf.GetString(), buf.GetSize()));
      ++written;
    } else {
      ++refused;
    }
  }
  // Both kinds were met many times.
  BOOST_CHECK_GT(written, 2000u);
  BOOST_CHECK_GT(refused, 2000u);
}

BOOST_AUTO_TEST_CASE(parses_as_rapidjsons_checking_parser_does) {
  byte_strings gen;
  size_t parsed = 0;
  size_t invalid_utf8 = 0;
  for (int i = 0; i < 20000; ++i) {
    // No backslash (escapes have guards of their own) and no NUL (in place, a NUL ends the text).
    auto text = "[\"" + gen.next(false) + "\",\"" + gen.next(false) + "\"]";
    rapidjson::Document reference;
    reference.Parse<rapidjson::kParseValidateEncodingFlag>(text.c_str(), text.size());
    auto got = parse_json(std::string_view{text});
    BOOST_REQUIRE_EQUAL(bool(got), !reference.HasParseError());
    if (got) {
      BOOST_REQUIRE((**got)[0] == reference[0]);
      BOOST_REQUIRE((**got)[1] == reference[1]);
      ++parsed;
    } else if (reference.GetParseError() == rapidjson::kParseErrorStringInvalidEncoding) {
      BOOST_REQUIRE(got.error().code == errc::invalid_utf8);
      ++invalid_utf8;
    } else {
      BOOST_REQUIRE(got.error().code == errc::invalid_json);
    }
  }
  BOOST_CHECK_GT(parsed, 300u);
  BOOST_CHECK_GT(invalid_utf8, 1000u);
}

BOOST_AUTO_TEST_CASE(payloads_compare_by_value_and_share_storage) {
  auto a = payload::parse(R"({"x":1})");
  auto b = payload::parse(R"({"x":1})");
  BOOST_REQUIRE(a && b);
  BOOST_CHECK(*a == *b);
  BOOST_CHECK(payload{} == *payload::parse("{}"));
  auto bin = payload::binary("\x01\x02");
  BOOST_CHECK(bin.is_binary());
  BOOST_CHECK(bin != *a);
  auto copy = bin;
  BOOST_CHECK_EQUAL(copy.binary_shared().get(), bin.binary_shared().get());
  BOOST_CHECK_EQUAL(bin.to_string(), "\"AQI=\"");
  BOOST_CHECK_EQUAL(a->to_string(), "{\"x\":1}");
}

BOOST_AUTO_TEST_CASE(a_text_with_spare_capacity_is_parsed_in_its_own_buffer) {
  std::string text = R"({"event":"phx_reply","body":"in place"})";
  text.reserve(text.size() + parse_spare_bytes);
  const char* first = text.data();
  const char* last = first + text.size();
  auto v = parse_json(std::move(text));
  BOOST_REQUIRE(v);
  // Strings parsed in place point into the text: it was not reallocated.
  const char* body = (**v)["body"].GetString();
  BOOST_CHECK(body >= first && body < last);
  BOOST_CHECK_EQUAL(std::string{body}, "in place");
}

BOOST_AUTO_TEST_CASE(decoded_frames_beyond_the_block_cache_stay_intact) {
  // More frames alive at once than a thread caches blocks (4,096), released
  // in two halves out of order, then a second round on the recycled blocks.
  constexpr size_t n = 5000;
  for (int round = 0; round < 2; ++round) {
    std::vector<json_ptr> alive;
    alive.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      auto v = parse_json(R"({"i":)" + std::to_string(i) + R"(,"s":"frame"})");
      BOOST_REQUIRE(v);
      alive.push_back(std::move(*v));
    }
    for (size_t i = 1; i < n; i += 2)
      alive[i].reset();
    for (size_t i = 0; i < n; i += 2) {
      BOOST_REQUIRE_EQUAL((*alive[i])["i"].GetUint64(), i);
      BOOST_REQUIRE_EQUAL(std::string{(*alive[i])["s"].GetString()}, "frame");
    }
  }
}

BOOST_AUTO_TEST_CASE(blocks_a_thread_took_return_to_the_pool_when_it_exits) {
  // A thread that decodes but never frees a frame still pulls a whole batch
  // of pooled blocks: its exit must hand them back (LeakSanitizer, which
  // tools/check --asan runs, reports them otherwise), and they must serve the
  // next frames intact.
  constexpr size_t n = 200;
  {
    std::vector<json_ptr> freed_here;
    for (size_t i = 0; i < n; ++i) {
      auto v = parse_json(R"({"i":)" + std::to_string(i) + "}");
      BOOST_REQUIRE(v);
      freed_here.push_back(std::move(*v));
    }
  }
  for (int round = 0; round < 3; ++round) {
    json_ptr taken;
    std::thread taker{[&] {
      if (auto v = parse_json(std::string{R"({"taken":true})"}))
        taken = std::move(*v);
    }};
    taker.join();
    BOOST_REQUIRE(taken);
    BOOST_CHECK((*taken)["taken"].GetBool());
  }
  for (size_t i = 0; i < n; ++i) {
    auto v = parse_json(R"({"again":)" + std::to_string(i) + "}");
    BOOST_REQUIRE(v);
    BOOST_REQUIRE_EQUAL((**v)["again"].GetUint64(), i);
  }
}

BOOST_AUTO_TEST_SUITE_END()
