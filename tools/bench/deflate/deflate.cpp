// phx-bench-deflate: what permessage-deflate (RFC 7692) costs and saves on a
// chatty JSON workload: presence-diff-like messages of ~0.5-2 KiB, each a
// little different, as a busy channel sends them. For each mode (no
// compression, deflate with context takeover, deflate without) it reports
// the bytes on the wire per message (payload + WebSocket header, the mask of
// client frames included) and the CPU per message of the sender's deflate
// and the receiver's inflate, with the transport's own codec
// (transport/src/deflate.cpp). Single-threaded.
//
// With --url (a phx-server, e.g. ws://127.0.0.1:4000) it also runs the same
// messages end to end through the TRANSPORT: "echo" pushes on room:lobby, 32
// in flight, over /socket (uncompressed: the server declines) and over
// /deflate/socket with `compress`, and reports the TCP payload bytes each
// way per round trip (the kernel's TCP_INFO counters of the bench's socket)
// and the bench process's CPU per round trip.
//
//   phx-bench-deflate [--messages 20000] [--url ws://HOST:PORT] [--format table|json]

#include <cstdio>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/tcp.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "bench/measure.hpp"
#include "deflate.hpp"
#include "phx/transport/transport.hpp"

namespace {

using namespace phx::bench;
namespace dt = phx::transport::detail;

/// A presence diff of a busy lobby: 1-8 joins and 0-3 leaves of users with
/// their metas (~0.5-2 KiB of V2 JSON), never twice the same.
std::string presence_diff(size_t i) {
  std::ostringstream out;
  auto user = [&](size_t k) {
    auto id = (i * 7919 + k * 104729) % 5000;
    out << "\"user-" << id << R"(":{"metas":[{"phx_ref":"F)" << std::hex
        << (i * 2654435761u + k) % 0xffffffffu << std::dec
        << R"(","online_at":)" << 1733400000 + i * 3 + k
        << R"(,"status":")" << (k % 3 == 0 ? "available" : k % 3 == 1 ? "away" : "busy")
        << R"(","device":")" << (k % 2 ? "kiosk" : "handheld") << R"(","site":"plant-)"
        << id % 17 << R"(","shift":)" << id % 3 << "}]}";
  };
  out << R"([null,null,"room:lobby","presence_diff",{"joins":{)";
  auto joins = 1 + i % 8;
  for (size_t k = 0; k < joins; ++k) {
    if (k)
      out << ',';
    user(k);
  }
  out << R"(},"leaves":{)";
  for (size_t k = 0; k < i % 4; ++k) {
    if (k)
      out << ',';
    user(100 + k);
  }
  out << "}}]";
  return out.str();
}

/// Bytes of a frame header for a payload of `n` bytes (+4 for a client's mask).
size_t header_bytes(size_t n, bool masked) {
  return (n < 126 ? 2 : n < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

struct mode_result {
  std::string name;
  size_t messages = 0;
  double raw_per_msg = 0;
  double up_wire_per_msg = 0;   // client -> server (masked)
  double down_wire_per_msg = 0; // server -> client
  double deflate_us = 0;        // sender's CPU per message
  double inflate_us = 0;        // receiver's CPU per message
};

mode_result run(const std::string& name, const std::vector<std::string>& msgs,
                bool compress, bool takeover) {
  mode_result r;
  r.name = name;
  r.messages = msgs.size();
  size_t raw = 0;
  size_t up = 0;
  size_t down = 0;
  std::vector<std::string> wire(msgs.size());
  dt::deflater out{15, !takeover};
  double c0 = cpu_s();
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (compress && msgs[i].size() >= dt::min_compressed_message) {
      if (!out.compress(msgs[i], wire[i]))
        throw std::runtime_error("deflate failed");
    } else {
      wire[i] = msgs[i];
    }
  }
  double c1 = cpu_s();
  dt::inflater in{15, 16 << 20};
  std::string back;
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (!compress) {
      back.assign(wire[i]);
    } else {
      back.clear();
      wire[i].append("\x00\x00\xff\xff", 4);
      if (in.inflate(reinterpret_cast<const uint8_t*>(wire[i].data()), wire[i].size(), back)
          != dt::inflater::status::ok)
        throw std::runtime_error("inflate failed");
      wire[i].resize(wire[i].size() - 4);
    }
    if (back != msgs[i])
      throw std::runtime_error("round trip differs at message " + std::to_string(i));
  }
  double c2 = cpu_s();
  for (size_t i = 0; i < msgs.size(); ++i) {
    raw += msgs[i].size();
    up += wire[i].size() + header_bytes(wire[i].size(), true);
    down += wire[i].size() + header_bytes(wire[i].size(), false);
  }
  auto n = static_cast<double>(msgs.size());
  r.raw_per_msg = static_cast<double>(raw) / n;
  r.up_wire_per_msg = static_cast<double>(up) / n;
  r.down_wire_per_msg = static_cast<double>(down) / n;
  r.deflate_us = compress ? (c1 - c0) * 1e6 / n : 0;
  r.inflate_us = compress ? (c2 - c1) * 1e6 / n : 0;
  return r;
}

/// TCP payload bytes sent (acked) and received by this process's sockets
/// connected to `port`, from the kernel's TCP_INFO (Linux 4.2+).
std::pair<uint64_t, uint64_t> tcp_bytes(uint16_t port) {
  uint64_t sent = 0;
  uint64_t received = 0;
  auto* dir = ::opendir("/proc/self/fd");
  if (!dir)
    return {0, 0};
  while (auto* e = ::readdir(dir)) {
    int fd = std::atoi(e->d_name);
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    if (fd <= 2 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0
        || peer.sin_family != AF_INET || ntohs(peer.sin_port) != port)
      continue;
    tcp_info info{};
    socklen_t ilen = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &ilen) == 0) {
      sent += info.tcpi_bytes_acked;
      received += info.tcpi_bytes_received;
    }
  }
  ::closedir(dir);
  return {sent, received};
}

struct e2e_result {
  std::string name;
  double up_per_msg = 0;
  double down_per_msg = 0;
  double cpu_us = 0;
  double wall_s = 0;
};

/// Echo round trips of `msgs` over `path` of the server at `base`.
e2e_result run_e2e(caf::actor_system& sys, const std::string& base, uint16_t port,
                   const std::string& path, bool compress,
                   const std::vector<std::string>& msgs) {
  namespace tr = phx::transport;
  using phx::protocol::frame;
  using phx::protocol::frame_type;
  e2e_result r;
  r.name = path + (compress ? " (compress)" : "");
  caf::scoped_actor self{sys};
  tr::connect_request req;
  req.url = base + path + "/websocket?vsn=2.0.0";
  req.compress = compress;
  auto t = tr::spawn_transport(sys, caf::actor_cast<tr::listener_actor>(self), 1, req);
  size_t replies = 0;
  bool open = false;
  std::string failure;
  auto receive_one = [&] {
    self->receive(
      [&](tr::opened_atom, tr::generation, tr::transport_kind) { open = true; },
      [&](tr::frame_atom, tr::generation, std::vector<frame>& fs, tr::flow_ticket&) {
        replies += fs.size();
      },
      [&](tr::closed_atom, tr::generation, uint16_t code, std::string& why) {
        failure = "closed " + std::to_string(code) + " " + why;
      },
      [&](tr::failed_atom, tr::generation, tr::connect_failure& f) { failure = f.reason; },
      caf::after(std::chrono::seconds(10)) >> [&] { failure = "timed out"; });
  };
  while (!open && failure.empty())
    receive_one();
  if (!failure.empty())
    throw std::runtime_error(r.name + ": " + failure);
  self->send(t, tr::frame_atom::value,
             frame{frame_type::text, R"(["1","1","room:lobby","phx_join",{}])"});
  while (replies < 1 && failure.empty())
    receive_one();
  replies = 0;
  auto [up0, down0] = tcp_bytes(port);
  auto c0 = cpu_s();
  auto w0 = now_s();
  constexpr size_t window = 32;
  size_t sent = 0;
  while (replies < msgs.size() && failure.empty()) {
    while (sent < msgs.size() && sent - replies < window) {
      auto text = R"(["1",")" + std::to_string(sent + 2) + R"(","room:lobby","echo",)"
                  + msgs[sent].substr(msgs[sent].find('{'), msgs[sent].rfind('}') + 1
                                                              - msgs[sent].find('{'))
                  + "]";
      self->send(t, tr::frame_atom::value, frame{frame_type::text, std::move(text)});
      ++sent;
    }
    receive_one();
  }
  if (!failure.empty())
    throw std::runtime_error(r.name + ": " + failure);
  r.cpu_us = (cpu_s() - c0) * 1e6 / static_cast<double>(msgs.size());
  r.wall_s = now_s() - w0;
  auto [up1, down1] = tcp_bytes(port);
  r.up_per_msg = static_cast<double>(up1 - up0) / static_cast<double>(msgs.size());
  r.down_per_msg = static_cast<double>(down1 - down0) / static_cast<double>(msgs.size());
  self->send(t, tr::close_atom::value, uint16_t{1000}, std::string{});
  return r;
}

} // namespace

int main(int argc, char** argv) {
  size_t count = 20000;
  std::string format = "table";
  std::string url;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--messages" && i + 1 < argc)
      count = std::stoul(argv[++i]);
    else if (a == "--format" && i + 1 < argc)
      format = argv[++i];
    else if (a == "--url" && i + 1 < argc)
      url = argv[++i];
    else {
      std::cerr << "usage: phx-bench-deflate [--messages 20000] [--url ws://HOST:PORT] "
                   "[--format table|json]\n";
      return 2;
    }
  }
  if (count == 0 || (format != "table" && format != "json")) {
    std::cerr << "phx-bench-deflate: --messages must be > 0, --format table or json\n";
    return 2;
  }
  std::vector<std::string> msgs;
  msgs.reserve(count);
  for (size_t i = 0; i < count; ++i)
    msgs.push_back(presence_diff(i));
  std::vector<mode_result> results;
  try {
    results = {run("uncompressed", msgs, false, false), run("deflate", msgs, true, true),
               run("deflate_no_takeover", msgs, true, false)};
  } catch (const std::exception& e) {
    std::cerr << "phx-bench-deflate: " << e.what() << "\n";
    return 1;
  }
  std::vector<e2e_result> e2e;
  if (!url.empty()) {
    auto colon = url.rfind(':');
    auto port = colon == std::string::npos ? 0 : std::atoi(url.c_str() + colon + 1);
    if (url.rfind("ws://", 0) != 0 || port <= 0 || port > 65535) {
      std::cerr << "phx-bench-deflate: --url must be ws://HOST:PORT\n";
      return 2;
    }
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    try {
      e2e.push_back(run_e2e(sys, url, static_cast<uint16_t>(port), "/socket", false, msgs));
      e2e.push_back(
        run_e2e(sys, url, static_cast<uint16_t>(port), "/deflate/socket", true, msgs));
    } catch (const std::exception& e) {
      std::cerr << "phx-bench-deflate: " << e.what() << "\n";
      return 1;
    }
  }
  if (format == "json") {
    std::cout << "{\"messages\":" << count << ",\"modes\":[";
    for (size_t i = 0; i < results.size(); ++i) {
      auto& r = results[i];
      std::printf("%s{\"mode\":\"%s\",\"raw_bytes\":%.1f,\"up_wire_bytes\":%.1f,"
                  "\"down_wire_bytes\":%.1f,\"deflate_us\":%.2f,\"inflate_us\":%.2f}",
                  i ? "," : "", r.name.c_str(), r.raw_per_msg, r.up_wire_per_msg,
                  r.down_wire_per_msg, r.deflate_us, r.inflate_us);
    }
    std::cout << "],\"end_to_end\":[";
    for (size_t i = 0; i < e2e.size(); ++i)
      std::printf("%s{\"path\":\"%s\",\"up_bytes\":%.1f,\"down_bytes\":%.1f,"
                  "\"cpu_us\":%.2f,\"wall_s\":%.3f}",
                  i ? "," : "", e2e[i].name.c_str(), e2e[i].up_per_msg,
                  e2e[i].down_per_msg, e2e[i].cpu_us, e2e[i].wall_s);
    std::cout << "]}\n";
    return 0;
  }
  std::printf("%zu presence diffs, %.0f bytes of JSON each on average\n\n", count,
              results[0].raw_per_msg);
  std::printf("%-20s %14s %14s %8s %12s %12s\n", "mode", "up B/msg", "down B/msg",
              "ratio", "deflate us", "inflate us");
  for (auto& r : results)
    std::printf("%-20s %14.1f %14.1f %7.1f%% %12.2f %12.2f\n", r.name.c_str(),
                r.up_wire_per_msg, r.down_wire_per_msg,
                100.0 * r.down_wire_per_msg / results[0].down_wire_per_msg, r.deflate_us,
                r.inflate_us);
  if (!e2e.empty()) {
    std::printf("\nend to end, echo round trips through phx-server (TCP payload bytes "
                "per round trip, bench CPU per round trip)\n");
    std::printf("%-28s %12s %12s %10s %8s\n", "path", "up B", "down B", "CPU us", "wall s");
    for (auto& r : e2e)
      std::printf("%-28s %12.1f %12.1f %10.2f %8.3f\n", r.name.c_str(), r.up_per_msg,
                  r.down_per_msg, r.cpu_us, r.wall_s);
  }
  return 0;
}
