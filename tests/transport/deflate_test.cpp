// permessage-deflate (RFC 7692) of the WebSocket transport: the negotiation
// rules and the codec (deterministic unit tests), the TRANSPORT against a
// scripted raw peer that sees every frame bit (offer, RSV1, window bits,
// context takeover, invalid answers, a compression bomb), and against a real
// phx-server through a byte-counting proxy (compressed on /deflate/socket,
// uncompressed where the server declines, a 1 MiB echo).
#include "fixture.hpp"

#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <zlib.h>

#include "deflate.hpp"
#include "phx_test/server_process.hpp"

using namespace phx_test;
namespace dt = phx::transport::detail;

namespace {

// -- helpers: zlib on the peer's side --------------------------------------------

/// A raw DEFLATE stream of the peer (RFC 7692 framing: sync flush, tail cut).
struct peer_deflater {
  z_stream z{};
  bool takeover;

  explicit peer_deflater(bool context_takeover = true, int bits = 15)
    : takeover(context_takeover) {
    deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -bits, 9, Z_DEFAULT_STRATEGY);
  }
  ~peer_deflater() { deflateEnd(&z); }

  std::string compress(const std::string& in) {
    std::string out(deflateBound(&z, in.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_SYNC_FLUSH);
    out.resize(out.size() - z.avail_out - 4);
    if (!takeover)
      deflateReset(&z);
    return out;
  }
};

/// The peer's inflater of the client's messages; false on invalid data.
struct peer_inflater {
  z_stream z{};
  explicit peer_inflater(int bits = 15) { inflateInit2(&z, -bits); }
  ~peer_inflater() { inflateEnd(&z); }

  bool inflate(std::string in, std::string& out) {
    in.append("\x00\x00\xff\xff", 4);
    out.clear();
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    char buf[16384];
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      auto rc = ::inflate(&z, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        return false;
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0 || z.avail_in > 0);
    return true;
  }
};

/// A chatty JSON message like a presence diff (~0.5-2 KiB), different each time.
std::string presence_diff(size_t i) {
  std::ostringstream out;
  out << R"(["3",null,"room:lobby","presence_diff",{"joins":{)";
  for (size_t k = 0; k < 3 + i % 5; ++k)
    out << R"("user-)" << (i * 7 + k) % 1000 << R"(":{"metas":[{"phx_ref":"F)"
        << std::hex << (i * 131 + k * 17) << std::dec
        << R"(","online_at":)" << 1733400000 + i << R"(,"status":"available","device":"kiosk"}]},)";
  out << R"("last":{"metas":[]}},"leaves":{}}])";
  return out.str();
}

// -- a scripted raw WebSocket peer on POSIX sockets ------------------------------

/// One frame as the peer read it (payload unmasked).
struct wire_frame {
  bool fin = false;
  bool rsv1 = false;
  uint8_t opcode = 0;
  std::string payload;
};

/// A one-connection-at-a-time WebSocket server written byte by byte, so that
/// the test sees and writes every bit of the frames (RSV1 included) and
/// scripts the `Sec-WebSocket-Extensions` answer; `connect` makes it play a
/// client instead (to probe phx-server). Every wait is bounded.
class raw_peer {
public:
  raw_peer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
        || ::listen(listen_fd_, 8) != 0)
      throw std::runtime_error("raw_peer: cannot listen");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }

  ~raw_peer() {
    drop();
    ::close(listen_fd_);
  }

  std::string url(const std::string& path = "/socket/websocket") const {
    return "ws://127.0.0.1:" + std::to_string(port_) + path;
  }

  /// Accepts the next connection and reads its upgrade request; returns the
  /// request's `Sec-WebSocket-Extensions` (or "<none>"), empty on timeout.
  std::string accept(std::chrono::milliseconds timeout = max_wait) {
    drop();
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1)
      return {};
    fd_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf_.clear();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buf_.find("\r\n\r\n") == std::string::npos)
      if (!fill(deadline))
        return {};
    auto end = buf_.find("\r\n\r\n");
    request_ = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    auto ext = header("Sec-WebSocket-Extensions");
    return ext ? *ext : "<none>";
  }

  /// Answers 101, with `extensions` as `Sec-WebSocket-Extensions` if non-empty.
  void upgrade(const std::string& extensions) {
    auto key = header("Sec-WebSocket-Key").value_or("");
    key += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(key.data()), key.size(), sha);
    unsigned char accept[64];
    auto n = EVP_EncodeBlock(accept, sha, SHA_DIGEST_LENGTH);
    std::string resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                       + std::string(reinterpret_cast<char*>(accept), static_cast<size_t>(n))
                       + "\r\n";
    if (!extensions.empty())
      resp += "Sec-WebSocket-Extensions: " + extensions + "\r\n";
    resp += "\r\n";
    write_all(resp);
  }

  /// Plays a client: connects to 127.0.0.1:`port`, asks to upgrade `path`
  /// offering `extensions`, and reads the answer's headers (`answer_header`
  /// reads them); false on failure or timeout.
  bool connect(uint16_t port, const std::string& path, const std::string& extensions) {
    drop();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return false;
    write_all("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Extensions: " + extensions + "\r\n\r\n");
    buf_.clear();
    auto deadline = std::chrono::steady_clock::now() + max_wait;
    while (buf_.find("\r\n\r\n") == std::string::npos)
      if (!fill(deadline))
        return false;
    auto end = buf_.find("\r\n\r\n");
    request_ = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    return request_.rfind("HTTP/1.1 101", 0) == 0;
  }

  /// A header of the answer `connect` read.
  std::optional<std::string> answer_header(const std::string& name) const {
    return header(name);
  }

  /// Writes one frame: unmasked (a server's) or masked with a zero key (a
  /// client's: the payload bytes stay as they are).
  void send(uint8_t opcode, const std::string& payload, bool rsv1 = false,
            bool masked = false) {
    std::string f;
    f += static_cast<char>(0x80 | (rsv1 ? 0x40 : 0) | opcode);
    auto n = payload.size();
    auto mask_bit = masked ? 0x80 : 0;
    if (n < 126) {
      f += static_cast<char>(n | mask_bit);
    } else if (n < 65536) {
      f += static_cast<char>(126 | mask_bit);
      f += static_cast<char>(n >> 8);
      f += static_cast<char>(n & 0xff);
    } else {
      f += static_cast<char>(127 | mask_bit);
      for (int i = 7; i >= 0; --i)
        f += static_cast<char>((n >> (8 * i)) & 0xff);
    }
    if (masked)
      f.append(4, '\0');
    f += payload;
    write_all(f);
  }

  /// The next frame from the client; empty on timeout or a closed link.
  std::optional<wire_frame> read(std::chrono::milliseconds timeout = max_wait) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto need = [&](size_t n) {
      while (buf_.size() < n)
        if (!fill(deadline))
          return false;
      return true;
    };
    if (!need(2))
      return std::nullopt;
    auto b0 = static_cast<uint8_t>(buf_[0]);
    auto b1 = static_cast<uint8_t>(buf_[1]);
    size_t len = b1 & 0x7f;
    size_t pos = 2;
    if (len == 126) {
      if (!need(4))
        return std::nullopt;
      len = (size_t{static_cast<uint8_t>(buf_[2])} << 8) | static_cast<uint8_t>(buf_[3]);
      pos = 4;
    } else if (len == 127) {
      if (!need(10))
        return std::nullopt;
      len = 0;
      for (int i = 0; i < 8; ++i)
        len = (len << 8) | static_cast<uint8_t>(buf_[2 + i]);
      pos = 10;
    }
    bool masked = (b1 & 0x80) != 0;
    if (!need(pos + (masked ? 4 : 0) + len))
      return std::nullopt;
    wire_frame f;
    f.fin = (b0 & 0x80) != 0;
    f.rsv1 = (b0 & 0x40) != 0;
    f.opcode = b0 & 0x0f;
    std::string mask = masked ? buf_.substr(pos, 4) : std::string(4, '\0');
    pos += masked ? 4 : 0;
    f.payload = buf_.substr(pos, len);
    for (size_t i = 0; i < len; ++i)
      f.payload[i] = static_cast<char>(f.payload[i] ^ mask[i % 4]);
    buf_.erase(0, pos + len);
    return f;
  }

  /// The next data frame, skipping control frames; empty on timeout.
  std::optional<wire_frame> read_data(std::chrono::milliseconds timeout = max_wait) {
    for (int i = 0; i < 16; ++i) {
      auto f = read(timeout);
      if (!f || f->opcode < 8)
        return f;
    }
    return std::nullopt;
  }

  /// Drops the connection.
  void drop() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

private:
  std::optional<std::string> header(const std::string& name) const {
    std::istringstream in{request_};
    std::string line;
    while (std::getline(in, line)) {
      auto colon = line.find(':');
      if (colon == std::string::npos || colon != name.size())
        continue;
      if (strncasecmp(line.data(), name.data(), name.size()) != 0)
        continue;
      auto v = line.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.erase(0, 1);
      while (!v.empty() && (v.back() == '\r' || v.back() == ' '))
        v.pop_back();
      return v;
    }
    return std::nullopt;
  }

  bool fill(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (fd_ < 0 || left.count() <= 0)
      return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1)
      return false;
    char tmp[65536];
    auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0)
      return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  void write_all(const std::string& bytes) {
    size_t done = 0;
    while (fd_ >= 0 && done < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0)
        return; // the client dropped the link: the test sees it in the reports
      done += static_cast<size_t>(n);
    }
  }

  int listen_fd_ = -1;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string request_;
  std::string buf_;
};

// -- a byte-counting TCP proxy -----------------------------------------------------

/// Forwards 127.0.0.1:port() to `target` and counts the bytes each way: the
/// bytes on the wire, whatever the endpoints think they sent.
class counting_proxy {
public:
  explicit counting_proxy(uint16_t target) : target_(target) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
        || ::listen(listen_fd_, 8) != 0)
      throw std::runtime_error("counting_proxy: cannot listen");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  ~counting_proxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }

  uint16_t port() const noexcept { return port_; }
  /// Bytes from the client to the server so far.
  size_t upstream() const noexcept { return up_; }
  /// Bytes from the server to the client so far.
  size_t downstream() const noexcept { return down_; }

private:
  void run() {
    int client = -1;
    int server = -1;
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      if (client >= 0)
        fds.push_back({client, POLLIN, 0});
      if (server >= 0)
        fds.push_back({server, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0)
        continue;
      if (fds[0].revents & POLLIN) {
        // One connection at a time: a new one replaces the old.
        if (client >= 0)
          ::close(client), ::close(server);
        client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(target_);
        if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          ::close(client), ::close(server);
          client = server = -1;
        }
        continue;
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
          continue;
        bool from_client = fds[i].fd == client;
        char buf[65536];
        auto n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n <= 0) {
          ::close(client), ::close(server);
          client = server = -1;
          break;
        }
        (from_client ? up_ : down_) += static_cast<size_t>(n);
        auto to = from_client ? server : client;
        ssize_t done = 0;
        while (done < n) {
          auto w = ::send(to, buf + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
          if (w <= 0)
            break;
          done += w;
        }
      }
    }
    if (client >= 0)
      ::close(client), ::close(server);
  }

  uint16_t target_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> up_{0};
  std::atomic<size_t> down_{0};
  std::thread thread_;
};

/// A value of /proc/self/status in KiB (VmRSS, VmHWM).
size_t proc_status_kib(const std::string& key) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0)
      return std::stoul(line.substr(key.size() + 1));
  return 0;
}

frame text(std::string s) {
  return frame{frame_type::text, std::move(s)};
}

tr::connect_request compressed_request(std::string url) {
  auto req = transport_fixture::request(std::move(url));
  req.compress = true;
  return req;
}

} // namespace

// -- negotiation ----------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(deflate_negotiation)

BOOST_AUTO_TEST_CASE(the_offer_asks_for_defaults_and_lets_the_server_size_our_window) {
  BOOST_TEST(dt::deflate_offer() == "permessage-deflate; client_max_window_bits");
}

BOOST_AUTO_TEST_CASE(valid_answers_are_read_with_every_parameter) {
  auto none = dt::parse_deflate_answer("", true);
  BOOST_TEST(none.error == "");
  BOOST_TEST(!none.accepted);
  auto plain = dt::parse_deflate_answer("permessage-deflate", true);
  BOOST_TEST(plain.error == "");
  BOOST_TEST(plain.accepted);
  BOOST_TEST(!plain.params.server_no_context_takeover);
  BOOST_TEST(!plain.params.client_no_context_takeover);
  BOOST_TEST(plain.params.server_max_window_bits == 15);
  BOOST_TEST(plain.params.client_max_window_bits == 15);
  auto full = dt::parse_deflate_answer(
    " permessage-deflate ;server_no_context_takeover; client_no_context_takeover ;"
    " server_max_window_bits=10; client_max_window_bits=\"9\" ",
    true);
  BOOST_TEST(full.error == "");
  BOOST_TEST(full.accepted);
  BOOST_TEST(full.params.server_no_context_takeover);
  BOOST_TEST(full.params.client_no_context_takeover);
  BOOST_TEST(full.params.server_max_window_bits == 10);
  BOOST_TEST(full.params.client_max_window_bits == 9);
  BOOST_TEST(dt::to_string(full.params)
             == "permessage-deflate; server_no_context_takeover; "
                "client_no_context_takeover; server_max_window_bits=10; "
                "client_max_window_bits=9");
  auto eight = dt::parse_deflate_answer("permessage-deflate; client_max_window_bits=8", true);
  BOOST_TEST(eight.error == "");
  BOOST_TEST(eight.params.client_max_window_bits == 8);
}

BOOST_AUTO_TEST_CASE(invalid_answers_are_refused_with_a_reason) {
  const std::vector<std::pair<std::string, std::string>> cases{
    {"permessage-deflate; foo", "unknown parameter foo"},
    {"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
     "given twice"},
    {"permessage-deflate; client_no_context_takeover=1", "takes no value"},
    {"permessage-deflate; server_max_window_bits", "must be 8..15"},
    {"permessage-deflate; server_max_window_bits=7", "must be 8..15"},
    {"permessage-deflate; server_max_window_bits=16", "must be 8..15"},
    {"permessage-deflate; server_max_window_bits=09", "must be 8..15"},
    {"permessage-deflate; client_max_window_bits", "must be 8..15"},
    {"permessage-deflate; client_max_window_bits=\"1 5\"", "malformed value"},
    {"permessage-deflate, permessage-deflate", "twice"},
    {"x-webkit-deflate-frame", "not offered"},
    {"permessage-deflate; server_max_window_bits=\"10", "unterminated"},
  };
  for (auto& [header, why] : cases) {
    auto a = dt::parse_deflate_answer(header, true);
    BOOST_TEST(!a.error.empty(), header);
    BOOST_TEST(a.error.find(why) != std::string::npos, header << " -> " << a.error);
  }
  // Not offered: any permessage-deflate answer is invalid (RFC 6455 4.1).
  auto unasked = dt::parse_deflate_answer("permessage-deflate", false);
  BOOST_TEST(unasked.error.find("not offered") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// -- codec -------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(deflate_codec)

BOOST_AUTO_TEST_CASE(context_takeover_round_trips_many_messages_and_shrinks_them) {
  dt::deflater out{15, false};
  dt::inflater in{15, 1 << 20};
  size_t raw = 0;
  size_t wire = 0;
  for (size_t i = 0; i < 500; ++i) {
    auto msg = presence_diff(i);
    std::string z;
    BOOST_TEST_REQUIRE(out.compress(msg, z));
    raw += msg.size();
    wire += z.size();
    z.append("\x00\x00\xff\xff", 4);
    std::string back;
    BOOST_TEST_REQUIRE((in.inflate(reinterpret_cast<const uint8_t*>(z.data()), z.size(), back)
                        == dt::inflater::status::ok));
    BOOST_TEST_REQUIRE(back == msg);
  }
  BOOST_TEST_MESSAGE("500 presence diffs: " << raw << " bytes, " << wire << " compressed");
  // The window carries over: similar messages compress to a small fraction.
  BOOST_TEST(wire * 4 < raw);
}

BOOST_AUTO_TEST_CASE(no_context_takeover_makes_every_message_independent) {
  dt::deflater out{15, true};
  for (size_t i = 0; i < 20; ++i) {
    auto msg = presence_diff(i);
    std::string z;
    BOOST_TEST_REQUIRE(out.compress(msg, z));
    // A fresh inflater decodes it: it refers to nothing before it.
    peer_inflater fresh;
    std::string back;
    BOOST_TEST_REQUIRE(fresh.inflate(z, back));
    BOOST_TEST(back == msg);
  }
}

BOOST_AUTO_TEST_CASE(inflate_stops_at_the_cap_with_memory_bounded) {
  // 64 MiB of zeros in ~64 KiB: a bomb for a 1 MiB cap.
  peer_deflater bomb;
  std::string zeros(64 << 20, '\0');
  auto z = bomb.compress(zeros);
  zeros = std::string{};
  BOOST_TEST(z.size() < (256u << 10));
  dt::inflater in{15, 1 << 20};
  std::string out;
  auto st = in.inflate(reinterpret_cast<const uint8_t*>(z.data()), z.size(), out);
  BOOST_TEST((st == dt::inflater::status::too_big));
  BOOST_TEST(out.size() <= (1u << 20) + 1);
  // The string's own growth may round the last step up to twice the cap.
  BOOST_TEST(out.capacity() <= 2 * ((1u << 20) + 1));
}

BOOST_AUTO_TEST_CASE(corrupt_data_is_reported) {
  dt::inflater in{15, 1 << 20};
  std::string garbage = "\xff\xff\xff\xff\xff\xff";
  std::string out;
  auto st = in.inflate(reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size(), out);
  BOOST_TEST((st == dt::inflater::status::corrupt));
}

BOOST_AUTO_TEST_CASE(a_final_block_keeps_the_window_for_the_next_message) {
  // A peer that flushes with BFINAL (RFC 7692 7.2.3.4) then refers back.
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::string first = presence_diff(1);
  std::string out(4096, '\0');
  z.next_in = reinterpret_cast<Bytef*>(first.data());
  z.avail_in = static_cast<uInt>(first.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  BOOST_TEST_REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  dt::inflater in{15, 1 << 20};
  std::string back;
  BOOST_TEST_REQUIRE((in.inflate(reinterpret_cast<const uint8_t*>(out.data()), out.size(), back)
                      == dt::inflater::status::ok));
  BOOST_TEST(back == first);
  // The next message, compressed with the first as its dictionary.
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(first.data()),
                       static_cast<uInt>(first.size()));
  std::string second = first;
  std::string out2(4096, '\0');
  z.next_in = reinterpret_cast<Bytef*>(second.data());
  z.avail_in = static_cast<uInt>(second.size());
  z.next_out = reinterpret_cast<Bytef*>(out2.data());
  z.avail_out = static_cast<uInt>(out2.size());
  deflate(&z, Z_SYNC_FLUSH);
  out2.resize(out2.size() - z.avail_out);
  deflateEnd(&z);
  back.clear();
  BOOST_TEST_REQUIRE((in.inflate(reinterpret_cast<const uint8_t*>(out2.data()), out2.size(), back)
                      == dt::inflater::status::ok));
  BOOST_TEST(back == second);
}

BOOST_AUTO_TEST_SUITE_END()

// -- the TRANSPORT against a raw peer ---------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(deflate_wire, transport_fixture)

BOOST_AUTO_TEST_CASE(compressed_both_ways_with_rsv1_and_context_takeover) {
  raw_peer peer;
  auto t = spawn(1, compressed_request(peer.url()));
  BOOST_TEST_REQUIRE(peer.accept() == "permessage-deflate; client_max_window_bits");
  peer.upgrade("permessage-deflate");
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::opened, r);
  // Client to server: every message compressed (RSV1), smaller, and the
  // window carries over (one inflater for the whole stream).
  peer_inflater server_side;
  size_t raw = 0;
  size_t wire = 0;
  for (size_t i = 0; i < 200; ++i) {
    auto msg = presence_diff(i);
    send(t, tr::frame_atom::value, text(msg));
    auto f = peer.read_data();
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST_REQUIRE(f->rsv1);
    BOOST_TEST(f->opcode == 1);
    std::string back;
    BOOST_TEST_REQUIRE(server_side.inflate(f->payload, back));
    BOOST_TEST_REQUIRE(back == msg);
    raw += msg.size();
    wire += f->payload.size();
  }
  BOOST_TEST_MESSAGE("client -> server: " << raw << " bytes as " << wire);
  BOOST_TEST(wire * 4 < raw);
  // A short message goes as it is (not worth a deflate call).
  send(t, tr::frame_atom::value, text(R"([null,"9","phoenix","heartbeat",{}])"));
  auto hb = peer.read_data();
  BOOST_TEST_REQUIRE(hb.has_value());
  BOOST_TEST(!hb->rsv1);
  BOOST_TEST(hb->payload == R"([null,"9","phoenix","heartbeat",{}])");
  // Server to client: compressed with context takeover, mixed with a plain one.
  peer_deflater client_side;
  for (size_t i = 0; i < 200; ++i) {
    auto msg = presence_diff(1000 + i);
    if (i == 100)
      peer.send(1, msg, false);
    else
      peer.send(1, client_side.compress(msg), true);
    auto got = next();
    BOOST_TEST_REQUIRE(got.kind == report::data, got);
    BOOST_TEST_REQUIRE(got.f.data == msg);
  }
  // Control frames are never compressed: our close frame has no RSV1.
  send(t, tr::close_atom::value, uint16_t{1000}, std::string{"bye"});
  auto close = peer.read();
  BOOST_TEST_REQUIRE(close.has_value());
  BOOST_TEST(close->opcode == 8);
  BOOST_TEST(!close->rsv1);
}

BOOST_AUTO_TEST_CASE(no_offer_without_compress_and_uncompressed_when_declined) {
  raw_peer peer;
  auto t = spawn(1, request(peer.url()));
  BOOST_TEST(peer.accept() == "<none>");
  peer.upgrade("");
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  send(t, tr::frame_atom::value, text(presence_diff(1)));
  auto f = peer.read_data();
  BOOST_TEST_REQUIRE(f.has_value());
  BOOST_TEST(!f->rsv1);
  BOOST_TEST(f->payload == presence_diff(1));
  peer.drop();
  auto c1 = next();
  BOOST_TEST_REQUIRE(c1.kind == report::closed, c1);
  // Offered but declined: plain frames, and an RSV1 frame is a protocol error.
  auto t2 = spawn(2, compressed_request(peer.url()));
  BOOST_TEST(peer.accept() == "permessage-deflate; client_max_window_bits");
  peer.upgrade("");
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::opened, r);
  BOOST_TEST(r.gen == 2u);
  send(t2, tr::frame_atom::value, text(presence_diff(2)));
  auto f2 = peer.read_data();
  BOOST_TEST_REQUIRE(f2.has_value());
  BOOST_TEST(!f2->rsv1);
  BOOST_TEST(f2->payload == presence_diff(2));
  peer_deflater z;
  peer.send(1, z.compress(presence_diff(3)), true);
  auto c = next();
  BOOST_TEST_REQUIRE(c.kind == report::closed, c);
  BOOST_TEST(c.code == 1002);
}

BOOST_AUTO_TEST_CASE(no_context_takeover_and_window_bits_are_honoured) {
  raw_peer peer;
  auto t = spawn(1, compressed_request(peer.url()));
  BOOST_TEST_REQUIRE(!peer.accept().empty());
  peer.upgrade("permessage-deflate; client_no_context_takeover; "
               "server_no_context_takeover; client_max_window_bits=9; "
               "server_max_window_bits=10");
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  // Far repeats (beyond 512 bytes) that a 32 KiB window would reach back to.
  std::string far;
  std::mt19937 rng{7};
  for (int i = 0; i < 1500; ++i)
    far += static_cast<char>('a' + rng() % 26);
  auto msg = far + far + far;
  for (int i = 0; i < 10; ++i) {
    send(t, tr::frame_atom::value, text(msg));
    auto f = peer.read_data();
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST_REQUIRE(f->rsv1);
    // Each message alone, with a 512-byte window, decodes: no takeover, 9 bits.
    peer_inflater fresh{9};
    std::string back;
    BOOST_TEST_REQUIRE(fresh.inflate(f->payload, back));
    BOOST_TEST(back == msg);
  }
  // Server messages without takeover, 10-bit window.
  for (size_t i = 0; i < 20; ++i) {
    peer_deflater once{false, 10};
    auto m = presence_diff(i);
    peer.send(1, once.compress(m), true);
    auto got = next();
    BOOST_TEST_REQUIRE(got.kind == report::data, got);
    BOOST_TEST(got.f.data == m);
  }
}

BOOST_AUTO_TEST_CASE(a_window_of_eight_bits_sends_uncompressed) {
  raw_peer peer;
  auto t = spawn(1, compressed_request(peer.url()));
  BOOST_TEST_REQUIRE(!peer.accept().empty());
  peer.upgrade("permessage-deflate; client_max_window_bits=8");
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  send(t, tr::frame_atom::value, text(presence_diff(5)));
  auto f = peer.read_data();
  BOOST_TEST_REQUIRE(f.has_value());
  BOOST_TEST(!f->rsv1);
  BOOST_TEST(f->payload == presence_diff(5));
  // Inbound still decompresses.
  peer_deflater z;
  peer.send(1, z.compress(presence_diff(6)), true);
  auto got = next();
  BOOST_TEST_REQUIRE(got.kind == report::data, got);
  BOOST_TEST(got.f.data == presence_diff(6));
}

BOOST_AUTO_TEST_CASE(invalid_answers_fail_the_connection) {
  raw_peer peer;
  const std::vector<std::pair<std::string, bool>> answers{
    {"permessage-deflate; server_max_window_bits=16", true},
    {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", true},
    {"permessage-deflate; client_max_window_bits", true},
    {"permessage-deflate; mystery", true},
    {"permessage-deflate, permessage-deflate", true},
    {"x-webkit-deflate-frame", true},
    {"permessage-deflate", false}, // never offered
  };
  tr::generation gen = 0;
  for (auto& [answer, offer] : answers) {
    ++gen;
    auto req = offer ? compressed_request(peer.url()) : request(peer.url());
    spawn(gen, req);
    BOOST_TEST_REQUIRE(!peer.accept().empty(), answer);
    peer.upgrade(answer);
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::failed, answer << ": " << r);
    BOOST_TEST(r.gen == gen);
    BOOST_TEST(r.failure.reason.find("Sec-WebSocket-Extensions") != std::string::npos,
               r.failure.reason);
    // The link is dropped without a close frame (the handshake failed).
    auto f = peer.read(2s);
    BOOST_TEST(!f.has_value(), answer);
  }
}

BOOST_AUTO_TEST_CASE(a_compression_bomb_is_refused_with_1009_and_memory_bounded) {
  raw_peer peer;
  log_capture logs;
  auto req = compressed_request(peer.url());
  req.max_frame_size = 4 << 20;
  auto t = spawn(1, req, logs.sink());
  BOOST_TEST_REQUIRE(!peer.accept().empty());
  peer.upgrade("permessage-deflate");
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  // 1 GiB of zeros, streamed through deflate 1 MiB at a time: ~1 MiB on the wire.
  constexpr size_t bomb_size = size_t{1} << 30;
  std::string bomb;
  {
    z_stream z{};
    deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    std::string zeros(1 << 20, '\0');
    std::string buf(1 << 16, '\0');
    for (size_t done = 0; done < bomb_size; done += zeros.size()) {
      z.next_in = reinterpret_cast<Bytef*>(zeros.data());
      z.avail_in = static_cast<uInt>(zeros.size());
      auto flush = done + zeros.size() == bomb_size ? Z_SYNC_FLUSH : Z_NO_FLUSH;
      do {
        z.next_out = reinterpret_cast<Bytef*>(buf.data());
        z.avail_out = static_cast<uInt>(buf.size());
        deflate(&z, flush);
        bomb.append(buf.data(), buf.size() - z.avail_out);
      } while (z.avail_out == 0);
    }
    deflateEnd(&z);
    bomb.resize(bomb.size() - 4);
  }
  BOOST_TEST_MESSAGE("bomb: " << bomb.size() << " bytes inflating to " << bomb_size);
  // Resets VmHWM to the current RSS (Linux 4.0+), so that the peak below is
  // this test's own.
  std::ofstream{"/proc/self/clear_refs"} << "5";
  auto rss_before = proc_status_kib("VmRSS");
  // Small enough on the wire to pass websocketpp's own size check: only
  // the inflater's cap can stop it.
  BOOST_TEST_REQUIRE(bomb.size() < req.max_frame_size / 2);
  peer.send(1, bomb, true);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.code == 1009);
  auto hwm = proc_status_kib("VmHWM");
  BOOST_TEST_MESSAGE("RSS before " << rss_before << " KiB, peak " << hwm << " KiB");
  // Inflating the bomb would take 1 GiB; the cap (4 MiB) keeps the peak far
  // below (the bound leaves room for a sanitizer's quarantine).
  BOOST_TEST(hwm < rss_before + 128 * 1024);
  BOOST_TEST(logs.contains("inflates past max_frame_size", phx::protocol::log_level::warning));
  // The client's close frame says 1009 too.
  for (int i = 0; i < 4; ++i) {
    auto f = peer.read(2s);
    if (!f || f->opcode != 8)
      continue;
    BOOST_TEST_REQUIRE(f->payload.size() >= 2u);
    BOOST_TEST(((static_cast<uint8_t>(f->payload[0]) << 8) | static_cast<uint8_t>(f->payload[1]))
               == 1009);
    break;
  }
}

BOOST_AUTO_TEST_CASE(corrupt_compressed_data_closes_with_1007) {
  raw_peer peer;
  auto t = spawn(1, compressed_request(peer.url()));
  BOOST_TEST_REQUIRE(!peer.accept().empty());
  peer.upgrade("permessage-deflate");
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  peer.send(1, std::string(16, '\xff'), true);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.code == 1007);
}

BOOST_AUTO_TEST_SUITE_END()

// -- the TRANSPORT against phx-server -----------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(deflate_phx_server, transport_fixture)

namespace {

/// Joins room:lobby, echoes a ~1 MiB JSON payload, and returns the bytes the
/// proxy carried each way for the echo alone.
std::pair<size_t, size_t> echo_through(transport_fixture& fx, counting_proxy& proxy,
                                       const std::string& path, bool compress,
                                       const std::string& ca_file = {}) {
  auto scheme = ca_file.empty() ? "ws://" : "wss://";
  auto url = scheme + ("127.0.0.1:" + std::to_string(proxy.port())) + path + "?vsn=2.0.0";
  auto req = transport_fixture::request(url);
  req.compress = compress;
  req.tls.ca_file = ca_file;
  auto t = fx.spawn(1, req);
  auto r = fx.next();
  BOOST_TEST_REQUIRE(r.kind == report::opened, r);
  fx.send(t, tr::frame_atom::value, text(R"(["1","1","room:lobby","phx_join",{}])"));
  auto joined = fx.next();
  BOOST_TEST_REQUIRE(joined.kind == report::data, joined);
  BOOST_TEST_REQUIRE(joined.f.data.find("\"ok\"") != std::string::npos, joined.f.data);
  // ~1 MiB of presence-like JSON.
  std::string items;
  for (size_t i = 0; items.size() < (1u << 20); ++i)
    items += (i ? "," : "") + presence_diff(i);
  auto payload = R"({"items":[)" + items + "]}";
  auto up0 = proxy.upstream();
  auto down0 = proxy.downstream();
  fx.send(t, tr::frame_atom::value, text(R"(["1","2","room:lobby","echo",)" + payload + "]"));
  auto reply = fx.next(30s);
  BOOST_TEST_REQUIRE(reply.kind == report::data, reply);
  BOOST_TEST(reply.f.data.find(R"("phx_reply")") != std::string::npos);
  BOOST_TEST(reply.f.data.find(R"("ok")") != std::string::npos);
  BOOST_TEST(reply.f.data.find(payload) != std::string::npos);
  BOOST_TEST(reply.f.data.size() < payload.size() + 128);
  auto sizes = std::make_pair(proxy.upstream() - up0, proxy.downstream() - down0);
  BOOST_TEST_MESSAGE(path << (compress ? " compress" : "") << ": echo of " << payload.size()
                          << " bytes: " << sizes.first << " bytes up, " << sizes.second
                          << " down");
  fx.send(t, tr::close_atom::value, uint16_t{1000}, std::string{});
  BOOST_TEST(fx.next().kind == report::closed);
  return sizes;
}

} // namespace

BOOST_AUTO_TEST_CASE(compressed_on_deflate_socket_plain_where_declined) {
  server_process server;
  counting_proxy proxy{server.port()};
  // Both sides agree: the 1 MiB echo crosses the wire compressed both ways.
  auto on = echo_through(*this, proxy, "/deflate/socket/websocket", true);
  BOOST_TEST(on.first < (256u << 10));
  BOOST_TEST(on.second < (256u << 10));
  // The server declines on /socket: the same echo goes uncompressed.
  auto declined = echo_through(*this, proxy, "/socket/websocket", true);
  BOOST_TEST(declined.first > (1u << 20));
  BOOST_TEST(declined.second > (1u << 20));
}

BOOST_AUTO_TEST_CASE(phx_server_answers_on_deflate_socket_only_and_refuses_rsv1_elsewhere) {
  server_process server;
  const std::string offer = "permessage-deflate; client_max_window_bits";
  raw_peer client;
  BOOST_TEST_REQUIRE(client.connect(server.port(), "/deflate/socket/websocket?vsn=2.0.0", offer));
  BOOST_TEST(client.answer_header("Sec-WebSocket-Extensions").value_or("<none>")
             == "permessage-deflate");
  // Declined on /socket; a compressed frame there is a protocol error (1002).
  BOOST_TEST_REQUIRE(client.connect(server.port(), "/socket/websocket?vsn=2.0.0", offer));
  BOOST_TEST(!client.answer_header("Sec-WebSocket-Extensions").has_value());
  peer_deflater z;
  client.send(1, z.compress(R"(["1","1","room:lobby","phx_join",{}])"), true, true);
  std::optional<wire_frame> close;
  for (int i = 0; i < 4 && !close; ++i) {
    auto f = client.read();
    if (!f)
      break;
    if (f->opcode == 8)
      close = f;
  }
  BOOST_TEST_REQUIRE(close.has_value());
  BOOST_TEST_REQUIRE(close->payload.size() >= 2u);
  BOOST_TEST(((static_cast<uint8_t>(close->payload[0]) << 8)
              | static_cast<uint8_t>(close->payload[1]))
             == 1002);
}

BOOST_AUTO_TEST_CASE(compressed_over_wss_too) {
  // A self-signed certificate for 127.0.0.1, made with the openssl CLI.
  char pattern[] = "/tmp/phx-deflate-XXXXXX";
  BOOST_TEST_REQUIRE(mkdtemp(pattern) != nullptr);
  std::string dir = pattern;
  auto cmd = "cd " + dir + " && openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out cert.pem -days 2 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
  BOOST_TEST_REQUIRE(std::system(cmd.c_str()) == 0, "openssl could not make a certificate");
  {
    server_process server{{"--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"}};
    counting_proxy proxy{server.port()};
    auto on = echo_through(*this, proxy, "/deflate/socket/websocket", true, dir + "/cert.pem");
    BOOST_TEST(on.first < (256u << 10));
    BOOST_TEST(on.second < (256u << 10));
  }
  std::system(("rm -rf " + dir).c_str());
}

BOOST_AUTO_TEST_SUITE_END()
