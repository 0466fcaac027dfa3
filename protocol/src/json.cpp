#include "phx/protocol/json.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <locale.h>
#include <mutex>
#include <system_error>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "json_storage.hpp"

#if defined(__SANITIZE_ADDRESS__)
#  define PHX_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define PHX_ASAN 1
#  endif
#endif
#ifdef PHX_ASAN
#  include <sanitizer/asan_interface.h>
#endif

namespace phx::protocol {

namespace {

// -- block pool --------------------------------------------------------------

/// Storage blocks of decoded frames, kept for the next frames once freed.
/// Without it a flood's blocks (above tcache's size limit) grew and trimmed
/// the malloc heap on every swing of the inbound credit: page faults on every
/// burst (docs/benchmarks.md). Each thread keeps a small magazine and trades
/// whole batches with one pool for the process, so a block freed on any
/// thread serves the decoding thread and the pool's lock is taken once per
/// batch. At most `capacity` blocks pooled plus `2 * batch` per thread.
template <class T>
class block_pool {
public:
  /// Blocks the process pool holds at most (the frames one socket may hold
  /// decoded: `max_inbound_frames`'s default).
  static constexpr size_t capacity = 4096;
  /// Blocks moved between a thread and the pool at once.
  static constexpr size_t batch = 32;

  /// A pooled block, or null.
  static T* take() noexcept {
    auto& m = magazine;
    if (m.n == 0 && (m.closed || !refill(m)))
      return nullptr;
    auto* p = m.blocks[--m.n];
#ifdef PHX_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, sizeof(T));
#endif
    return p;
  }

  /// Keeps `p` for a later block; false if there is no room (the caller frees it).
  static bool give(T* p) noexcept {
    auto& m = magazine;
    if (m.closed)
      return false;
    // First use on this thread registers the closer that hands its blocks back.
    (void) &closer;
    if (m.n == m.blocks.size())
      spill(m, batch);
#ifdef PHX_ASAN
    // A use after free of a decoded frame still shows under ASan.
    ASAN_POISON_MEMORY_REGION(p, sizeof(T));
#endif
    m.blocks[m.n++] = p;
    return true;
  }

private:
  // Trivially destructible, so usable until the thread's very end.
  struct magazine_slots {
    std::array<T*, 2 * batch> blocks;
    size_t n;
    bool closed;
  };

  struct shared_pool {
    std::mutex mtx;
    std::vector<T*> blocks;
  };

  struct magazine_closer {
    ~magazine_closer() {
      auto& m = magazine;
      m.closed = true;
      spill(m, m.n);
    }
  };

  /// The process's pool (never destroyed: blocks may be freed during exit).
  static shared_pool& shared() {
    static auto* pool = [] {
      auto* p = new shared_pool;
      p->blocks.reserve(capacity);
      return p;
    }();
    return *pool;
  }

  static bool refill(magazine_slots& m) noexcept {
    // A thread that only takes holds blocks too: its exit must hand them back.
    (void) &closer;
    auto& s = shared();
    std::lock_guard<std::mutex> guard{s.mtx};
    while (m.n < batch && !s.blocks.empty()) {
      m.blocks[m.n++] = s.blocks.back();
      s.blocks.pop_back();
    }
    return m.n > 0;
  }

  /// Moves the newest `k` blocks of `m` to the pool; frees those it has no room for.
  static void spill(magazine_slots& m, size_t k) noexcept {
    auto& s = shared();
    {
      std::lock_guard<std::mutex> guard{s.mtx};
      while (k > 0 && s.blocks.size() < capacity) {
        s.blocks.push_back(m.blocks[--m.n]);
        --k;
      }
    }
    for (; k > 0; --k) {
      auto* p = m.blocks[--m.n];
#ifdef PHX_ASAN
      ASAN_UNPOISON_MEMORY_REGION(p, sizeof(T));
#endif
      std::allocator<T>{}.deallocate(p, 1);
    }
  }

  static thread_local magazine_slots magazine;
  static thread_local magazine_closer closer;
};

template <class T>
thread_local typename block_pool<T>::magazine_slots block_pool<T>::magazine{};

template <class T>
thread_local typename block_pool<T>::magazine_closer block_pool<T>::closer;

/// Allocates single objects through `block_pool` (for `allocate_shared`).
template <class T>
struct recycling_allocator {
  using value_type = T;

  recycling_allocator() noexcept = default;

  template <class U>
  recycling_allocator(const recycling_allocator<U>&) noexcept {
    // nop
  }

  T* allocate(size_t n) {
    if (n == 1)
      if (auto* p = block_pool<T>::take())
        return p;
    return std::allocator<T>{}.allocate(n);
  }

  void deallocate(T* p, size_t n) noexcept {
    if (n == 1 && block_pool<T>::give(p))
      return;
    std::allocator<T>{}.deallocate(p, n);
  }

  template <class U>
  bool operator==(const recycling_allocator<U>&) const noexcept {
    return true;
  }

  template <class U>
  bool operator!=(const recycling_allocator<U>&) const noexcept {
    return false;
  }
};

// True if `s` holds a UTF-8 encoded UTF-16 surrogate (ED A0..BF): RapidJSON
// 1.1.0 turns a lone low-surrogate escape into one instead of refusing it.
bool holds_surrogate(const char* s, size_t n) noexcept {
  const char* end = s + n;
  for (auto p = s; p < end;) {
    // Short strings (keys, topics, refs) byte by byte: a memchr call costs more.
    auto hit = n < 32 ? std::find(p, end, '\xED')
                      : static_cast<const char*>(std::memchr(p, '\xED', end - p));
    if (hit == nullptr || hit + 1 >= end)
      return false;
    auto next = static_cast<unsigned char>(hit[1]);
    if (next >= 0xA0 && next <= 0xBF)
      return true;
    p = hit + 1;
  }
  return false;
}

// True if a number that from_chars found out of a double's range is too big
// (rather than too small, which reads as zero).
bool overflows_double(const char* s, size_t n) {
  // strtod in the C locale tells which: infinity for too big.
  static const locale_t c_numeric = newlocale(LC_NUMERIC_MASK, "C", locale_t{});
  std::string text{s, n};
  return c_numeric == locale_t{} || std::isinf(strtod_l(text.c_str(), nullptr, c_numeric));
}

// Forwards SAX events to the document while bounding depth and refusing
// surrogates; stops the reader with a reason of its own.
template <class Doc>
struct guarded_handler {
  using Ch = char;
  Doc& doc;
  // False when the text has no escape: valid UTF-8 holds no surrogate itself.
  bool check_surrogates = true;
  size_t depth = 0;
  const char* refusal = nullptr;
  errc refusal_code = errc::invalid_json;

  bool Null() { return doc.Null(); }
  bool Bool(bool b) { return doc.Bool(b); }
  bool Int(int i) { return doc.Int(i); }
  bool Uint(unsigned i) { return doc.Uint(i); }
  bool Int64(int64_t i) { return doc.Int64(i); }
  bool Uint64(uint64_t i) { return doc.Uint64(i); }
  bool Double(double d) { return doc.Double(d); }
  // Numbers arrive as text (kParseNumbersAsStringsFlag): RapidJSON 1.1.0's own
  // conversion misreads a zero with an exponent ("0e-23" as -1.7e-192,
  // Tencent/rapidjson#1249) and lets 1.8e308 through as an infinity no writer
  // accepts. Types stay RapidJSON's: an integer takes the smallest type that
  // holds it, anything else is a double.
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool) {
    const char* last = s + n;
    // A loop, not find_first_of(".eE"): that one calls memchr for every digit.
    bool integral = std::none_of(s, last, [](char c) { return c == '.' || c == 'e' || c == 'E'; });
    if (integral) {
      if (*s == '-') {
        int64_t i = 0;
        auto r = std::from_chars(s, last, i);
        if (r.ec == std::errc{} && r.ptr == last)
          return doc.Int64(i);
      } else {
        uint64_t u = 0;
        auto r = std::from_chars(s, last, u);
        if (r.ec == std::errc{} && r.ptr == last)
          return doc.Uint64(u);
      }
    }
    double d = 0;
    auto r = std::from_chars(s, last, d);
    if (r.ec == std::errc::result_out_of_range) {
      if (overflows_double(s, n))
        return refuse(errc::invalid_json, "a number is too big for a double");
      d = *s == '-' ? -0.0 : 0.0;
    } else if (r.ec != std::errc{} || r.ptr != last) {
      return refuse(errc::invalid_json, "a number cannot be read");
    }
    return doc.Double(d);
  }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) {
    if (check_surrogates && holds_surrogate(s, n))
      return refuse(errc::invalid_utf8, "a string holds a lone UTF-16 surrogate");
    return doc.String(s, n, copy);
  }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) {
    if (check_surrogates && holds_surrogate(s, n))
      return refuse(errc::invalid_utf8, "a key holds a lone UTF-16 surrogate");
    return doc.Key(s, n, copy);
  }
  bool StartObject() { return enter() && doc.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth;
    return doc.EndObject(n);
  }
  bool StartArray() { return enter() && doc.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth;
    return doc.EndArray(n);
  }

  bool enter() {
    if (++depth > max_json_depth)
      return refuse(errc::too_deep, "JSON nests deeper than 512 levels");
    return true;
  }
  bool refuse(errc code, const char* why) {
    refusal_code = code;
    refusal = why;
    return false;
  }
};

// Forwards SAX events with every string copied: RapidJSON's own deep copy
// (CopyFrom, the allocator copy constructor) keeps const strings, which is
// what in-situ parsing makes, as references into the source text.
template <class Doc>
struct copying_handler {
  using Ch = char;
  Doc& doc;

  bool Null() { return doc.Null(); }
  bool Bool(bool b) { return doc.Bool(b); }
  bool Int(int i) { return doc.Int(i); }
  bool Uint(unsigned i) { return doc.Uint(i); }
  bool Int64(int64_t i) { return doc.Int64(i); }
  bool Uint64(uint64_t i) { return doc.Uint64(i); }
  bool Double(double d) { return doc.Double(d); }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool) {
    return doc.RawNumber(s, n, true);
  }
  bool String(const Ch* s, rapidjson::SizeType n, bool) { return doc.String(s, n, true); }
  bool Key(const Ch* s, rapidjson::SizeType n, bool) { return doc.Key(s, n, true); }
  bool StartObject() { return doc.StartObject(); }
  bool EndObject(rapidjson::SizeType n) { return doc.EndObject(n); }
  bool StartArray() { return doc.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return doc.EndArray(n); }
};

// Text known to be valid UTF-8 (checked in one pass, `scan_utf8`) is parsed
// without RapidJSON's check, which decodes every byte of every string.
constexpr unsigned parse_flags = rapidjson::kParseNumbersAsStringsFlag
                                 | rapidjson::kParseIterativeFlag
                                 | rapidjson::kParseInsituFlag;
// Invalid text is parsed with it, so that the error names what and where.
constexpr unsigned checking_parse_flags = parse_flags | rapidjson::kParseValidateEncodingFlag;

error parse_failure(const rapidjson::ParseResult& res, const char* refusal,
                    errc refusal_code) {
  if (refusal != nullptr)
    return make_error(refusal_code, refusal);
  auto code = res.Code() == rapidjson::kParseErrorStringInvalidEncoding
                ? errc::invalid_utf8
                : errc::invalid_json;
  std::string what = rapidjson::GetParseError_En(res.Code());
  what += " at offset ";
  what += std::to_string(res.Offset());
  return make_error(code, std::move(what));
}

} // namespace

// -- json_storage ------------------------------------------------------------

json_storage::json_storage(std::string&& src)
  : text(std::move(src)),
    pool(inline_buffer, sizeof(inline_buffer), chunk_size),
    doc(&pool, 256, &pool) {
  // nop
}

result<std::shared_ptr<json_storage>> json_storage::parse(std::string&& text) {
  if (text.empty())
    return make_error(errc::empty_frame, "the frame is empty");
  auto size = text.size();
  bool valid_utf8 = is_valid_utf8(text);
  auto st = std::allocate_shared<json_storage>(recycling_allocator<json_storage>{},
                                            std::move(text));
  // RapidJSON 1.1.0 takes the continuation bytes of a UTF-8 lead byte without
  // looking for the end: a text ending in a lead byte would be read (and, in
  // situ, written) up to 3 bytes past its terminator. Those bytes are ours now
  // (the transport's buffers have room for them: no reallocation).
  st->text.append(parse_spare_bytes, '\0');
  rapidjson::InsituStringStream in{&st->text[0]};
  // One per thread: its parse stack is kept between parses (cleared, not freed).
  thread_local rapidjson::Reader reader;
  guarded_handler<storage_document> handler{st->doc};
  handler.check_surrogates = !valid_utf8 || std::memchr(st->text.data(), '\\', size) != nullptr;
  rapidjson::ParseResult res;
  auto generate = [&](storage_document&) {
    res = valid_utf8 ? reader.Parse<parse_flags>(in, handler)
                     : reader.Parse<checking_parse_flags>(in, handler);
    return !res.IsError();
  };
  st->doc.Populate(generate);
  if (res.IsError())
    return parse_failure(res, handler.refusal, handler.refusal_code);
  // In situ, a NUL is the end of the text: a parse that stops short of the
  // real end met one after the value (inside a value it is a parse error).
  if (in.Tell() != size)
    return make_error(errc::invalid_json, "the text holds a NUL byte");
  return st;
}

// -- parsing -----------------------------------------------------------------

result<json_ptr> parse_json(std::string&& text) {
  auto st = json_storage::parse(std::move(text));
  if (!st)
    return st.error();
  const json_value* root = &(*st)->doc;
  return json_ptr{std::move(*st), root};
}

result<json_ptr> parse_json(std::string_view text) {
  return parse_json(std::string{text});
}

json_ptr make_json(json_document&& doc) {
  auto ptr = std::make_shared<json_document>(std::move(doc));
  const json_value* root = ptr.get();
  return json_ptr{std::move(ptr), root};
}

const json_ptr& empty_object() {
  static const json_ptr instance = [] {
    json_document doc;
    doc.SetObject();
    return make_json(std::move(doc));
  }();
  return instance;
}

const json_ptr& null_json() {
  static const json_ptr instance = make_json(json_document{});
  return instance;
}

// -- writing -----------------------------------------------------------------

thread_json_writer& thread_json_writer::get() {
  thread_local thread_json_writer instance;
  instance.buf.Clear();
  instance.writer.Reset(instance.buf);
  return instance;
}

bool append_json(std::string& out, const json_value& value) {
  auto& w = thread_json_writer::get();
  if (!value.Accept(w.writer))
    return false;
  out.append(w.buf.GetString(), w.buf.GetSize());
  return true;
}

result<std::string> to_json_string(const json_value& value) {
  std::string out;
  if (!append_json(out, value))
    return make_error(errc::invalid_utf8, "the JSON value holds invalid UTF-8");
  return out;
}

json_document copy_json(const json_value& value) {
  json_document doc;
  auto generate = [&value](json_document& target) {
    copying_handler<json_document> handler{target};
    return value.Accept(handler);
  };
  doc.Populate(generate);
  return doc;
}

json_ptr detach_json(const json_value& value) {
  // The pool grows in small chunks: a detached value costs about its own size.
  struct owned {
    rapidjson::MemoryPoolAllocator<> pool{256};
    storage_document doc{&pool, 64, &pool};
  };
  auto block = std::make_shared<owned>();
  auto generate = [&value](storage_document& target) {
    copying_handler<storage_document> handler{target};
    return value.Accept(handler);
  };
  block->doc.Populate(generate);
  const json_value* root = &block->doc;
  return json_ptr{std::move(block), root};
}

namespace {

constexpr uint64_t byte_ones = 0x0101010101010101ULL;
constexpr uint64_t byte_highs = 0x8080808080808080ULL;

// True if one of the eight bytes of `v` is zero (exact: no false negative).
constexpr bool has_zero_byte(uint64_t v) noexcept {
  return ((v - byte_ones) & ~v & byte_highs) != 0;
}

// For eight ASCII bytes: true if one is a control character, '"' or '\\'.
constexpr bool ascii_needs_escape(uint64_t w) noexcept {
  return ((w - 0x20 * byte_ones) & byte_highs) != 0 || has_zero_byte(w ^ ('"' * byte_ones))
         || has_zero_byte(w ^ ('\\' * byte_ones));
}

struct utf8_scan {
  bool valid;
  bool plain; // nothing in it needs a JSON escape
};

// One pass over `s`: is it valid UTF-8, and (if `Escapes`) does it hold a
// byte JSON escapes. Eight ASCII bytes at a time: frames are mostly ASCII.
template <bool Escapes>
utf8_scan scan_utf8(const char* data, size_t n) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  bool plain = true;
  size_t i = 0;
  while (i < n) {
    if (n - i >= 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & byte_highs) == 0) {
        if constexpr (Escapes)
          plain = plain && !ascii_needs_escape(w);
        i += 8;
        continue;
      }
    }
    unsigned char c = p[i];
    if (c < 0x80) {
      if constexpr (Escapes)
        plain = plain && c >= 0x20 && c != '"' && c != '\\';
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return {false, false};
    }
    if (i + len > n)
      return {false, false};
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = p[i + k];
      if ((cc & 0xC0) != 0x80)
        return {false, false};
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
        || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return {false, false};
    i += len;
  }
  return {true, plain};
}

} // namespace

bool is_valid_utf8(std::string_view s) noexcept {
  return scan_utf8<false>(s.data(), s.size()).valid;
}

// -- validating_writer -------------------------------------------------------

bool validating_writer::String(const Ch* s, rapidjson::SizeType n, bool copy) {
  auto scan = scan_utf8<true>(s, n);
  if (!scan.valid)
    return false;
  if (!scan.plain)
    return base::String(s, n, copy);
  // Nothing to escape: the string goes out whole, as RapidJSON would write it.
  Prefix(rapidjson::kStringType);
  auto* out = os_->Push(n + 2);
  out[0] = '"';
  if (n > 0)
    std::memcpy(out + 1, s, n);
  out[n + 1] = '"';
  return EndValue(true);
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xF]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

} // namespace phx::protocol
