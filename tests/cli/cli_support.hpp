#pragma once

// What the tests of tests/cli share: paths of the programs under test, a
// phx process speaking JSON lines, and matchers for its output lines.

#include <chrono>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "child_process.hpp"
#include "phx_test/paths.hpp"

namespace phx_cli_test {

using namespace std::chrono_literals;

/// The phx tool of this build.
inline std::string phx_binary() {
  return phx_test::bin_dir() + "/phx";
}

/// Field `name` of the JSON object on `line`: a string's text, any other
/// value as compact JSON, "" when absent or when the line is not an object.
inline std::string field(const std::string& line, const char* name) {
  rapidjson::Document doc;
  doc.Parse(line.c_str(), line.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember(name))
    return {};
  auto& v = doc[name];
  if (v.IsString())
    return {v.GetString(), v.GetStringLength()};
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  v.Accept(w);
  return buf.GetString();
}

/// A predicate: the line's `type` is `type` and every listed field has the
/// given text (see `field`).
inline child_process::predicate
where(std::string type, std::vector<std::pair<const char*, std::string>> fields = {}) {
  return [type = std::move(type), fields = std::move(fields)](const std::string& line) {
    if (field(line, "type") != type)
      return false;
    for (auto& [name, value] : fields)
      if (field(line, name) != value)
        return false;
    return true;
  };
}

/// Number of lines of `lines` that satisfy `pred`.
inline size_t count_if(const std::vector<std::string>& lines,
                       const child_process::predicate& pred) {
  size_t n = 0;
  for (auto& l : lines)
    n += pred(l) ? 1 : 0;
  return n;
}

/// A `phx URL args...` process, with helpers that fail the test with the
/// whole transcript when a line does not come in time.
class phx_process {
public:
  phx_process(const std::string& url, std::vector<std::string> args = {})
    : proc_(argv(url, std::move(args))) {}

  /// Sends one input line.
  void send(const std::string& line) {
    proc_.write_line(line);
  }

  /// Waits for a stdout line satisfying `pred` (at index `from` or later);
  /// returns its index; fails the test after `timeout`.
  size_t expect(const child_process::predicate& pred, const std::string& what,
                std::chrono::milliseconds timeout = 15s, size_t from = 0) {
    auto i = proc_.wait_line(pred, timeout, from);
    BOOST_REQUIRE_MESSAGE(i, "no line " + what + " in time\n" + proc_.transcript());
    return *i;
  }

  /// Closes stdin and waits for the exit; returns the exit code.
  int finish(std::chrono::milliseconds timeout = 30s) {
    proc_.close_stdin();
    auto status = proc_.wait_exit(timeout);
    BOOST_REQUIRE_MESSAGE(status, "phx did not exit in time\n" + proc_.transcript());
    return *status;
  }

  /// Every stdout line so far.
  const std::vector<std::string>& lines() const {
    return proc_.out_lines();
  }

  /// Every stderr line so far.
  const std::vector<std::string>& err_lines() const {
    return proc_.err_lines();
  }

  /// Everything written so far, for messages.
  std::string transcript() const {
    return proc_.transcript();
  }

  /// The process.
  child_process& process() {
    return proc_;
  }

private:
  static std::vector<std::string> argv(const std::string& url, std::vector<std::string> args) {
    std::vector<std::string> out{phx_binary(), url};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  child_process proc_;
};

} // namespace phx_cli_test
