// phx-bench-codec: throughput of the V2 JSON codec on a typical push (a
// 200-byte payload), encode + decode, next to plain RapidJSON parsing and
// serializing the very same frame, so that the codec's overhead over the
// library is visible. Single-threaded: messages per CPU second is the
// figure per core.
//
//   phx-bench-codec [--seconds-ms 2000] [--payload JSON] [--format table|json]
// Prints a small table, or one JSON line.

#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "bench/measure.hpp"
#include "phx/protocol/serializer.hpp"

namespace {

using namespace phx::bench;
using phx::protocol::frame_type;
using phx::protocol::message;
using phx::protocol::role;

/// The payload of the benchmarks when none is given: a chat-like object
/// whose compact JSON is exactly 200 bytes.
std::string default_payload() {
  std::string p = R"({"user":"ann","room":"lobby","id":12345,"sent_at":1700000000,"body":")";
  std::string tail = R"(","tags":["a","b"]})";
  while (p.size() + tail.size() < 200)
    p += 'x';
  return p + tail;
}

/// One measured case: iterations, wall and CPU seconds.
struct result {
  std::string name;
  uint64_t n = 0;
  double wall = 0;
  double cpu = 0;
  double per_s() const { return double(n) / wall; }
  double per_cpu_s() const { return double(n) / cpu; }
};

/// Runs `step` in batches until `seconds` of wall time have passed.
result measure(const std::string& name, double seconds, const std::function<bool()>& step) {
  for (int i = 0; i < 2000; ++i) // warm caches and the allocator
    if (!step())
      throw std::runtime_error(name + " failed");
  result r{name};
  auto t0 = now_s();
  auto c0 = cpu_s();
  double t = t0;
  while (t - t0 < seconds) {
    for (int i = 0; i < 1000; ++i)
      if (!step())
        throw std::runtime_error(name + " failed");
    r.n += 1000;
    t = now_s();
  }
  r.wall = t - t0;
  r.cpu = cpu_s() - c0;
  return r;
}

/// The plain-library floor: parse the frame (in place, from a copy, as the
/// codec does; into buffers on the stack, as the bare client does) and
/// serialize the document back.
template <unsigned Flags>
bool rapidjson_round(const std::string& frame_text, size_t& sink) {
  std::string copy = frame_text;
  char value_buffer[4096];
  char parse_buffer[1024];
  rapidjson::MemoryPoolAllocator<> value_alloc{value_buffer, sizeof(value_buffer)};
  rapidjson::MemoryPoolAllocator<> parse_alloc{parse_buffer, sizeof(parse_buffer)};
  rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                             rapidjson::MemoryPoolAllocator<>>
    doc{&value_alloc, sizeof(parse_buffer), &parse_alloc};
  doc.ParseInsitu<Flags>(&copy[0]);
  if (doc.HasParseError() || !doc.IsArray())
    return false;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  doc.Accept(w);
  std::string out{buf.GetString(), buf.GetSize()};
  sink += out.size();
  return true;
}

} // namespace

int main(int argc, char** argv) {
  try {
    args a{argc, argv};
    a.allow({"seconds-ms", "payload", "format"}, "phx-bench-codec");
    double seconds = double(a.number("seconds-ms", 2000)) / 1000.0;
    auto payload_text = a.text("payload", default_payload().c_str());
    auto format = a.text("format", "table");
    if (format != "table" && format != "json")
      throw usage_error("--format is table or json, not '" + format + "'");
    bool as_json = format == "json";
    auto payload = phx::protocol::payload::parse(payload_text);
    if (!payload || !payload->is_json() || !payload->json().IsObject())
      throw usage_error("--payload must be a JSON object");
    message push;
    push.join_ref = "3";
    push.ref = "42";
    push.topic = "room:lobby";
    push.event = "new_msg";
    push.payload = *payload;
    auto ser = phx::protocol::make_serializer(phx::protocol::vsn_2, role::client);
    if (!ser)
      throw std::runtime_error(ser.error().to_string());
    auto& codec = **ser;
    auto sample = codec.encode(push);
    if (!sample)
      throw std::runtime_error(sample.error().to_string());
    const std::string frame_text = sample->data;
    // A decoded frame must equal what was encoded: the codec is checked once.
    auto check = codec.decode(frame_type::text, std::string_view{frame_text});
    if (!check || *check != push)
      throw std::runtime_error("the codec does not round-trip the benchmark frame");

    size_t sink = 0;
    std::vector<result> results;
    results.push_back(measure("phx V2 JSON encode+decode", seconds, [&] {
      auto f = codec.encode(push);
      if (!f)
        return false;
      auto m = codec.decode(frame_type::text, std::move(f->data));
      if (!m)
        return false;
      sink += m->topic.size();
      return true;
    }));
    results.push_back(measure("phx V2 JSON encode", seconds, [&] {
      auto f = codec.encode(push);
      sink += f ? f->data.size() : 0;
      return bool(f);
    }));
    results.push_back(measure("phx V2 JSON decode", seconds, [&] {
      auto m = codec.decode(frame_type::text, std::string{frame_text});
      sink += m ? m->topic.size() : 0;
      return bool(m);
    }));
    results.push_back(measure("rapidjson parse+serialize", seconds, [&] {
      return rapidjson_round<rapidjson::kParseDefaultFlags>(frame_text, sink);
    }));
    // RapidJSON checking UTF-8 itself (as the codec did until 2026-12-05), iterative.
    constexpr unsigned codec_flags = rapidjson::kParseValidateEncodingFlag
                                     | rapidjson::kParseFullPrecisionFlag
                                     | rapidjson::kParseIterativeFlag;
    results.push_back(measure("rapidjson parse+serialize, checking UTF-8", seconds, [&] {
      return rapidjson_round<codec_flags>(frame_text, sink);
    }));

    auto& phx_rt = results[0];
    auto& lib_rt = results[3];
    if (as_json) {
      report out;
      out.add("frame_bytes", double(frame_text.size()))
        .add("payload_bytes", double(payload_text.size()))
        .add("phx_msgs_per_s", phx_rt.per_s())
        .add("phx_msgs_per_cpu_s", phx_rt.per_cpu_s())
        .add("phx_encode_per_cpu_s", results[1].per_cpu_s())
        .add("phx_decode_per_cpu_s", results[2].per_cpu_s())
        .add("rapidjson_msgs_per_s", lib_rt.per_s())
        .add("rapidjson_msgs_per_cpu_s", lib_rt.per_cpu_s())
        .add("rapidjson_codec_flags_msgs_per_cpu_s", results[4].per_cpu_s())
        .add("overhead_ratio", lib_rt.per_cpu_s() / phx_rt.per_cpu_s());
      out.print();
    } else {
      std::printf("V2 JSON codec, one push frame of %zu bytes (payload %zu bytes), one thread\n",
                  frame_text.size(), payload_text.size());
      std::printf("%-42s %14s %16s %10s\n", "case", "msgs/s", "msgs/CPU s", "ns/msg");
      for (auto& r : results)
        std::printf("%-42s %14.0f %16.0f %10.0f\n", r.name.c_str(), r.per_s(), r.per_cpu_s(),
                    1e9 / r.per_cpu_s());
      std::printf("codec encode+decode costs %.2fx plain RapidJSON parse+serialize\n",
                  lib_rt.per_cpu_s() / phx_rt.per_cpu_s());
    }
    if (sink == 0)
      return 3; // keeps the work observable to the optimizer
    return 0;
  } catch (const usage_error& e) {
    std::cerr << "phx-bench-codec: " << e.what() << "\n";
    return usage_exit_code;
  } catch (const std::exception& e) {
    std::cerr << "phx-bench-codec: " << e.what() << "\n";
    return 1;
  }
}
