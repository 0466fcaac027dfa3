// Writes the seed corpora of the fuzz targets from the golden frames:
//   phx-fuzz-seeds <vectors.json> <output dir>
// makes <output dir>/<target>/seed-NNN for every target. Seeds are made at
// run time, never committed: they follow vectors.json as it changes.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "phx/protocol/json.hpp"
#include "phx/protocol/serializer.hpp"
#include "phx/protocol/url.hpp"

using namespace phx::protocol;
namespace fs = std::filesystem;

namespace {

/// Seeds by target name.
using corpora = std::map<std::string, std::vector<std::string>>;

std::string from_hex(std::string_view hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  return out;
}

std::string str(const json_value& v) {
  return v.IsString() ? std::string{v.GetString(), v.GetStringLength()} : std::string{};
}

// Calls `fn(entry)` for every object of every array in vectors[codec].
template <class F>
void each_entry(const json_value& vectors, const char* codec, F&& fn) {
  auto section = vectors.FindMember(codec);
  if (section == vectors.MemberEnd() || !section->value.IsObject())
    return;
  for (auto& part : section->value.GetObject())
    if (part.value.IsArray())
      for (auto& entry : part.value.GetArray())
        if (entry.IsObject())
          fn(entry);
}

void add_text_frames(const json_value& vectors, corpora& out) {
  each_entry(vectors, "v2_json", [&](const json_value& e) {
    if (!e.HasMember("frame"))
      return;
    auto frame = str(e["frame"]);
    out["v2_json"].push_back(frame);
    // The same message as V1 (client shape, with join_ref) seeds the V1 target.
    if (auto msg = decode_v2_json(std::string{frame}, role::server))
      if (auto v1 = encode_v1_json(*msg, role::client))
        out["v1_json"].push_back(*v1);
    // Its payload seeds params, presence and the query/base64 readers.
    if (auto msg = decode_v2_json(std::string{frame}, role::server)) {
      auto payload = msg->payload.to_string();
      out["url"].push_back("ws://127.0.0.1:4000/socket\n" + payload);
      if (auto params = parse_json(payload))
        out["url"].push_back(encode_params(**params));
      out["url"].push_back(base64_encode(payload, false));
      if (msg->event == events::presence_state) {
        out["presence"].push_back("s3" + payload);
        out["presence"].push_back("d3{\"joins\":" + payload + ",\"leaves\":{}}");
        out["presence"].push_back("d-{\"joins\":{},\"leaves\":" + payload + "}\ns3" + payload
                                  + "\nd3{\"joins\":{},\"leaves\":" + payload + "}");
      }
    }
  });
  each_entry(vectors, "v1_json", [&](const json_value& e) {
    if (e.HasMember("frame"))
      out["v1_json"].push_back(str(e["frame"]));
  });
}

void add_binary_frames(const json_value& vectors, corpora& out) {
  each_entry(vectors, "v2_binary", [&](const json_value& e) {
    if (e.HasMember("frame_hex"))
      out["v2_binary"].push_back(from_hex(str(e["frame_hex"])));
  });
}

// Endpoints, headers and versions have no golden frames: a few of each kind.
void add_connection_seeds(corpora& out) {
  for (const char* seed :
       {"ws://127.0.0.1:4000/socket", "wss://example.com/socket?token=abc",
        "http://[::1]:4000/socket/\n{\"user\":\"ann\",\"vsn\":\"1.0.0\"}",
        "https://h:443/s?a=1&b[c]=2\n{\"a\":{\"b\":[1,2.5,true,null]}}",
        "phoenix, base64url.bearer.phx.dG9rZW4", "user=ann&a%5Bb%5D=c+d&vsn=2.0.0",
        "2.0.0", "1.0.0"})
    out["url"].push_back(seed);
}

bool write(const fs::path& dir, const corpora& seeds) {
  std::error_code ec;
  for (auto& [target, list] : seeds) {
    auto sub = dir / target;
    fs::create_directories(sub, ec);
    if (ec) {
      std::fprintf(stderr, "phx-fuzz-seeds: cannot create %s: %s\n", sub.c_str(),
                   ec.message().c_str());
      return false;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      char name[32];
      std::snprintf(name, sizeof(name), "seed-%03zu", i);
      std::ofstream file{sub / name, std::ios::binary | std::ios::trunc};
      file.write(list[i].data(), static_cast<std::streamsize>(list[i].size()));
      if (!file) {
        std::fprintf(stderr, "phx-fuzz-seeds: cannot write %s/%s\n", sub.c_str(), name);
        return false;
      }
    }
    std::printf("%-10s %zu seeds\n", target.c_str(), list.size());
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <vectors.json> <output dir>\n", argv[0]);
    return 2;
  }
  std::ifstream in{argv[1], std::ios::binary};
  if (!in) {
    std::fprintf(stderr, "phx-fuzz-seeds: cannot read %s\n", argv[1]);
    return 1;
  }
  std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  auto vectors = parse_json(text);
  if (!vectors || !(*vectors)->IsObject()) {
    std::fprintf(stderr, "phx-fuzz-seeds: %s is not a JSON object%s%s\n", argv[1],
                 vectors ? "" : ": ", vectors ? "" : vectors.error().to_string().c_str());
    return 1;
  }
  corpora seeds;
  add_text_frames(**vectors, seeds);
  add_binary_frames(**vectors, seeds);
  add_connection_seeds(seeds);
  for (auto target : {"v2_json", "v1_json", "v2_binary", "presence", "url"})
    if (seeds[target].empty()) {
      std::fprintf(stderr, "phx-fuzz-seeds: no seeds for %s in %s\n", target, argv[1]);
      return 1;
    }
  return write(argv[2], seeds) ? 0 : 1;
}
